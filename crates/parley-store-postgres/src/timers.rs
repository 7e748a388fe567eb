//! The `Timers` store: durable due work, claimed with `FOR UPDATE SKIP LOCKED` under a lease, so
//! workers on many nodes never claim one timer twice nor wait on each other; and a conversation's
//! snooze wake-up kept in step with its snooze.

use async_trait::async_trait;
use parley_core::{ConversationId, TimerId, Timestamp, WorkspaceId};
use parley_store::*;
use tokio_postgres::Row;

use crate::accounts::new_id;
use crate::db::{exec, query, query_opt, Tx};
use crate::pipeline::Stmt;
use crate::rows::{get, id, ts};
use crate::PostgresStore;

const UPSERT: &str = "INSERT INTO timer (id, workspace_id, key, kind, due_at, payload) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (workspace_id, key) DO UPDATE SET id = excluded.id, kind = excluded.kind, \
     due_at = excluded.due_at, payload = excluded.payload, lease_until = NULL, claimed_by = NULL";

const CANCEL: &str = "DELETE FROM timer WHERE workspace_id = $1 AND key = $2";

fn timer_row(r: &Row) -> StoreResult<TimerRow> {
    Ok(TimerRow {
        id: id(r, 0)?,
        workspace_id: id(r, 1)?,
        key: get(r, 2)?,
        kind: get(r, 3)?,
        due_at: ts(r, 4)?,
        payload: serde_json::from_str(get::<&str>(r, 5)?).unwrap_or_default(),
    })
}

fn upsert_stmt(t: &NewTimer) -> Stmt {
    Stmt::new(
        UPSERT,
        vec![
            Box::new(new_id()),
            Box::new(t.workspace.as_uuid()),
            Box::new(t.key.clone()),
            Box::new(t.kind.clone()),
            Box::new(t.due_at.0),
            Box::new(t.payload.to_string()),
        ],
    )
}

/// The statement that sets or removes a conversation's snooze wake-up, for the transaction that
/// changed its snooze from `before`; none when the snooze did not change.
pub(crate) fn follow_snooze(
    ws: WorkspaceId,
    conv: &ConversationView,
    before: Option<Timestamp>,
) -> Option<Stmt> {
    if before == conv.snoozed_until {
        return None;
    }
    Some(match conv.snoozed_until {
        Some(at) => upsert_stmt(&plan::timers::snooze(ws, conv.id, at)),
        None => Stmt::new(
            CANCEL,
            vec![Box::new(ws.as_uuid()), Box::new(snooze_key(conv.id))],
        ),
    })
}

/// Runs `follow_snooze` in `tx`.
pub(crate) async fn follow_snooze_in(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    conv: &ConversationView,
    before: Option<Timestamp>,
) -> StoreResult<()> {
    if let Some(stmt) = follow_snooze(ws, conv, before) {
        stmt.run(tx).await.map_err(crate::rows::pg_err)?;
    }
    Ok(())
}

/// Removes a conversation's snooze wake-up (it was woken or merged away).
pub(crate) async fn drop_snooze(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    conv: ConversationId,
) -> StoreResult<()> {
    exec(tx, CANCEL, &[&ws.as_uuid(), &snooze_key(conv)]).await?;
    Ok(())
}

#[async_trait]
impl Timers for PostgresStore {
    async fn set_timers(&self, timers: Vec<NewTimer>) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let stmts: Vec<Stmt> = timers.iter().map(upsert_stmt).collect();
                    for chunk in stmts.chunks(1000) {
                        crate::pipeline::pipeline(tx, chunk)
                            .await
                            .map_err(crate::rows::pg_err)?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn timer(&self, ws: WorkspaceId, key: String) -> StoreResult<Option<TimerRow>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    query_opt(
                        tx,
                        "SELECT id, workspace_id, key, kind, due_at, payload FROM timer \
                         WHERE workspace_id = $1 AND key = $2",
                        &[&ws.as_uuid(), &key],
                    )
                    .await?
                    .as_ref()
                    .map(timer_row)
                    .transpose()
                })
            })
            .await
    }

    async fn timers_with_prefix(
        &self,
        ws: WorkspaceId,
        prefix: String,
    ) -> StoreResult<Vec<TimerRow>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    query(
                        tx,
                        "SELECT id, workspace_id, key, kind, due_at, payload FROM timer \
                         WHERE workspace_id = $1 AND starts_with(key, $2) ORDER BY due_at, id",
                        &[&ws.as_uuid(), &prefix],
                    )
                    .await?
                    .iter()
                    .map(timer_row)
                    .collect()
                })
            })
            .await
    }

    async fn take_timer(&self, id: TimerId) -> StoreResult<bool> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let n = exec(tx, "DELETE FROM timer WHERE id = $1", &[&id.as_uuid()]).await?;
                    Ok(n == 1)
                })
            })
            .await
    }

    async fn cancel_timers(&self, ws: WorkspaceId, keys: TimerKeys) -> StoreResult<u64> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    match &keys {
                        TimerKeys::Exactly(key) => exec(tx, CANCEL, &[&ws.as_uuid(), key]).await,
                        // starts_with, not LIKE: a key's `%` and `_` are plain characters.
                        TimerKeys::Prefix(p) => exec(
                            tx,
                            "DELETE FROM timer WHERE workspace_id = $1 AND starts_with(key, $2)",
                            &[&ws.as_uuid(), p],
                        )
                        .await,
                    }
                })
            })
            .await
    }

    async fn claim_due_timers(
        &self,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
        node: String,
    ) -> StoreResult<Vec<TimerRow>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    // A row another claimer holds is skipped, and one it claimed and committed
                    // is re-checked against its new lease, so no timer is claimed twice.
                    let rows = query(
                        tx,
                        "WITH due AS (SELECT id FROM timer WHERE COALESCE(lease_until, due_at) <= $1 \
                           ORDER BY COALESCE(lease_until, due_at) LIMIT $2 FOR UPDATE SKIP LOCKED) \
                         UPDATE timer t SET lease_until = $3, claimed_by = $4 FROM due WHERE t.id = due.id \
                         RETURNING t.id, t.workspace_id, t.key, t.kind, t.due_at, t.payload",
                        &[
                            &now.0,
                            &i64::from(limit),
                            &now.0.saturating_add(lease_ms),
                            &node,
                        ],
                    )
                    .await?;
                    let mut due = rows.iter().map(timer_row).collect::<StoreResult<Vec<_>>>()?;
                    due.sort_by_key(|t| (t.due_at, t.id));
                    Ok(due)
                })
            })
            .await
    }

    async fn finish_timers(&self, ids: Vec<TimerId>) -> StoreResult<()> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    exec(tx, "DELETE FROM timer WHERE id = ANY($1)", &[&ids]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn release_timer_claims(&self) -> StoreResult<u64> {
        self.db
            .run(|tx| {
                Box::pin(async move {
                    exec(
                        tx,
                        "UPDATE timer SET lease_until = NULL, claimed_by = NULL WHERE lease_until IS NOT NULL",
                        &[],
                    )
                    .await
                })
            })
            .await
    }

    async fn next_timer_due(&self) -> StoreResult<Option<Timestamp>> {
        self.db
            .run(|tx| {
                Box::pin(async move {
                    let r = query_opt(
                        tx,
                        "SELECT MIN(COALESCE(lease_until, due_at)) FROM timer",
                        &[],
                    )
                    .await?;
                    Ok(match r {
                        Some(r) => get::<Option<i64>>(&r, 0)?.map(Timestamp),
                        None => None,
                    })
                })
            })
            .await
    }
}
