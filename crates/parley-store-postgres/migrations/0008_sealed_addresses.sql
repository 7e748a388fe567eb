-- Encryption at rest for addresses: with a keyring, `contact.phone`, `contact.email` and
-- `contact_identity.external_id` hold keyed digests (blind indexes) for lookups, and the sealed
-- values are kept beside them; without one these stay empty and the columns hold the values.
ALTER TABLE contact ADD COLUMN phone_sealed TEXT;
ALTER TABLE contact ADD COLUMN email_sealed TEXT;
ALTER TABLE contact_identity ADD COLUMN external_sealed TEXT;
