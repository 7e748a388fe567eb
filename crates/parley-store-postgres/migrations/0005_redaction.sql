-- Retention and erasure remove what a message said while keeping that it was said: a message's
-- body and meta, and its events' data, may be rewritten, each time with a later `redacted_at`
-- (a redaction is never undone). Everything else about an event stays append-only.
ALTER TABLE message ADD COLUMN redacted_at BIGINT;
ALTER TABLE event ADD COLUMN redacted_at BIGINT;
CREATE OR REPLACE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.seq, NEW.workspace_id, NEW.inbox_id, NEW.kind, NEW.message_id, NEW.at)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.workspace_id, OLD.inbox_id, OLD.kind, OLD.message_id, OLD.at)
       AND ((NEW.data, NEW.redacted_at) IS NOT DISTINCT FROM (OLD.data, OLD.redacted_at)
            OR (NEW.redacted_at IS NOT NULL
                AND (OLD.redacted_at IS NULL OR NEW.redacted_at > OLD.redacted_at))) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'event is append-only';
END $$;
CREATE INDEX message_age ON message (workspace_id, created_at) WHERE redacted_at IS NULL;
