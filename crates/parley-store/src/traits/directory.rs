//! The `Directory` trait: what each backend implements for this aggregate (in its `directory.rs`).

use async_trait::async_trait;
use parley_core::{InboxId, TeamId, Timestamp, UserId, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

/// Teams and inboxes of a workspace, and who belongs to each.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    async fn create_team(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<TeamView>;
    async fn list_teams(&self, ws: WorkspaceId) -> StoreResult<Vec<TeamView>>;
    async fn rename_team(&self, ws: WorkspaceId, id: TeamId, name: &str) -> StoreResult<TeamView>;
    async fn delete_team(&self, ws: WorkspaceId, id: TeamId) -> StoreResult<()>;
    /// Adds (`member = true`) or removes a user from a team.
    async fn set_team_member(
        &self,
        ws: WorkspaceId,
        team: TeamId,
        user: UserId,
        member: bool,
    ) -> StoreResult<TeamView>;
    async fn create_inbox(
        &self,
        ws: WorkspaceId,
        inbox: NewInbox,
        at: Timestamp,
    ) -> StoreResult<InboxRow>;
    /// The inboxes the scope may see.
    async fn list_inboxes(&self, scope: &Scope) -> StoreResult<Vec<InboxRow>>;
    async fn inbox(&self, scope: &Scope, id: InboxId) -> StoreResult<InboxRow>;
    async fn update_inbox(
        &self,
        ws: WorkspaceId,
        id: InboxId,
        patch: InboxPatch,
    ) -> StoreResult<InboxRow>;
    /// An inbox by id alone, for webhooks, which prove who they are by signature.
    async fn inbox_for_hook(&self, id: InboxId) -> StoreResult<Option<InboxRow>>;
    /// Every inbox of one channel kind, in all workspaces (for listeners and pollers), oldest first.
    async fn inboxes_of_kind(&self, kind: &str) -> StoreResult<Vec<InboxRow>>;
    async fn set_inbox_member(
        &self,
        ws: WorkspaceId,
        inbox: InboxId,
        user: UserId,
        member: bool,
    ) -> StoreResult<()>;
    async fn inbox_members(&self, ws: WorkspaceId, inbox: InboxId) -> StoreResult<Vec<UserView>>;
}
