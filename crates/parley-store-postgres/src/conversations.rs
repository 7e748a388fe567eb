//! The `Conversations` store, and the timeline rows every write shares: appending events and
//! messages, loading and saving a conversation's projected state (as `Stmt` builders too, for the
//! pipelined ingest). Agents' commands are in `commands`, reads in `queries`.

use async_trait::async_trait;
use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, MessageId, Timestamp, UserId, WorkspaceId,
};
use parley_store::crypt::{self, Keyring};
use parley_store::*;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::accounts::new_id;
use crate::db::{exec, query_opt, Tx};
use crate::pipeline::Stmt;
use crate::rows::{self, get, pg_err, CONVERSATION_COLS, CONVERSATION_FROM};
use crate::rows::{id, opt_id};
use crate::PostgresStore;
use parley_core::contact::IdentityKind;

pub(crate) mod commands;
pub(crate) mod inbound;
pub(crate) mod queries;
pub(crate) mod seen;

#[async_trait]
impl Conversations for PostgresStore {
    async fn apply_inbound(&self, msg: InboundMessage) -> StoreResult<InboundOutcome> {
        self.inbound.apply(msg).await
    }

    async fn identity_conversation(
        &self,
        inbox: InboxId,
        kind: IdentityKind,
        external_id: &str,
    ) -> StoreResult<Option<(ContactId, Option<ConversationId>)>> {
        let external_id = external_id.to_string();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let row = query_opt(
                        tx,
                        "SELECT i.contact_id, (SELECT v.id FROM conversation v WHERE v.inbox_id = i.inbox_id AND v.contact_id = i.contact_id) \
                         FROM contact_identity i WHERE i.inbox_id = $1 AND i.kind = $2 AND i.external_id = $3",
                        &[
                            &inbox.as_uuid(),
                            &kind.as_str(),
                            &crate::contacts::identity_key(tx.keys(), kind, &external_id),
                        ],
                    )
                    .await?;
                    match row {
                        Some(r) => Ok(Some((id(&r, 0)?, opt_id(&r, 1)?))),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn conversation_by_external_ids(
        &self,
        inbox: InboxId,
        external_ids: &[String],
    ) -> StoreResult<Option<ConversationId>> {
        let ids: Vec<String> = external_ids.iter().take(100).cloned().collect();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let row = query_opt(
                        tx,
                        "SELECT conversation_id FROM message WHERE inbox_id = $1 \
                         AND direction IN ('inbound', 'outbound') AND external_id = ANY($2) \
                         ORDER BY created_at DESC LIMIT 1",
                        &[&inbox.as_uuid(), &ids],
                    )
                    .await?;
                    match row {
                        Some(r) => Ok(Some(id(&r, 0)?)),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn list_conversations(
        &self,
        scope: &Scope,
        q: &ConversationQuery,
    ) -> StoreResult<Page<ConversationView>> {
        let (scope, q) = (scope.clone(), q.clone());
        self.db
            .run(move |tx| Box::pin(async move { queries::list(tx, &scope, &q).await }))
            .await
    }

    async fn conversation_counts(&self, scope: &Scope) -> StoreResult<ConversationCounts> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move { queries::counts(tx, &scope).await }))
            .await
    }

    async fn mark_seen(
        &self,
        scope: &Scope,
        conversation: ConversationId,
        at: Timestamp,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        self.db
            .write(move |tx, _| {
                Box::pin(async move { seen::mark(tx, &scope, conversation, at).await })
            })
            .await
    }

    async fn seen_at(
        &self,
        scope: &Scope,
        conversations: &[ConversationId],
    ) -> StoreResult<std::collections::HashMap<ConversationId, Timestamp>> {
        let (scope, ids) = (scope.clone(), conversations.to_vec());
        self.db
            .run(move |tx| Box::pin(async move { seen::read(tx, &scope, &ids).await }))
            .await
    }

    async fn conversation(
        &self,
        scope: &Scope,
        id: ConversationId,
    ) -> StoreResult<ConversationView> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move { load_scoped(tx, &scope, id).await }))
            .await
    }

    async fn timeline(
        &self,
        scope: &Scope,
        id: ConversationId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<TimelineEntry>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move { queries::timeline(tx, &scope, id, before, limit).await })
            })
            .await
    }

    async fn act(
        &self,
        scope: &Scope,
        id: ConversationId,
        actor: UserId,
        cmd: Command,
        at: Timestamp,
    ) -> StoreResult<ActOutcome> {
        let scope = scope.clone();
        self.db
            .write(move |tx, ev| {
                Box::pin(async move { commands::act(tx, &scope, id, actor, cmd, at, ev).await })
            })
            .await
    }

    async fn start_conversation(
        &self,
        scope: &Scope,
        msg: NewOutbound,
        at: Timestamp,
    ) -> StoreResult<ActOutcome> {
        let scope = scope.clone();
        let s = commands::Start { msg, at };
        self.db
            .write(move |tx, ev| Box::pin(async move { commands::start(tx, &scope, s, ev).await }))
            .await
    }

    async fn record_conversation_event(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        kind: &'static str,
        data: serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |tx, ev| {
                Box::pin(async move {
                    commands::record_conversation_event(tx, ws, conv, kind, data, at, ev).await
                })
            })
            .await
    }

    async fn record_survey_answer(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        sent_at: Timestamp,
        data: serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |tx, ev| {
                Box::pin(async move {
                    commands::record_survey_answer(tx, ws, conv, sent_at, data, at, ev).await
                })
            })
            .await
    }

    async fn survey_key(
        &self,
        ws: WorkspaceId,
        candidate: String,
        at: Timestamp,
    ) -> StoreResult<String> {
        // Read first: every opening of a survey page asks, and only the first use writes.
        let found = self
            .db
            .run(move |tx| Box::pin(commands::stored_survey_key(tx, ws)))
            .await?;
        if let Some(key) = found {
            return Ok(key);
        }
        self.db
            .write(move |tx, _| {
                Box::pin(async move { commands::survey_key(tx, ws, candidate, at).await })
            })
            .await
    }

    async fn wake_snoozed(&self, now: Timestamp) -> StoreResult<usize> {
        self.db
            .write(move |tx, ev| Box::pin(commands::wake_snoozed(tx, now, ev)))
            .await
    }

    async fn events_since(
        &self,
        scope: &Scope,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Published>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move { queries::events_since(tx, &scope, after_seq, limit).await })
            })
            .await
    }
}

