//! The `Conversations` store: ingesting customer messages, agents' commands, lists with filters and
//! keyset pagination, timelines, snooze wake-ups and the event feed.

use async_trait::async_trait;
use parley_core::contact::IdentityKind;
use parley_core::conversation::{Change, Status};
use parley_core::message::{DeliveryStatus, SenderKind};
use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, MessageId, Timestamp, UserId, WorkspaceId,
};
use parley_store::*;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Params};

use crate::accounts::new_id;
use crate::contacts::{insert_contact, insert_identity};
use crate::db::sql_err;
use crate::rows::{
    self, opt_uid, scope_filter, uid, CONVERSATION_COLS, CONVERSATION_FROM, EVENT_COLS,
    MESSAGE_COLS,
};
use crate::SqliteStore;

pub(crate) mod seen;

#[async_trait]
impl Conversations for SqliteStore {
    async fn apply_inbound(&self, msg: InboundMessage) -> StoreResult<InboundOutcome> {
        self.db.write(move |c, ev| apply_inbound(c, msg, ev)).await
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
                let external_id: &str = &external_id;
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
                let ids: &[String] = &ids;
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
        self.db.read(move |c| list(c, &scope, &q)).await
    }

    async fn conversation_counts(&self, scope: &Scope) -> StoreResult<ConversationCounts> {
        let scope = scope.clone();
        self.db.read(move |c| {
            let scope: &Scope = &scope;
            let visible = scope_filter(scope, "c.inbox_id");
            let ws = scope.workspace.to_string();
            let mut out = ConversationCounts::default();
            let rows: Vec<(String, i64, i64, i64)> = c
                .prepare_cached(&format!(
                    "SELECT c.status, COUNT(*), COALESCE(SUM(c.assignee_id = ?2), 0), COALESCE(SUM(c.assignee_id IS NULL), 0) \
                     FROM conversation c WHERE c.workspace_id = ?1{visible} GROUP BY c.status"
                ))
                .map_err(sql_err)?
                .query_map(params![ws, scope.user.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?;
            for (status, n, mine, unassigned) in rows {
                if status == "open" {
                    (out.mine, out.unassigned) = (mine as u64, unassigned as u64);
                }
                out.statuses.insert(status, n as u64);
            }
            let open = |sql: String| -> StoreResult<std::collections::BTreeMap<String, u64>> {
                c.prepare_cached(&sql)
                    .map_err(sql_err)?
                    .query_map([&ws], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                    })
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql_err)
            };
            out.inboxes = open(format!(
                "SELECT c.inbox_id, COUNT(*) FROM conversation c WHERE c.workspace_id = ?1 AND c.status = 'open'{visible} GROUP BY c.inbox_id"
            ))?;
            out.teams = open(format!(
                "SELECT c.team_id, COUNT(*) FROM conversation c WHERE c.workspace_id = ?1 AND c.status = 'open' \
                 AND c.team_id IS NOT NULL{visible} GROUP BY c.team_id"
            ))?;
            out.labels = open(format!(
                "SELECT l.label, COUNT(*) FROM conversation_label l JOIN conversation c ON c.id = l.conversation_id \
                 WHERE c.workspace_id = ?1 AND c.status = 'open'{visible} GROUP BY l.label"
            ))?;
            Ok(out)
        }).await
    }

    async fn mark_seen(
        &self,
        scope: &Scope,
        conversation: ConversationId,
        at: Timestamp,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        self.db
            .write(move |c, _| seen::mark(c, &scope, conversation, at))
            .await
    }

    async fn seen_at(
        &self,
        scope: &Scope,
        conversations: &[ConversationId],
    ) -> StoreResult<std::collections::HashMap<ConversationId, Timestamp>> {
        let (scope, ids) = (scope.clone(), conversations.to_vec());
        self.db.read(move |c| seen::read(c, &scope, &ids)).await
    }

