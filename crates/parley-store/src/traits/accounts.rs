//! The `Accounts` trait: what each backend implements for this aggregate (in its `accounts.rs`).

use async_trait::async_trait;
use parley_core::{Timestamp, TokenId, UserId, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

/// Workspaces, the people who sign in to them, their sessions and tokens, and the logs of access
/// changes and administrative actions.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// True when no workspace exists yet (first start).
    async fn is_empty(&self) -> StoreResult<bool>;
    /// Creates a workspace and its first admin.
    async fn create_workspace(
        &self,
        name: &str,
        timezone: &str,
        admin: NewUser,
        at: Timestamp,
    ) -> StoreResult<(WorkspaceRow, UserView)>;
    async fn workspace(&self, ws: WorkspaceId) -> StoreResult<WorkspaceRow>;
    /// The first workspace (for single-tenant tools such as the CLI).
    async fn first_workspace(&self) -> StoreResult<Option<WorkspaceRow>>;
    /// Every workspace (for background jobs that run per workspace).
    async fn list_workspaces(&self) -> StoreResult<Vec<WorkspaceRow>>;
    /// Replaces the workspace's settings document.
    async fn set_workspace_settings(
        &self,
        ws: WorkspaceId,
        settings: serde_json::Value,
    ) -> StoreResult<WorkspaceRow>;
    /// Creates a user and their membership; `Conflict` when the email is taken.
    async fn create_user(
        &self,
        ws: WorkspaceId,
        user: NewUser,
        at: Timestamp,
    ) -> StoreResult<UserView>;
    async fn list_users(&self, ws: WorkspaceId) -> StoreResult<Vec<UserView>>;
    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        patch: UserPatch,
    ) -> StoreResult<UserView>;
    /// Removes the user's membership (and inbox and team memberships) from the workspace.
    async fn remove_user(&self, ws: WorkspaceId, id: UserId) -> StoreResult<()>;
    /// The user with this email and their password hash, with the membership they sign in to.
    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<(Principal, String)>>;
    async fn principal(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Principal>;
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
