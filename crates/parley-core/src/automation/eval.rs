//! The evaluator: which rules fire for an event on a conversation, in rule order, under the loop
//! guard (a rule never reacts to a chain it is part of; chains stop past `MAX_DEPTH`), the storm
//! guard (per-rule message limits) and the bot guard (no automatic message to an automated sender).
//!
//! A rule that is over its limit, or that reacts to an automated sender, still runs its other
//! actions (labels, assignment, notes…): only its messages are held back, and reported as such.

use std::collections::BTreeMap;

use super::MAX_DEPTH;
use super::{check::compile, Action, AssigneeIs, Condition, FieldOp, Match, Rule, TextOp, Trigger};
use crate::consent::Purpose;
use crate::conversation::{Priority, Status};
use crate::ids::{InboxId, ListId, RuleId, TeamId, UserId};

/// What happened, as the rules' triggers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening<'a> {
    /// A customer's message (`created`: it started the conversation); its text is in the facts.
    Received {
        created: bool,
    },
    Resolved,
    Reopened,
    AssignmentChanged,
    LabelsAdded(&'a [String]),
    Call {
        answered: bool,
    },
    /// A time-based rule's timer fell due for the conversation (only that rule is asked).
    Due,
}

/// Which rules' actions caused the event: empty for a customer's or an agent's doing. Its length
/// is the chain's depth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    pub chain: Vec<RuleId>,
}

impl Cause {
    pub fn depth(&self) -> usize {
        self.chain.len()
    }

    /// The cause of what `rule`'s actions do in reaction to an event with this cause.
    pub fn then(&self, rule: RuleId) -> Cause {
        let mut chain = self.chain.clone();
        chain.push(rule);
        Cause { chain }
    }
}

/// An event the rules look at.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub happening: Happening<'a>,
    pub cause: Cause,
    /// The message came from an automated sender (an autoresponder, another bot).
    pub automated_sender: bool,
}

/// The conversation as the conditions see it, assembled once per event by the caller.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub inbox: InboxId,
    /// The inbox's channel kind (`sms`, `whatsapp`, `email`, …).
    pub channel: &'a str,
    pub contact_fields: &'a serde_json::Map<String, serde_json::Value>,
    pub lists: &'a [ListId],
    pub labels: &'a [String],
    pub priority: Priority,
    pub status: Status,
    pub assignee: Option<UserId>,
    pub team: Option<TeamId>,
    /// Within the business hours that hold for the conversation (always, when none are set).
    pub open_now: bool,
    /// The purposes the contact has granted consent for, on this channel.
    pub consented: &'a [Purpose],
    /// The customer's message's text, for a message event.
    pub text: Option<&'a str>,
}

/// The storm guard's state: per rule, the automatic messages it sent in this conversation within
/// its limit's period.
pub type Guard = BTreeMap<RuleId, u32>;

/// An action a rule would take but may not, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub action: Action,
    /// `limit` (the rule's message limit is reached) or `automated_sender`.
    pub reason: &'static str,
}

/// A rule that fires, with the actions to take in order and those held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub rule: RuleId,
    pub actions: Vec<Action>,
    pub held_back: Vec<HeldBack>,
}

/// Whether any rule might fire for a customer's message in `inbox` saying `text`, judged on the
/// triggers alone (a conversation-created trigger counts as matching): when none can, the caller
/// reads no facts at all. Keyword and pattern rules that do not match cost one scan of the text.
pub fn might_fire_on_message(rules: &[Rule], inbox: InboxId, text: &str) -> bool {
    let lower = text.to_lowercase();
    let empty = serde_json::Map::new();
    let facts = Facts {
        inbox,
        channel: "",
        contact_fields: &empty,
        lists: &[],
        labels: &[],
        priority: Priority::Normal,
        status: Status::Open,
        assignee: None,
        team: None,
        open_now: true,
        consented: &[],
        text: Some(text),
    };
    let event = Event {
        happening: Happening::Received { created: true },
        cause: Cause::default(),
        automated_sender: false,
    };
    rules
        .iter()
        .filter(|r| r.enabled && r.inbox_id.is_none_or(|i| i == inbox))
        .any(|r| triggered(&r.trigger, &event, &facts, &lower))
}

