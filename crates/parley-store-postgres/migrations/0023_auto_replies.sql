-- Which automatic reply (normal, peak, after hours, urgent) last went to each conversation, and
-- when: each goes at most once per period, and the key decides between messages that race.
CREATE TABLE auto_reply_sent (
    conversation_id  uuid NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    kind             text NOT NULL,
    sent_at          bigint NOT NULL,
    PRIMARY KEY (conversation_id, kind)
);
-- The expected wait reads the first responses of an inbox's last hour.
CREATE INDEX conversation_first_reply ON conversation (inbox_id, first_reply_at);
