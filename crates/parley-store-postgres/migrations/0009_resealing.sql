-- Key rotation seals every value again under the newest data key. An event's data may change
-- only by a redaction, or while the transaction doing a re-seal holds a row here (the plaintext
-- stays the same; only its seal changes). Rows here are never committed, so no other
-- transaction sees one.
CREATE TABLE resealing (at BIGINT NOT NULL);
CREATE OR REPLACE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.seq, NEW.workspace_id, NEW.inbox_id, NEW.kind, NEW.message_id, NEW.at)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.workspace_id, OLD.inbox_id, OLD.kind, OLD.message_id, OLD.at)
       AND ((NEW.data, NEW.redacted_at) IS NOT DISTINCT FROM (OLD.data, OLD.redacted_at)
            OR (NEW.redacted_at IS NOT NULL
                AND (OLD.redacted_at IS NULL OR NEW.redacted_at > OLD.redacted_at))
            OR (NEW.redacted_at IS NOT DISTINCT FROM OLD.redacted_at
                AND EXISTS (SELECT 1 FROM resealing))) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'event is append-only';
END $$;
