-- A phone system's call notifications are stored once: the provider's id of each call an inbox
-- has recorded. The call itself is a `call` event on the conversation's timeline.
CREATE TABLE call_log (
    inbox_id     uuid NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
    external_id  text NOT NULL,
    at           bigint NOT NULL,
    PRIMARY KEY (inbox_id, external_id)
);
