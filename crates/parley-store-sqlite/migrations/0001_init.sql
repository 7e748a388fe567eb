-- Parley's first schema. Times are milliseconds since the Unix epoch (UTC); ids are UUID text.

CREATE TABLE workspace (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE membership (
    workspace_id  TEXT NOT NULL REFERENCES workspace(id),
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

CREATE TABLE team (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspace(id),
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE team_member (
    team_id  TEXT NOT NULL REFERENCES team(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE inbox (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspace(id),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    settings      TEXT NOT NULL DEFAULT '{}',
    secret        TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE inbox_member (
    inbox_id  TEXT NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (inbox_id, user_id)
);
CREATE INDEX inbox_member_user ON inbox_member (user_id);

CREATE TABLE contact (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspace(id),
    name           TEXT,
    email          TEXT,
    phone          TEXT,
    custom_fields  TEXT NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX contact_name ON contact (workspace_id, name COLLATE NOCASE, id);

CREATE TABLE contact_identity (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    contact_id    TEXT NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    inbox_id      TEXT NOT NULL DEFAULT '',
    external_id   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, kind, inbox_id, external_id)
);
CREATE INDEX contact_identity_contact ON contact_identity (contact_id);

CREATE TABLE conversation (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspace(id),
    inbox_id          TEXT NOT NULL REFERENCES inbox(id),
    contact_id        TEXT NOT NULL REFERENCES contact(id),
    identity_id       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    snoozed_until     INTEGER,
    assignee_id       TEXT,
    team_id           TEXT,
    priority          INTEGER NOT NULL,
    labels            TEXT NOT NULL DEFAULT '[]',
    waiting_since     INTEGER,
    waiting_key       INTEGER NOT NULL,
    last_activity_at  INTEGER NOT NULL,
    last_message      TEXT,
    created_at        INTEGER NOT NULL,
    UNIQUE (inbox_id, contact_id)
);
CREATE INDEX conversation_waiting ON conversation (workspace_id, waiting_key, id);
CREATE INDEX conversation_activity ON conversation (workspace_id, last_activity_at, id);
CREATE INDEX conversation_priority ON conversation (workspace_id, priority, waiting_key, id);
CREATE INDEX conversation_contact ON conversation (contact_id);
CREATE INDEX conversation_snoozed ON conversation (status, snoozed_until);

CREATE TABLE conversation_label (
    conversation_id  TEXT NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    label            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_label_label ON conversation_label (label);

CREATE TABLE message (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    inbox_id         TEXT NOT NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    sender_kind      TEXT NOT NULL,
    sender_id        TEXT,
    body             TEXT NOT NULL,
    external_id      TEXT,
    status           TEXT NOT NULL,
    error            TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX message_external ON message (inbox_id, direction, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX message_conversation ON message (conversation_id);

-- The append-only timeline. Only conversation_id may change (a contact merge re-parents events).
CREATE TABLE event (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id     TEXT NOT NULL,
    inbox_id         TEXT NOT NULL,
    conversation_id  TEXT,
    kind             TEXT NOT NULL,
    message_id       TEXT,
    at               INTEGER NOT NULL,
    data             TEXT NOT NULL
);
CREATE INDEX event_conversation ON event (conversation_id, seq);
CREATE INDEX event_workspace ON event (workspace_id, seq);
CREATE TRIGGER event_append_only_update BEFORE UPDATE OF seq, workspace_id, inbox_id, kind, message_id, at, data ON event
BEGIN SELECT RAISE(ABORT, 'event is append-only'); END;
CREATE TRIGGER event_append_only_delete BEFORE DELETE ON event
BEGIN SELECT RAISE(ABORT, 'event is append-only'); END;

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    inbox_id         TEXT NOT NULL,
    message_id       TEXT NOT NULL REFERENCES message(id),
    state            TEXT NOT NULL CHECK (state IN ('queued', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    claimed_until    INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE api_token (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE session (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

CREATE TABLE audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    actor_id      TEXT,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    ip            TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX audit_workspace ON audit (workspace_id, id);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
