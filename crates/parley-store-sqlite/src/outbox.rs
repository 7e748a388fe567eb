//! The `Outbox` store: deliveries claimed by dispatchers under a lease, and their outcomes, which
//! move a message's delivery status forward only; and the nodes that claim them.

mod reports;

use reports::{apply_pending, record_delivery};

use async_trait::async_trait;
use parley_core::message::DeliveryStatus;
use parley_core::{ConversationId, InboxId, OutboxId, Timestamp, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::conversations::{insert_event, message};
use crate::db::sql_err;
use crate::rows::{self, uid, IDENTITY_COLS};
use crate::SqliteStore;

#[async_trait]
impl Outbox for SqliteStore {
    async fn claim_outbox_fair(
        &self,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
        per_inbox: u32,
    ) -> StoreResult<Vec<OutboxJob>> {
        self.db
            .write(move |c, _| {
                let due = fair_due(c, now, limit, per_inbox)?;
                let mut jobs = Vec::with_capacity(due.len());
                for (id, attempts, message_id) in due {
                    c.prepare_cached("UPDATE outbox SET claimed_until = ?1 WHERE id = ?2")
                        .map_err(sql_err)?
                        .execute(params![now.0 + lease_ms, id.to_string()])
                        .map_err(sql_err)?;
                    let msg = message(c, &message_id)?;
                    let (contact_id, identity_id): (parley_core::ContactId, String) = c
                        .prepare_cached(
                            "SELECT contact_id, identity_id FROM conversation WHERE id = ?1",
                        )
                        .map_err(sql_err)?
                        .query_row([msg.conversation_id.to_string()], |r| {
                            Ok((uid(r, 0)?, r.get(1)?))
                        })
                        .map_err(sql_err)?;
                    let identity = c
                        .prepare_cached(&format!(
                            "SELECT {IDENTITY_COLS} FROM contact_identity WHERE id = ?1"
                        ))
                        .map_err(sql_err)?
                        .query_row([identity_id], rows::identity)
                        .map_err(sql_err)?;
                    let inbox = crate::directory::inbox_for_hook(c, msg.inbox_id)?
                        .ok_or(StoreError::NotFound)?;
                    jobs.push(OutboxJob {
                        id,
                        attempts: attempts as u32,
                        inbox,
                        message: msg,
                        contact_id,
                        identity,
                    });
                }
                Ok(jobs)
            })
            .await
    }

    async fn outbox_backlog(
        &self,
        ws: WorkspaceId,
        now: Timestamp,
    ) -> StoreResult<Vec<InboxBacklog>> {
        self.db.read(move |c| {
            // Each inbox of the workspace with deliveries queued or in flight. Counts, not sums of
            // comparisons: those are NULL for an inbox none of whose rows has a lease.
            c.prepare_cached(
                "SELECT inbox_id, COUNT(CASE WHEN claimed_until IS NULL OR claimed_until <= ?2 THEN 1 END), \
                        COUNT(CASE WHEN claimed_until > ?2 THEN 1 END), \
                        MIN(CASE WHEN claimed_until IS NULL OR claimed_until <= ?2 THEN next_attempt_at END) \
                 FROM outbox WHERE workspace_id = ?1 AND state = 'queued' GROUP BY inbox_id ORDER BY inbox_id",
            )
            .map_err(sql_err)?
            .query_map(params![ws.to_string(), now.0], |r| {
                Ok(InboxBacklog {
                    inbox_id: uid(r, 0)?,
                    queued: r.get::<_, i64>(1)? as u64,
                    in_flight: r.get::<_, i64>(2)? as u64,
                    oldest_due: r.get::<_, Option<i64>>(3)?.map(Timestamp),
                })
            })
            .map_err(sql_err)?
            .collect::<Result<_, _>>()
            .map_err(sql_err)
        }).await
    }

    async fn finish_outbox(
        &self,
        id: OutboxId,
        result: OutboxResult,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, events| {
                let row: Option<(String, WorkspaceId)> = c
                    .prepare_cached(
                        "SELECT message_id, workspace_id FROM outbox WHERE id = ?1 AND state = 'queued'",
                    )
                    .map_err(sql_err)?
                    .query_row([id.to_string()], |r| Ok((r.get(0)?, uid(r, 1)?)))
                    .optional()
                    .map_err(sql_err)?;
                let Some((message_id, ws)) = row else {
                    return Ok(());
                };
                if let OutboxResult::Defer { at: next } = result {
                    c.prepare_cached(sql::outbox::DEFER)
                        .map_err(sql_err)?
                        .execute(params![next.0, id.to_string()])
                        .map_err(sql_err)?;
                    return Ok(());
                }
                let mut msg = message(c, &message_id)?;
                record_attempt(c, id, &result, at)?;
                if let Some(pid) = plan::finish_message(&mut msg, result) {
                    apply_pending(c, &mut msg, &pid)?;
                }
                c.execute(
                    "UPDATE message SET status = ?2, error = parley_seal(?3, 'message:' || ?1 || ':error'), external_id = ?4, updated_at = ?5 WHERE id = ?1",
                    params![message_id, msg.status.as_str(), msg.error, msg.external_id, at.0],
                )
                .map_err(sql_err)?;
                insert_event(
                    c,
                    events,
                    ws,
                    msg.inbox_id,
                    Some(msg.conversation_id),
                    "message.updated",
                    Some(msg.id),
                    at,
                    plan::events::message_updated(&msg),
                )?;
                Ok(())
            })
            .await
    }

    async fn record_delivery(&self, report: DeliveryReport) -> StoreResult<bool> {
        self.db
            .write(move |c, ev| record_delivery(c, report, ev))
            .await
    }

    async fn read_until(
        &self,
        conversation: ConversationId,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<usize> {
        self.db
            .write(move |c, events| {
                // Marks read the conversation's replies sent at or before `until`, as provider reports would.
                let found: Vec<(InboxId, String)> = c
                    .prepare_cached(sql::outbox::REPLIES_SENT_UNTIL)
                    .map_err(sql_err)?
                    .query_map(params![conversation.to_string(), until.0], |r| {
                        Ok((uid(r, 0)?, r.get(1)?))
                    })
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql_err)?;
                let mut n = 0;
                for (inbox, provider_id) in found {
                    let report = DeliveryReport {
                        inbox,
                        provider_id,
                        status: DeliveryStatus::Read,
                        error: None,
                        at: now,
                    };
                    n += usize::from(record_delivery(c, report, events)?);
                }
                Ok(n)
            })
            .await
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>> {
        self.db.read(next_due).await
    }

    async fn node_heartbeat(&self, node: NodeRow, fresh_ms: i64) -> StoreResult<Vec<NodeRow>> {
        self.db
            .write(move |c, _| {
                c.execute(
                    sql::directory::FORGET_NODES,
                    [node.seen_at.0 - plan::NODE_FORGOTTEN_MS],
                )
                .map_err(sql_err)?;
                c.execute(
                    "INSERT INTO node (id, host, pid, started_at, seen_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
                    params![
                        node.id,
                        node.host,
                        node.pid,
                        node.started_at.0,
                        node.seen_at.0
                    ],
                )
                .map_err(sql_err)?;
                c.prepare_cached(sql::directory::LIVE_NODES)
                    .map_err(sql_err)?
                    .query_map(params![node.id, node.seen_at.0 - fresh_ms], |r| {
                        Ok(NodeRow {
                            id: r.get(0)?,
                            host: r.get(1)?,
                            pid: r.get(2)?,
                            started_at: Timestamp(r.get(3)?),
                            seen_at: Timestamp(r.get(4)?),
                        })
                    })
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)
            })
            .await
    }

    async fn node_leave(&self, id: String) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                c.execute(sql::outbox::DELETE_NODE, [id])
                    .map(drop)
                    .map_err(crate::db::sql_err)
            })
            .await
    }

    async fn release_claims(&self) -> StoreResult<u64> {
        self.db
            .write(|c, _| {
                c.execute(sql::outbox::RELEASE_CLAIMS, [])
                    .map(|n| n as u64)
                    .map_err(crate::db::sql_err)
            })
            .await
    }
}

