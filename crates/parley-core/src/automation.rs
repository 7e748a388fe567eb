//! Automation rules: a trigger, conditions and actions, as admins write them and the API carries
//! them. The evaluator (which rules fire for an event, under the loop and storm guards) is pure:
//! the caller passes the conversation's facts and the guard state in.

use serde::{Deserialize, Serialize};

use crate::consent::Purpose;
use crate::conversation::{Priority, Status};
use crate::ids::{InboxId, ListId, RuleId, TeamId, TemplateId, UserId};

/// What makes a rule look at a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// The first message of a contact started a conversation.
    ConversationCreated,
    /// Any customer message.
    MessageReceived,
    /// A customer message holding one of these words or phrases (case-insensitive, whole words).
    Keyword {
        keywords: Vec<String>,
    },
    /// A customer message matching a regular expression.
    Pattern {
        pattern: String,
    },
    Resolved,
    Reopened,
    AssignmentChanged,
    /// A label was added (`None`: any label).
    LabelAdded {
        #[serde(default)]
        label: Option<String>,
    },
    /// A phone system posted a call to `POST /hooks/call/{inbox}` (`None`: answered or missed).
    Call {
        #[serde(default)]
        answered: Option<bool>,
    },
    /// The customer has not written for this long since our last message.
    NoCustomerReply {
        after_secs: u32,
    },
    /// Nobody of the business answered for this long since the customer's message.
    NoAgentReply {
        after_secs: u32,
    },
    /// Nothing happened in the conversation for this long.
    Idle {
        after_secs: u32,
    },
    /// This long after the conversation was resolved.
    AfterResolve {
        after_secs: u32,
    },
    /// Every day at this local time (`HH:MM`) in the workspace's zone, for open conversations.
    TimeOfDay {
        at: String,
    },
}

/// How the conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Match {
    #[default]
    All,
    Any,
}

/// The conditions of a rule; none means always.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default, rename = "match")]
    pub mode: Match,
    #[serde(default)]
    pub items: Vec<Condition>,
}

/// How a contact field is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldOp {
    Eq,
    Ne,
    Contains,
    Present,
    Absent,
}

/// How a message's text is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TextOp {
    Contains,
    Matches,
}

/// Who a conversation is assigned to, as a condition asks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssigneeIs {
    Unassigned,
    Assigned,
    #[serde(untagged)]
    User(UserId),
}

/// One test on the conversation, its contact or the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    Inbox {
        r#in: Vec<InboxId>,
    },
    /// By channel kind (`sms`, `whatsapp`, `email`, …).
    Channel {
        r#in: Vec<String>,
    },
    ContactField {
        key: String,
        op: FieldOp,
        #[serde(default)]
        value: Option<String>,
    },
    OnList {
        list_id: ListId,
        is: bool,
    },
    Label {
        label: String,
        is: bool,
    },
    Priority {
        r#in: Vec<Priority>,
    },
    Status {
        r#in: Vec<Status>,
    },
    Assignee {
        is: AssigneeIs,
    },
    Team {
        r#in: Vec<TeamId>,
    },
    /// Within (`true`) or outside (`false`) the business hours that hold for the conversation.
    BusinessHours {
        open: bool,
    },
    Consent {
        purpose: Purpose,
        granted: bool,
    },
    MessageText {
        op: TextOp,
        value: String,
    },
}

/// What a rule (or a macro) does to a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    SendTemplate {
        template_id: TemplateId,
    },
    SendSurvey,
    AddToList {
        list_id: ListId,
    },
    RemoveFromList {
        list_id: ListId,
    },
    AddLabels {
        labels: Vec<String>,
    },
    RemoveLabels {
        labels: Vec<String>,
    },
    SetPriority {
        priority: Priority,
    },
    /// To an agent, a team, both, or (both `None`) nobody.
    Assign {
        #[serde(default)]
        user_id: Option<UserId>,
        #[serde(default)]
        team_id: Option<TeamId>,
    },
    Note {
        body: String,
    },
    Snooze {
        for_secs: u32,
    },
    Resolve,
    Reopen,
    /// POSTs the event to a URL, signed like the API channel, retried until it is accepted.
    Webhook {
        url: String,
    },
}

/// At most `max` automatic messages per conversation per `per_secs` from one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub max: u32,
    pub per_secs: u32,
}

/// A rule as an admin wrote it. `inbox_id` limits it to one inbox; `position` orders the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rule {
    pub id: RuleId,
    pub name: String,
    pub enabled: bool,
    pub position: i32,
    pub inbox_id: Option<InboxId>,
    pub trigger: Trigger,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
    pub limit: Option<Limit>,
}

/// How deep a chain of rules may go: a rule's action may set off other rules this many times over.
pub const MAX_DEPTH: u8 = 3;

mod check;
mod eval;
#[cfg(test)]
mod tests;
pub mod timed;

pub use check::{check_actions, check_macro, parse_hh_mm};
pub use eval::{
    evaluate, listens, might_fire_on_message, Cause, Event, Facts, Firing, Guard, Happening,
    HeldBack,
};

impl Action {
    /// Whether the action sends the customer a message (the storm and bot guards hold these back).
    pub fn sends_message(&self) -> bool {
        matches!(self, Action::SendTemplate { .. } | Action::SendSurvey)
    }
}

impl Trigger {
    /// Whether the trigger is time-based (fired from a timer, not from an event).
    pub fn is_timed(&self) -> bool {
        matches!(
            self,
            Trigger::NoCustomerReply { .. }
                | Trigger::NoAgentReply { .. }
                | Trigger::Idle { .. }
                | Trigger::AfterResolve { .. }
                | Trigger::TimeOfDay { .. }
        )
    }
}
