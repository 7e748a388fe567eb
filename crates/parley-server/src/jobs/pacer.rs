//! Per-sender rate limits for the dispatcher. Each sender (one inbox: a number, a page, a bot)
//! gets evenly spaced send slots at its configured rate; a delivery claimed before its slot is
//! put back in the outbox until then, so a backlog never holds dispatcher capacity while it waits.

use std::collections::HashMap;
use std::sync::Mutex;

use parley_core::{InboxId, OutboxId, Timestamp};

/// What the dispatcher does with a claimed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Now,
    /// Put back until this slot, which is reserved for it.
    At(Timestamp),
}

#[derive(Default)]
struct Lane {
    /// The earliest free slot, in nanoseconds (rates need not divide a millisecond evenly).
    next_free: i64,
    /// Slots handed out to deferred deliveries.
    reserved: HashMap<OutboxId, i64>,
}

/// The send slots of every sender. Slots live in this process: several dispatching nodes each
/// apply the limit, so a fleet of n nodes may send up to n times the rate.
#[derive(Default)]
pub struct Pacer {
    lanes: Mutex<HashMap<InboxId, Lane>>,
}

/// Reservations older than this are forgotten (their delivery was finished elsewhere).
const STALE_NS: i64 = 60_000_000_000;

fn to_ms(ns: i64) -> Timestamp {
    Timestamp((ns + 999_999).div_euclid(1_000_000))
}

impl Pacer {
    /// Decides when `job` of `sender` may go, at `rate` messages per second (`None` or not
    /// positive: unlimited), and takes the slot.
    pub fn slot(&self, sender: InboxId, job: OutboxId, rate: Option<f64>, now: Timestamp) -> Pace {
        let Some(rate) = rate.filter(|r| r.is_finite() && *r > 0.0) else {
            return Pace::Now;
        };
        let now = now.0.saturating_mul(1_000_000);
        let interval = ((1e9 / rate).round() as i64).max(1);
        let Ok(mut lanes) = self.lanes.lock() else {
            return Pace::Now;
        };
        let lane = lanes.entry(sender).or_default();
        if let Some(&slot) = lane.reserved.get(&job) {
            if slot <= now {
                lane.reserved.remove(&job);
                return Pace::Now;
            }
            return Pace::At(to_ms(slot));
        }
        let slot = lane.next_free.max(now);
        lane.next_free = slot + interval;
        if slot <= now {
            return Pace::Now;
        }
        if lane.reserved.len() >= 4096 {
            lane.reserved.retain(|_, s| *s > now - STALE_NS);
        }
        lane.reserved.insert(job, slot);
        Pace::At(to_ms(slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<OutboxId> {
        (0..n).map(|_| OutboxId(uuid::Uuid::now_v7())).collect()
    }

    #[test]
    fn unlimited_senders_always_go() {
        let p = Pacer::default();
        let inbox = InboxId(uuid::Uuid::now_v7());
        for job in ids(100) {
            assert_eq!(p.slot(inbox, job, None, Timestamp(0)), Pace::Now);
            assert_eq!(p.slot(inbox, job, Some(0.0), Timestamp(0)), Pace::Now);
        }
    }

    #[test]
    fn a_burst_is_spread_over_even_slots_and_each_slot_is_kept() {
        let p = Pacer::default();
        let inbox = InboxId(uuid::Uuid::now_v7());
        let jobs = ids(5);
        let paces: Vec<Pace> = jobs
            .iter()
            .map(|j| p.slot(inbox, *j, Some(4.0), Timestamp(1000)))
            .collect();
        assert_eq!(
            paces,
            vec![
                Pace::Now,
                Pace::At(Timestamp(1250)),
                Pace::At(Timestamp(1500)),
                Pace::At(Timestamp(1750)),
                Pace::At(Timestamp(2000)),
            ]
        );
        // Claimed early again, a delivery keeps its slot; at its slot it goes.
        assert_eq!(
            p.slot(inbox, jobs[2], Some(4.0), Timestamp(1400)),
            Pace::At(Timestamp(1500))
        );
        assert_eq!(
            p.slot(inbox, jobs[2], Some(4.0), Timestamp(1500)),
            Pace::Now
        );
        // A newcomer queues behind the reserved slots.
        assert_eq!(
            p.slot(
                inbox,
                OutboxId(uuid::Uuid::now_v7()),
                Some(4.0),
                Timestamp(1500)
            ),
            Pace::At(Timestamp(2250))
        );
        // Another sender is not held up.
        assert_eq!(
            p.slot(
                InboxId(uuid::Uuid::now_v7()),
                OutboxId(uuid::Uuid::now_v7()),
                Some(4.0),
                Timestamp(1500)
            ),
            Pace::Now
        );
    }

    #[test]
    fn fractional_rates_do_not_drift() {
        let p = Pacer::default();
        let inbox = InboxId(uuid::Uuid::now_v7());
        let last = ids(301)
            .into_iter()
            .map(|j| p.slot(inbox, j, Some(30.0), Timestamp(0)))
            .last();
        // 300 intervals of 1/30 s end at exactly 10 s.
        assert_eq!(last, Some(Pace::At(Timestamp(10_000))));
    }
}
