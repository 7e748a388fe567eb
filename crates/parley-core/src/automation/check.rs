//! Checking a rule (or a macro's actions) as an admin gives it: each refusal names the field, so
//! the rule builder can point at it.

use super::{Action, Condition, Conditions, Rule, TextOp, Trigger};
use crate::Invalid;

/// The longest rule name.
pub const MAX_NAME_CHARS: usize = 100;
/// The most actions, conditions or keywords one rule holds.
pub const MAX_ITEMS: usize = 50;
/// The longest pattern a rule may hold (they are compiled on every evaluation).
const MAX_PATTERN_CHARS: usize = 500;

/// Compiles a rule's pattern the way the evaluator does: case-insensitive, size-limited.
pub(super) fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

impl Rule {
    /// Checks and normalises the rule: trims the name and keywords, lowercases labels.
    pub fn check(mut self) -> Result<Rule, Invalid> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > MAX_NAME_CHARS {
            return Err(Invalid::new("name", "a name is 1 to 100 characters"));
        }
        self.trigger = self.trigger.check()?;
        self.conditions = self.conditions.check()?;
        if self.actions.is_empty() {
            return Err(Invalid::new("actions", "a rule needs at least one action"));
        }
        self.actions = check_actions(self.actions)?;
        if let Some(l) = self.limit {
            if l.max == 0 || l.per_secs == 0 {
                return Err(Invalid::new(
                    "limit",
                    "max and per_secs must be greater than 0",
                ));
            }
        }
        Ok(self)
    }
}

impl Trigger {
    fn check(self) -> Result<Trigger, Invalid> {
        Ok(match self {
            Trigger::Keyword { keywords } => {
                let keywords: Vec<String> = keywords
                    .iter()
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect();
                if keywords.is_empty() || keywords.len() > MAX_ITEMS {
                    return Err(Invalid::new(
                        "trigger.keywords",
                        "give 1 to 50 keywords, none empty",
                    ));
                }
                Trigger::Keyword { keywords }
            }
            Trigger::Pattern { pattern } => {
                check_pattern("trigger.pattern", &pattern)?;
                Trigger::Pattern { pattern }
            }
            Trigger::LabelAdded { label: Some(l) } => Trigger::LabelAdded {
                label: Some(
                    crate::conversation::parse_label(&l)
                        .map_err(|e| Invalid::new("trigger.label", e.reason))?,
                ),
            },
            Trigger::NoCustomerReply { after_secs }
            | Trigger::NoAgentReply { after_secs }
            | Trigger::Idle { after_secs }
            | Trigger::AfterResolve { after_secs }
                if after_secs == 0 =>
            {
                return Err(Invalid::new(
                    "trigger.after_secs",
                    "after_secs must be greater than 0",
                ))
            }
            Trigger::TimeOfDay { at } => {
                parse_hh_mm(&at).ok_or_else(|| {
                    Invalid::new("trigger.at", "a time of day is HH:MM, 00:00 to 23:59")
                })?;
                Trigger::TimeOfDay { at }
            }
            other => other,
        })
    }
}

/// `HH:MM` as (hour, minute).
pub fn parse_hh_mm(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn check_pattern(field: &'static str, pattern: &str) -> Result<(), Invalid> {
    if pattern.is_empty() || pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(Invalid::new(field, "a pattern is 1 to 500 characters"));
    }
    compile(pattern)
        .map(|_| ())
        .map_err(|e| Invalid::new(field, format!("not a valid pattern: {e}")))
}

impl Conditions {
    fn check(self) -> Result<Conditions, Invalid> {
        if self.items.len() > MAX_ITEMS {
            return Err(Invalid::new("conditions", "at most 50 conditions"));
        }
        for c in &self.items {
            match c {
                Condition::ContactField { key, op, value } => {
                    use super::FieldOp as F;
                    if key.trim().is_empty() {
                        return Err(Invalid::new("conditions.key", "name the contact field"));
                    }
                    if matches!(op, F::Eq | F::Ne | F::Contains) && value.is_none() {
                        return Err(Invalid::new(
                            "conditions.value",
                            "this comparison needs a value",
                        ));
                    }
                }
                Condition::Label { label, .. } => {
                    crate::conversation::parse_label(label)
                        .map_err(|e| Invalid::new("conditions.label", e.reason))?;
                }
                Condition::MessageText {
                    op: TextOp::Matches,
                    value,
                } => check_pattern("conditions.value", value)?,
                Condition::MessageText { value, .. } if value.trim().is_empty() => {
                    return Err(Invalid::new(
                        "conditions.value",
                        "give the text to look for",
                    ))
                }
                _ => {}
            }
        }
        Ok(self)
    }
}

/// Checks a list of actions (a rule's or a macro's) and normalises their labels.
pub fn check_actions(actions: Vec<Action>) -> Result<Vec<Action>, Invalid> {
    if actions.len() > MAX_ITEMS {
        return Err(Invalid::new("actions", "at most 50 actions"));
    }
    actions.into_iter().map(check_action).collect()
}

fn check_action(a: Action) -> Result<Action, Invalid> {
    let labels = |ls: Vec<String>| -> Result<Vec<String>, Invalid> {
        if ls.is_empty() {
            return Err(Invalid::new("actions.labels", "give at least one label"));
        }
        ls.iter()
            .map(|l| crate::conversation::parse_label(l))
            .collect::<Result<_, _>>()
            .map_err(|e| Invalid::new("actions.labels", e.reason))
    };
    Ok(match a {
        Action::AddLabels { labels: ls } => Action::AddLabels {
            labels: labels(ls)?,
        },
        Action::RemoveLabels { labels: ls } => Action::RemoveLabels {
            labels: labels(ls)?,
        },
        Action::Note { body } => {
            let body = crate::message::parse_body("actions.body", &body)?;
            Action::Note { body }
        }
        Action::Snooze { for_secs: 0 } => {
            return Err(Invalid::new(
                "actions.for_secs",
                "for_secs must be greater than 0",
            ))
        }
        Action::Webhook { url } => {
            let u = url.trim();
            if !(u.starts_with("https://") || u.starts_with("http://")) || u.len() > 2000 {
                return Err(Invalid::new("actions.url", "a webhook is an http(s) URL"));
            }
            Action::Webhook { url: u.to_string() }
        }
        other => other,
    })
}

/// Checks a macro as an admin gives it: a name, and 1 to 50 actions of those an agent runs by
/// hand (send a template, labels, priority, assign, note, snooze, resolve).
pub fn check_macro(name: &str, actions: Vec<Action>) -> Result<(String, Vec<Action>), Invalid> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Invalid::new("name", "a name is 1 to 100 characters"));
    }
    if actions.is_empty() {
        return Err(Invalid::new("actions", "a macro needs at least one action"));
    }
    let by_hand = |a: &Action| {
        matches!(
            a,
            Action::SendTemplate { .. }
                | Action::AddLabels { .. }
                | Action::RemoveLabels { .. }
                | Action::SetPriority { .. }
                | Action::Assign { .. }
                | Action::Note { .. }
                | Action::Snooze { .. }
                | Action::Resolve
        )
    };
    if !actions.iter().all(by_hand) {
        return Err(Invalid::new(
            "actions",
            "a macro sends templates, changes labels, priority or assignment, adds notes, snoozes or resolves",
        ));
    }
    Ok((name, check_actions(actions)?))
}
