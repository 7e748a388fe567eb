//! The `Conversations` store: each method reads as its use case's steps, ingesting customer messages
//! (steps in `inbound`), agents' commands, starting and waking (`commands`), lists, counts and
//! timelines (`queries`); `seen` is the `Seen` store.

use async_trait::async_trait;
use parley_core::contact::IdentityKind;
use parley_core::{ContactId, ConversationId, InboxId, Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::accounts::new_id;
use crate::db::sql_err;
use crate::rows::{self, opt_uid, scope_filter, uid, EVENT_COLS};
use crate::SqliteStore;

mod commands;
mod inbound;
mod pace;
mod queries;
mod seen;
mod writes;

use commands::queue_reply;
pub(crate) use queries::message;
use queries::stored_survey_key;
pub(crate) use writes::{
    insert_conversation, insert_event, insert_message, load_conversation_by, load_scoped,
    new_conversation, record_conversation_event, save_conversation,
};

#[async_trait]
impl Conversations for SqliteStore {
    async fn apply_inbound(&self, m: InboundMessage) -> StoreResult<InboundOutcome> {
        self.db
            .write(move |c, events| {
                let ws = inbound::inbox_workspace(c, m.inbox_id)?;
                if let Some(duplicate) = inbound::delivered_before(c, &m)? {
                    return Ok(duplicate);
                }
                let sender = inbound::sender(c, ws, &m)?;
                let (identity_id, contact_id) = (sender.identity, sender.contact);
                // A blocked sender's message is kept but asks nothing of anyone: no reopening, no waiting.
                let blocked = inbound::blocked(c, contact_id)?;
                let mut conv = inbound::conversation_for(c, ws, &m, sender, blocked)?;
                let before = conv.clone();
                let survey = plan::inbound::survey_reply(m.survey.as_ref(), &conv);
                let survey = inbound::answer_survey(c, survey, m.at)?;
                // A rating reply, like a blocked sender's message, leaves the conversation as it was.
                let quiet = blocked || survey.is_some();
                let reopen = plan::inbound::reopen(&mut conv, quiet, m.at);
                let reopened = reopen.is_some();
                if let Some(data) = reopen {
                    let (inbox, id, kind) = (conv.inbox_id, Some(conv.id), "conversation.updated");
                    insert_event(c, events, ws, inbox, id, kind, None, m.at, data)?;
                }
                plan::inbound::reply_identity(&mut conv, contact_id, identity_id);
                let msg = MessageView::from_customer(
                    new_id().into(),
                    &conv,
                    contact_id,
                    m.body,
                    m.external_id,
                    m.at,
                    m.meta,
                );
                insert_message(c, ws, &msg)?;
                plan::inbound::fold(&mut conv, &msg, quiet);
                save_conversation(c, &before, &conv)?;
                let data = plan::events::message_created(&msg, &conv);
                let (inbox, id, kind) = (conv.inbox_id, Some(conv.id), "message.created");
                insert_event(c, events, ws, inbox, id, kind, Some(msg.id), m.at, data)?;
                if let Some(reply) = &survey {
                    let data = plan::inbound::survey_answered(reply, &msg, &conv);
                    insert_event(
                        c,
                        events,
                        ws,
                        inbox,
                        id,
                        "survey.answered",
                        None,
                        m.at,
                        data,
                    )?;
                }
                let keyword = m.keyword.as_ref();
                let consent = inbound::keyword_consent(c, ws, keyword, &msg, contact_id, events)?;
                Ok(InboundOutcome {
                    duplicate: false,
                    message_id: msg.id,
                    conversation_id: conv.id,
                    contact_id,
                    consent,
                    survey_answered: survey.is_some(),
                    reopened,
                })
            })
            .await
    }

    async fn identity_conversation(
        &self,
        inbox: InboxId,
        kind: IdentityKind,
        external_id: &str,
    ) -> StoreResult<Option<(ContactId, Option<ConversationId>)>> {
        let external_id = external_id.to_string();
        self.db
            .read(move |c| {
                // The contact of a channel identity and its conversation in that inbox.
                c.prepare_cached(
                    "SELECT i.contact_id, (SELECT v.id FROM conversation v WHERE v.inbox_id = i.inbox_id AND v.contact_id = i.contact_id) \
                     FROM contact_identity i WHERE i.inbox_id = ?1 AND i.kind = ?2 AND i.external_id = parley_blind(?3, 'identity:' || ?2)",
                )
                .map_err(sql_err)?
                .query_row(params![inbox.to_string(), kind.as_str(), external_id], |r| {
                    Ok((uid::<ContactId>(r, 0)?, opt_uid::<ConversationId>(r, 1)?))
                })
                .optional()
                .map_err(sql_err)
            })
            .await
    }

    async fn conversation_by_external_ids(
        &self,
        inbox: InboxId,
        external_ids: &[String],
    ) -> StoreResult<Option<ConversationId>> {
        let ids = external_ids.to_vec();
        self.db
            .read(move |c| {
                // The conversation of the newest message in `inbox` with one of these provider ids.
                let mut newest: Option<(i64, ConversationId)> = None;
                let mut stmt = c
                    .prepare_cached(
                        "SELECT created_at, conversation_id FROM message WHERE inbox_id = ?1 AND direction IN ('inbound', 'outbound') AND external_id = ?2 \
                         ORDER BY created_at DESC LIMIT 1",
                    )
                    .map_err(sql_err)?;
                // A thread's References hold a few dozen ids at most; each is one indexed lookup.
                for id in ids.iter().take(100) {
                    let hit = stmt
                        .query_row(params![inbox.to_string(), id], |r| {
                            Ok((r.get::<_, i64>(0)?, uid::<ConversationId>(r, 1)?))
                        })
                        .optional()
                        .map_err(sql_err)?;
                    if let Some(h) = hit {
                        if newest.is_none_or(|n| h.0 > n.0) {
                            newest = Some(h);
                        }
                    }
                }
                Ok(newest.map(|n| n.1))
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
            .read(move |c| {
                let (sql, args) = queries::list_sql(&scope, &q)?;
                let items: Vec<ConversationView> = c
                    .prepare_cached(&sql)
                    .map_err(sql_err)?
                    .query_map(params_from_iter(args), rows::conversation)
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)?;
                Ok(plan::pages::conversations(items, &q))
            })
            .await
    }

    async fn conversation_counts(&self, scope: &Scope) -> StoreResult<ConversationCounts> {
        let scope = scope.clone();
        self.db
            .read(move |c| {
                let mut out = queries::count_statuses(c, &scope)?;
                out.inboxes = queries::count_open(c, &scope, queries::OPEN_BY_INBOX)?;
                out.teams = queries::count_open(c, &scope, queries::OPEN_BY_TEAM)?;
                out.labels = queries::count_open(c, &scope, queries::OPEN_BY_LABEL)?;
                Ok(out)
            })
            .await
    }

    async fn conversation(
        &self,
        scope: &Scope,
        id: ConversationId,
    ) -> StoreResult<ConversationView> {
        let scope = scope.clone();
        self.db.read(move |c| load_scoped(c, &scope, id)).await
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
            .read(move |c| {
                load_scoped(c, &scope, id)?;
                let sql = format!(
                    "SELECT {EVENT_COLS}, m.status, parley_open(m.error, 'message:' || m.id || ':error') FROM event e LEFT JOIN message m ON m.id = e.message_id \
                     WHERE e.conversation_id = ?1 AND e.kind IN ('message.created', 'note.created', 'conversation.updated', 'consent.changed', 'survey.answered', 'call', 'automation.recorded') AND e.seq < ?2 \
                     ORDER BY e.seq DESC LIMIT ?3"
                );
                let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
                let (before, limit) = (before.unwrap_or(i64::MAX), limit);
                let mut out: Vec<TimelineEntry> = stmt
                    .query_map(
                        params![id.to_string(), before, limit],
                        queries::timeline_entry,
                    )
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)?;
                out.reverse();
                Ok(out)
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
            .write(move |c, events| {
                let ws = scope.workspace;
                let mut conv = load_scoped(c, &scope, id)?;
                let before = conv.clone();
                let (mut message, mut note) = (None, None);
                match plan::Act::of(&conv, cmd, actor, at)? {
                    plan::Act::Send(out) => {
                        let msg = queue_reply(c, ws, &before, &mut conv, out, at, events)?;
                        message = Some(msg);
                    }
                    plan::Act::Change(state) => {
                        note = commands::change(c, ws, &before, &mut conv, state, at, events)?;
                    }
                }
                Ok(ActOutcome {
                    conversation: conv,
                    message,
                    note,
                    events: events.clone(),
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
            .write(move |c, events| {
                let (ws, m) = (scope.workspace, msg);
                if !scope.can_see(m.inbox) {
                    return Err(StoreError::NotFound);
                }
                let inbox = crate::directory::inbox(c, ws, m.inbox)?;
                let k = crate::rows::load_contact(c, &ws.to_string(), &m.contact.to_string())?;
                let identity = commands::identity_to_start(c, ws, &inbox, &k, at)?;
                let mut conv = commands::conversation_to_start(c, ws, m.inbox, &k, identity, at)?;
                let before = conv.clone();
                conv.identity_id = identity;
                let out = plan::Outbound {
                    sender: plan::start_sender(m.sender),
                    actor: m.sender,
                    body: m.body,
                    meta: m.meta,
                };
                let msg = queue_reply(c, ws, &before, &mut conv, out, at, events)?;
                Ok(ActOutcome {
                    conversation: conv,
                    message: Some(msg),
                    note: None,
                    events: events.clone(),
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
            .write(move |c, ev| record_conversation_event(c, ws, conv, kind, data, at, ev))
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
            .write(move |c, events| {
                // Checked first, so a conversation of another workspace is NotFound, not a stored key.
                load_conversation_by(
                    c,
                    "c.id = ?1 AND c.workspace_id = ?2",
                    [conv.to_string(), ws.to_string()],
                )?;
                let taken = c
                    .prepare_cached(sql::conversations::INSERT_SURVEY_ANSWER)
                    .map_err(sql_err)?
                    .execute(rusqlite::params![conv.to_string(), sent_at.0, at.0])
                    .map_err(sql_err)?
                    == 0;
                if taken {
                    return Err(StoreError::Conflict(plan::SURVEY_ANSWERED.into()));
                }
                record_conversation_event(c, ws, conv, "survey.answered", data, at, events)
            })
            .await
    }

    async fn record_call(&self, call: InboundCall) -> StoreResult<CallOutcome> {
        self.db
            .write(move |c, events| inbound::record_call(c, events, &call))
            .await
    }

    async fn survey_key(
        &self,
        ws: WorkspaceId,
        candidate: String,
        at: Timestamp,
    ) -> StoreResult<String> {
        // Read first: every opening of a survey page asks, and only the first use writes.
        let found = self.db.read(move |c| stored_survey_key(c, ws)).await?;
        if let Some(key) = found {
            return Ok(key);
        }
        self.db
            .write(move |c, _| {
                c.prepare_cached(
                    "INSERT INTO survey_key (id, secret, created_at) \
                     VALUES (?1, parley_seal(?2, 'survey_key:' || ?1 || ':secret'), ?3) ON CONFLICT DO NOTHING",
                )
                .map_err(sql_err)?
                .execute(rusqlite::params![ws.to_string(), candidate, at.0])
                .map_err(sql_err)?;
                stored_survey_key(c, ws)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn wake_snoozed(&self, now: Timestamp) -> StoreResult<usize> {
        self.db
            .write(move |c, events| {
                let due = commands::snoozed_due(c, now)?;
                for (id, ws) in &due {
                    commands::wake(c, *ws, *id, now, events)?;
                }
                Ok(due.len())
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
            .read(move |c| {
                let sql = format!(
                    "SELECT {EVENT_COLS} FROM event e WHERE e.workspace_id = ?1 AND e.seq > ?2{} ORDER BY e.seq LIMIT ?3",
                    scope_filter(&scope, "e.inbox_id")
                );
                let mut stmt = c.prepare(&sql).map_err(sql_err)?;
                let rows = stmt
                    .query_map(
                        params![scope.workspace.to_string(), after_seq, limit],
                        rows::event,
                    )
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await
    }
}
