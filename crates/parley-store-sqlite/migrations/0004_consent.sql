-- The consent ledger: every grant and revocation of consent to be messaged, per contact and
-- purpose, append-only. Current state is derived from it. Merging contacts moves the entries.
CREATE TABLE consent_event (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    action       TEXT NOT NULL,
    source       TEXT NOT NULL,
    channel      TEXT,
    evidence     TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX consent_event_contact ON consent_event (contact_id, at);
