//! Backend-independent decisions both stores make inside their transactions: what a command changes
//! and writes (`act`), the projected conversation state after it, and the JSON payload of each event
//! (`events`); merging, erasure, retention and contact search in their modules.

use parley_core::conversation::{Change, ConversationState};
use parley_core::Timestamp;

use parley_core::conversation::ConversationState as State;
use parley_core::message::{DeliveryStatus, Direction, SenderKind};
use parley_core::{ContactId, ConversationId, IdentityId, InboxId, MessageId, UserId};

mod act;
mod assign;
pub mod automations;
pub mod erase;
pub mod events;
pub mod inbound;
pub mod keywords;
pub mod merge;
pub mod pages;
pub mod retention;
pub mod search;
mod start;
pub mod templates;
pub mod timers;

pub use act::{Act, Outbound, StateChange};
pub use assign::check_assignment;
pub use start::{reach, reach_to_start, start_sender, Reach};

use crate::{ContactPatch, ContactView, ConversationView, MessageView, NoteView, StoreError};

impl ConversationView {
    /// A new open thread of a contact in an inbox; nobody waits on it yet.
    pub fn new_thread(
        id: ConversationId,
        inbox: InboxId,
        contact: ContactId,
        contact_name: Option<String>,
        identity: IdentityId,
        at: Timestamp,
    ) -> Self {
        let mut v = ConversationView {
            id,
            inbox_id: inbox,
            contact_id: contact,
            contact_name,
            identity_id: identity,
            status: parley_core::conversation::Status::Open,
            snoozed_until: None,
            assignee_id: None,
            team_id: None,
            priority: parley_core::conversation::Priority::Normal,
            labels: Vec::new(),
            waiting_since: None,
            first_reply_at: None,
            last_activity_at: at,
            last_message: None,
            created_at: at,
        };
        v.set_state(State::new(at));
        v
    }
}

impl MessageView {
    /// A customer's message in a conversation, as received.
    pub fn from_customer(
        id: MessageId,
        conv: &ConversationView,
        contact: ContactId,
        body: String,
        external_id: Option<String>,
        at: Timestamp,
        meta: Option<serde_json::Value>,
    ) -> Self {
        MessageView {
            id,
            conversation_id: conv.id,
            inbox_id: conv.inbox_id,
            direction: Direction::Inbound,
            sender_kind: SenderKind::Contact,
            sender_id: Some(contact.as_uuid()),
            body,
            external_id,
            status: DeliveryStatus::Received,
            error: None,
            created_at: at,
            meta,
        }
    }

    /// An agent's reply, queued for delivery.
    /// An outbound message from an agent, or from Parley itself when `actor` is `None`.
    pub fn agent_reply(
        id: MessageId,
        conv: &ConversationView,
        sender: SenderKind,
        actor: Option<UserId>,
        body: String,
        at: Timestamp,
        meta: Option<serde_json::Value>,
    ) -> Self {
        MessageView {
            id,
            conversation_id: conv.id,
            inbox_id: conv.inbox_id,
            direction: Direction::Outbound,
            sender_kind: sender,
            sender_id: actor.map(|a| a.as_uuid()),
            body,
            external_id: None,
            status: DeliveryStatus::Queued,
            error: None,
            created_at: at,
            meta,
        }
    }
}

/// The contact's own time zone from their custom fields, when it names one.
pub fn timezone_field(
    custom_fields: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let tz = custom_fields.get("timezone")?.as_str()?.trim();
    (!tz.is_empty()).then(|| tz.to_string())
}

impl crate::ConsentContext {
    /// What the gate reads about `view`: its own ledger with the suppressions its addresses carry,
    /// oldest first, its phone, time zone and whether it was erased.
    pub fn of(
        view: ContactView,
        mut ledger: Vec<crate::ConsentEvent>,
        suppressions: Vec<crate::ConsentEvent>,
    ) -> Self {
        ledger.extend(suppressions);
        ledger.sort_by_key(|e| e.at);
        Self {
            ledger,
            timezone: timezone_field(&view.custom_fields),
            phone: view.phone,
            erased: view.erased_at.is_some(),
        }
    }
}
impl ContactView {
    /// The digests of every address the contact has (`address_digests`).
    pub fn address_digests(&self, ws: parley_core::WorkspaceId) -> Vec<String> {
        let identities: Vec<_> = self
            .identities
            .iter()
            .map(|i| (i.kind, i.external_id.as_str()))
            .collect();
        erase::address_digests(
            ws,
            self.phone.as_deref(),
            self.email.as_deref(),
            &identities,
        )
    }
    /// The contact, unless it was erased: nothing more is recorded about an erased contact.
    pub fn live(self) -> Result<Self, StoreError> {
        match self.erased_at {
            Some(_) => Err(StoreError::Rejected {
                code: "contact_erased",
                message: "this contact was erased; nothing more can be recorded about them".into(),
            }),
            None => Ok(self),
        }
    }

    /// Applies a patch: `Some(None)` clears a field; custom fields merge, a `null` value removing one.
    pub fn apply_patch(&mut self, p: ContactPatch) -> Result<(), StoreError> {
        if let Some(v) = p.name {
            self.name = v;
        }
        if let Some(v) = p.email {
            self.email = v;
        }
        if let Some(v) = p.phone {
            self.phone = v;
        }
        if let Some(fields) = p.custom_fields {
            for (k, v) in fields {
                if v.is_null() {
                    self.custom_fields.remove(&k);
                } else {
                    self.custom_fields.insert(k, v);
                }
            }
        }
        if self.custom_fields.len() > 100 {
            return Err(StoreError::Invalid {
                field: "custom_fields",
                reason: "at most 100 fields".into(),
            });
        }
        Ok(())
    }
}

