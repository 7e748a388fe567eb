-- When each agent last looked at each conversation: one with news since is unread for them.
-- No foreign keys: a row outliving its conversation or user is harmless and tiny.
CREATE TABLE conversation_seen (
    user_id          uuid NOT NULL,
    conversation_id  uuid NOT NULL,
    seen_at          bigint NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);