    async fn conversation(
        &self,
        scope: &Scope,
        id: ConversationId,
    ) -> StoreResult<ConversationView> {
        let scope = scope.clone();
        self.db
            .read(move |c| {
                let scope: &Scope = &scope;
                load_scoped(c, scope, id)
            })
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
            .read(move |c| {
                let scope: &Scope = &scope;
                load_scoped(c, scope, id)?;
                let sql = format!(
                    "SELECT {EVENT_COLS}, m.status, parley_open(m.error, 'message:' || m.id || ':error') FROM event e LEFT JOIN message m ON m.id = e.message_id \
                     WHERE e.conversation_id = ?1 AND e.kind IN ('message.created', 'note.created', 'conversation.updated', 'consent.changed', 'survey.answered') AND e.seq < ?2 \
                     ORDER BY e.seq DESC LIMIT ?3"
                );
                let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
                let mut out: Vec<TimelineEntry> = stmt
                    .query_map(
                        params![id.to_string(), before.unwrap_or(i64::MAX), limit],
                        |r| {
                            let status: Option<String> = r.get(7)?;
                            let error: Option<String> = r.get(8)?;
                            Ok(TimelineEntry {
                                event: rows::event(r)?,
                                delivery: status
                                    .and_then(|s| DeliveryStatus::parse(&s))
                                    .map(|s| (s, error)),
                            })
                        },
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
            .write(move |c, ev| act(c, &scope, id, actor, cmd, at, ev))
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
            .write(move |c, ev| start(c, &scope, msg, at, ev))
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
            .write(move |c, ev| {
                let id: ConversationId = conv;
                let events: &mut Vec<Published> = ev;
                // Checked first, so a conversation of another workspace is NotFound, not a stored key.
                load_conversation_by(
                    c,
                    "c.id = ?1 AND c.workspace_id = ?2",
                    [id.to_string(), ws.to_string()],
                )?;
                let taken = c
                    .prepare_cached(sql::conversations::INSERT_SURVEY_ANSWER)
                    .map_err(sql_err)?
                    .execute(rusqlite::params![id.to_string(), sent_at.0, at.0])
                    .map_err(sql_err)?
                    == 0;
                if taken {
                    return Err(StoreError::Conflict(plan::SURVEY_ANSWERED.into()));
                }
                record_conversation_event(c, ws, id, "survey.answered", data, at, events)
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
            .write(move |c, ev| {
                let events: &mut Vec<Published> = ev;
                let due: Vec<(ConversationId, WorkspaceId)> = c
                    .prepare_cached(sql::conversations::SNOOZED_DUE)
                    .map_err(sql_err)?
                    .query_map([now.0], |r| Ok((uid(r, 0)?, uid(r, 1)?)))
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)?;
                for (id, ws) in &due {
                    let mut conv = load_conversation_by(c, "c.id = ?1", [id.to_string()])?;
                    let before = conv.clone();
                    let change = Change::Status {
                        from: Status::Snoozed,
                        to: Status::Open,
                        snoozed_until: None,
                    };
                    conv.apply(&change, now);
                    save_conversation(c, &before, &conv)?;
                    let data = plan::conversation_updated(&plan::change_json(&change), None, &conv);
                    insert_event(
                        c,
                        events,
                        *ws,
                        conv.inbox_id,
                        Some(conv.id),
                        "conversation.updated",
                        None,
                        now,
                        data,
                    )?;
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
                let scope: &Scope = &scope;
                let after: i64 = after_seq;
                let sql = format!(
                    "SELECT {EVENT_COLS} FROM event e WHERE e.workspace_id = ?1 AND e.seq > ?2{} ORDER BY e.seq LIMIT ?3",
                    scope_filter(scope, "e.inbox_id")
                );
                let mut stmt = c.prepare(&sql).map_err(sql_err)?;
                let rows = stmt
                    .query_map(
                        params![scope.workspace.to_string(), after, limit],
                        rows::event,
                    )
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one column each; a struct would only be unpacked again"
)]
pub(crate) fn insert_event(
    c: &Connection,
    events: &mut Vec<Published>,
    ws: WorkspaceId,
    inbox: InboxId,
    conv: Option<ConversationId>,
    kind: &str,
    message: Option<MessageId>,
    at: Timestamp,
    data: String,
) -> StoreResult<i64> {
    c.prepare_cached(
        "INSERT INTO event (workspace_id, inbox_id, conversation_id, kind, message_id, at, data) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, parley_seal(?7, 'event:' || ?1 || ':' || ?4 || ':' || ?6))",
    )
    .map_err(sql_err)?
    .execute(params![
        ws.to_string(),
        inbox.to_string(),
        conv.map(|c| c.to_string()),
        kind,
        message.map(|m| m.to_string()),
        at.0,
        data
    ])
    .map_err(sql_err)?;
    let seq = c.last_insert_rowid();
    events.push(Published {
        seq,
        workspace_id: ws,
        inbox_id: inbox,
        conversation_id: conv,
        kind: kind.to_string(),
        at,
        data,
    });
    Ok(seq)
}

pub(crate) fn load_conversation_by<P: Params>(
    c: &Connection,
    cond: &str,
    p: P,
) -> StoreResult<ConversationView> {
    c.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLS} FROM {CONVERSATION_FROM} WHERE {cond}"
    ))
    .map_err(sql_err)?
    .query_row(p, rows::conversation)
    .optional()
    .map_err(sql_err)?
    .ok_or(StoreError::NotFound)
}

fn load_scoped(c: &Connection, scope: &Scope, id: ConversationId) -> StoreResult<ConversationView> {
    let cond = format!(
        "c.id = ?1 AND c.workspace_id = ?2{}",
        scope_filter(scope, "c.inbox_id")
    );
    load_conversation_by(c, &cond, [id.to_string(), scope.workspace.to_string()])
}

/// Writes the columns of a conversation that changed between `before` and `v`. Only changed columns
/// are set, so SQLite maintains only the indexes that really moved (most messages touch one).
pub(crate) fn save_conversation(
    c: &Connection,
    before: &ConversationView,
    v: &ConversationView,
) -> StoreResult<()> {
    let mut sets: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut set = |col: &str, val: Value| {
        args.push(val);
        let n = args.len();
        sets.push(if col == "last_message" {
            format!("{col} = parley_seal(?{n}, 'conversation:' || id || ':preview')")
        } else {
            format!("{col} = ?{n}")
        });
    };
    let text = |s: String| Value::Text(s);
    let opt_text = |s: Option<String>| s.map_or(Value::Null, Value::Text);
    let opt_int = |i: Option<i64>| i.map_or(Value::Null, Value::Integer);
    if before.status != v.status {
        set("status", text(v.status.as_str().into()));
    }
    if before.snoozed_until != v.snoozed_until {
        set("snoozed_until", opt_int(v.snoozed_until.map(|t| t.0)));
    }
    if before.assignee_id != v.assignee_id {
        set(
            "assignee_id",
            opt_text(v.assignee_id.map(|a| a.to_string())),
        );
    }
    if before.team_id != v.team_id {
        set("team_id", opt_text(v.team_id.map(|t| t.to_string())));
    }
    if before.priority != v.priority {
        set("priority", Value::Integer(v.priority.rank()));
    }
    if before.labels != v.labels {
        set(
            "labels",
            text(serde_json::to_string(&v.labels).unwrap_or_else(|_| "[]".into())),
        );
    }
    if before.waiting_since != v.waiting_since {
        set("waiting_since", opt_int(v.waiting_since.map(|t| t.0)));
        set("waiting_key", Value::Integer(v.waiting_key()));
    }
    if before.first_reply_at != v.first_reply_at {
        set("first_reply_at", opt_int(v.first_reply_at.map(|t| t.0)));
    }
    if before.last_activity_at != v.last_activity_at {
        set("last_activity_at", Value::Integer(v.last_activity_at.0));
    }
    if before.last_message != v.last_message {
        set("last_message", opt_text(v.last_message.clone()));
    }
    if before.identity_id != v.identity_id {
        set("identity_id", text(v.identity_id.to_string()));
    }
    if !sets.is_empty() {
        args.push(text(v.id.to_string()));
        let sql = format!(
            "UPDATE conversation SET {} WHERE id = ?{}",
            sets.join(", "),
            args.len()
        );
        c.prepare_cached(&sql)
            .map_err(sql_err)?
            .execute(params_from_iter(args))
            .map_err(sql_err)?;
    }
    if before.labels != v.labels {
        c.execute(
            "DELETE FROM conversation_label WHERE conversation_id = ?1",
            [v.id.to_string()],
        )
        .map_err(sql_err)?;
        for l in &v.labels {
            c.execute(
                "INSERT INTO conversation_label (conversation_id, label) VALUES (?1, ?2)",
                [v.id.to_string(), l.clone()],
            )
            .map_err(sql_err)?;
        }
    }
    Ok(())
}

fn insert_conversation(c: &Connection, ws: WorkspaceId, v: &ConversationView) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO conversation (id, workspace_id, inbox_id, contact_id, identity_id, status, priority, labels, waiting_key, \
         last_activity_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]', ?8, ?9, ?9)",
    )
    .map_err(sql_err)?
    .execute(params![
        v.id.to_string(),
        ws.to_string(),
        v.inbox_id.to_string(),
        v.contact_id.to_string(),
        v.identity_id.to_string(),
        v.status.as_str(),
        v.priority.rank(),
        v.waiting_key(),
        v.created_at.0
    ])
    .map_err(sql_err)?;
    Ok(())
}

fn new_conversation(
    inbox: InboxId,
    contact: ContactId,
    contact_name: Option<String>,
    identity: IdentityId,
    at: Timestamp,
) -> ConversationView {
    ConversationView::new_thread(new_id().into(), inbox, contact, contact_name, identity, at)
}

fn insert_message(c: &Connection, ws: WorkspaceId, m: &MessageView) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO message (id, workspace_id, conversation_id, inbox_id, direction, sender_kind, sender_id, body, external_id, \
         status, error, created_at, updated_at, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, parley_seal(?8, 'message:' || ?1 || ':body'), ?9, \
         ?10, parley_seal(?11, 'message:' || ?1 || ':error'), ?12, ?12, parley_seal(?13, 'message:' || ?1 || ':meta'))",
    )
    .map_err(sql_err)?
    .execute(params![
        m.id.to_string(),
        ws.to_string(),
        m.conversation_id.to_string(),
        m.inbox_id.to_string(),
        m.direction.as_str(),
        m.sender_kind.as_str(),
        m.sender_id.map(|s| s.to_string()),
        m.body,
        m.external_id,
        m.status.as_str(),
        m.error,
        m.created_at.0,
        m.meta.as_ref().map(|v| v.to_string())
    ])
    .map_err(sql_err)?;
    Ok(())
}

