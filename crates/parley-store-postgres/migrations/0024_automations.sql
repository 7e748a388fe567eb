-- Automation rules (trigger, conditions, actions and limit as JSON in `body`), in the order an
-- admin sets, with how often and when each last fired.
CREATE TABLE automation_rule (
    id             uuid PRIMARY KEY,
    workspace_id   uuid NOT NULL REFERENCES workspace(id),
    position       integer NOT NULL,
    enabled        boolean NOT NULL,
    inbox_id       uuid REFERENCES inbox(id) ON DELETE CASCADE,
    name           text NOT NULL,
    body           text NOT NULL,
    fired          bigint NOT NULL DEFAULT 0,
    last_fired_at  bigint,
    created_at     bigint NOT NULL,
    updated_at     bigint NOT NULL
);
CREATE INDEX automation_rule_order ON automation_rule (workspace_id, position);

-- The firings that sent automatic messages, per conversation: what the storm guard counts.
CREATE TABLE automation_firing (
    rule_id          uuid NOT NULL REFERENCES automation_rule(id) ON DELETE CASCADE,
    conversation_id  uuid NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    at               bigint NOT NULL,
    messages         integer NOT NULL
);
CREATE INDEX automation_firing_conversation ON automation_firing (conversation_id, at);
CREATE INDEX automation_firing_rule ON automation_firing (rule_id);

-- Macros: a named, ordered list of actions an agent runs on a conversation in one go.
CREATE TABLE automation_macro (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspace(id),
    name          text NOT NULL,
    actions       text NOT NULL,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL,
    UNIQUE (workspace_id, name)
);
