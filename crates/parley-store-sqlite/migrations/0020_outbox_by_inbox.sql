-- Dispatchers claim each inbox's due deliveries in turn and count each inbox's live leases.
CREATE INDEX outbox_inbox_due ON outbox (inbox_id, next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX outbox_leased ON outbox (claimed_until) WHERE claimed_until IS NOT NULL;
