//! The API's answers as types. A view copies a store row into the shape the API shows, so the
//! OpenAPI document derives its schema from the same struct the handler writes.

use parley_core::conversation::{Priority, Status};
use parley_core::sla::Due;
use parley_core::{ContactId, ConversationId, IdentityId, InboxId, TeamId, Timestamp, UserId};
use schemars::JsonSchema;
use serde::Serialize;

/// A conversation; `sla` and `unread` where the route computes them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConversationView {
    pub id: ConversationId,
    pub inbox_id: InboxId,
    pub contact_id: ContactId,
    pub contact_name: Option<String>,
    /// The identity replies go to.
    pub identity_id: IdentityId,
    pub status: Status,
    pub snoozed_until: Option<Timestamp>,
    pub assignee_id: Option<UserId>,
    pub team_id: Option<TeamId>,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub waiting_since: Option<Timestamp>,
    /// When the business first answered.
    pub first_reply_at: Option<Timestamp>,
    pub last_activity_at: Timestamp,
    pub last_message: Option<String>,
    pub created_at: Timestamp,
    /// The answer the waiting customer is owed under the workspace's SLA policies, and by when
    /// (`null` when none is). In the list and a single conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla: Option<Option<Due>>,
    /// The customer waits and something happened since you last looked. In the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread: Option<bool>,
}

impl From<parley_store::ConversationView> for ConversationView {
    fn from(c: parley_store::ConversationView) -> Self {
        Self {
            id: c.id,
            inbox_id: c.inbox_id,
            contact_id: c.contact_id,
            contact_name: c.contact_name,
            identity_id: c.identity_id,
            status: c.status,
            snoozed_until: c.snoozed_until,
            assignee_id: c.assignee_id,
            team_id: c.team_id,
            priority: c.priority,
            labels: c.labels,
            waiting_since: c.waiting_since,
            first_reply_at: c.first_reply_at,
            last_activity_at: c.last_activity_at,
            last_message: c.last_message,
            created_at: c.created_at,
            sla: None,
            unread: None,
        }
    }
}

/// A page of conversations; `next_cursor` fetches the next.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConversationPage {
    pub items: Vec<ConversationView>,
    pub next_cursor: Option<String>,
}