impl ConversationView {
    pub fn state(&self) -> ConversationState {
        ConversationState {
            status: self.status,
            snoozed_until: self.snoozed_until,
            assignee_id: self.assignee_id,
            team_id: self.team_id,
            priority: self.priority,
            labels: self.labels.clone(),
            waiting_since: self.waiting_since,
            first_reply_at: self.first_reply_at,
            last_activity_at: self.last_activity_at,
        }
    }

    pub fn set_state(&mut self, s: ConversationState) {
        self.status = s.status;
        self.snoozed_until = s.snoozed_until;
        self.assignee_id = s.assignee_id;
        self.team_id = s.team_id;
        self.priority = s.priority;
        self.labels = s.labels;
        self.waiting_since = s.waiting_since;
        self.first_reply_at = s.first_reply_at;
        self.last_activity_at = s.last_activity_at;
    }

    /// Folds a change into the view.
    pub fn apply(&mut self, change: &Change, at: Timestamp) {
        let mut s = self.state();
        s.apply(change, at);
        self.set_state(s);
    }

    /// Sort key for "longest waiting".
    pub fn waiting_key(&self) -> i64 {
        self.waiting_since.map_or(i64::MAX, Timestamp::millis)
    }
}

/// The ids of the files a message's meta lists.
pub fn attachment_ids(meta: Option<&str>) -> Vec<String> {
    let v: serde_json::Value = meta
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    v["attachments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn preview(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(140).collect();
    if one_line.chars().count() > 140 {
        out.push('…');
    }
    out
}

/// Who an outbound message is from, and whether it answers the customer: an agent's or the bot's
/// reply does; Parley's notices and the workspace's automated messages (a survey) do not.
pub fn outbound_change(sender: SenderKind) -> Change {
    if matches!(sender, SenderKind::Agent | SenderKind::Bot) {
        Change::Outbound
    } else {
        Change::Note
    }
}

/// What a second answer to one survey link is refused with.
pub const SURVEY_ANSWERED: &str = "this survey has been answered already; thank you";

/// What a delivery attempt's outcome does to its message: a send moves it to sent (forward only)
/// and records the provider's id, a retry notes the error, a failure moves it to failed with the
/// error; a deferral changes nothing. Answers the provider id of a send, whose held reports are
/// applied next.
pub fn finish_message(msg: &mut MessageView, result: crate::OutboxResult) -> Option<String> {
    use crate::OutboxResult as R;
    match result {
        R::Defer { .. } => None,
        R::Sent { provider_id } => {
            if msg.status.may_advance_to(DeliveryStatus::Sent) {
                msg.status = DeliveryStatus::Sent;
            }
            msg.error = None;
            msg.external_id = provider_id.or(msg.external_id.take());
            msg.external_id.clone()
        }
        R::Retry { error, .. } => {
            msg.error = Some(error);
            None
        }
        R::Failed { error } => {
            if msg.status.may_advance_to(DeliveryStatus::Failed) {
                msg.status = DeliveryStatus::Failed;
            }
            msg.error = Some(error);
            None
        }
    }
}

/// Applies a delivery report to a message. Status only moves forward (a late "sent" never
/// overwrites "delivered"); returns whether anything changed.
pub fn apply_report(msg: &mut MessageView, status: DeliveryStatus, error: Option<String>) -> bool {
    if !msg.status.may_advance_to(status) {
        return false;
    }
    msg.status = status;
    msg.error = if status == DeliveryStatus::Failed {
        error
    } else {
        None
    };
    true
}

/// How long a report for a message we have not yet recorded as sent is kept (milliseconds).
pub const PENDING_REPORT_TTL_MS: i64 = 24 * 3600 * 1000;

/// How long a node that stopped without saying so is remembered by the others' heartbeats.
pub const NODE_FORGOTTEN_MS: i64 = 86_400_000;

impl NoteView {
    /// An agent's internal note on a conversation.
    pub fn on(
        id: uuid::Uuid,
        conv: &ConversationView,
        author_id: UserId,
        body: String,
        mentions: Vec<UserId>,
        at: Timestamp,
    ) -> Self {
        NoteView {
            id,
            conversation_id: conv.id,
            author_id,
            body,
            mentions,
            created_at: at,
        }
    }
}

/// The wall clock in milliseconds, for records made outside a request (a database's first key).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A user named to join a team or an inbox who is not in the workspace is the caller's mistake
/// (`Invalid`); a lookup that failed otherwise stays that failure.
pub fn no_such_user(e: StoreError) -> StoreError {
    match e {
        StoreError::NotFound => StoreError::Invalid {
            field: "user_id",
            reason: "no such user in this workspace".into(),
        },
        e => e,
    }
}

/// What taking the admin role from a workspace's last admin (by a role change or removal) is
/// refused with.
pub fn last_admin() -> StoreError {
    StoreError::Rejected {
        code: "last_admin",
        message: "a workspace needs at least one admin".into(),
    }
}

/// What a quoted customer message says to someone who does not work its inbox.
pub const UNSEEN_TEXT: &str = "(message in an inbox you cannot see)";

/// A consent entry as the scope may read it: the quoted text of a message from an inbox it does
/// not see (evidence naming its `inbox_id`) gives way to `UNSEEN_TEXT`.
pub fn scoped_consent(scope: &crate::Scope, mut e: crate::ConsentEvent) -> crate::ConsentEvent {
    let inbox = e.evidence["inbox_id"]
        .as_str()
        .and_then(|i| uuid::Uuid::parse_str(i).ok())
        .map(parley_core::InboxId::from);
    if let Some(inbox) = inbox {
        if !scope.can_see(inbox) && e.evidence.get("text").is_some() {
            e.evidence["text"] = serde_json::json!(UNSEEN_TEXT);
        }
    }
    e
}