/// An event to append: where it belongs, what it is, and its JSON payload.
pub(crate) struct NewEvent {
    pub ws: WorkspaceId,
    pub inbox: InboxId,
    pub conversation: Option<ConversationId>,
    pub kind: &'static str,
    pub message: Option<MessageId>,
    pub at: Timestamp,
    pub data: String,
}

impl NewEvent {
    /// An event on a conversation's timeline.
    pub(crate) fn on(
        ws: WorkspaceId,
        conv: &ConversationView,
        kind: &'static str,
        message: Option<MessageId>,
        at: Timestamp,
        data: String,
    ) -> Self {
        Self {
            ws,
            inbox: conv.inbox_id,
            conversation: Some(conv.id),
            kind,
            message,
            at,
            data,
        }
    }

    /// Inserts the event (its data sealed when `keys` are set), returning its seq.
    pub(crate) fn stmt(&self, keys: Option<&Keyring>) -> Stmt {
        let data = crypt::seal_text(
            keys,
            &crypt::event_aad(self.ws, self.kind, self.at.0),
            &self.data,
        );
        Stmt::new(
            "INSERT INTO event (workspace_id, inbox_id, conversation_id, kind, message_id, at, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
            vec![
                Box::new(self.ws.as_uuid()),
                Box::new(self.inbox.as_uuid()),
                Box::new(self.conversation.map(|c| c.as_uuid())),
                Box::new(self.kind),
                Box::new(self.message.map(|m| m.as_uuid())),
                Box::new(self.at.0),
                Box::new(data),
            ],
        )
    }

    /// The event as published, given the rows its statement returned.
    pub(crate) fn published(self, rows: &[Row]) -> StoreResult<Published> {
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("INSERT … RETURNING gave no row")))?;
        Ok(Published {
            seq: get(row, 0)?,
            workspace_id: self.ws,
            inbox_id: self.inbox,
            conversation_id: self.conversation,
            kind: self.kind.to_string(),
            at: self.at,
            data: self.data,
        })
    }
}

/// Appends an event (the caller holds the event lock) and queues it for publishing.
pub(crate) async fn insert_event(
    tx: &Tx<'_>,
    events: &mut Vec<Published>,
    ev: NewEvent,
) -> StoreResult<()> {
    let rows = ev.stmt(tx.keys()).run(tx).await.map_err(pg_err)?;
    events.push(ev.published(&rows)?);
    Ok(())
}