/// The rules (in order) that fire for `event` on the conversation `facts` describe. Disabled
/// rules, another inbox's rules fire not; a time-based rule fires only on `Happening::Due`.
pub fn evaluate(rules: &[Rule], event: &Event, facts: &Facts, guard: &Guard) -> Vec<Firing> {
    if event.cause.depth() > usize::from(MAX_DEPTH) {
        return Vec::new();
    }
    // The text is lowercased once for every keyword of every rule.
    let lower = facts.text.map(str::to_lowercase).unwrap_or_default();
    let mut ordered: Vec<&Rule> = rules.iter().collect();
    ordered.sort_by_key(|r| r.position);
    ordered
        .into_iter()
        .filter(|r| r.enabled && r.inbox_id.is_none_or(|i| i == facts.inbox))
        .filter(|r| !event.cause.chain.contains(&r.id))
        .filter(|r| triggered(&r.trigger, event, facts, &lower) && conditions_hold(r, facts))
        .map(|r| guarded(r, event, guard))
        .collect()
}

/// The rule's actions with its messages held back by the guards (a firing may hold back all of
/// them: the caller shows why nothing was done).
fn guarded(rule: &Rule, event: &Event, guard: &Guard) -> Firing {
    let sent = guard.get(&rule.id).copied().unwrap_or(0);
    let mut allowed = rule.limit.map_or(u32::MAX, |l| l.max.saturating_sub(sent));
    let (mut actions, mut held_back) = (Vec::new(), Vec::new());
    for a in &rule.actions {
        if !a.sends_message() {
            actions.push(a.clone());
        } else if event.automated_sender {
            held_back.push(HeldBack {
                action: a.clone(),
                reason: "automated_sender",
            });
        } else if allowed == 0 {
            held_back.push(HeldBack {
                action: a.clone(),
                reason: "limit",
            });
        } else {
            allowed -= 1;
            actions.push(a.clone());
        }
    }
    Firing {
        rule: rule.id,
        actions,
        held_back,
    }
}

/// Whether the trigger fires for the event; `lower` is the message's text lowercased.
fn triggered(t: &Trigger, event: &Event, facts: &Facts, lower: &str) -> bool {
    let text = facts.text.unwrap_or("");
    match (t, event.happening) {
        (Trigger::ConversationCreated, Happening::Received { created }) => created,
        (Trigger::MessageReceived, Happening::Received { .. }) => true,
        (Trigger::Keyword { keywords }, Happening::Received { .. }) => keywords
            .iter()
            .any(|k| words_in_lowercase(lower, &k.to_lowercase())),
        (Trigger::Pattern { pattern }, Happening::Received { .. }) => {
            compile(pattern).is_ok_and(|re| re.is_match(text))
        }
        (Trigger::Resolved, Happening::Resolved)
        | (Trigger::Reopened, Happening::Reopened)
        | (Trigger::AssignmentChanged, Happening::AssignmentChanged) => true,
        (Trigger::LabelAdded { label }, Happening::LabelsAdded(added)) => label
            .as_ref()
            .map_or(!added.is_empty(), |l| added.contains(l)),
        (Trigger::Call { answered }, Happening::Call { answered: a }) => {
            answered.is_none_or(|want| want == a)
        }
        (t, Happening::Due) => t.is_timed(),
        _ => false,
    }
}

/// Whether `text` holds `phrase` as whole words, ignoring case.
#[cfg(test)]
pub(super) fn has_words(text: &str, phrase: &str) -> bool {
    words_in_lowercase(&text.to_lowercase(), &phrase.to_lowercase())
}

