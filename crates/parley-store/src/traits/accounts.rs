//! The `Accounts` trait: what each backend implements for this aggregate (in its `accounts.rs`).

use async_trait::async_trait;
use parley_core::{Timestamp, UserId, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

/// Workspaces and the people who sign in to them (their sessions and tokens are `Access`).
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
}
