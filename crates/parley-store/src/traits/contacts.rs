//! The `Contacts` trait: what each backend implements for this aggregate (in its `contacts.rs`).

use async_trait::async_trait;
use parley_core::{ContactId, IdentityId, Timestamp, UserId, WorkspaceId};

use crate::types::*;
use crate::{Cursor, StoreResult};

/// Contacts, their channel identities and their consent ledger (the lists they are on are `Lists`).
#[async_trait]
pub trait Contacts: Send + Sync + 'static {
    async fn create_contact(
        &self,
        ws: WorkspaceId,
        contact: NewContact,
        at: Timestamp,
    ) -> StoreResult<ContactView>;
    /// A contact the scope sees (see `Scope::sees_all_contacts`), else `NotFound`.
    async fn contact(&self, scope: &Scope, id: ContactId) -> StoreResult<ContactView>;
    async fn update_contact(
        &self,
        ws: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
        at: Timestamp,
    ) -> StoreResult<ContactView>;
    /// Blocks (`Some(time)`) or unblocks (`None`) a contact; an erased contact refuses it.
    async fn set_contact_blocked(
        &self,
        ws: WorkspaceId,
        id: ContactId,
        blocked: Option<Timestamp>,
        at: Timestamp,
    ) -> StoreResult<ContactView>;
    /// Contacts the scope sees whose name, email, phone or identity contains `q`
    /// (case-insensitive), by name.
    async fn search_contacts(
        &self,
        scope: &Scope,
        q: &str,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Page<ContactView>>;
    async fn add_identity(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        identity: NewIdentity,
        at: Timestamp,
    ) -> StoreResult<ContactView>;
    async fn remove_identity(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        identity: IdentityId,
    ) -> StoreResult<ContactView>;
    /// Moves everything of `absorbed` (identities, conversations and their timelines) into `kept`,
    /// then deletes `absorbed`. Two conversations in one inbox become one.
    async fn merge_contacts(
        &self,
        ws: WorkspaceId,
        kept: ContactId,
        absorbed: ContactId,
        actor: UserId,
        at: Timestamp,
    ) -> StoreResult<ContactView>;
    /// Appends to the contact's consent ledger (`NotFound` for a contact of another workspace).
    async fn record_consent(
        &self,
        ws: WorkspaceId,
        consent: NewConsent,
    ) -> StoreResult<ConsentEvent>;
    /// The contact's consent ledger, oldest first (`NotFound` for a contact the scope does not
    /// see). Evidence quoting a message of an inbox the scope does not see says
    /// `plan::UNSEEN_TEXT` instead of its text.
    async fn consent_history(
        &self,
        scope: &Scope,
        contact: ContactId,
    ) -> StoreResult<Vec<ConsentEvent>>;
    /// The ledger with the rest the compliance gate needs, in one read.
    async fn consent_context(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<ConsentContext>;
    /// When the contact last wrote, on any channel (`NotFound` for another workspace's contact).
    async fn last_inbound(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<Option<Timestamp>>;
    /// Contacts with a phone number and no message from them since `before` (those who never
    /// wrote: created before it), longest silent first.
    async fn inactive_contacts(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<InactiveContact>>;
}
