//! The `Timers` trait: durable due work (snooze wake-ups, scheduled sends, rules' time triggers),
//! what each backend implements in its `timers.rs`.

use async_trait::async_trait;
use parley_core::{ConversationId, TimerId, Timestamp, WorkspaceId};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// A timer to set: `key` names what it waits for, unique in its workspace, so setting the same
/// key again moves the timer instead of adding one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTimer {
    pub workspace: WorkspaceId,
    pub key: String,
    pub kind: String,
    pub due_at: Timestamp,
    pub payload: serde_json::Value,
}

/// A timer as stored and as a worker claims it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimerRow {
    pub id: TimerId,
    pub workspace_id: WorkspaceId,
    pub key: String,
    pub kind: String,
    pub due_at: Timestamp,
    pub payload: serde_json::Value,
}

/// Which timers `cancel_timers` removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerKeys {
    /// The one timer of this key.
    Exactly(String),
    /// Every timer whose key starts with this (`conv:{id}:` for all of a conversation's).
    Prefix(String),
}

/// The key of a conversation's snooze wake-up. The store sets and removes it with the
/// conversation's snooze in the same transaction.
pub fn snooze_key(id: ConversationId) -> String {
    format!("conv:{id}:snooze")
}

/// The kind of a snooze wake-up timer.
pub const SNOOZE_KIND: &str = "snooze";

/// Durable timers: each is claimed by one worker at a time under a lease and deleted when its work
/// is done; one whose worker died is claimable again when the lease runs out.
#[async_trait]
pub trait Timers: Send + Sync + 'static {
    /// Sets timers (each replacing any of its key, with a new id, unclaimed).
    async fn set_timers(&self, timers: Vec<NewTimer>) -> StoreResult<()>;
    /// Sets one timer; answers its id.
    async fn set_timer(&self, timer: NewTimer) -> StoreResult<TimerId> {
        let (ws, key) = (timer.workspace, timer.key.clone());
        self.set_timers(vec![timer]).await?;
        self.timer(ws, key)
            .await?
            .map(|t| t.id)
            .ok_or(crate::StoreError::NotFound)
    }
    /// The timer of this key in the workspace, if set.
    async fn timer(&self, ws: WorkspaceId, key: String) -> StoreResult<Option<TimerRow>>;
    /// The workspace's timers whose key starts with `prefix`, by due time.
    async fn timers_with_prefix(
        &self,
        ws: WorkspaceId,
        prefix: String,
    ) -> StoreResult<Vec<TimerRow>>;
    /// Deletes a claimed timer before its work runs; answers whether it was still there, not
    /// moved nor cancelled since the claim. Work that must not run twice takes its timer first.
    async fn take_timer(&self, id: TimerId) -> StoreResult<bool>;
    /// Removes the timers the keys name; answers how many.
    async fn cancel_timers(&self, ws: WorkspaceId, keys: TimerKeys) -> StoreResult<u64>;
    /// Claims up to `limit` timers due at `now` (earliest first) for `lease_ms`, for `node`.
    /// A timer claimed here is claimed by nobody else until its lease runs out. Answered in
    /// order of due time.
    async fn claim_due_timers(
        &self,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
        node: String,
    ) -> StoreResult<Vec<TimerRow>>;
    /// Deletes a claimed timer whose work is done. A timer re-set since the claim has a new id
    /// and stays.
    async fn finish_timer(&self, id: TimerId) -> StoreResult<()> {
        self.finish_timers(vec![id]).await
    }
    /// `finish_timer` for many, in one transaction.
    async fn finish_timers(&self, ids: Vec<TimerId>) -> StoreResult<()>;
    /// Makes every claimed timer claimable at once; answers how many. Only for a lone server
    /// starting up (the embedded mode): its previous run's claims died with that process.
    async fn release_timer_claims(&self) -> StoreResult<u64>;
    /// When a timer is next claimable (its due time, or the end of a live lease), if any.
    async fn next_timer_due(&self) -> StoreResult<Option<Timestamp>>;
}
