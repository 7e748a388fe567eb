//! The `Pace` trait: what each backend implements (in its `conversations/pace.rs`) for how fast and
//! how full an inbox is, and which automatic replies a conversation has had.

use async_trait::async_trait;
use parley_core::{ConversationId, InboxId, Timestamp, WorkspaceId};

use crate::types::InboxPace;
use crate::StoreResult;

/// An inbox's pace (what `{{expected_wait}}` and the peak auto-reply read) and the once-per-period
/// record of auto-replies.
#[async_trait]
pub trait Pace: Send + Sync + 'static {
    /// The first-response times of the inbox's conversations first answered in `[since, until)`
    /// (the first business reply minus the customer's first message; a conversation the business
    /// started is left out), and its open conversations that wait for an answer.
    async fn inbox_pace(
        &self,
        ws: WorkspaceId,
        inbox: InboxId,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<InboxPace>;
    /// Records that the auto-reply `kind` goes to a conversation at `at`, unless one of that kind
    /// went to it less than `period_ms` before: true when this call may send it. Two calls at
    /// once never both answer true. `NotFound` outside the workspace.
    async fn claim_auto_reply(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        kind: &str,
        at: Timestamp,
        period_ms: i64,
    ) -> StoreResult<bool>;
}
