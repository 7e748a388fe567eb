-- Erasure (GDPR/CCPA): an erased contact keeps its row, without name, addresses or fields, so its
-- conversations stay on the timeline anonymised. Its revocations outlive it as suppressions keyed
-- by a digest of each address it had, so a number that opted out stays refused if it comes back
-- as a new contact.
ALTER TABLE contact ADD COLUMN erased_at BIGINT;
CREATE TABLE suppression (
    id            UUID PRIMARY KEY,
    workspace_id  UUID NOT NULL,
    address       TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    source        TEXT NOT NULL,
    channel       TEXT,
    at            BIGINT NOT NULL
);
CREATE INDEX suppression_address ON suppression (workspace_id, address);
