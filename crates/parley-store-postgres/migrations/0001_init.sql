-- Parley's first schema on PostgreSQL, column for column the SQLite one. Times are milliseconds
-- since the Unix epoch (UTC). JSON is kept as text so events and settings read back byte for byte.

CREATE TABLE workspace (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    timezone    text NOT NULL,
    settings    text NOT NULL DEFAULT '{}',
    created_at  bigint NOT NULL
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    name           text NOT NULL,
    password_hash  text NOT NULL,
    created_at     bigint NOT NULL
);

CREATE TABLE membership (
    workspace_id  uuid NOT NULL REFERENCES workspace(id),
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          text NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    created_at    bigint NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX membership_user ON membership (user_id);

CREATE TABLE team (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspace(id),
    name          text NOT NULL,
    created_at    bigint NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE team_member (
    team_id  uuid NOT NULL REFERENCES team(id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE inbox (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspace(id),
    name          text NOT NULL,
    kind          text NOT NULL,
    settings      text NOT NULL DEFAULT '{}',
    secret        text NOT NULL,
    created_at    bigint NOT NULL
);
CREATE INDEX inbox_workspace ON inbox (workspace_id);

CREATE TABLE inbox_member (
    inbox_id  uuid NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (inbox_id, user_id)
);
CREATE INDEX inbox_member_user ON inbox_member (user_id);

CREATE TABLE contact (
    id             uuid PRIMARY KEY,
    workspace_id   uuid NOT NULL REFERENCES workspace(id),
    name           text,
    email          text,
    phone          text,
    custom_fields  text NOT NULL DEFAULT '{}',
    created_at     bigint NOT NULL,
    updated_at     bigint NOT NULL
);
CREATE INDEX contact_name ON contact (workspace_id, (COALESCE(lower(name), '')) COLLATE "C", id);

-- An identity without an inbox (an email address, say) is one value for uniqueness, hence NULLS NOT DISTINCT.
CREATE TABLE contact_identity (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    contact_id    uuid NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    kind          text NOT NULL,
    inbox_id      uuid,
    external_id   text NOT NULL,
    created_at    bigint NOT NULL,
    CONSTRAINT contact_identity_unique UNIQUE NULLS NOT DISTINCT (workspace_id, kind, inbox_id, external_id)
);
CREATE INDEX contact_identity_contact ON contact_identity (contact_id);

CREATE TABLE conversation (
    id                uuid PRIMARY KEY,
    workspace_id      uuid NOT NULL REFERENCES workspace(id),
    inbox_id          uuid NOT NULL REFERENCES inbox(id),
    contact_id        uuid NOT NULL REFERENCES contact(id),
    identity_id       uuid NOT NULL,
    status            text NOT NULL CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    snoozed_until     bigint,
    assignee_id       uuid,
    team_id           uuid,
    priority          bigint NOT NULL,
    labels            text NOT NULL DEFAULT '[]',
    waiting_since     bigint,
    waiting_key       bigint NOT NULL,
    last_activity_at  bigint NOT NULL,
    last_message      text,
    created_at        bigint NOT NULL,
    UNIQUE (inbox_id, contact_id)
);
CREATE INDEX conversation_waiting ON conversation (workspace_id, waiting_key, id);
CREATE INDEX conversation_activity ON conversation (workspace_id, last_activity_at, id);
CREATE INDEX conversation_priority ON conversation (workspace_id, priority, waiting_key, id);
CREATE INDEX conversation_contact ON conversation (contact_id);
CREATE INDEX conversation_snoozed ON conversation (status, snoozed_until);

CREATE TABLE conversation_label (
    conversation_id  uuid NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    label            text NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_label_label ON conversation_label (label);

CREATE TABLE message (
    id               uuid PRIMARY KEY,
    workspace_id     uuid NOT NULL,
    conversation_id  uuid NOT NULL,
    inbox_id         uuid NOT NULL,
    direction        text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    sender_kind      text NOT NULL,
    sender_id        uuid,
    body             text NOT NULL,
    external_id      text,
    status           text NOT NULL,
    error            text,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL
);
CREATE UNIQUE INDEX message_external ON message (inbox_id, direction, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX message_conversation ON message (conversation_id);

-- The append-only timeline. Only conversation_id may change (a contact merge re-parents events).
CREATE TABLE event (
    seq              bigserial PRIMARY KEY,
    workspace_id     uuid NOT NULL,
    inbox_id         uuid NOT NULL,
    conversation_id  uuid,
    kind             text NOT NULL,
    message_id       uuid,
    at               bigint NOT NULL,
    data             text NOT NULL
);
CREATE INDEX event_conversation ON event (conversation_id, seq);
CREATE INDEX event_workspace ON event (workspace_id, seq);

CREATE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.seq, NEW.workspace_id, NEW.inbox_id, NEW.kind, NEW.message_id, NEW.at, NEW.data)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.workspace_id, OLD.inbox_id, OLD.kind, OLD.message_id, OLD.at, OLD.data) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'event is append-only';
END $$;
CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
    FOR EACH ROW EXECUTE FUNCTION event_append_only();
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event
    FOR EACH STATEMENT EXECUTE FUNCTION event_append_only();

CREATE TABLE outbox (
    id               uuid PRIMARY KEY,
    workspace_id     uuid NOT NULL,
    inbox_id         uuid NOT NULL,
    message_id       uuid NOT NULL REFERENCES message(id),
    state            text NOT NULL CHECK (state IN ('queued', 'done', 'failed')),
    attempts         bigint NOT NULL DEFAULT 0,
    next_attempt_at  bigint NOT NULL,
    claimed_until    bigint,
    last_error       text,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE api_token (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          text NOT NULL,
    token_hash    text NOT NULL UNIQUE,
    created_at    bigint NOT NULL,
    revoked_at    bigint
);
CREATE INDEX api_token_user ON api_token (user_id);

CREATE TABLE session (
    token_hash    text PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id  uuid NOT NULL,
    csrf_token    text NOT NULL,
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL
);
CREATE INDEX session_by_user ON session (user_id);

CREATE TABLE audit (
    id            bigserial PRIMARY KEY,
    workspace_id  uuid NOT NULL,
    actor_id      uuid,
    action        text NOT NULL,
    target        text NOT NULL,
    detail        text NOT NULL,
    ip            text,
    at            bigint NOT NULL
);
CREATE INDEX audit_workspace ON audit (workspace_id, id);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit is append-only';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
