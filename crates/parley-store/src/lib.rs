//! The storage boundary: the store traits both backends implement, one per aggregate (`Store` is
//! all of them), their errors and row types, the decisions both make (`plan`), and the conformance
//! suite (`conformance`) each backend runs against itself.
//!
//! Methods are coarse — one use case, one transaction each. Agent-facing reads and writes take a
//! `Scope`, so a query cannot forget which workspace and inboxes the caller may see. Every write
//! that touches a conversation appends timeline events; the backend hands them, in commit order,
//! to the `EventSink` it was built with, after the commit.

pub mod conformance;
pub mod crypt;
mod cursor;
pub mod plan;
pub mod sql;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use parley_core::contact::IdentityKind;
use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, ListId, MessageId, OutboxId, TeamId, Timestamp,
    TokenId, UserId, WorkspaceId,
};

pub use cursor::Cursor;
pub use types::*;

/// Receives committed events in commit order. Called by the backend after each commit, on the
/// thread or task that committed, so it must not block.
pub type EventSink = Arc<dyn Fn(&[Published]) + Send + Sync>;

/// An `EventSink` that drops everything (for tools that only read or write).
pub fn null_sink() -> EventSink {
    Arc::new(|_: &[Published]| {})
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was hit; the text names what is taken.
    #[error("{0}")]
    Conflict(String),
    /// Input the database cannot accept (an unknown user to assign, a team of another workspace).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A domain rule refused the change (`code` is stable and machine-readable).
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<parley_core::Invalid> for StoreError {
    fn from(e: parley_core::Invalid) -> Self {
        StoreError::Invalid {
            field: e.field,
            reason: e.reason,
        }
    }
}

impl From<parley_core::conversation::ConversationError> for StoreError {
    fn from(e: parley_core::conversation::ConversationError) -> Self {
        use parley_core::conversation::ConversationError as E;
        let code = match e {
            E::AlreadyInStatus(_) => "conversation_status_unchanged",
            E::SnoozeInPast => "snooze_in_past",
            E::NoChange => "no_change",
        };
        StoreError::Rejected {
            code,
            message: e.to_string(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Encryption at rest: the data keys values are sealed under, and re-sealing with newer ones.
#[async_trait]
pub trait Keys: Send + Sync + 'static {
    /// The data keys values are sealed under, when encryption at rest is on.
    fn keyring(&self) -> Option<std::sync::Arc<crypt::Keyring>>;
    /// Adds a data key wrapped under the master key; this store seals new values under it from
    /// now on, other processes once they `refresh_keys`. `Invalid` without a master key.
    async fn add_data_key(&self, at: Timestamp) -> StoreResult<u32>;
    /// Wraps every data key under `new` instead of the configured master key, in one
    /// transaction (master key rotation); answers how many. Servers keep their unwrapped keys
    /// and need `new` once they restart.
    async fn rewrap_data_keys(&self, new: &crypt::MasterKey) -> StoreResult<u32>;
    /// Marks the sealing of a database that held plaintext (`parley keys encrypt`) finished: its
    /// files are sealed too, and servers may start on it.
    async fn finish_sealing(&self) -> StoreResult<()>;
    /// Loads data keys another process added; answers whether there were any.
    async fn refresh_keys(&self) -> StoreResult<bool>;
    /// Seals again, under the current data key, the fields of up to `limit` records sealed under
    /// older keys, in one transaction; answers how many records changed (0: none left).
    async fn reseal(&self, limit: u32) -> StoreResult<u64>;
    /// Messages listing files, in id order after `after`: (message, workspace, inbox, file ids),
    /// for re-sealing the files.
    async fn message_files(
        &self,
        after: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<MessageFiles>>;
}

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

/// Contacts, their channel identities, their consent ledger and the lists they are on.
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

/// Conversations and their timelines: customers' messages in, agents' commands, and the events
/// both publish.
#[async_trait]
pub trait Conversations: Send + Sync + 'static {
    /// Stores a customer's message: resolves the contact by identity, finds or reopens the
    /// conversation, appends the message. Deduplicated by (inbox, external message id). Backends
    /// commit concurrent calls together (group commit); the call returns after the commit.
    async fn apply_inbound(&self, msg: InboundMessage) -> StoreResult<InboundOutcome>;
    /// The contact of a channel identity and its conversation in that inbox, when they exist.
    async fn identity_conversation(
        &self,
        inbox: InboxId,
        kind: IdentityKind,
        external_id: &str,
    ) -> StoreResult<Option<(ContactId, Option<ConversationId>)>>;
    /// The conversation of the newest message in `inbox` whose provider id is one of `external_ids`
    /// (an email's `References`).
    async fn conversation_by_external_ids(
        &self,
        inbox: InboxId,
        external_ids: &[String],
    ) -> StoreResult<Option<ConversationId>>;
    async fn list_conversations(
        &self,
        scope: &Scope,
        q: &ConversationQuery,
    ) -> StoreResult<Page<ConversationView>>;
    /// How many conversations each view of the inbox holds for the scope (its user's "mine").
    async fn conversation_counts(&self, scope: &Scope) -> StoreResult<ConversationCounts>;
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
    ) -> StoreResult<std::collections::HashMap<ConversationId, Timestamp>>;
    async fn conversation(
        &self,
        scope: &Scope,
        id: ConversationId,
    ) -> StoreResult<ConversationView>;
    /// Timeline entries oldest first; `before` pages backwards from the newest.
    async fn timeline(
        &self,
        scope: &Scope,
        id: ConversationId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<TimelineEntry>>;
    /// Applies an agent's command to a conversation in one transaction.
    async fn act(
        &self,
        scope: &Scope,
        id: ConversationId,
        actor: UserId,
        cmd: Command,
        at: Timestamp,
    ) -> StoreResult<ActOutcome>;
    /// Starts (or continues) the conversation of a contact in an inbox with an outbound message.
    /// A message from Parley itself does not count as the business answering.
    async fn start_conversation(
        &self,
        scope: &Scope,
        msg: NewOutbound,
        at: Timestamp,
    ) -> StoreResult<ActOutcome>;
    /// Appends an event that changes nothing (a customer's survey answer) to a conversation's
    /// timeline, with the conversation as it is; `NotFound` outside the workspace.
    async fn record_conversation_event(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        kind: &'static str,
        data: serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Records a customer's answer to the survey sent in a conversation at `sent_at` as a
    /// `survey.answered` event; a survey takes one answer, so a second is `Conflict`, even when
    /// both arrive at once (a unique key, not a look at the timeline).
    async fn record_survey_answer(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        sent_at: Timestamp,
        data: serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// The workspace's key for signing survey links; the first call keeps `candidate` as the key.
    async fn survey_key(
        &self,
        ws: WorkspaceId,
        candidate: String,
        at: Timestamp,
    ) -> StoreResult<String>;
    /// Reopens snoozed conversations whose time has come; returns how many.
    async fn wake_snoozed(&self, now: Timestamp) -> StoreResult<usize>;
    /// Timeline and delivery events after `after_seq` in inboxes the scope sees, oldest first.
    async fn events_since(
        &self,
        scope: &Scope,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Published>>;
}

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

/// Every aggregate's store: what a backend implements and the application holds.
pub trait Store: Keys + Accounts + Directory + Contacts + Conversations + Outbox + Privacy {}

impl<T> Store for T where
    T: Keys + Accounts + Directory + Contacts + Conversations + Outbox + Privacy
{
}

/// The store traits, so callers reach every method with one `use parley_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Accounts, Contacts, Conversations, Directory, DynStore, Keys, Outbox, Privacy, Store,
    };
}

/// A store shared by the application.
pub type DynStore = Arc<dyn Store>;
