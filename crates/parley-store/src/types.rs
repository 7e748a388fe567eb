//! Row and input types crossing the storage boundary.

use parley_core::contact::IdentityKind;
use parley_core::conversation::{Priority, Status};
use parley_core::message::{DeliveryStatus, Direction, SenderKind};
use parley_core::role::Role;
use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, ListId, MessageId, OutboxId, TeamId,
    TemplateId, Timestamp, TokenId, UserId, WorkspaceId,
};
use serde::{Deserialize, Serialize};

use crate::Cursor;

/// Who is asking, and which inboxes they may see.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub role: Role,
    pub email: String,
    pub name: String,
    /// A bot user (see `NewUser::bot`).
    pub bot: bool,
    /// The inboxes the user is a member of (admins see all inboxes regardless).
    pub inboxes: Vec<InboxId>,
}

impl Principal {
    pub fn scope(&self) -> Scope {
        Scope {
            workspace: self.workspace_id,
            user: self.user_id,
            all_inboxes: self.role.sees_all_inboxes(),
            inboxes: self.inboxes.clone(),
            // Supervisors see every contact; agents those of their inboxes, unless the workspace
            // says otherwise (the server sets it then).
            all_contacts: self.role != Role::Agent,
        }
    }
}

/// The workspace and inboxes a query may touch.
#[derive(Debug, Clone)]
pub struct Scope {
    pub workspace: WorkspaceId,
    pub user: UserId,
    pub all_inboxes: bool,
    pub inboxes: Vec<InboxId>,
    /// Every contact of the workspace is visible, not only those with a conversation in one of
    /// `inboxes` (supervisors; agents when the workspace lets every agent see every contact).
    pub all_contacts: bool,
}

impl Scope {
    pub fn can_see(&self, inbox: InboxId) -> bool {
        self.all_inboxes || self.inboxes.contains(&inbox)
    }

    /// Whether every contact is visible; otherwise only those with a conversation in an inbox of
    /// the scope.
    pub fn sees_all_contacts(&self) -> bool {
        self.all_inboxes || self.all_contacts
    }

    /// A scope that sees every inbox of a workspace (system work: the CLI, workers).
    pub fn system(workspace: WorkspaceId, user: UserId) -> Self {
        Self {
            workspace,
            user,
            all_inboxes: true,
            inboxes: Vec::new(),
            all_contacts: true,
        }
    }

