//! The `Seen` trait: what each backend implements for when each agent last looked at each
//! conversation (in its `conversations/seen.rs`).

use std::collections::HashMap;

use async_trait::async_trait;
use parley_core::{ConversationId, Timestamp};

use crate::{Scope, StoreResult};

/// When each agent last saw each conversation: what makes a conversation unread for them.
#[async_trait]
pub trait Seen: Send + Sync + 'static {
    /// Records that the scope's user has seen a conversation as it was at `at` (the mark only moves
    /// forward). The caller has checked the user may see it.
    async fn mark_seen(
        &self,
        scope: &Scope,
        conversation: ConversationId,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// When the scope's user last saw each of these conversations (absent: never).
    async fn seen_at(
        &self,
        scope: &Scope,
        conversations: &[ConversationId],
    ) -> StoreResult<HashMap<ConversationId, Timestamp>>;
}
