-- Automation rules (trigger, conditions, actions and limit as JSON in `body`), in the order an
-- admin sets, with how often and when each last fired.
CREATE TABLE automation_rule (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspace(id),
    position       INTEGER NOT NULL,
    enabled        INTEGER NOT NULL,
    inbox_id       TEXT REFERENCES inbox(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    body           TEXT NOT NULL,
    fired          INTEGER NOT NULL DEFAULT 0,
    last_fired_at  INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX automation_rule_order ON automation_rule (workspace_id, position);

-- The firings that sent automatic messages, per conversation: what the storm guard counts.
CREATE TABLE automation_firing (
    rule_id          TEXT NOT NULL REFERENCES automation_rule(id) ON DELETE CASCADE,
    conversation_id  TEXT NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    at               INTEGER NOT NULL,
    messages         INTEGER NOT NULL
);
CREATE INDEX automation_firing_conversation ON automation_firing (conversation_id, at);
CREATE INDEX automation_firing_rule ON automation_firing (rule_id);

-- Macros: a named, ordered list of actions an agent runs on a conversation in one go.
CREATE TABLE automation_macro (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspace(id),
    name          TEXT NOT NULL,
    actions       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);