/// `has_words` on text and phrase already lowercased.
fn words_in_lowercase(text: &str, phrase: &str) -> bool {
    let phrase = phrase.trim();
    if phrase.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric();
    text.match_indices(phrase).any(|(i, m)| {
        let before = text[..i].chars().next_back();
        let after = text[i + m.len()..].chars().next();
        let starts = !phrase.starts_with(is_word) || !before.is_some_and(is_word);
        let ends = !phrase.ends_with(is_word) || !after.is_some_and(is_word);
        starts && ends
    })
}

fn conditions_hold(rule: &Rule, facts: &Facts) -> bool {
    let mut each = rule.conditions.items.iter().map(|c| holds(c, facts));
    match rule.conditions.mode {
        Match::All => each.all(|b| b),
        Match::Any => rule.conditions.items.is_empty() || each.any(|b| b),
    }
}

fn holds(c: &Condition, f: &Facts) -> bool {
    match c {
        Condition::Inbox { r#in } => r#in.contains(&f.inbox),
        Condition::Channel { r#in } => r#in.iter().any(|k| k.eq_ignore_ascii_case(f.channel)),
        Condition::ContactField { key, op, value } => field_holds(f, key, *op, value.as_deref()),
        Condition::OnList { list_id, is } => f.lists.contains(list_id) == *is,
        Condition::Label { label, is } => f.labels.iter().any(|l| l == label) == *is,
        Condition::Priority { r#in } => r#in.contains(&f.priority),
        Condition::Status { r#in } => r#in.contains(&f.status),
        Condition::Assignee { is } => match is {
            AssigneeIs::Unassigned => f.assignee.is_none(),
            AssigneeIs::Assigned => f.assignee.is_some(),
            AssigneeIs::User(u) => f.assignee == Some(*u),
        },
        Condition::Team { r#in } => f.team.is_some_and(|t| r#in.contains(&t)),
        Condition::BusinessHours { open } => f.open_now == *open,
        Condition::Consent { purpose, granted } => f.consented.contains(purpose) == *granted,
        Condition::MessageText { op, value } => {
            let text = f.text.unwrap_or("");
            match op {
                TextOp::Contains => text.to_lowercase().contains(&value.to_lowercase()),
                TextOp::Matches => compile(value).is_ok_and(|re| re.is_match(text)),
            }
        }
    }
}

fn field_holds(f: &Facts, key: &str, op: FieldOp, want: Option<&str>) -> bool {
    let have = f.contact_fields.get(key).and_then(|v| match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s.is_empty() => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    });
    let want = want.unwrap_or("");
    match op {
        FieldOp::Present => have.is_some(),
        FieldOp::Absent => have.is_none(),
        FieldOp::Eq => have.is_some_and(|h| h.eq_ignore_ascii_case(want)),
        FieldOp::Ne => !have.is_some_and(|h| h.eq_ignore_ascii_case(want)),
        FieldOp::Contains => have.is_some_and(|h| h.to_lowercase().contains(&want.to_lowercase())),
    }
}

/// Whether a trigger reacts to this kind of happening at all: the caller reads a conversation's
/// facts only when some enabled rule listens.
pub fn listens(t: &Trigger, h: &Happening) -> bool {
    matches!(
        (t, h),
        (
            Trigger::ConversationCreated
                | Trigger::MessageReceived
                | Trigger::Keyword { .. }
                | Trigger::Pattern { .. },
            Happening::Received { .. }
        ) | (Trigger::Resolved, Happening::Resolved)
            | (Trigger::Reopened, Happening::Reopened)
            | (Trigger::AssignmentChanged, Happening::AssignmentChanged)
            | (Trigger::LabelAdded { .. }, Happening::LabelsAdded(_))
            | (Trigger::Call { .. }, Happening::Call { .. })
    ) || (t.is_timed() && *h == Happening::Due)
}
