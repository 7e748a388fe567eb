-- Durable timers: due work claimed by one worker at a time under a lease (the `Timers` trait),
-- with FOR UPDATE SKIP LOCKED so nodes never wait on each other. A key names what a timer waits
-- for, once per workspace: setting it again moves the timer.
CREATE TABLE timer (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspace(id),
    key          text NOT NULL,
    kind         text NOT NULL,
    due_at       bigint NOT NULL,
    payload      text NOT NULL DEFAULT '{}',
    lease_until  bigint,
    claimed_by   text,
    UNIQUE (workspace_id, key)
);
-- Claimable at its due time, or when the lease of a worker that died runs out.
CREATE INDEX timer_next ON timer ((COALESCE(lease_until, due_at)));
-- Conversations snoozed before timers existed wake by one too (the conversation's id serves as
-- the timer's: both are unique UUIDs).
INSERT INTO timer (id, workspace_id, key, kind, due_at, payload)
SELECT id, workspace_id, 'conv:' || id::text || ':snooze', 'snooze', snoozed_until,
       json_build_object('conversation_id', id)::text
FROM conversation WHERE status = 'snoozed' AND snoozed_until IS NOT NULL;
