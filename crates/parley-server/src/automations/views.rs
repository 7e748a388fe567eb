//! What the automations API reads and answers.

use parley_core::automation::{Action, Conditions, Limit, Rule, Trigger};
use parley_core::{ConversationId, InboxId, RuleId, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A rule as the API shows it: the rule itself, with how often and when it last fired.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleView {
    #[serde(flatten)]
    pub rule: Rule,
    pub fired: i64,
    pub last_fired_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<parley_store::RuleRow> for RuleView {
    fn from(r: parley_store::RuleRow) -> Self {
        Self {
            rule: r.rule,
            fired: r.fired,
            last_fired_at: r.last_fired_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn yes() -> bool {
    true
}

/// A rule as an admin writes it. What the API answered besides (`id`, `position`, `fired`, …)
/// may be sent back and is ignored: `PUT` replaces the rule, the order has its own call.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RuleRequest {
    pub name: String,
    /// On (the default) or off.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Only this inbox's conversations; none: every inbox.
    #[serde(default)]
    pub inbox_id: Option<InboxId>,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Conditions,
    pub actions: Vec<Action>,
    /// At most `max` automatic messages per conversation per `per_secs` from this rule.
    #[serde(default)]
    pub limit: Option<Limit>,
}

impl RuleRequest {
    /// The rule this request describes, under `id`, checked.
    pub fn rule(self, id: RuleId) -> Result<Rule, parley_core::Invalid> {
        Rule {
            id,
            name: self.name,
            enabled: self.enabled,
            position: 0,
            inbox_id: self.inbox_id,
            trigger: self.trigger,
            conditions: self.conditions,
            actions: self.actions,
            limit: self.limit,
        }
        .check()
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Every rule's id, in the order they are to run.
    pub ids: Vec<RuleId>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    pub enabled: bool,
}

/// An action a guard would hold back, and why (`limit`, `automated_sender`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct HeldBackView {
    pub action: Action,
    pub reason: &'static str,
}

/// A conversation the rule would fire on, and what it would do there.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DryRunMatch {
    pub conversation_id: ConversationId,
    pub contact_name: Option<String>,
    pub actions: Vec<Action>,
    pub held_back: Vec<HeldBackView>,
}

/// What a rule would have done on the last conversations; nothing was applied.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DryRunView {
    /// How many conversations were looked at, the most recently active first.
    pub checked: usize,
    pub matches: Vec<DryRunMatch>,
}
