-- Key rotation seals every value again under the newest data key. An event's data may change
-- only by a redaction, or while the transaction doing a re-seal holds a row here (the plaintext
-- stays the same; only its seal changes).
CREATE TABLE resealing (at INTEGER NOT NULL);
DROP TRIGGER event_data_only_by_redaction;
CREATE TRIGGER event_data_only_by_redaction BEFORE UPDATE OF data, redacted_at ON event
WHEN (NEW.redacted_at IS NULL OR (OLD.redacted_at IS NOT NULL AND NEW.redacted_at <= OLD.redacted_at))
 AND NOT (NEW.redacted_at IS OLD.redacted_at AND EXISTS (SELECT 1 FROM resealing))
BEGIN SELECT RAISE(ABORT, 'an event''s data changes only by a new redaction'); END;
