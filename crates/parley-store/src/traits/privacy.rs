//! The `Privacy` trait: what each backend implements for this aggregate (in its `privacy.rs`).

use async_trait::async_trait;
use parley_core::{ContactId, Timestamp, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

/// Removing what the business may no longer keep: erasing a contact, expiring old messages.
#[async_trait]
pub trait Privacy: Send + Sync + 'static {
    /// Erases a contact in one transaction: name, addresses, custom fields and identities go; the
    /// content of every message and note in their conversations is removed (events marked
    /// `redacted_at`) and conversation snapshots lose their name and preview; queued replies are
    /// cancelled; the ledger keeps only revocations, with their evidence removed, and each
    /// revocation becomes a suppression of every address the contact had, so a new contact with
    /// one of them inherits it. An erased contact refuses changes (`contact_erased`); erasing it
    /// again changes nothing and answers the first erasure's time with zero counts.
    async fn erase_contact(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        at: Timestamp,
    ) -> StoreResult<Erasure>;
    /// Messages written before `before` whose content is still there: how many, and when the
    /// oldest was written.
    async fn expiring_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
    ) -> StoreResult<(u64, Option<Timestamp>)>;
    /// Removes the content of up to `limit` of those messages, oldest first, in one transaction:
    /// body and meta, the data of their events (marked `redacted_at`), and the conversation's
    /// preview of them. The messages themselves stay, so the timeline keeps its shape.
    async fn expire_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
        limit: u32,
        at: Timestamp,
    ) -> StoreResult<Vec<ExpiredMessage>>;
}
