use proptest::prelude::{prop_assert, proptest};

use super::*;

fn agent(n: u128, capacity: f64, load: f64) -> Candidate {
    Candidate {
        id: UserId::from(uuid::Uuid::from_u128(n)),
        available: true,
        capacity,
        load,
        skills: Vec::new(),
        last_assigned_at: None,
    }
}

fn need(weight: f64) -> Need<'static> {
    Need {
        weight,
        required_skills: &[],
        relaxed: 0,
        sticky: None,
    }
}

#[test]
fn nobody_full_away_or_manual_is_picked() {
    let mut away = agent(1, 3.0, 0.0);
    away.available = false;
    let full = agent(2, 2.0, 1.5);
    assert_eq!(
        pick(Strategy::RoundRobin, &[away, full.clone()], &need(1.0)),
        None
    );
    assert_eq!(
        pick(
            Strategy::RoundRobin,
            std::slice::from_ref(&full),
            &need(0.5)
        ),
        Some(full.id)
    );
    assert_eq!(pick(Strategy::Manual, &[full], &need(0.5)), None);
}

#[test]
fn least_loaded_takes_the_smallest_share_and_sticky_wins_while_it_fits() {
    let busy = agent(1, 4.0, 3.0);
    let light = agent(2, 4.0, 1.0);
    let cands = [busy.clone(), light.clone()];
    assert_eq!(
        pick(Strategy::LeastLoaded, &cands, &need(1.0)),
        Some(light.id)
    );
    let mut n = need(1.0);
    n.sticky = Some(busy.id);
    assert_eq!(pick(Strategy::LeastLoaded, &cands, &n), Some(busy.id));
    n.weight = 2.0;
    assert_eq!(
        pick(Strategy::LeastLoaded, &cands, &n),
        Some(light.id),
        "sticky but full"
    );
}

#[test]
fn skills_are_preferred_then_relaxed() {
    let fr = vec!["french".to_string()];
    let mut speaker = agent(1, 2.0, 0.0);
    speaker.skills = vec!["French".into()];
    let other = agent(2, 2.0, 0.0);
    let mut n = Need {
        weight: 1.0,
        required_skills: &fr,
        relaxed: 0,
        sticky: None,
    };
    assert_eq!(
        pick(Strategy::RoundRobin, &[other.clone(), speaker.clone()], &n),
        Some(speaker.id)
    );
    assert_eq!(
        pick(Strategy::RoundRobin, std::slice::from_ref(&other), &n),
        None,
        "waits for a speaker"
    );
    n.relaxed = 1;
    assert_eq!(
        pick(Strategy::RoundRobin, std::slice::from_ref(&other), &n),
        Some(other.id)
    );
}

#[test]
fn the_queue_serves_score_then_wait_and_scores_say_why() {
    let w = |score, since| Waiting {
        score,
        since: Timestamp(since),
    };
    let mut q = [w(1.0, 5), w(3.0, 9), w(1.0, 1), w(3.0, 2)];
    q.sort_by(queue_order);
    assert_eq!(q, [w(3.0, 2), w(3.0, 9), w(1.0, 1), w(1.0, 5)]);
    let f = |r: &str, weight| Factor {
        reason: r.into(),
        weight,
    };
    assert_eq!(score(&[], &[]), (1.0, String::new()));
    let (s, why) = score(&[f("VIP", 2.0)], &[f("'refund'", 1.0)]);
    assert_eq!((s, why.as_str()), (6.0, "VIP × 'refund'"));
}

proptest! {
    /// Giving out conversations one at a time never takes anyone past capacity, and round-robin
    /// among equal agents gives each the same count, give or take one.
    #[test]
    fn capacity_holds_and_round_robin_is_fair(
        caps in proptest::collection::vec(1u8..6, 1..8),
        arrivals in 1usize..60,
    ) {
        let mut cands: Vec<Candidate> = caps
            .iter()
            .enumerate()
            .map(|(i, c)| agent(i as u128 + 1, f64::from(*c), 0.0))
            .collect();
        let mut given = vec![0usize; cands.len()];
        for t in 0..arrivals {
            match pick(Strategy::RoundRobin, &cands, &need(1.0)) {
                Some(id) => {
                    let i = cands.iter().position(|c| c.id == id).unwrap();
                    cands[i].load += 1.0;
                    cands[i].last_assigned_at = Some(Timestamp(t as i64));
                    given[i] += 1;
                }
                None => prop_assert!(cands.iter().all(|c| c.load + 1.0 > c.capacity)),
            }
        }
        for c in &cands {
            prop_assert!(c.load <= c.capacity);
        }
        // While nobody is full, round-robin keeps counts within one of each other.
        let min_cap = caps.iter().copied().min().unwrap() as usize;
        if arrivals <= min_cap * caps.len() {
            let (lo, hi) = (given.iter().min().unwrap(), given.iter().max().unwrap());
            prop_assert!(hi - lo <= 1, "{given:?}");
        }
    }
}