    /// The system scope of Parley itself (workers, automations, webhooks): every inbox, as nobody.
    pub fn parley(workspace: WorkspaceId) -> Self {
        Self::system(workspace, UserId(uuid::Uuid::nil()))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceRow {
    pub id: WorkspaceId,
    pub name: String,
    pub timezone: String,
    /// The workspace's own rules (`compliance`, …) as the admin set them; `{}` by default.
    #[serde(skip)]
    pub settings: serde_json::Value,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    /// A bot: it works through an API token, never signs in, and its replies are the bot's.
    pub bot: bool,
}

#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub bot: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// One entry of the access-change log: a user whose sessions, tokens, role or inboxes changed, so
/// that every server checks that user's open sockets again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessChange {
    pub id: i64,
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub id: TokenId,
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    pub workspace_id: WorkspaceId,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamView {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
    pub created_at: Timestamp,
}

/// A named group of contacts (VIPs, a newsletter's subscribers, a campaign's audience).
#[derive(Debug, Clone, Serialize)]
pub struct ListView {
    pub id: ListId,
    pub name: String,
    /// How many contacts are on it.
    pub size: u64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewInbox {
    pub name: String,
    /// The channel kind (`api`, later `twilio`, `whatsapp`, …).
    pub kind: String,
    /// Channel settings (for `api`: `callback_url`).
    pub settings: serde_json::Value,
    /// The secret that signs webhooks both ways.
    pub secret: String,
}

#[derive(Debug, Clone, Default)]
pub struct InboxPatch {
    pub name: Option<String>,
    pub settings: Option<serde_json::Value>,
    /// A new signing secret (a rotated provider secret such as Twilio's auth token).
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InboxRow {
    pub id: InboxId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub kind: String,
    pub settings: serde_json::Value,
    #[serde(skip)]
    pub secret: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdentityView {
    pub id: IdentityId,
    pub kind: IdentityKind,
    pub inbox_id: Option<InboxId>,
    pub external_id: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub kind: IdentityKind,
    pub inbox_id: Option<InboxId>,
    pub external_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub identities: Vec<NewIdentity>,
}

/// Fields to change; `Some(None)` clears a field.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    /// Merged into the existing fields; a `null` value removes a field.
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
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

/// A customer's message as a channel reported it.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub inbox_id: InboxId,
    pub identity_kind: IdentityKind,
    /// The provider's id for the person.
    pub sender_external_id: String,
    pub sender_name: Option<String>,
    pub sender_email: Option<String>,
    pub sender_phone: Option<String>,
    /// The provider's id for the message; a second delivery with the same id is stored once.
    pub external_id: Option<String>,
    pub body: String,
    pub at: Timestamp,
    /// The conversation the channel says this continues (an email's reply address or
    /// `In-Reply-To`), used when it is in the same inbox; otherwise the contact's conversation.
    pub thread: Option<ConversationId>,
    /// Stored with the message (see `MessageView::meta`).
    pub meta: Option<serde_json::Value>,
    /// What the text asks of the sender's consent; the ledger entries it changes are written in
    /// the message's transaction (`plan::keywords`). `None` for an ordinary message.
    pub keyword: Option<KeywordIntent>,
    /// The rating the server read from the text, as an answer to a survey sent in the sender's
    /// conversation. `None` for an ordinary message.
    pub survey: Option<SurveyReply>,
}

/// A customer's reply that rates the survey sent in `conversation` at `sent_at`. When that survey
/// has no answer yet, the message is stored as its answer (a `survey.answered` event with `data`
/// and the message's id) in the message's transaction, and leaves the conversation as it was (no
/// reopening, no waiting); when it has one (or the message lands in another conversation), the
/// message is an ordinary one.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyReply {
    pub conversation: ConversationId,
    pub sent_at: Timestamp,
    pub data: serde_json::Value,
}

/// A phone system's notification of a customer's call to an inbox.
#[derive(Debug, Clone)]
pub struct InboundCall {
    pub inbox_id: InboxId,
    /// The identity the caller is known by in the inbox (a phone number's for an SMS number).
    pub identity_kind: IdentityKind,
    /// The caller's number (E.164): the identity's id, and the contact's phone when they are new.
    pub from: String,
    /// The provider's id for the call; a second notification with the same id is stored once.
    pub external_id: Option<String>,
    pub at: Timestamp,
    /// The `call` event's own fields (answered, duration); the conversation is added.
    pub data: serde_json::Value,
}

impl InboundCall {
    /// The call as a message with no text, to find or create its sender and conversation the way
    /// a customer's message does.
    pub fn as_message(&self) -> InboundMessage {
        InboundMessage {
            inbox_id: self.inbox_id,
            identity_kind: self.identity_kind,
            sender_external_id: self.from.clone(),
            sender_name: None,
            sender_email: None,
            sender_phone: Some(self.from.clone()),
            external_id: None,
            body: String::new(),
            at: self.at,
            thread: None,
            meta: None,
            keyword: None,
            survey: None,
        }
    }
}

/// Where a call was recorded; `None`s for a duplicate notification.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    pub duplicate: bool,
    pub conversation_id: Option<ConversationId>,
    pub contact_id: Option<ContactId>,
}

impl CallOutcome {
    pub fn duplicate() -> Self {
        Self {
            duplicate: true,
            conversation_id: None,
            contact_id: None,
        }
    }
}

/// A compliance keyword in a customer's message, recognised by the server from the text and the
/// workspace's own words before the message is stored. Channel-neutral: the channel is the consent
/// channel it came on.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordIntent {
    pub keyword: Keyword,
    /// The consent channel the message came on (`sms` for a Twilio number).
    pub channel: String,
    /// A revocation applies on every channel, not only this one (the workspace's
    /// `cross_channel_revocation` names it).
    pub everywhere: bool,
    /// When the ledger entries are recorded.
    pub at: Timestamp,
}

/// What a customer's keyword means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// STOP, or a clear revocation in words ("stop texting me").
    OptOut,
    /// START.
    OptIn,
    /// Words that probably revoke ("I want to cancel"): business-initiated messages stop until an
    /// agent reviews it; answers in the conversation still go.
    ProbableOptOut,
    /// HELP: answered by the server, nothing recorded.
    Help,
    /// The double opt-in keyword: confirms the subscriptions pending on this channel.
    Confirm,
}

