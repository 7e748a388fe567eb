//! The `Outbox` store: deliveries claimed by dispatchers under a lease (`SKIP LOCKED`, so dispatchers on
//! many nodes never wait on each other), and their outcomes, which move a message's delivery status
//! forward only; and the nodes that claim them.

mod reports;

use reports::{apply_pending, record_delivery};

use async_trait::async_trait;
use parley_core::message::DeliveryStatus;
use parley_core::{ConversationId, OutboxId, Timestamp, WorkspaceId};
use parley_store::*;

use crate::conversations::{insert_event, NewEvent};
use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{self, get, id, IDENTITY_COLS, MESSAGE_COLS};
use crate::PostgresStore;

#[async_trait]
impl Outbox for PostgresStore {
    async fn claim_outbox_fair(
        &self,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
        per_inbox: u32,
    ) -> StoreResult<Vec<OutboxJob>> {
        self.db
            .run(move |tx| Box::pin(async move {
                // Claims each inbox's earliest due deliveries in turn, none from an inbox beyond
                // `per_inbox` live leases: one indexed look-up per inbox, so a long backlog in one
                // inbox costs the others' claims nothing.
                exec(tx, "SELECT pg_advisory_xact_lock($1)", &[&CLAIM_LOCK]).await?;
                let claimed = query(
                    tx,
                    "WITH busy AS (\
                        SELECT inbox_id, COUNT(*) AS n FROM outbox \
                        WHERE claimed_until > $1 AND state = 'queued' GROUP BY inbox_id), \
                     turns AS (\
                        SELECT d.id, d.next_attempt_at, \
                               ROW_NUMBER() OVER (PARTITION BY n.id ORDER BY d.next_attempt_at, d.id) AS turn \
                        FROM inbox n LEFT JOIN busy b ON b.inbox_id = n.id \
                        CROSS JOIN LATERAL (\
                            SELECT o.id, o.next_attempt_at FROM outbox o \
                            WHERE o.inbox_id = n.id AND o.state = 'queued' AND o.next_attempt_at <= $1 \
                            AND (o.claimed_until IS NULL OR o.claimed_until <= $1) \
                            ORDER BY o.next_attempt_at, o.id \
                            LIMIT GREATEST(0, LEAST($2, $4 - COALESCE(b.n, 0))) FOR UPDATE SKIP LOCKED) d \
                        WHERE COALESCE(b.n, 0) < $4), \
                     due AS (SELECT id FROM turns ORDER BY turn, next_attempt_at, id LIMIT $2) \
                     UPDATE outbox o SET claimed_until = $3 FROM due WHERE o.id = due.id RETURNING o.id",
                    &[
                        &now.0,
                        &i64::from(limit),
                        &now.0.saturating_add(lease_ms),
                        &i64::from(per_inbox),
                    ],
                )
                .await?
                .iter()
                .map(|r| get::<uuid::Uuid>(r, 0))
                .collect::<StoreResult<Vec<_>>>()?;
                if claimed.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT o.id, o.attempts, k.contact_id, {MESSAGE_COLS}, {IDENTITY_COLS}, \
                            n.id, n.workspace_id, n.name, n.kind, n.settings, n.secret, n.created_at \
                     FROM outbox o JOIN message m ON m.id = o.message_id \
                     JOIN conversation k ON k.id = m.conversation_id \
                     JOIN contact_identity i ON i.id = k.identity_id \
                     JOIN inbox n ON n.id = m.inbox_id \
                     WHERE o.id = ANY($1) ORDER BY o.next_attempt_at, o.id"
                );
                let rows = query(tx, &sql, &[&claimed]).await?;
                let mut jobs = Vec::with_capacity(rows.len());
                for r in &rows {
                    let attempts: i64 = get(r, 1)?;
                    jobs.push(OutboxJob {
                        id: id(r, 0)?,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        contact_id: id(r, 2)?,
                        message: rows::message_at(tx.keys(), r, 3)?,
                        identity: rows::identity(tx.keys(), r, 15)?,
                        inbox: rows::inbox_at(tx.keys(), r, 20)?,
                    });
                }
                Ok(jobs)
            }))
            .await
    }

    async fn outbox_backlog(
        &self,
        ws: WorkspaceId,
        now: Timestamp,
    ) -> StoreResult<Vec<InboxBacklog>> {
        self.db.run(move |tx| Box::pin(async move {
            // Each inbox of the workspace with deliveries queued or in flight.
            let rows = query(
                tx,
                "SELECT inbox_id, \
                        COUNT(*) FILTER (WHERE claimed_until IS NULL OR claimed_until <= $2), \
                        COUNT(*) FILTER (WHERE claimed_until > $2), \
                        MIN(next_attempt_at) FILTER (WHERE claimed_until IS NULL OR claimed_until <= $2) \
                 FROM outbox WHERE workspace_id = $1 AND state = 'queued' GROUP BY inbox_id ORDER BY inbox_id",
                &[&ws.as_uuid(), &now.0],
            )
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(InboxBacklog {
                        inbox_id: id(r, 0)?,
                        queued: u64::try_from(get::<i64>(r, 1)?).unwrap_or(0),
                        in_flight: u64::try_from(get::<i64>(r, 2)?).unwrap_or(0),
                        oldest_due: get::<Option<i64>>(r, 3)?.map(Timestamp),
                    })
                })
                .collect()
        })).await
    }

    async fn finish_outbox(
        &self,
        outbox: OutboxId,
        result: OutboxResult,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |tx, events| Box::pin(async move {
                // Runs under the event lock: it appends a `message.updated` event.
                let row = query_opt(
                    tx,
                    "SELECT message_id, workspace_id FROM outbox WHERE id = $1 AND state = 'queued' FOR UPDATE",
                    &[&outbox.as_uuid()],
                )
                .await?;
                let Some(row) = row else {
                    return Ok(());
                };
                let (message_id, ws): (uuid::Uuid, WorkspaceId) = (get(&row, 0)?, id(&row, 1)?);
                let o = outbox.as_uuid();
                if let OutboxResult::Defer { at: next } = result {
                    exec(tx, sql::outbox::DEFER, &[&next.0, &o]).await?;
                    return Ok(());
                }
                let mut msg = message(tx, message_id).await?;
                record_attempt(tx, o, &result, at).await?;
                if let Some(pid) = plan::finish_message(&mut msg, result) {
                    apply_pending(tx, &mut msg, &pid).await?;
                }
                exec(
                    tx,
                    "UPDATE message SET status = $2, error = $3, external_id = $4, updated_at = $5 WHERE id = $1",
                    &[
                        &message_id,
                        &msg.status.as_str(),
                        &seal_error(tx, message_id, &msg.error),
                        &msg.external_id,
                        &at.0,
                    ],
                )
                .await?;
                let ev = NewEvent {
                    ws,
                    inbox: msg.inbox_id,
                    conversation: Some(msg.conversation_id),
                    kind: "message.updated",
                    message: Some(msg.id),
                    at,
                    data: plan::events::message_updated(&msg),
                };
                insert_event(tx, events, ev).await?;
                Ok(())
            }))
            .await
    }

    async fn record_delivery(&self, report: DeliveryReport) -> StoreResult<bool> {
        self.db
            .write(move |tx, ev| Box::pin(record_delivery(tx, report, ev)))
            .await
    }

    async fn read_until(
        &self,
        conversation: ConversationId,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<usize> {
        self.db
            .write(move |tx, events| {
                Box::pin(async move {
                    // Marks read the conversation's replies sent at or before `until`, as provider reports would.
                    let rows = query(
                        tx,
                        sql::outbox::REPLIES_SENT_UNTIL,
                        &[&conversation.as_uuid(), &until.0],
                    )
                    .await?;
                    let mut n = 0;
                    for r in &rows {
                        let report = DeliveryReport {
                            inbox: id(r, 0)?,
                            provider_id: get(r, 1)?,
                            status: DeliveryStatus::Read,
                            error: None,
                            at: now,
                        };
                        n += usize::from(record_delivery(tx, report, events).await?);
                    }
                    Ok(n)
                })
            })
            .await
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>> {
        self.db.run(|tx| Box::pin(async move {
            let row = query_opt(
                tx,
                "SELECT MIN(GREATEST(next_attempt_at, COALESCE(claimed_until, 0))) FROM outbox WHERE state = 'queued'",
                &[],
            )
            .await?;
            Ok(match row {
                Some(r) => get::<Option<i64>>(&r, 0)?.map(Timestamp),
                None => None,
            })
        })).await
    }

    async fn node_heartbeat(&self, node: NodeRow, fresh_ms: i64) -> StoreResult<Vec<NodeRow>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    exec(
                        tx,
                        sql::directory::FORGET_NODES,
                        &[&(node.seen_at.0 - plan::NODE_FORGOTTEN_MS)],
                    )
                    .await?;
                    exec(
                        tx,
                        "INSERT INTO node (id, host, pid, started_at, seen_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at",
                        &[
                            &node.id,
                            &node.host,
                            &node.pid,
                            &node.started_at.0,
                            &node.seen_at.0,
                        ],
                    )
                    .await?;
                    let rows = query(
                        tx,
                        sql::directory::LIVE_NODES,
                        &[&node.id, &(node.seen_at.0 - fresh_ms)],
                    )
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(NodeRow {
                                id: get(r, 0)?,
                                host: get(r, 1)?,
                                pid: get(r, 2)?,
                                started_at: Timestamp(get(r, 3)?),
                                seen_at: Timestamp(get(r, 4)?),
                            })
                        })
                        .collect()
                })
            })
            .await
    }

    async fn node_leave(&self, id: String) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    crate::db::exec(tx, sql::outbox::DELETE_NODE, &[&id])
                        .await
                        .map(drop)
                })
            })
            .await
    }

    async fn release_claims(&self) -> StoreResult<u64> {
        self.db
            .run(|tx| Box::pin(async move { exec(tx, sql::outbox::RELEASE_CLAIMS, &[]).await }))
            .await
    }
}

