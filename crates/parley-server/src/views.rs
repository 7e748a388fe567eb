//! The API's answers as types. A view copies a store row into the shape the API shows, so the
//! OpenAPI document derives its schema from the same struct the handler writes.
use parley_core::contact::IdentityKind;
use parley_core::conversation::{Priority, Status};
use parley_core::role::Role;
use parley_core::sla::Due;
use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, ListId, TeamId, Timestamp, UserId,
};
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
/// A list answered whole, as `{"items": [...]}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}
/// One address a contact reaches us from.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IdentityView {
    pub id: IdentityId,
    pub kind: IdentityKind,
    pub inbox_id: Option<InboxId>,
    pub external_id: String,
    pub created_at: Timestamp,
}
/// A contact with its identities.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContactView {
    pub id: ContactId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub identities: Vec<IdentityView>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the contact was erased: name, addresses and fields are gone, and nothing more may be
    /// recorded about them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<Timestamp>,
    /// When the contact was blocked: their messages are kept (an opt-out in them still counts)
    /// but never reopen a conversation or wait for an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_at: Option<Timestamp>,
}
impl From<parley_store::ContactView> for ContactView {
    fn from(c: parley_store::ContactView) -> Self {
        Self {
            id: c.id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            custom_fields: c.custom_fields,
            identities: c
                .identities
                .into_iter()
                .map(|i| IdentityView {
                    id: i.id,
                    kind: i.kind,
                    inbox_id: i.inbox_id,
                    external_id: i.external_id,
                    created_at: i.created_at,
                })
                .collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            erased_at: c.erased_at,
            blocked_at: c.blocked_at,
        }
    }
}
/// A page of contacts; `next_cursor` fetches the next.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContactPage {
    pub items: Vec<ContactView>,
    pub next_cursor: Option<String>,
}
/// A user of the workspace.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// A bot: works through its API token, never signs in.
    pub bot: bool,
    pub created_at: Timestamp,
}
impl From<parley_store::UserView> for UserView {
    fn from(u: parley_store::UserView) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            bot: u.bot,
            created_at: u.created_at,
        }
    }
}
/// A named group of contacts and how many are on it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListView {
    pub id: ListId,
    pub name: String,
    /// How many contacts are on it.
    pub size: u64,
    pub created_at: Timestamp,
}
impl From<parley_store::ListView> for ListView {
    fn from(l: parley_store::ListView) -> Self {
        Self {
            id: l.id,
            name: l.name,
            size: l.size,
            created_at: l.created_at,
        }
    }
}
impl Items<ListView> {
    pub fn lists(lists: Vec<parley_store::ListView>) -> Self {
        Self {
            items: lists.into_iter().map(ListView::from).collect(),
        }
    }
}
impl Items<UserView> {
    pub fn users(users: impl IntoIterator<Item = parley_store::UserView>) -> Self {
        Self {
            items: users.into_iter().map(UserView::from).collect(),
        }
    }
}

/// An answer written with its keys in alphabetical order at every depth, the order the answers
/// built as JSON values (whose maps are sorted) have always had.
pub struct Sorted<T>(pub T);

impl<T: Serialize> Serialize for Sorted<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        sorted(&self.0, s)
    }
}

/// [`Sorted`] for one field (`#[serde(serialize_with = "crate::views::sorted")]`): a view that
/// embeds a type declared in another order.
pub(crate) fn sorted<T: Serialize, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    serde_json::to_value(v)
        .map_err(serde::ser::Error::custom)?
        .serialize(s)
}
