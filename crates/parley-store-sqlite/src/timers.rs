//! The `Timers` store: durable due work, claimed on the writer thread (so two claims never
//! overlap) under a lease, and a conversation's snooze wake-up kept in step with its snooze.

use async_trait::async_trait;
use parley_core::{ConversationId, TimerId, Timestamp, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::accounts::new_id;
use crate::db::sql_err;
use crate::rows::{ts, uid};
use crate::SqliteStore;

const TIMER_COLS: &str = "id, workspace_id, key, kind, due_at, payload";

const UPSERT: &str = "INSERT INTO timer (id, workspace_id, key, kind, due_at, payload) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (workspace_id, key) DO UPDATE SET id = excluded.id, kind = excluded.kind, \
     due_at = excluded.due_at, payload = excluded.payload, lease_until = NULL, claimed_by = NULL";

fn timer_row(r: &Row) -> rusqlite::Result<TimerRow> {
    let payload: String = r.get(5)?;
    Ok(TimerRow {
        id: uid(r, 0)?,
        workspace_id: uid(r, 1)?,
        key: r.get(2)?,
        kind: r.get(3)?,
        due_at: ts(r, 4)?,
        payload: serde_json::from_str(&payload).unwrap_or_default(),
    })
}

fn upsert(c: &Connection, t: &NewTimer) -> StoreResult<()> {
    c.prepare_cached(UPSERT)
        .map_err(sql_err)?
        .execute(params![
            new_id().to_string(),
            t.workspace.to_string(),
            t.key,
            t.kind,
            t.due_at.0,
            t.payload.to_string()
        ])
        .map_err(sql_err)?;
    Ok(())
}

/// Sets or removes a conversation's snooze wake-up, in the transaction that changed its snooze.
pub(crate) fn follow_snooze(
    c: &Connection,
    conv: ConversationId,
    until: Option<Timestamp>,
) -> StoreResult<()> {
    let ws: WorkspaceId = c
        .prepare_cached("SELECT workspace_id FROM conversation WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([conv.to_string()], |r| uid(r, 0))
        .map_err(sql_err)?;
    match until {
        Some(at) => upsert(c, &plan::timers::snooze(ws, conv, at)),
        None => {
            c.prepare_cached("DELETE FROM timer WHERE workspace_id = ?1 AND key = ?2")
                .map_err(sql_err)?
                .execute(params![ws.to_string(), snooze_key(conv)])
                .map_err(sql_err)?;
            Ok(())
        }
    }
}

#[async_trait]
impl Timers for SqliteStore {
    async fn set_timers(&self, timers: Vec<NewTimer>) -> StoreResult<()> {
        self.db
            .write(move |c, _| timers.iter().try_for_each(|t| upsert(c, t)))
            .await
    }

    async fn timer(&self, ws: WorkspaceId, key: String) -> StoreResult<Option<TimerRow>> {
        self.db
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {TIMER_COLS} FROM timer WHERE workspace_id = ?1 AND key = ?2"
                ))
                .map_err(sql_err)?
                .query_row(params![ws.to_string(), key], timer_row)
                .optional()
                .map_err(sql_err)
            })
            .await
    }

    async fn timers_with_prefix(
        &self,
        ws: WorkspaceId,
        prefix: String,
    ) -> StoreResult<Vec<TimerRow>> {
        self.db
            .read(move |c| {
                let mut rows: Vec<TimerRow> = c
                    .prepare_cached(&format!(
                        "SELECT {TIMER_COLS} FROM timer WHERE workspace_id = ?1 AND key >= ?2 AND key < ?3"
                    ))
                    .map_err(sql_err)?
                    .query_map(
                        params![ws.to_string(), prefix, plan::timers::prefix_end(&prefix)],
                        timer_row,
                    )
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)?;
                rows.sort_by_key(|t| (t.due_at, t.id));
                Ok(rows)
            })
            .await
    }

    async fn take_timer(&self, id: TimerId) -> StoreResult<bool> {
        self.db
            .write(move |c, _| {
                let n = c
                    .prepare_cached("DELETE FROM timer WHERE id = ?1")
                    .map_err(sql_err)?
                    .execute([id.to_string()])
                    .map_err(sql_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn cancel_timers(&self, ws: WorkspaceId, keys: TimerKeys) -> StoreResult<u64> {
        self.db
            .write(move |c, _| {
                let n = match &keys {
                    TimerKeys::Exactly(key) => c
                        .prepare_cached("DELETE FROM timer WHERE workspace_id = ?1 AND key = ?2")
                        .map_err(sql_err)?
                        .execute(params![ws.to_string(), key]),
                    // A range on the unique index rather than LIKE, whose wildcards a key may hold.
                    TimerKeys::Prefix(p) => c
                        .prepare_cached(
                            "DELETE FROM timer WHERE workspace_id = ?1 AND key >= ?2 AND key < ?3",
                        )
                        .map_err(sql_err)?
                        .execute(params![ws.to_string(), p, plan::timers::prefix_end(p)]),
                }
                .map_err(sql_err)?;
                Ok(n as u64)
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
            .write(move |c, _| {
                let mut due: Vec<TimerRow> = c
                    .prepare_cached(&format!(
                        "SELECT {TIMER_COLS} FROM timer WHERE COALESCE(lease_until, due_at) <= ?1 \
                         ORDER BY COALESCE(lease_until, due_at) LIMIT ?2"
                    ))
                    .map_err(sql_err)?
                    .query_map(params![now.0, limit], timer_row)
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)?;
                let mut lease = c
                    .prepare_cached(
                        "UPDATE timer SET lease_until = ?2, claimed_by = ?3 WHERE id = ?1",
                    )
                    .map_err(sql_err)?;
                for t in &due {
                    lease
                        .execute(params![
                            t.id.to_string(),
                            now.0.saturating_add(lease_ms),
                            node
                        ])
                        .map_err(sql_err)?;
                }
                due.sort_by_key(|t| (t.due_at, t.id));
                Ok(due)
            })
            .await
    }

    async fn finish_timers(&self, ids: Vec<TimerId>) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                let mut delete = c
                    .prepare_cached("DELETE FROM timer WHERE id = ?1")
                    .map_err(sql_err)?;
                for id in &ids {
                    delete.execute([id.to_string()]).map_err(sql_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn release_timer_claims(&self) -> StoreResult<u64> {
        self.db
            .write(|c, _| {
                c.execute(
                    "UPDATE timer SET lease_until = NULL, claimed_by = NULL WHERE lease_until IS NOT NULL",
                    [],
                )
                .map(|n| n as u64)
                .map_err(sql_err)
            })
            .await
    }

    async fn next_timer_due(&self) -> StoreResult<Option<Timestamp>> {
        self.db
            .read(|c| {
                c.prepare_cached("SELECT MIN(COALESCE(lease_until, due_at)) FROM timer")
                    .map_err(sql_err)?
                    .query_row([], |r| r.get::<_, Option<i64>>(0))
                    .map_err(sql_err)
                    .map(|t| t.map(Timestamp))
            })
            .await
    }
}
