//! The `Conversations` store: ingesting customer messages (`inbound`), agents' commands (`commands`),
//! lists with filters and keyset pagination (`queries`), timelines, snooze wake-ups and the event feed;
//! `seen` is the `Seen` store.

use async_trait::async_trait;
use parley_core::contact::IdentityKind;
use parley_core::conversation::{Change, Status};
use parley_core::message::DeliveryStatus;
use parley_core::{ContactId, ConversationId, InboxId, Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, OptionalExtension};

use crate::db::sql_err;
use crate::rows::{self, opt_uid, scope_filter, uid, EVENT_COLS};
use crate::SqliteStore;

mod commands;
mod inbound;
mod queries;
mod seen;
mod writes;

use commands::{act, start};
use inbound::apply_inbound;
pub(crate) use queries::message;
use queries::{list, stored_survey_key};
pub(crate) use writes::{
    insert_conversation, insert_event, insert_message, load_conversation_by, load_scoped,
    new_conversation, record_conversation_event, save_conversation,
};

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
        self.db.read(move |c| list(c, &scope, &q)).await
    }

    async fn conversation_counts(&self, scope: &Scope) -> StoreResult<ConversationCounts> {
        let scope = scope.clone();
        self.db.read(move |c| {
            let visible = scope_filter(&scope, "c.inbox_id");
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
                    let data = plan::events::conversation_updated(
                        &plan::events::change_json(&change),
                        None,
                        &conv,
                    );
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
