//! The `Conversations` trait: what each backend implements for this aggregate (in its `conversations.rs`).

use async_trait::async_trait;
use parley_core::contact::IdentityKind;
use parley_core::{ContactId, ConversationId, InboxId, Timestamp, UserId, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

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
    /// Records a customer's call (a phone system's notification) as a `call` event on the
    /// conversation of the caller in that inbox: the contact and conversation are found, or
    /// created as a customer's first message creates them; the conversation's status is left as
    /// it is. Deduplicated by (inbox, the provider's call id).
    async fn record_call(&self, call: InboundCall) -> StoreResult<CallOutcome>;
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
