//! The `Lists` trait: what each backend implements for contact lists (in its `contacts/lists.rs`).

use async_trait::async_trait;
use parley_core::{ContactId, ListId, Timestamp, WorkspaceId};

use crate::types::*;
use crate::{Cursor, StoreResult};

/// Named lists of a workspace's contacts, and who is on them.
#[async_trait]
pub trait Lists: Send + Sync + 'static {
    async fn create_list(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<ListView>;
    /// The workspace's lists by name, with their sizes.
    async fn list_lists(&self, ws: WorkspaceId) -> StoreResult<Vec<ListView>>;
    async fn rename_list(&self, ws: WorkspaceId, id: ListId, name: &str) -> StoreResult<ListView>;
    /// Deletes the list; its contacts stay.
    async fn delete_list(&self, ws: WorkspaceId, id: ListId) -> StoreResult<()>;
    /// Puts a contact on (`member = true`) or takes it off a list; an erased contact refuses
    /// (`contact_erased`), another workspace's is `Invalid`.
    async fn set_list_member(
        &self,
        ws: WorkspaceId,
        list: ListId,
        contact: ContactId,
        member: bool,
        at: Timestamp,
    ) -> StoreResult<ListView>;
    /// The lists a contact is on, by name (`NotFound` for a contact the scope does not see).
    async fn contact_lists(&self, scope: &Scope, contact: ContactId) -> StoreResult<Vec<ListView>>;
    /// The contacts on a list the scope sees, the most recently added first.
    async fn list_members(
        &self,
        scope: &Scope,
        list: ListId,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Page<ContactView>>;
}
