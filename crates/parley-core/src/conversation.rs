//! The conversation state machine. A conversation's state (status, assignee, team, priority, labels,
//! waiting-since, last activity) is a projection of its timeline: `apply` folds one event into it.

use serde::{Deserialize, Serialize};

use crate::{Invalid, TeamId, Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Snoozed => "snoozed",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Status::Open),
            "pending" => Some(Status::Pending),
            "snoozed" => Some(Status::Snoozed),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Urgent,
    High,
    Normal,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "urgent" => Some(Priority::Urgent),
            "high" => Some(Priority::High),
            "normal" => Some(Priority::Normal),
            "low" => Some(Priority::Low),
            _ => None,
        }
    }

    /// Sort rank: urgent first.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Urgent => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    pub fn from_rank(r: i64) -> Self {
        match r {
            0 => Priority::Urgent,
            1 => Priority::High,
            3 => Priority::Low,
            _ => Priority::Normal,
        }
    }
}

/// A label: lower-cased, 1 to 50 characters of letters, digits, `-`, `_`, `:` or `/`.
pub fn parse_label(s: &str) -> Result<String, Invalid> {
    let s = s.trim().to_lowercase();
    if s.is_empty() || s.chars().count() > 50 {
        return Err(Invalid::new("labels", "a label is 1 to 50 characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '/'))
    {
        return Err(Invalid::new(
            "labels",
            format!("label {s:?} may hold only letters, digits, - _ : /"),
        ));
    }
    Ok(s)
}

/// The projected state of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationState {
    pub status: Status,
    pub snoozed_until: Option<Timestamp>,
    pub assignee_id: Option<UserId>,
    pub team_id: Option<TeamId>,
    pub priority: Priority,
    pub labels: Vec<String>,
    /// When the oldest customer message not yet answered arrived; `None` when nobody waits.
    pub waiting_since: Option<Timestamp>,
    /// When the business first answered; `None` until it has (the SLA's first-response target).
    pub first_reply_at: Option<Timestamp>,
    pub last_activity_at: Timestamp,
}

impl ConversationState {
    pub fn new(at: Timestamp) -> Self {
        Self {
            status: Status::Open,
            snoozed_until: None,
            assignee_id: None,
            team_id: None,
            priority: Priority::Normal,
            labels: Vec::new(),
            waiting_since: None,
            first_reply_at: None,
            last_activity_at: at,
        }
    }

    /// Sort key for "longest waiting": conversations nobody waits on sort last.
    pub fn waiting_key(&self) -> i64 {
        self.waiting_since.map_or(i64::MAX, Timestamp::millis)
    }
}

/// A change to a conversation, as recorded on its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A customer's message arrived.
    Inbound,
    /// The business answered (an agent, the bot or an automation).
    Outbound,
    /// An internal note; changes nothing but activity.
    Note,
    Status {
        from: Status,
        to: Status,
        snoozed_until: Option<Timestamp>,
    },
    Assignment {
        assignee_id: Option<UserId>,
        team_id: Option<TeamId>,
    },
    Priority {
        priority: Priority,
    },
    Labels {
        added: Vec<String>,
        removed: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationError {
    #[error("the conversation is already {0}")]
    AlreadyInStatus(&'static str),
    #[error("a snooze must end in the future")]
    SnoozeInPast,
    #[error("nothing to change")]
    NoChange,
}

impl ConversationState {
    /// What a status command turns into, or why it is refused.
    pub fn status_change(
        &self,
        to: Status,
        snoozed_until: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Change, ConversationError> {
        if to == Status::Snoozed {
            match snoozed_until {
                Some(t) if t > now => {}
                _ => return Err(ConversationError::SnoozeInPast),
            }
        }
        if self.status == to && to != Status::Snoozed {
            return Err(ConversationError::AlreadyInStatus(to.as_str()));
        }
        Ok(Change::Status {
            from: self.status,
            to,
            snoozed_until: if to == Status::Snoozed {
                snoozed_until
            } else {
                None
            },
        })
    }

    /// What adding and removing labels turns into; `NoChange` when the set stays the same.
    pub fn label_change(
        &self,
        add: &[String],
        remove: &[String],
    ) -> Result<Change, ConversationError> {
        let mut added: Vec<String> = add
            .iter()
            .filter(|l| !self.labels.contains(l))
            .cloned()
            .collect();
        added.dedup();
        let removed: Vec<String> = remove
            .iter()
            .filter(|l| self.labels.contains(l))
            .cloned()
            .collect();
        if added.is_empty() && removed.is_empty() {
            return Err(ConversationError::NoChange);
        }
        Ok(Change::Labels { added, removed })
    }

    /// Folds one timeline event into the state. Total: every change applies to every state.
    pub fn apply(&mut self, change: &Change, at: Timestamp) {
        self.last_activity_at = self.last_activity_at.max(at);
        match change {
            Change::Inbound => {
                // A customer writing again reopens the thread, whatever its status: they never start over.
                if matches!(
                    self.status,
                    Status::Resolved | Status::Snoozed | Status::Pending
                ) {
                    self.status = Status::Open;
                    self.snoozed_until = None;
                }
                if self.waiting_since.is_none() {
                    self.waiting_since = Some(at);
                }
            }
            Change::Outbound => {
                self.waiting_since = None;
                self.first_reply_at.get_or_insert(at);
            }
            Change::Note => {}
            Change::Status {
                to, snoozed_until, ..
            } => {
                self.status = *to;
                self.snoozed_until = if *to == Status::Snoozed {
                    *snoozed_until
                } else {
                    None
                };
                if *to == Status::Resolved {
                    self.waiting_since = None;
                }
            }
            Change::Assignment {
                assignee_id,
                team_id,
            } => {
                self.assignee_id = *assignee_id;
                self.team_id = *team_id;
            }
            Change::Priority { priority } => self.priority = *priority,
            Change::Labels { added, removed } => {
                self.labels.retain(|l| !removed.contains(l));
                for l in added {
                    if !self.labels.contains(l) {
                        self.labels.push(l.clone());
                    }
                }
                self.labels.sort();
            }
        }
    }

    /// A whether a new inbound message will reopen this conversation (for the timeline's status event).
    pub fn reopens_on_inbound(&self) -> bool {
        matches!(
            self.status,
            Status::Resolved | Status::Snoozed | Status::Pending
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    #[test]
    fn waiting_since_tracks_the_oldest_unanswered_message() {
        let mut s = ConversationState::new(t(0));
        s.apply(&Change::Inbound, t(10));
        s.apply(&Change::Inbound, t(20));
        assert_eq!(s.waiting_since, Some(t(10)));
        s.apply(&Change::Note, t(25));
        assert_eq!(s.waiting_since, Some(t(10)), "a note is not an answer");
        s.apply(&Change::Outbound, t(30));
        assert_eq!(s.waiting_since, None);
        s.apply(&Change::Inbound, t(40));
        assert_eq!(s.waiting_since, Some(t(40)));
        assert_eq!(s.last_activity_at, t(40));
    }

    #[test]
    fn inbound_reopens_resolved_and_snoozed() {
        let mut s = ConversationState::new(t(0));
        let c = s
            .status_change(Status::Resolved, None, t(1))
            .expect("resolves");
        s.apply(&c, t(1));
        assert_eq!(s.status, Status::Resolved);
        assert!(s.reopens_on_inbound());
        s.apply(&Change::Inbound, t(2));
        assert_eq!(s.status, Status::Open);

        let c = s
            .status_change(Status::Snoozed, Some(t(100)), t(3))
            .expect("snoozes");
        s.apply(&c, t(3));
        assert_eq!((s.status, s.snoozed_until), (Status::Snoozed, Some(t(100))));
        s.apply(&Change::Inbound, t(4));
        assert_eq!((s.status, s.snoozed_until), (Status::Open, None));
    }

    #[test]
    fn refuses_pointless_or_impossible_changes() {
        let s = ConversationState::new(t(0));
        assert_eq!(
            s.status_change(Status::Open, None, t(1)),
            Err(ConversationError::AlreadyInStatus("open"))
        );
        assert_eq!(
            s.status_change(Status::Snoozed, Some(t(1)), t(5)),
            Err(ConversationError::SnoozeInPast)
        );
        assert_eq!(
            s.status_change(Status::Snoozed, None, t(5)),
            Err(ConversationError::SnoozeInPast)
        );
        assert_eq!(
            s.label_change(&[], &["x".into()]),
            Err(ConversationError::NoChange)
        );
    }

    #[test]
    fn labels_are_a_sorted_set() {
        let mut s = ConversationState::new(t(0));
        let c = s
            .label_change(&["vip".into(), "billing".into()], &[])
            .expect("adds");
        s.apply(&c, t(1));
        assert_eq!(s.labels, vec!["billing", "vip"]);
        let c = s
            .label_change(&["vip".into()], &["billing".into()])
            .expect("removes");
        s.apply(&c, t(2));
        assert_eq!(s.labels, vec!["vip"]);
        assert!(parse_label("Needs Review").is_err());
        assert_eq!(parse_label(" VIP "), Ok("vip".into()));
    }

    fn arb_change() -> impl Strategy<Value = Change> {
        prop_oneof![
            Just(Change::Inbound),
            Just(Change::Outbound),
            Just(Change::Note),
            Just(Change::Status {
                from: Status::Open,
                to: Status::Resolved,
                snoozed_until: None
            }),
            Just(Change::Status {
                from: Status::Open,
                to: Status::Pending,
                snoozed_until: None
            }),
        ]
    }

    proptest! {
        /// waiting-since is always the time of the first inbound after the last answer (or resolve).
        #[test]
        fn waiting_since_matches_a_replay(changes in proptest::collection::vec(arb_change(), 0..40)) {
            let mut s = ConversationState::new(t(0));
            let mut expected: Option<Timestamp> = None;
            for (i, c) in changes.iter().enumerate() {
                let at = t(i as i64 + 1);
                s.apply(c, at);
                match c {
                    Change::Inbound => { expected.get_or_insert(at); }
                    Change::Outbound | Change::Status { to: Status::Resolved, .. } => expected = None,
                    _ => {}
                }
                prop_assert_eq!(s.waiting_since, expected);
                if matches!(c, Change::Inbound) { prop_assert_eq!(s.status, Status::Open); }
            }
        }
    }
}