/// Records a finished attempt on its outbox row: done, retried later with its error, or failed.
async fn record_attempt(
    tx: &Tx<'_>,
    o: uuid::Uuid,
    result: &OutboxResult,
    at: Timestamp,
) -> StoreResult<()> {
    match result {
        OutboxResult::Defer { .. } => {}
        OutboxResult::Sent { .. } => {
            exec(tx, sql::outbox::DONE, &[&at.0, &o]).await?;
        }
        OutboxResult::Retry { at: next, error } => {
            exec(
                tx,
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, claimed_until = NULL, \
                 last_error = $3, updated_at = $4 WHERE id = $1",
                &[&o, &next.0, &seal_outbox_error(tx, o, error), &at.0],
            )
            .await?;
        }
        OutboxResult::Failed { error } => {
            exec(
                tx,
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, claimed_until = NULL, \
                 last_error = $2, updated_at = $3 WHERE id = $1",
                &[&o, &seal_outbox_error(tx, o, error), &at.0],
            )
            .await?;
        }
    }
    Ok(())
}

/// Serialises claims across nodes, so an inbox's count of live leases is exact when read.
const CLAIM_LOCK: i64 = 0x7061_726c_6579_636c;

async fn message(tx: &Tx<'_>, id: uuid::Uuid) -> StoreResult<MessageView> {
    let row = query_opt(
        tx,
        &format!("SELECT {MESSAGE_COLS} FROM message m WHERE m.id = $1"),
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    rows::message(tx.keys(), &row)
}

/// A message's delivery error as stored (a provider's error may quote the recipient's number).
fn seal_error(tx: &Tx<'_>, message: uuid::Uuid, error: &Option<String>) -> Option<String> {
    parley_store::crypt::seal_field(
        tx.keys(),
        &parley_store::crypt::aad("message", message, "error"),
        error.as_deref(),
    )
}

/// A failed delivery's error as the outbox keeps it.
fn seal_outbox_error(tx: &Tx<'_>, outbox: uuid::Uuid, error: &str) -> String {
    parley_store::crypt::seal_text(
        tx.keys(),
        &parley_store::crypt::aad("outbox", outbox, "error"),
        error,
    )
}
