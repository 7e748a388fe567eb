-- Retention and erasure remove what a message said while keeping that it was said: a message's
-- body and meta, and its events' data, may be rewritten, each time with a later `redacted_at`
-- (a redaction is never undone). Everything else about an event stays append-only.
ALTER TABLE message ADD COLUMN redacted_at INTEGER;
ALTER TABLE event ADD COLUMN redacted_at INTEGER;
DROP TRIGGER event_append_only_update;
CREATE TRIGGER event_append_only_update BEFORE UPDATE OF seq, workspace_id, inbox_id, kind, message_id, at ON event
BEGIN SELECT RAISE(ABORT, 'event is append-only'); END;
CREATE TRIGGER event_data_only_by_redaction BEFORE UPDATE OF data, redacted_at ON event
WHEN NEW.redacted_at IS NULL OR (OLD.redacted_at IS NOT NULL AND NEW.redacted_at <= OLD.redacted_at)
BEGIN SELECT RAISE(ABORT, 'an event''s data changes only by a new redaction'); END;
CREATE INDEX message_age ON message (workspace_id, created_at) WHERE redacted_at IS NULL;
