-- Durable timers: due work claimed by one worker at a time under a lease (the `Timers` trait).
-- A key names what a timer waits for, once per workspace: setting it again moves the timer.
CREATE TABLE timer (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspace(id),
    key          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    due_at       INTEGER NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    lease_until  INTEGER,
    claimed_by   TEXT,
    UNIQUE (workspace_id, key)
);
-- Claimable at its due time, or when the lease of a worker that died runs out.
CREATE INDEX timer_next ON timer (COALESCE(lease_until, due_at));
-- Conversations snoozed before timers existed wake by one too (the conversation's id serves as
-- the timer's: both are unique UUIDs).
INSERT INTO timer (id, workspace_id, key, kind, due_at, payload)
SELECT id, workspace_id, 'conv:' || id || ':snooze', 'snooze', snoozed_until, json_object('conversation_id', id)
FROM conversation WHERE status = 'snoozed' AND snoozed_until IS NOT NULL;