/// Appends a status change to open before an inbound message reopens a conversation, so the
/// timeline shows the reopening.
fn record_reopen(
    c: &Connection,
    events: &mut Vec<Published>,
    ws: WorkspaceId,
    conv: &mut ConversationView,
    at: Timestamp,
) -> StoreResult<()> {
    if !conv.state().reopens_on_inbound() {
        return Ok(());
    }
    let change = Change::Status {
        from: conv.status,
        to: Status::Open,
        snoozed_until: None,
    };
    conv.apply(&change, at);
    let data = plan::conversation_updated(&plan::change_json(&change), None, conv);
    insert_event(
        c,
        events,
        ws,
        conv.inbox_id,
        Some(conv.id),
        "conversation.updated",
        None,
        at,
        data,
    )?;
    Ok(())
}

pub(crate) fn apply_inbound(
    c: &Connection,
    m: InboundMessage,
    events: &mut Vec<Published>,
) -> StoreResult<InboundOutcome> {
    let ws: WorkspaceId = c
        .prepare_cached("SELECT workspace_id FROM inbox WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([m.inbox_id.to_string()], |r| uid(r, 0))
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)?;
    if let Some(ext) = &m.external_id {
        let dup = c
            .prepare_cached(
                "SELECT m.id, m.conversation_id, c.contact_id FROM message m JOIN conversation c ON c.id = m.conversation_id \
                 WHERE m.inbox_id = ?1 AND m.direction = 'inbound' AND m.external_id = ?2",
            )
            .map_err(sql_err)?
            .query_row([m.inbox_id.to_string(), ext.clone()], |r| Ok((uid(r, 0)?, uid(r, 1)?, uid(r, 2)?)))
            .optional()
            .map_err(sql_err)?;
        if let Some((message_id, conversation_id, contact_id)) = dup {
            return Ok(InboundOutcome {
                duplicate: true,
                message_id,
                conversation_id,
                contact_id,
                consent: Vec::new(),
            });
        }
    }
    let identity = c
        .prepare_cached(
            "SELECT i.id, i.contact_id, parley_open(k.name, 'contact:' || k.id || ':name') FROM contact_identity i \
             JOIN contact k ON k.id = i.contact_id \
             WHERE i.workspace_id = ?1 AND i.kind = ?2 AND i.inbox_id = ?3 AND i.external_id = parley_blind(?4, 'identity:' || ?2)",
        )
        .map_err(sql_err)?
        .query_row(params![ws.to_string(), m.identity_kind.as_str(), m.inbox_id.to_string(), m.sender_external_id], |r| {
            Ok((uid::<IdentityId>(r, 0)?, uid::<ContactId>(r, 1)?, r.get::<_, Option<String>>(2)?))
        })
        .optional()
        .map_err(sql_err)?;
    let (identity_id, contact_id, contact_name) = match identity {
        Some((i, k, name)) => {
            if name.is_none() && m.sender_name.is_some() {
                c.execute(
                    "UPDATE contact SET name = parley_seal(?1, 'contact:' || ?2 || ':name') WHERE id = ?2",
                    params![m.sender_name, k.to_string()],
                )
                .map_err(sql_err)?;
            }
            (i, k, name.or(m.sender_name.clone()))
        }
        None => {
            // A phone number or email the workspace knows is the same customer on a new channel.
            let known: Option<(ContactId, Option<String>)> = c
                .prepare_cached(
                    "SELECT id, parley_open(name, 'contact:' || id || ':name') FROM contact WHERE workspace_id = ?1 \
                     AND ((?2 IS NOT NULL AND phone = parley_blind(?2, 'phone')) OR (?3 IS NOT NULL AND email = parley_blind(?3, 'email'))) \
                     ORDER BY created_at, id LIMIT 1",
                )
                .map_err(sql_err)?
                .query_row(
                    params![ws.to_string(), m.sender_phone, m.sender_email],
                    |r| Ok((uid(r, 0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql_err)?;
            let (k, name) = match known {
                Some((k, name)) => {
                    if name.is_none() && m.sender_name.is_some() {
                        c.execute(
                            "UPDATE contact SET name = parley_seal(?1, 'contact:' || ?2 || ':name') WHERE id = ?2",
                            params![m.sender_name, k.to_string()],
                        )
                        .map_err(sql_err)?;
                    }
                    (k, name.or(m.sender_name.clone()))
                }
                None => {
                    let contact = NewContact {
                        name: m.sender_name.clone(),
                        email: m.sender_email.clone(),
                        phone: m.sender_phone.clone(),
                        ..Default::default()
                    };
                    (
                        insert_contact(c, ws, &contact, m.at)?,
                        m.sender_name.clone(),
                    )
                }
            };
            let ident = NewIdentity {
                kind: m.identity_kind,
                inbox_id: Some(m.inbox_id),
                external_id: m.sender_external_id.clone(),
            };
            (insert_identity(c, ws, k, &ident, m.at)?, k, name)
        }
    };
    let threaded = match m.thread {
        Some(t) => match load_conversation_by(
            c,
            "c.id = ?1 AND c.inbox_id = ?2",
            [t.to_string(), m.inbox_id.to_string()],
        ) {
            Ok(conv) => Some(conv),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let existing = match threaded {
        Some(conv) => Ok(conv),
        None => load_conversation_by(
            c,
            "c.inbox_id = ?1 AND c.contact_id = ?2",
            [m.inbox_id.to_string(), contact_id.to_string()],
        ),
    };
    // A blocked sender's message is kept but asks nothing of anyone: no reopening, no waiting.
    let blocked: bool = c
        .prepare_cached("SELECT blocked_at IS NOT NULL FROM contact WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([contact_id.to_string()], |r| r.get(0))
        .map_err(sql_err)?;
    let mut conv = match existing {
        Ok(conv) => conv,
        Err(StoreError::NotFound) => {
            let mut conv =
                new_conversation(m.inbox_id, contact_id, contact_name, identity_id, m.at);
            if blocked {
                conv.status = Status::Resolved;
            }
            insert_conversation(c, ws, &conv)?;
            conv
        }
        Err(e) => return Err(e),
    };
    let before = conv.clone();
    if !blocked {
        record_reopen(c, events, ws, &mut conv, m.at)?;
    }
    // Replies go to the identity the customer last wrote from (not to someone else who wrote
    // into their thread, such as a colleague in copy).
    if conv.contact_id == contact_id {
        conv.identity_id = identity_id;
    }
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
    conv.apply(
        if blocked {
            &Change::Note
        } else {
            &Change::Inbound
        },
        m.at,
    );
    conv.last_message = Some(plan::preview(&msg.body));
    save_conversation(c, &before, &conv)?;
    let data = plan::message_created(&msg, &conv);
    insert_event(
        c,
        events,
        ws,
        conv.inbox_id,
        Some(conv.id),
        "message.created",
        Some(msg.id),
        m.at,
        data,
    )?;
    let mut consent = Vec::new();
    if let Some(kw) = m.keyword.as_ref().filter(|k| k.touches_ledger()) {
        let ledger = crate::contacts::ledger(c, ws, contact_id)?;
        for n in plan::keywords::consent(kw, &ledger, &msg, contact_id) {
            consent.push(crate::contacts::record_consent(c, ws, n, events)?);
        }
    }
    Ok(InboundOutcome {
        duplicate: false,
        message_id: msg.id,
        conversation_id: conv.id,
        contact_id,
        consent,
    })
}

/// Refuses an assignee who does not work the inbox and a team of another workspace.
fn check_assignment(
    c: &Connection,
    ws: WorkspaceId,
    inbox: InboxId,
    assignee: Option<UserId>,
    team: Option<parley_core::TeamId>,
) -> StoreResult<()> {
    let works_inbox = match assignee {
        Some(u) => Some(
            c.prepare_cached(sql::ASSIGNEE_WORKS_INBOX)
                .and_then(|mut q| q.exists([ws.to_string(), u.to_string(), inbox.to_string()]))
                .map_err(sql_err)?,
        ),
        None => None,
    };
    let team = team.map(|t| crate::directory::team(c, ws, t));
    plan::check_assignment(works_inbox, team)
}

/// Queues an agent's reply: the message, its outbox row, the conversation's new state (from
/// `before`) and the `message.created` event.
struct Reply<'a> {
    before: &'a ConversationView,
    sender: SenderKind,
    /// `None`: Parley itself.
    actor: Option<UserId>,
    body: String,
    at: Timestamp,
    meta: Option<serde_json::Value>,
}

fn queue_reply(
    c: &Connection,
    ws: WorkspaceId,
    conv: &mut ConversationView,
    r: Reply<'_>,
    events: &mut Vec<Published>,
) -> StoreResult<MessageView> {
    let Reply {
        before,
        sender,
        actor,
        body,
        at,
        meta,
    } = r;
    let msg = MessageView::agent_reply(new_id().into(), conv, sender, actor, body, at, meta);
    insert_message(c, ws, &msg)?;
    c.prepare_cached(
        "INSERT INTO outbox (id, workspace_id, inbox_id, message_id, state, next_attempt_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5, ?5)",
    )
    .map_err(sql_err)?
    .execute(params![new_id().to_string(), ws.to_string(), conv.inbox_id.to_string(), msg.id.to_string(), at.0])
    .map_err(sql_err)?;
    // Parley's own notices (a HELP answer) and automated messages do not answer the customer.
    conv.apply(&plan::outbound_change(sender), at);
    conv.last_message = Some(plan::preview(&msg.body));
    save_conversation(c, before, conv)?;
    let data = plan::message_created(&msg, conv);
    insert_event(
        c,
        events,
        ws,
        conv.inbox_id,
        Some(conv.id),
        "message.created",
        Some(msg.id),
        at,
        data,
    )?;
    Ok(msg)
}

pub(crate) fn act(
    c: &Connection,
    scope: &Scope,
    id: ConversationId,
    actor: UserId,
    cmd: Command,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<ActOutcome> {
    let ws = scope.workspace;
    let mut conv = load_scoped(c, scope, id)?;
    let before = conv.clone();
    let change = plan::command_change(&conv, &cmd, at)?;
    let (mut message, mut note) = (None, None);
    match cmd {
        Command::Reply { .. } | Command::BotReply { .. } | Command::Automated { .. } => {
            let Some((sender, actor, body, meta)) = plan::outbound_parts(cmd, actor) else {
                unreachable!("matched above")
            };
            let msg = queue_reply(
                c,
                ws,
                &mut conv,
                Reply {
                    before: &before,
                    sender,
                    actor,
                    body,
                    meta,
                    at,
                },
                events,
            )?;
            message = Some(msg);
        }
        Command::Note { body, mentions } => {
            let n = NoteView {
                id: new_id(),
                conversation_id: conv.id,
                author_id: actor,
                body,
                mentions,
                created_at: at,
            };
            conv.apply(&change, at);
            save_conversation(c, &before, &conv)?;
            insert_event(
                c,
                events,
                ws,
                conv.inbox_id,
                Some(conv.id),
                "note.created",
                None,
                at,
                plan::note_created(&n, &conv),
            )?;
            note = Some(n);
        }
        other => {
            if let Command::Assign { assignee, team } = &other {
                check_assignment(c, ws, conv.inbox_id, *assignee, *team)?;
            }
            conv.apply(&change, at);
            save_conversation(c, &before, &conv)?;
            let data = plan::conversation_updated(
                &plan::change_json(&change),
                Some(actor.as_uuid()),
                &conv,
            );
            insert_event(
                c,
                events,
                ws,
                conv.inbox_id,
                Some(conv.id),
                "conversation.updated",
                None,
                at,
                data,
            )?;
        }
    }
    Ok(ActOutcome {
        conversation: conv,
        message,
        note,
        events: events.clone(),
    })
}

pub(crate) fn start(
    c: &Connection,
    scope: &Scope,
    m: NewOutbound,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<ActOutcome> {
    let ws = scope.workspace;
    let (inbox, contact) = (m.inbox, m.contact);
    if !scope.can_see(inbox) {
        return Err(StoreError::NotFound);
    }
    let inbox_row = crate::directory::inbox(c, ws, inbox)?;
    let k = crate::rows::load_contact(c, &ws.to_string(), &contact.to_string())?;
    let identity_id = match plan::reach(&inbox_row, &k) {
        Some(plan::Reach::Existing(i)) => i.id,
        Some(plan::Reach::New(ident)) => insert_identity(c, ws, contact, &ident, at)?,
        None => {
            return Err(StoreError::Rejected {
                code: "no_identity_for_inbox",
                message: "this contact has no address this inbox can reach".into(),
            })
        }
    };
    let mut conv = match load_conversation_by(
        c,
        "c.inbox_id = ?1 AND c.contact_id = ?2",
        [inbox.to_string(), contact.to_string()],
    ) {
        Ok(conv) => conv,
        Err(StoreError::NotFound) => {
            let conv = new_conversation(inbox, contact, k.name.clone(), identity_id, at);
            insert_conversation(c, ws, &conv)?;
            conv
        }
        Err(e) => return Err(e),
    };
    let before = conv.clone();
    conv.identity_id = identity_id;
    let msg = queue_reply(
        c,
        ws,
        &mut conv,
        Reply {
            before: &before,
            sender: if m.sender.is_some() {
                SenderKind::Agent
            } else {
                SenderKind::System
            },
            actor: m.sender,
            body: m.body,
            meta: m.meta,
            at,
        },
        events,
    )?;
    Ok(ActOutcome {
        conversation: conv,
        message: Some(msg),
        note: None,
        events: events.clone(),
    })
}

pub(crate) fn list(
    c: &Connection,
    scope: &Scope,
    q: &ConversationQuery,
) -> StoreResult<Page<ConversationView>> {
    let mut sql =
        format!("SELECT {CONVERSATION_COLS} FROM {CONVERSATION_FROM} WHERE c.workspace_id = ?");
    let mut args: Vec<Value> = vec![Value::Text(scope.workspace.to_string())];
    sql.push_str(&scope_filter(scope, "c.inbox_id"));
    if !q.statuses.is_empty() {
        let marks = vec!["?"; q.statuses.len()].join(",");
        sql.push_str(&format!(" AND c.status IN ({marks})"));
        args.extend(q.statuses.iter().map(|s| Value::Text(s.as_str().into())));
    }
    match q.assignee {
        AssigneeFilter::Anyone => {}
        AssigneeFilter::Nobody => sql.push_str(" AND c.assignee_id IS NULL"),
        AssigneeFilter::User(u) => {
            sql.push_str(" AND c.assignee_id = ?");
            args.push(Value::Text(u.to_string()));
        }
    }
    for (col, v) in [
        ("c.inbox_id", q.inbox.map(|i| i.to_string())),
        ("c.team_id", q.team.map(|t| t.to_string())),
        ("c.contact_id", q.contact.map(|t| t.to_string())),
    ] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(Value::Text(v));
        }
    }
    if let Some(p) = q.priority {
        sql.push_str(" AND c.priority = ?");
        args.push(Value::Integer(p.rank()));
    }
    if let Some(l) = &q.label {
        sql.push_str(" AND EXISTS (SELECT 1 FROM conversation_label l WHERE l.conversation_id = c.id AND l.label = ?)");
        args.push(Value::Text(l.clone()));
    }
    let (keys, order): (&[&str], &str) = match q.sort {
        Sort::Waiting => (&["c.waiting_key"], "c.waiting_key ASC, c.id ASC"),
        Sort::Activity => (
            &["c.last_activity_at"],
            "c.last_activity_at DESC, c.id DESC",
        ),
        Sort::Priority => (
            &["c.priority", "c.waiting_key"],
            "c.priority ASC, c.waiting_key ASC, c.id ASC",
        ),
    };
    let desc = q.sort == Sort::Activity;
    if let Some(cur) = &q.cursor {
        if cur.keys.len() != keys.len() {
            return Err(StoreError::Invalid {
                field: "cursor",
                reason: "belongs to another sort".into(),
            });
        }
        // (k1, k2, id) > (v1, v2, id0) written out, so both databases can use the index.
        let op = if desc { "<" } else { ">" };
        let mut cond = format!("c.id {op} ?");
        let mut cond_args = vec![Value::Text(cur.id.to_string())];
        for (col, v) in keys.iter().zip(&cur.keys).rev() {
            cond = format!("({col} {op} ? OR ({col} = ? AND {cond}))");
            let mut a = vec![Value::Integer(*v), Value::Integer(*v)];
            a.append(&mut cond_args);
            cond_args = a;
        }
        sql.push_str(&format!(" AND {cond}"));
        args.extend(cond_args);
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?"));
    args.push(Value::Integer(i64::from(q.limit) + 1));
    let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
    let mut items: Vec<ConversationView> = stmt
        .query_map(params_from_iter(args), rows::conversation)
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    let more = items.len() > q.limit as usize;
    items.truncate(q.limit as usize);
    let next_cursor = match (more, items.last()) {
        (true, Some(last)) => Some(Cursor {
            keys: match q.sort {
                Sort::Waiting => vec![last.waiting_key()],
                Sort::Activity => vec![last.last_activity_at.0],
                Sort::Priority => vec![last.priority.rank(), last.waiting_key()],
            },
            text: None,
            id: last.id.as_uuid(),
        }),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

pub(crate) fn record_conversation_event(
    c: &Connection,
    ws: WorkspaceId,
    id: ConversationId,
    kind: &'static str,
    data: serde_json::Value,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<()> {
    let conv = load_conversation_by(
        c,
        "c.id = ?1 AND c.workspace_id = ?2",
        [id.to_string(), ws.to_string()],
    )?;
    let data = plan::conversation_event(data, &conv);
    insert_event(
        c,
        events,
        ws,
        conv.inbox_id,
        Some(conv.id),
        kind,
        None,
        at,
        data,
    )?;
    Ok(())
}

/// The workspace's survey key, when it has one.
pub(crate) fn stored_survey_key(c: &Connection, ws: WorkspaceId) -> StoreResult<Option<String>> {
    c.prepare_cached(
        "SELECT parley_open(secret, 'survey_key:' || id || ':secret') FROM survey_key WHERE id = ?1",
    )
    .map_err(sql_err)?
    .query_row([ws.to_string()], |r| r.get(0))
    .optional()
    .map_err(sql_err)
}

pub(crate) fn message(c: &Connection, id: &str) -> StoreResult<MessageView> {
    c.prepare_cached(&format!("SELECT {MESSAGE_COLS} FROM message WHERE id = ?1"))
        .map_err(sql_err)?
        .query_row([id], rows::message)
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)
}
