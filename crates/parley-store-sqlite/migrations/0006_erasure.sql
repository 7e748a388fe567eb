-- Erasure (GDPR/CCPA): an erased contact keeps its row, without name, addresses or fields, so its
-- conversations stay on the timeline anonymised. Its revocations outlive it as suppressions keyed
-- by a digest of each address it had, so a number that opted out stays refused if it comes back
-- as a new contact.
ALTER TABLE contact ADD COLUMN erased_at INTEGER;
CREATE TABLE suppression (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    address       TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    source        TEXT NOT NULL,
    channel       TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX suppression_address ON suppression (workspace_id, address);
