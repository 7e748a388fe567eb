//! The timeline rows every write shares: appending events and messages, loading and saving a
//! conversation's projected state (as `Stmt` builders too, for the pipelined inbound path).

use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, MessageId, Timestamp, WorkspaceId,
};
use parley_store::crypt::{self, Keyring};
use parley_store::*;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::accounts::new_id;
use crate::db::{exec, query_opt, Tx};
use crate::pipeline::Stmt;
use crate::rows::{self, get, pg_err, CONVERSATION_COLS, CONVERSATION_FROM};

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
