-- A phone system's call notifications are stored once: the provider's id of each call an inbox
-- has recorded. The call itself is a `call` event on the conversation's timeline.
CREATE TABLE call_log (
    inbox_id     TEXT NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
    external_id  TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (inbox_id, external_id)
);
