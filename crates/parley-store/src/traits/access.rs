//! The `Access` trait: what each backend implements for sign-in sessions, API tokens and the logs
//! of access changes and administrative actions (in its `accounts/access.rs`).

use async_trait::async_trait;
use parley_core::{Timestamp, TokenId, UserId, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

/// How people reach a workspace (sessions and API tokens), and the logs of access changes and
/// administrative actions.
#[async_trait]
pub trait Access: Send + Sync + 'static {
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// The signed-in principal and the session's CSRF token, if the session exists and has not expired.
    async fn session_principal(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(Principal, String)>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    async fn create_token(
        &self,
        ws: WorkspaceId,
        user: UserId,
        name: &str,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<TokenView>;
    async fn list_tokens(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Vec<TokenView>>;
    /// Revokes one of the user's own tokens; `NotFound` if it is not theirs.
    async fn revoke_token(
        &self,
        ws: WorkspaceId,
        user: UserId,
        id: TokenId,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn token_principal(&self, token_hash: &str) -> StoreResult<Option<Principal>>;
    /// The id of the newest entry of the access-change log (0 when it is empty).
    async fn last_access_change(&self) -> StoreResult<i64>;
    /// Entries of the access-change log after `after`, oldest first, at most `limit`. Deleting a
    /// session, revoking a token, changing a password, removing a user and changing a user's role
    /// or inbox memberships each add one in the same transaction, in commit order.
    async fn access_changes(&self, after: i64, limit: u32) -> StoreResult<Vec<AccessChange>>;
    async fn record_audit(&self, entry: AuditEntry) -> StoreResult<()>;
    async fn list_audit(&self, ws: WorkspaceId, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}
