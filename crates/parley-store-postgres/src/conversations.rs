//! The `Conversations` store: each method reads as its use case's steps. The inbound batcher is in
//! `inbound`, the steps of agents' commands and of starting a conversation in `commands`, the SQL of
//! lists, counts and timelines in `queries`, and the rows every write shares in `writes`; `seen` is
//! the `Seen` store.

use async_trait::async_trait;
use parley_core::conversation::{Change, Status};
use parley_core::{ContactId, ConversationId, InboxId, Timestamp, UserId, WorkspaceId};
use parley_store::*;

use crate::db::{exec, query, query_opt};
use crate::rows::{self, id, opt_id, pg_err, scope_params, EVENT_COLS};
use crate::PostgresStore;
use parley_core::contact::IdentityKind;

pub(crate) mod commands;
pub(crate) mod inbound;
mod pace;
pub(crate) mod queries;
mod seen;
mod writes;

pub(crate) use writes::{
    insert_conversation, insert_conversation_stmt, insert_event, insert_message,
    insert_message_stmt, load_by_id, load_conversation_by, load_for_contact, load_scoped,
    new_conversation, save_conversation, save_stmt, NewEvent,
};

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
            .run(move |tx| {
                Box::pin(async move {
                    let (sql, params) = queries::list_sql(&scope, &q)?;
                    // Built per filter combination; a one-off statement keeps the cache small.
                    let items: Vec<ConversationView> = tx
                        .query(sql.as_str(), &params.refs())
                        .await
                        .map_err(pg_err)?
                        .iter()
                        .map(|r| rows::conversation(tx.keys(), r))
                        .collect::<StoreResult<_>>()?;
                    Ok(plan::pages::conversations(items, &q))
                })
            })
            .await
    }

    async fn conversation_counts(&self, scope: &Scope) -> StoreResult<ConversationCounts> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let mut out = queries::count_statuses(tx, &scope).await?;
                    out.inboxes = queries::count_open(tx, &scope, queries::OPEN_BY_INBOX).await?;
                    out.teams = queries::count_open(tx, &scope, queries::OPEN_BY_TEAM).await?;
                    out.labels = queries::count_open(tx, &scope, queries::OPEN_BY_LABEL).await?;
                    Ok(out)
                })
            })
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
                Box::pin(async move {
                    load_scoped(tx, &scope, id).await?;
                    let sql = format!(
                        "SELECT {EVENT_COLS}, m.status, m.error, m.id FROM event e LEFT JOIN message m ON m.id = e.message_id \
                         WHERE e.conversation_id = $1 AND e.kind IN ('message.created', 'note.created', 'conversation.updated', 'consent.changed', 'survey.answered', 'call', 'automation.recorded') \
                         AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3"
                    );
                    let (before, limit) = (before.unwrap_or(i64::MAX), i64::from(limit));
                    let found = query(tx, &sql, &[&id.as_uuid(), &before, &limit]).await?;
                    let mut out = found
                        .iter()
                        .map(|r| queries::timeline_entry(tx.keys(), r))
                        .collect::<StoreResult<Vec<_>>>()?;
                    out.reverse();
                    Ok(out)
                })
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
            .write(move |tx, events| {
                Box::pin(async move {
                    let ws = scope.workspace;
                    let mut conv = load_scoped(tx, &scope, id).await?;
                    let (mut message, mut note) = (None, None);
                    match plan::Act::of(&conv, cmd, actor, at)? {
                        plan::Act::Send(out) => {
                            let reply = commands::queue_reply(tx, ws, &mut conv, out, at, events);
                            message = Some(reply.await?);
                        }
                        plan::Act::Change(state) => {
                            note = commands::change(tx, ws, &mut conv, state, at, events).await?;
                        }
                    }
                    Ok(ActOutcome {
                        conversation: conv,
                        message,
                        note,
                        events: events.clone(),
                    })
                })
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
        self.db
            .write(move |tx, events| {
                Box::pin(async move {
                    let (ws, m) = (scope.workspace, msg);
                    if !scope.can_see(m.inbox) {
                        return Err(StoreError::NotFound);
                    }
                    let inbox = crate::directory::inbox(tx, ws, m.inbox).await?;
                    let k = rows::load_contact(tx, ws.as_uuid(), m.contact.as_uuid()).await?;
                    let identity = commands::identity_to_start(tx, ws, &inbox, &k, at).await?;
                    let mut conv =
                        commands::conversation_to_start(tx, ws, m.inbox, &k, identity, at).await?;
                    conv.identity_id = identity;
                    let out = plan::Outbound {
                        sender: plan::start_sender(m.sender),
                        actor: m.sender,
                        body: m.body,
                        meta: m.meta,
                    };
                    let msg = commands::queue_reply(tx, ws, &mut conv, out, at, events).await?;
                    Ok(ActOutcome {
                        conversation: conv,
                        message: Some(msg),
                        note: None,
                        events: events.clone(),
                    })
                })
            })
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
            .write(move |tx, events| {
                Box::pin(async move {
                    let ours = query_opt(
                        tx,
                        "SELECT 1 FROM conversation WHERE id = $1 AND workspace_id = $2",
                        &[&conv.as_uuid(), &ws.as_uuid()],
                    )
                    .await?;
                    if ours.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    let stored = exec(
                        tx,
                        sql::conversations::INSERT_SURVEY_ANSWER,
                        &[&conv.as_uuid(), &sent_at.0, &at.0],
                    )
                    .await?;
                    if stored == 0 {
                        return Err(StoreError::Conflict(plan::SURVEY_ANSWERED.into()));
                    }
                    commands::record_conversation_event(
                        tx,
                        ws,
                        conv,
                        "survey.answered",
                        data,
                        at,
                        events,
                    )
                    .await
                })
            })
            .await
    }

    async fn record_call(&self, call: InboundCall) -> StoreResult<CallOutcome> {
        self.db
            .write(move |tx, events| {
                Box::pin(async move { inbound::record_call(tx, &call, events).await })
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
            .write(move |tx, events| {
                Box::pin(async move {
                    let due: Vec<(ConversationId, WorkspaceId)> =
                        query(tx, sql::conversations::SNOOZED_DUE, &[&now.0])
                            .await?
                            .iter()
                            .map(|r| Ok((id(r, 0)?, id(r, 1)?)))
                            .collect::<StoreResult<_>>()?;
                    for (conv_id, ws) in &due {
                        let mut conv = load_by_id(tx, *conv_id).await?;
                        let change = Change::Status {
                            from: Status::Snoozed,
                            to: Status::Open,
                            snoozed_until: None,
                        };
                        conv.apply(&change, now);
                        save_conversation(tx, &conv, false).await?;
                        crate::timers::drop_snooze(tx, *ws, conv.id).await?;
                        let data = plan::events::conversation_updated(
                            &plan::events::change_json(&change),
                            None,
                            &conv,
                        );
                        insert_event(
                            tx,
                            events,
                            NewEvent::on(*ws, &conv, "conversation.updated", None, now, data),
                        )
                        .await?;
                    }
                    Ok(due.len())
                })
            })
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
                Box::pin(async move {
                    let (all, inboxes) = scope_params(&scope);
                    let sql = format!(
                        "SELECT {EVENT_COLS} FROM event e WHERE e.workspace_id = $1 AND e.seq > $2 \
                         AND ($3 OR e.inbox_id = ANY($4)) ORDER BY e.seq LIMIT $5"
                    );
                    let ws = scope.workspace.as_uuid();
                    let limit = i64::from(limit);
                    query(tx, &sql, &[&ws, &after_seq, &all, &inboxes, &limit])
                        .await?
                        .iter()
                        .map(|r| rows::event(tx.keys(), r))
                        .collect()
                })
            })
            .await
    }
}
