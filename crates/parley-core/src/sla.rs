//! Service-level targets: how soon the business owes a customer an answer. A workspace lists
//! policies; the first whose inbox and priority match a conversation sets its reply targets, and
//! `due` turns them into the moment the waiting customer must be answered by.

use serde::{Deserialize, Serialize};

use crate::conversation::{Priority, Status};
use crate::{InboxId, Invalid, Timestamp};

/// The longest target a policy may set: 30 days, in minutes.
pub const MAX_MINUTES: u32 = 30 * 24 * 60;
/// How many policies a workspace keeps.
pub const MAX_POLICIES: usize = 100;

/// One policy: which conversations it covers (absent = any) and its reply targets in minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox_id: Option<InboxId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Minutes from a new conversation's first customer message to the business's first answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = MAX_MINUTES)))]
    pub first_response_minutes: Option<u32>,
    /// Minutes from any later unanswered customer message to the next answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = MAX_MINUTES)))]
    pub next_response_minutes: Option<u32>,
}

impl SlaPolicy {
    /// Checks one policy: a name, at least one target, targets within 1 minute to 30 days.
    pub fn check(mut self) -> Result<Self, Invalid> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 80 {
            return Err(Invalid::new(
                "name",
                "a policy's name is 1 to 80 characters",
            ));
        }
        if self.first_response_minutes.is_none() && self.next_response_minutes.is_none() {
            return Err(Invalid::new(
                "first_response_minutes",
                format!(
                    "policy {:?} sets no target: give first_response_minutes, next_response_minutes or both",
                    self.name
                ),
            ));
        }
        for (field, m) in [
            ("first_response_minutes", self.first_response_minutes),
            ("next_response_minutes", self.next_response_minutes),
        ] {
            if m.is_some_and(|m| m == 0 || m > MAX_MINUTES) {
                return Err(Invalid::new(
                    field,
                    format!("a target is 1 to {MAX_MINUTES} minutes (30 days)"),
                ));
            }
        }
        Ok(self)
    }

    fn covers(&self, inbox: InboxId, priority: Priority) -> bool {
        self.inbox_id.is_none_or(|i| i == inbox) && self.priority.is_none_or(|p| p == priority)
    }
}

/// Checks a workspace's list of policies: each valid, names unique, at most `MAX_POLICIES`.
pub fn check_policies(policies: Vec<SlaPolicy>) -> Result<Vec<SlaPolicy>, Invalid> {
    if policies.len() > MAX_POLICIES {
        return Err(Invalid::new(
            "policies",
            format!("at most {MAX_POLICIES} policies"),
        ));
    }
    let mut out: Vec<SlaPolicy> = Vec::with_capacity(policies.len());
    for p in policies {
        let p = p.check()?;
        if out.iter().any(|o| o.name.eq_ignore_ascii_case(&p.name)) {
            return Err(Invalid::new(
                "name",
                format!("policy {:?} is listed twice", p.name),
            ));
        }
        out.push(p);
    }
    Ok(out)
}

/// Which answer is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Target {
    FirstResponse,
    NextResponse,
}

/// The answer a waiting customer is owed, and by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Due {
    pub policy: String,
    pub target: Target,
    pub due_at: Timestamp,
    pub breached: bool,
}

