//! The `Outbox` trait: what each backend implements for this aggregate (in its `outbox.rs`).

use async_trait::async_trait;
use parley_core::{ConversationId, OutboxId, Timestamp, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

/// Outbound deliveries claimed by dispatchers, their delivery reports, and the nodes that claim them.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Claims up to `limit` due deliveries for `lease_ms`; a claim not finished by then is claimed again.
    /// No inbox limit: see `claim_outbox_fair`.
    async fn claim_outbox(
        &self,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<Vec<OutboxJob>> {
        self.claim_outbox_fair(now, limit, lease_ms, u32::MAX).await
    }
    /// Claims up to `limit` due deliveries for `lease_ms`, taking turns across inboxes (each
    /// inbox's earliest due first, then each one's second, …) and leaving out any inbox that already
    /// has `per_inbox` deliveries under a live lease, so one slow provider cannot take every slot.
    async fn claim_outbox_fair(
        &self,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
        per_inbox: u32,
    ) -> StoreResult<Vec<OutboxJob>>;
    /// Each inbox of the workspace with deliveries queued or in flight, and how many.
    async fn outbox_backlog(
        &self,
        ws: WorkspaceId,
        now: Timestamp,
    ) -> StoreResult<Vec<InboxBacklog>>;
    async fn finish_outbox(
        &self,
        id: OutboxId,
        result: OutboxResult,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Applies a provider's delivery report to the outbound message it names. Returns `false` when
    /// no sent message has that provider id (yet): the report is then held for a day and applied if
    /// the send it reports on is recorded later, since providers may call back before their API
    /// answer reaches us.
    async fn record_delivery(&self, report: DeliveryReport) -> StoreResult<bool>;
    /// Marks read every reply in the conversation sent at or before `until` (a channel's read
    /// watermark); returns how many moved. Status still only moves forward.
    async fn read_until(
        &self,
        conversation: ConversationId,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<usize>;
    /// When the next queued delivery is due, if any.
    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>>;
    /// Records that `node` is alive (at its `seen_at`) and answers the other nodes whose last
    /// heartbeat is at most `fresh_ms` old; forgets nodes silent for a day.
    async fn node_heartbeat(&self, node: NodeRow, fresh_ms: i64) -> StoreResult<Vec<NodeRow>>;
    /// Forgets a node that stops.
    async fn node_leave(&self, id: String) -> StoreResult<()>;
    /// Makes every claimed delivery claimable at once; returns how many. Only for a lone server
    /// starting up (the embedded mode): the claims of its previous run died with that process,
    /// and waiting out their leases would only delay the replies.
    async fn release_claims(&self) -> StoreResult<u64>;
}