#[derive(Debug, Clone)]
pub struct InboundOutcome {
    pub duplicate: bool,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    /// The ledger entries the message's keyword recorded, in its transaction: empty when it
    /// changed nothing (no keyword, a state already so, or a duplicate).
    pub consent: Vec<ConsentEvent>,
    /// The message was stored as the answer to its conversation's survey (`SurveyReply`).
    pub survey_answered: bool,
    /// The message reopened its resolved or snoozed conversation.
    pub reopened: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageView {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub inbox_id: InboxId,
    pub direction: Direction,
    pub sender_kind: SenderKind,
    /// The agent's user id or the contact's id.
    pub sender_id: Option<uuid::Uuid>,
    pub body: String,
    pub external_id: Option<String>,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub created_at: Timestamp,
    /// What the channel gave beyond the text (an email's subject, Message-ID and sanitised HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NoteView {
    pub id: uuid::Uuid,
    pub conversation_id: ConversationId,
    pub author_id: UserId,
    pub body: String,
    pub mentions: Vec<UserId>,
    pub created_at: Timestamp,
}

/// One committed event: a timeline entry (`message.created`, `note.created`,
/// `conversation.updated`) or a delivery update (`message.updated`). `data` is its JSON payload.
#[derive(Debug, Clone)]
pub struct Published {
    pub seq: i64,
    pub workspace_id: WorkspaceId,
    pub inbox_id: InboxId,
    pub conversation_id: Option<ConversationId>,
    pub kind: String,
    pub at: Timestamp,
    pub data: String,
}

/// The kinds of event shown on a conversation's timeline.
pub const TIMELINE_KINDS: [&str; 5] = [
    "message.created",
    "note.created",
    "conversation.updated",
    "consent.changed",
    "survey.answered",
];

/// A timeline entry with the current delivery status of its message, if it has one.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub event: Published,
    pub delivery: Option<(DeliveryStatus, Option<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Anyone,
    Nobody,
    User(UserId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Longest waiting first; conversations nobody waits on last.
    Waiting,
    /// Newest activity first.
    Activity,
    /// Urgent first, then longest waiting.
    Priority,
}

#[derive(Debug, Clone)]
pub struct ConversationQuery {
    /// Empty means any status.
    pub statuses: Vec<Status>,
    pub assignee: AssigneeFilter,
    pub inbox: Option<InboxId>,
    pub team: Option<TeamId>,
    pub label: Option<String>,
    pub priority: Option<Priority>,
    pub contact: Option<ContactId>,
    pub sort: Sort,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

impl Default for ConversationQuery {
    fn default() -> Self {
        Self {
            statuses: Vec::new(),
            assignee: AssigneeFilter::Anyone,
            inbox: None,
            team: None,
            label: None,
            priority: None,
            contact: None,
            sort: Sort::Waiting,
            cursor: None,
            limit: 25,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
}

/// An agent's command on a conversation.
#[derive(Debug, Clone)]
pub enum Command {
    Reply {
        body: String,
        /// What the reply offers beyond its text (choices, a template), for the adapters.
        meta: Option<serde_json::Value>,
    },
    /// A bot user's reply: from `bot`, it answers the customer as an agent's does.
    BotReply {
        body: String,
        meta: Option<serde_json::Value>,
    },
    /// A message the workspace sends by itself (a satisfaction survey): from `automation`, it
    /// answers nobody and leaves the conversation as it is.
    Automated {
        body: String,
        meta: Option<serde_json::Value>,
    },
    Note {
        body: String,
        mentions: Vec<UserId>,
    },
    SetStatus {
        to: Status,
        snoozed_until: Option<Timestamp>,
    },
    /// `None` for both unassigns.
    Assign {
        assignee: Option<UserId>,
        team: Option<TeamId>,
    },
    SetPriority(Priority),
    Labels {
        add: Vec<String>,
        remove: Vec<String>,
    },
    /// A command an automation rule or a macro gives: the same command, its event (or its
    /// message's meta) carrying who gave it (`"rule": {"id", "name"}`).
    Attributed {
        by: Attribution,
        cmd: Box<Command>,
    },
}

/// What gave a command besides the actor: a rule or a macro, named as it was then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribution {
    Rule {
        id: parley_core::RuleId,
        name: String,
    },
    Macro {
        id: parley_core::MacroId,
        name: String,
    },
}

impl Attribution {
    /// The key and value an attributed event's payload (or message meta) carries.
    pub fn entry(&self) -> (&'static str, serde_json::Value) {
        match self {
            Attribution::Rule { id, name } => {
                ("rule", serde_json::json!({ "id": id, "name": name }))
            }
            Attribution::Macro { id, name } => {
                ("macro", serde_json::json!({ "id": id, "name": name }))
            }
        }
    }

    /// Adds the attribution to a JSON object.
    pub fn mark(&self, v: &mut serde_json::Value) {
        if let Some(m) = v.as_object_mut() {
            let (k, val) = self.entry();
            m.insert(k.into(), val);
        }
    }
}

#[derive(Debug, Clone)]
pub struct ActOutcome {
    pub conversation: ConversationView,
    pub message: Option<MessageView>,
    pub note: Option<NoteView>,
    pub events: Vec<Published>,
}

/// A delivery claimed by a dispatcher.
#[derive(Debug, Clone)]
pub struct OutboxJob {
    pub id: OutboxId,
    pub attempts: u32,
    pub inbox: InboxRow,
    pub message: MessageView,
    pub contact_id: ContactId,
    pub identity: IdentityView,
}

/// An inbox's share of the outbox: what waits, what a dispatcher is sending now, and since when
/// the oldest waiting delivery has been due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxBacklog {
    pub inbox_id: InboxId,
    /// Deliveries waiting to be claimed (due now or later).
    pub queued: u64,
    /// Deliveries claimed under a live lease: being sent.
    pub in_flight: u64,
    /// The earliest due time among the waiting deliveries.
    pub oldest_due: Option<Timestamp>,
}

/// A Parley process serving the database, as its heartbeat last recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    /// Drawn afresh by each process at start.
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub started_at: Timestamp,
    pub seen_at: Timestamp,
}

/// A provider's report on a message we sent, found by the id the provider gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub inbox: InboxId,
    pub provider_id: String,
    pub status: DeliveryStatus,
    /// The provider's reason, for failures.
    pub error: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub enum OutboxResult {
    Sent {
        provider_id: Option<String>,
    },
    /// Not attempted (its sender's rate limit has no slot yet): claimable again at `at`, with
    /// no attempt counted and nothing on the message changed.
    Defer {
        at: Timestamp,
    },
    Retry {
        at: Timestamp,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// A grant or revocation of consent, as recorded.
#[derive(Debug, Clone)]
pub struct NewConsent {
    pub contact: ContactId,
    pub purpose: parley_core::consent::Purpose,
    pub action: parley_core::consent::Action,
    /// How it was given or taken back: `keyword`, `carrier`, `web_form`, `api`, `agent`, …
    pub source: String,
    /// The channel it applies to (`sms`, …); `None`: every channel.
    pub channel: Option<String>,
    /// What proves it: the message, the form payload, the user who recorded it.
    pub evidence: serde_json::Value,
    pub at: Timestamp,
    /// The contact's conversation whose timeline shows the change (`consent.changed`), written
    /// in the same transaction; ignored when it is not this contact's.
    pub conversation: Option<ConversationId>,
}

/// An entry of the consent ledger.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConsentEvent {
    pub id: uuid::Uuid,
    pub contact_id: ContactId,
    pub purpose: parley_core::consent::Purpose,
    pub action: parley_core::consent::Action,
    pub source: String,
    pub channel: Option<String>,
    pub evidence: serde_json::Value,
    pub at: Timestamp,
}

/// What the compliance gate needs to know about a contact before every message, read together.
#[derive(Debug, Clone)]
pub struct ConsentContext {
    pub ledger: Vec<ConsentEvent>,
    pub phone: Option<String>,
    /// Their own IANA time zone (the `timezone` custom field), when set.
    pub timezone: Option<String>,
    /// The contact was erased: nothing may be sent to them.
    pub erased: bool,
}

/// A contact with a phone number who has not written for a while.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InactiveContact {
    pub id: ContactId,
    pub name: Option<String>,
    pub phone: String,
    /// `None`: never wrote.
    pub last_inbound_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// How many conversations each view of the inbox holds, among those the scope may see.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ConversationCounts {
    /// Open and assigned to the scope's user.
    pub mine: u64,
    /// Open and assigned to nobody.
    pub unassigned: u64,
    /// By status (`open`, `pending`, `snoozed`, `resolved`; absent: none).
    pub statuses: std::collections::BTreeMap<String, u64>,
    /// Open ones by inbox id, team id and label.
    pub inboxes: std::collections::BTreeMap<String, u64>,
    pub teams: std::collections::BTreeMap<String, u64>,
    pub labels: std::collections::BTreeMap<String, u64>,
}

/// The files a message lists, for re-sealing them under a new key.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageFiles {
    pub message: MessageId,
    pub workspace: WorkspaceId,
    pub inbox: InboxId,
    pub files: Vec<String>,
}

/// What erasing a contact removed and kept.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Erasure {
    pub contact_id: ContactId,
    pub erased_at: Timestamp,
    /// The contact had already been erased (at `erased_at`); nothing changed.
    pub repeated: bool,
    /// Conversations kept on the timeline, anonymised.
    pub conversations: u64,
    /// Messages and notes whose content was removed.
    pub messages: u64,
    /// Addresses (phone numbers, emails, channel ids) removed.
    pub identities: u64,
    /// Revocations kept (with their evidence removed) and turned into suppressions.
    pub revocations_kept: u64,
    /// Queued replies that will not be sent.
    pub cancelled: u64,
    /// The files the messages listed, for the blob store: (inbox, attachment id).
    #[serde(skip)]
    pub attachments: Vec<(InboxId, String)>,
}

