//! Routing: which available agent a conversation goes to, or the queue. Pure: the caller reads
//! the candidates (availability, capacity, weighted load, skills, when each was last given work)
//! and applies the answer in the transaction that read the loads, so capacity holds under
//! concurrency. Also the priority score (customer value × criticality) and the queue's order.

use std::cmp::Ordering;

use crate::ids::UserId;
use crate::Timestamp;

/// How an inbox or a team hands out conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Nobody is picked: agents take conversations by hand.
    Manual,
    /// The eligible agent given work least recently.
    RoundRobin,
    /// The eligible agent with the lowest load for their capacity.
    LeastLoaded,
}

/// An agent as routing sees them at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: UserId,
    /// Online, and within their working hours.
    pub available: bool,
    /// Open conversations at once, in channel-weighted units.
    pub capacity: f64,
    /// The weighted load they carry now.
    pub load: f64,
    pub skills: Vec<String>,
    /// When they were last given a conversation (`None`: never).
    pub last_assigned_at: Option<Timestamp>,
}

/// What the conversation asks of its agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Need<'a> {
    /// What the conversation weighs on its channel (a live chat 2, an email 0.5, …).
    pub weight: f64,
    pub required_skills: &'a [String],
    /// How many required skills may be missing now (grows with the wait, as the admin set).
    pub relaxed: usize,
    /// The customer's previous agent, preferred while eligible.
    pub sticky: Option<UserId>,
}

/// Whether `c` may take a conversation of `need` now, and how many required skills they lack.
fn fits(c: &Candidate, need: &Need) -> Option<usize> {
    if !c.available || c.load + need.weight > c.capacity + 1e-9 {
        return None;
    }
    let missing = need
        .required_skills
        .iter()
        .filter(|s| !c.skills.iter().any(|h| h.eq_ignore_ascii_case(s)))
        .count();
    (missing <= need.relaxed).then_some(missing)
}

/// The agent a conversation goes to, or `None`: it waits in the queue (or, for `Manual`, for
/// someone to take it). The sticky agent wins while eligible; then the fewest missing skills;
/// then the strategy; ties go to the lowest id, so the answer is the same on every node.
pub fn pick(strategy: Strategy, candidates: &[Candidate], need: &Need) -> Option<UserId> {
    if strategy == Strategy::Manual {
        return None;
    }
    let eligible: Vec<(&Candidate, usize)> = candidates
        .iter()
        .filter_map(|c| fits(c, need).map(|m| (c, m)))
        .collect();
    if let Some(s) = need.sticky {
        if eligible.iter().any(|(c, _)| c.id == s) {
            return Some(s);
        }
    }
    eligible
        .into_iter()
        .min_by(|(a, am), (b, bm)| {
            am.cmp(bm)
                .then_with(|| by_strategy(strategy, a, b))
                .then_with(|| a.id.cmp(&b.id))
        })
        .map(|(c, _)| c.id)
}

fn by_strategy(strategy: Strategy, a: &Candidate, b: &Candidate) -> Ordering {
    let rr = || a.last_assigned_at.cmp(&b.last_assigned_at);
    match strategy {
        Strategy::LeastLoaded => {
            let share = |c: &Candidate| c.load / c.capacity.max(f64::MIN_POSITIVE);
            share(a).total_cmp(&share(b)).then_with(rr)
        }
        _ => rr(),
    }
}

/// A conversation waiting in the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waiting {
    pub score: f64,
    pub since: Timestamp,
}

/// The queue's order: the highest score first, then the longest wait.
pub fn queue_order(a: &Waiting, b: &Waiting) -> Ordering {
    b.score.total_cmp(&a.score).then(a.since.cmp(&b.since))
}

/// One part of a priority score, with the reason shown on the conversation ("VIP", "'refund'").
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub reason: String,
    pub weight: f64,
}

/// A conversation's priority: customer value × criticality, each 1 plus the weights of the
/// factors that apply, with the reasons ("VIP × 'refund'").
pub fn score(value: &[Factor], criticality: &[Factor]) -> (f64, String) {
    let sum = |fs: &[Factor]| 1.0 + fs.iter().map(|f| f.weight.max(0.0)).sum::<f64>();
    let reasons = |fs: &[Factor]| {
        fs.iter()
            .map(|f| f.reason.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let why = match (value.is_empty(), criticality.is_empty()) {
        (true, true) => String::new(),
        (false, true) => reasons(value),
        (true, false) => reasons(criticality),
        (false, false) => format!("{} × {}", reasons(value), reasons(criticality)),
    };
    (sum(value) * sum(criticality), why)
}

#[cfg(test)]
mod tests;