/// Records a finished attempt on its outbox row: done, retried later with its error, or failed.
fn record_attempt(
    c: &Connection,
    id: OutboxId,
    result: &OutboxResult,
    at: Timestamp,
) -> StoreResult<()> {
    match result {
        OutboxResult::Defer { .. } => {}
        OutboxResult::Sent { .. } => {
            c.execute(sql::outbox::DONE, params![at.0, id.to_string()])
                .map_err(sql_err)?;
        }
        OutboxResult::Retry { at: next, error } => {
            c.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, claimed_until = NULL, last_error = parley_seal(?3, 'outbox:' || ?1 || ':error'), updated_at = ?4 WHERE id = ?1",
                params![id.to_string(), next.0, error, at.0],
            )
            .map_err(sql_err)?;
        }
        OutboxResult::Failed { error } => {
            c.execute(
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, claimed_until = NULL, last_error = parley_seal(?2, 'outbox:' || ?1 || ':error'), updated_at = ?3 WHERE id = ?1",
                params![id.to_string(), error, at.0],
            )
            .map_err(sql_err)?;
        }
    }
    Ok(())
}

/// The due deliveries to claim: each inbox's earliest first, taking turns across inboxes, none
/// from an inbox beyond `per_inbox` live leases. One indexed look-up per inbox, so a long backlog
/// in one inbox costs nothing to the others' claims.
fn fair_due(
    c: &Connection,
    now: Timestamp,
    limit: u32,
    per_inbox: u32,
) -> StoreResult<Vec<(OutboxId, i64, String)>> {
    let busy: std::collections::HashMap<String, i64> = c
        .prepare_cached(
            "SELECT inbox_id, COUNT(*) FROM outbox WHERE claimed_until > ?1 AND state = 'queued' \
             GROUP BY inbox_id",
        )
        .map_err(sql_err)?
        .query_map([now.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    let inboxes: Vec<String> = c
        .prepare_cached("SELECT id FROM inbox")
        .map_err(sql_err)?
        .query_map([], |r| r.get(0))
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    let mut turns = Vec::new();
    for inbox in inboxes {
        let room = i64::from(per_inbox) - busy.get(&inbox).copied().unwrap_or(0);
        let take = room.min(i64::from(limit));
        if take <= 0 {
            continue;
        }
        let rows = c
            .prepare_cached(
                "SELECT id, attempts, message_id, next_attempt_at FROM outbox \
                 WHERE inbox_id = ?1 AND state = 'queued' AND next_attempt_at <= ?2 \
                 AND (claimed_until IS NULL OR claimed_until <= ?2) \
                 ORDER BY next_attempt_at, id LIMIT ?3",
            )
            .map_err(sql_err)?
            .query_map(params![inbox, now.0, take], |r| {
                Ok((uid(r, 0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)?))
            })
            .map_err(sql_err)?
            .collect::<Result<Vec<(OutboxId, i64, String, i64)>, _>>()
            .map_err(sql_err)?;
        turns.extend(rows.into_iter().enumerate());
    }
    turns.sort_by_key(|(turn, (_, _, _, due))| (*turn, *due));
    Ok(turns
        .into_iter()
        .take(limit as usize)
        .map(|(_, (id, attempts, message, _))| (id, attempts, message))
        .collect())
}

pub(crate) fn next_due(c: &Connection) -> StoreResult<Option<Timestamp>> {
    c.query_row("SELECT MIN(MAX(next_attempt_at, COALESCE(claimed_until, 0))) FROM outbox WHERE state = 'queued'", [], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .map(|v| v.map(Timestamp))
    .map_err(sql_err)
}