/// A message whose content retention removed, with the files its meta listed (for the blob store).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiredMessage {
    pub id: MessageId,
    pub inbox_id: InboxId,
    pub attachments: Vec<String>,
}

/// An outbound message that starts (or continues) a contact's conversation in an inbox.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub inbox: InboxId,
    pub contact: ContactId,
    /// The agent who sends it; `None`: Parley itself (a HELP answer, a confirmation).
    pub sender: Option<UserId>,
    pub body: String,
    pub meta: Option<serde_json::Value>,
}

impl NewConsent {
    /// The ledger entry it becomes under the store's `id`.
    pub fn recorded(self, id: uuid::Uuid) -> ConsentEvent {
        ConsentEvent {
            id,
            contact_id: self.contact,
            purpose: self.purpose,
            action: self.action,
            source: self.source,
            channel: self.channel,
            evidence: self.evidence,
            at: self.at,
        }
    }
}

impl ConsentEvent {
    pub fn entry(&self) -> parley_core::consent::Entry {
        parley_core::consent::Entry {
            purpose: self.purpose,
            action: self.action,
            channel: self.channel.clone(),
            source: self.source.clone(),
            at: self.at,
        }
    }
}

/// How fast and how full an inbox is (`Pace::inbox_pace`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxPace {
    /// First-response times in the window asked for, in milliseconds, in no particular order.
    pub first_responses_ms: Vec<i64>,
    /// The open conversations that wait for an answer.
    pub waiting: Vec<Waiting>,
}

/// An open conversation waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub since: Timestamp,
    /// Nobody is assigned to it.
    pub unassigned: bool,
}

/// A saved text with merge fields, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRow {
    pub id: TemplateId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// What an agent types after `/`: lower case, unique in the workspace.
    pub shortcut: String,
    pub body: String,
    /// The channel kinds (`sms`, `whatsapp`, …) it may be used on; empty: every channel.
    pub channels: Vec<String>,
    /// How often it was used, and when last.
    pub uses: u64,
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An automation rule as stored, with how often and when it last fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRow {
    #[serde(flatten)]
    pub rule: parley_core::automation::Rule,
    pub fired: i64,
    pub last_fired_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A template's fields as an admin writes them (already checked by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTemplate {
    pub name: String,
    pub shortcut: String,
    pub body: String,
    pub channels: Vec<String>,
}

/// A rule's firing that sent automatic messages in a conversation (the storm guard's input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSend {
    pub rule_id: parley_core::RuleId,
    pub at: Timestamp,
    pub messages: u32,
}

/// A macro: a named, ordered list of actions an agent runs on a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MacroRow {
    pub id: parley_core::MacroId,
    pub name: String,
    pub actions: Vec<parley_core::automation::Action>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