/// What a conversation's SLA clock reads at `now`: the first matching policy's target counted from
/// when the customer started waiting. Only open conversations whose customer waits are on the clock;
/// pending and snoozed ones show none, as the agent is waiting on someone else.
#[allow(clippy::too_many_arguments)]
pub fn due(
    policies: &[SlaPolicy],
    inbox: InboxId,
    priority: Priority,
    status: Status,
    waiting_since: Option<Timestamp>,
    first_reply_at: Option<Timestamp>,
    now: Timestamp,
) -> Option<Due> {
    let since = waiting_since.filter(|_| status == Status::Open)?;
    let policy = policies.iter().find(|p| p.covers(inbox, priority))?;
    let (target, minutes) = if first_reply_at.is_none() {
        (Target::FirstResponse, policy.first_response_minutes?)
    } else {
        (Target::NextResponse, policy.next_response_minutes?)
    };
    let due_at = since.plus_millis(i64::from(minutes) * 60_000);
    Some(Due {
        policy: policy.name.clone(),
        target,
        due_at,
        breached: now >= due_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, first: Option<u32>, next: Option<u32>) -> SlaPolicy {
        SlaPolicy {
            name: name.into(),
            inbox_id: None,
            priority: None,
            first_response_minutes: first,
            next_response_minutes: next,
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn the_first_matching_policy_sets_the_target_by_whether_the_business_answered_before() {
        let inbox = InboxId(uuid::Uuid::from_u128(1));
        let urgent = SlaPolicy {
            priority: Some(Priority::Urgent),
            ..policy("urgent", Some(5), Some(10))
        };
        let all = [urgent, policy("standard", Some(60), None)];
        let t0 = Timestamp(1_000_000);
        let d = due(
            &all,
            inbox,
            Priority::Urgent,
            Status::Open,
            Some(t0),
            None,
            t0,
        )
        .unwrap();
        assert_eq!(
            (d.policy.as_str(), d.target),
            ("urgent", Target::FirstResponse)
        );
        assert_eq!(d.due_at, t0.plus_millis(5 * MIN));
        assert!(!d.breached);
        let d = due(
            &all,
            inbox,
            Priority::Urgent,
            Status::Open,
            Some(t0),
            Some(t0),
            t0.plus_millis(10 * MIN),
        )
        .unwrap();
        assert_eq!(
            (d.target, d.due_at, d.breached),
            (Target::NextResponse, t0.plus_millis(10 * MIN), true)
        );
        let d = due(
            &all,
            inbox,
            Priority::Normal,
            Status::Open,
            Some(t0),
            None,
            t0,
        )
        .unwrap();
        assert_eq!(
            (d.policy.as_str(), d.due_at),
            ("standard", t0.plus_millis(60 * MIN))
        );
        // The standard policy sets no next-response target, and no policy covers it instead.
        assert_eq!(
            due(
                &all,
                inbox,
                Priority::Normal,
                Status::Open,
                Some(t0),
                Some(t0),
                t0
            ),
            None
        );
    }

    #[test]
    fn only_an_open_conversation_whose_customer_waits_is_on_the_clock() {
        let inbox = InboxId(uuid::Uuid::from_u128(1));
        let all = [policy("p", Some(5), Some(5))];
        let t0 = Timestamp(0);
        assert_eq!(
            due(&all, inbox, Priority::Normal, Status::Open, None, None, t0),
            None
        );
        for s in [Status::Pending, Status::Snoozed, Status::Resolved] {
            assert_eq!(
                due(&all, inbox, Priority::Normal, s, Some(t0), None, t0),
                None
            );
        }
        let other = SlaPolicy {
            inbox_id: Some(InboxId(uuid::Uuid::from_u128(2))),
            ..policy("elsewhere", Some(1), None)
        };
        assert_eq!(
            due(
                &[other],
                inbox,
                Priority::Normal,
                Status::Open,
                Some(t0),
                None,
                t0
            ),
            None
        );
    }

    #[test]
    fn policies_are_checked() {
        assert!(policy(" ", Some(5), None).check().is_err());
        assert_eq!(
            policy("x", None, None).check().unwrap_err().field,
            "first_response_minutes"
        );
        assert!(policy("x", Some(0), None).check().is_err());
        assert!(policy("x", None, Some(MAX_MINUTES + 1)).check().is_err());
        assert_eq!(
            policy(" x ", Some(MAX_MINUTES), None).check().unwrap().name,
            "x"
        );
        let twice = check_policies(vec![policy("A", Some(1), None), policy("a", Some(2), None)]);
        assert!(twice.unwrap_err().reason.contains("twice"));
    }
}
