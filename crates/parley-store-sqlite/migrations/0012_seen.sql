-- When each agent last looked at each conversation: one with news since is unread for them.
-- No foreign keys: a row outliving its conversation or user is harmless and tiny.
CREATE TABLE conversation_seen (
    user_id          TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    seen_at          INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;