pub(crate) async fn load_conversation_by(
    tx: &Tx<'_>,
    cond: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<ConversationView> {
    let sql = format!("SELECT {CONVERSATION_COLS} FROM {CONVERSATION_FROM} WHERE {cond}");
    let row = query_opt(tx, &sql, params)
        .await?
        .ok_or(StoreError::NotFound)?;
    rows::conversation(tx.keys(), &row)
}

pub(crate) async fn load_by_id(tx: &Tx<'_>, conv: ConversationId) -> StoreResult<ConversationView> {
    load_conversation_by(tx, "c.id = $1", &[&conv.as_uuid()]).await
}

/// The one conversation of a contact in an inbox.
pub(crate) async fn load_for_contact(
    tx: &Tx<'_>,
    inbox: InboxId,
    contact: ContactId,
) -> StoreResult<ConversationView> {
    load_conversation_by(
        tx,
        "c.inbox_id = $1 AND c.contact_id = $2",
        &[&inbox.as_uuid(), &contact.as_uuid()],
    )
    .await
}

/// A conversation the scope may see; `NotFound` otherwise.
pub(crate) async fn load_scoped(
    tx: &Tx<'_>,
    scope: &Scope,
    conv: ConversationId,
) -> StoreResult<ConversationView> {
    let (all, inboxes) = rows::scope_params(scope);
    load_conversation_by(
        tx,
        "c.id = $1 AND c.workspace_id = $2 AND ($3 OR c.inbox_id = ANY($4))",
        &[&conv.as_uuid(), &scope.workspace.as_uuid(), &all, &inboxes],
    )
    .await
}

/// Writes a conversation's projected state (not its label index).
pub(crate) fn save_stmt(keys: Option<&Keyring>, v: &ConversationView) -> Stmt {
    let preview = crypt::seal_field(
        keys,
        &crypt::aad("conversation", v.id, "preview"),
        v.last_message.as_deref(),
    );
    let labels = serde_json::to_string(&v.labels).unwrap_or_else(|_| "[]".into());
    Stmt::new(
        "UPDATE conversation SET status = $2, snoozed_until = $3, assignee_id = $4, team_id = $5, priority = $6, \
         labels = $7, waiting_since = $8, waiting_key = $9, last_activity_at = $10, last_message = $11, identity_id = $12, \
         first_reply_at = $13 WHERE id = $1",
        vec![
            Box::new(v.id.as_uuid()),
            Box::new(v.status.as_str()),
            Box::new(v.snoozed_until.map(|t| t.0)),
            Box::new(v.assignee_id.map(|a| a.as_uuid())),
            Box::new(v.team_id.map(|t| t.as_uuid())),
            Box::new(v.priority.rank()),
            Box::new(labels),
            Box::new(v.waiting_since.map(|t| t.0)),
            Box::new(v.waiting_key()),
            Box::new(v.last_activity_at.0),
            Box::new(preview),
            Box::new(v.identity_id.as_uuid()),
            Box::new(v.first_reply_at.map(|t| t.0)),
        ],
    )
}

/// Writes a conversation's projected state; `labels_changed` also rewrites its label index.
pub(crate) async fn save_conversation(
    tx: &Tx<'_>,
    v: &ConversationView,
    labels_changed: bool,
) -> StoreResult<()> {
    save_stmt(tx.keys(), v).run(tx).await.map_err(pg_err)?;
    if labels_changed {
        exec(
            tx,
            "DELETE FROM conversation_label WHERE conversation_id = $1",
            &[&v.id.as_uuid()],
        )
        .await?;
        exec(
            tx,
            "INSERT INTO conversation_label (conversation_id, label) SELECT $1, unnest($2::text[])",
            &[&v.id.as_uuid(), &v.labels],
        )
        .await?;
    }
    Ok(())
}

pub(crate) fn insert_conversation_stmt(ws: WorkspaceId, v: &ConversationView) -> Stmt {
    Stmt::new(
        "INSERT INTO conversation (id, workspace_id, inbox_id, contact_id, identity_id, status, priority, labels, \
         waiting_key, last_activity_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, '[]', $8, $9, $9)",
        vec![
            Box::new(v.id.as_uuid()),
            Box::new(ws.as_uuid()),
            Box::new(v.inbox_id.as_uuid()),
            Box::new(v.contact_id.as_uuid()),
            Box::new(v.identity_id.as_uuid()),
            Box::new(v.status.as_str()),
            Box::new(v.priority.rank()),
            Box::new(v.waiting_key()),
            Box::new(v.created_at.0),
        ],
    )
}

pub(crate) async fn insert_conversation(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    v: &ConversationView,
) -> StoreResult<()> {
    insert_conversation_stmt(ws, v)
        .run(tx)
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(crate) fn new_conversation(
    inbox: InboxId,
    contact: ContactId,
    contact_name: Option<String>,
    identity: IdentityId,
    at: Timestamp,
) -> ConversationView {
    ConversationView::new_thread(new_id().into(), inbox, contact, contact_name, identity, at)
}

pub(crate) fn insert_message_stmt(
    keys: Option<&Keyring>,
    ws: WorkspaceId,
    m: &MessageView,
) -> Stmt {
    let place = |field| crypt::aad("message", m.id, field);
    Stmt::new(
        "INSERT INTO message (id, workspace_id, conversation_id, inbox_id, direction, sender_kind, sender_id, body, \
         external_id, status, error, created_at, updated_at, meta) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
        vec![
            Box::new(m.id.as_uuid()),
            Box::new(ws.as_uuid()),
            Box::new(m.conversation_id.as_uuid()),
            Box::new(m.inbox_id.as_uuid()),
            Box::new(m.direction.as_str()),
            Box::new(m.sender_kind.as_str()),
            Box::new(m.sender_id),
            Box::new(crypt::seal_text(keys, &place("body"), &m.body)),
            Box::new(m.external_id.clone()),
            Box::new(m.status.as_str()),
            Box::new(crypt::seal_field(keys, &place("error"), m.error.as_deref())),
            Box::new(m.created_at.0),
            Box::new(m.meta.as_ref().map(|v| crypt::seal_json(keys, &place("meta"), v))),
        ],
    )
}

pub(crate) async fn insert_message(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    m: &MessageView,
) -> StoreResult<()> {
    insert_message_stmt(tx.keys(), ws, m)
        .run(tx)
        .await
        .map_err(pg_err)?;
    Ok(())
}
