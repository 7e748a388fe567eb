//! Time-based triggers: what each moment of a conversation does to a rule's timer (set it to a
//! due time, cancel it, or leave it), and when a time of day next comes in a zone. The server keeps
//! one durable timer per (rule, conversation), set and cancelled as this says.

use super::{check::parse_hh_mm, Trigger};
use crate::Timestamp;

/// A moment in a conversation that starts or stops a time-based trigger's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The customer wrote; `waiting_since` is when the oldest unanswered message came.
    CustomerWrote {
        waiting_since: Timestamp,
    },
    /// An agent or a bot answered (messages a rule or an auto-reply sent do not count, so a
    /// follow-up never restarts its own clock).
    BusinessWrote,
    Resolved,
    Reopened,
}

/// What a moment does to a rule's timer for the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    Set(Timestamp),
    Cancel,
    Keep,
}

/// The timer of a time-based trigger after `moment`, at `now`. A time of day is one timer per
/// rule, not per conversation: `Keep`.
pub fn arm(trigger: &Trigger, moment: Moment, now: Timestamp) -> Arm {
    use Moment::*;
    let later = |secs: &u32| Arm::Set(now.plus_millis(i64::from(*secs) * 1000));
    match (trigger, moment) {
        (Trigger::NoCustomerReply { after_secs }, BusinessWrote) => later(after_secs),
        (Trigger::NoCustomerReply { .. }, CustomerWrote { .. } | Resolved) => Arm::Cancel,
        (Trigger::NoAgentReply { after_secs }, CustomerWrote { waiting_since }) => {
            Arm::Set(waiting_since.plus_millis(i64::from(*after_secs) * 1000))
        }
        (Trigger::NoAgentReply { .. }, BusinessWrote | Resolved) => Arm::Cancel,
        (Trigger::Idle { after_secs }, CustomerWrote { .. } | BusinessWrote | Reopened) => {
            later(after_secs)
        }
        (Trigger::Idle { .. }, Resolved) => Arm::Cancel,
        (Trigger::AfterResolve { after_secs }, Resolved) => later(after_secs),
        (Trigger::AfterResolve { .. }, CustomerWrote { .. } | Reopened) => Arm::Cancel,
        _ => Arm::Keep,
    }
}

/// Whether a due timer still means what it was set for, given whether the conversation is
/// resolved now: after a resolve only `AfterResolve` fires, before one only the others.
pub fn still_due(trigger: &Trigger, resolved: bool) -> bool {
    match trigger {
        Trigger::AfterResolve { .. } => resolved,
        t => t.is_timed() && !resolved,
    }
}

/// The next instant after `now` at which the local time in `zone` is `hh_mm`; `None` for a zone
/// or a time that does not parse. A time skipped by a DST change comes at the next valid instant.
pub fn next_time_of_day(zone: &str, hh_mm: &str, now: Timestamp) -> Option<Timestamp> {
    let (h, m) = parse_hh_mm(hh_mm)?;
    let tz = jiff::tz::TimeZone::get(zone).ok()?;
    let at = jiff::Timestamp::from_millisecond(now.millis()).ok()?;
    let today = at.to_zoned(tz.clone()).date();
    for days in 0..3 {
        let date = today.checked_add(jiff::Span::new().days(days)).ok()?;
        let local = date.at(h as i8, m as i8, 0, 0);
        let zoned = local.to_zoned(tz.clone()).ok()?;
        let ms = zoned.timestamp().as_millisecond();
        if ms > now.millis() {
            return Some(Timestamp(ms));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    #[test]
    fn a_follow_up_starts_on_our_message_and_stops_on_theirs() {
        let t = Trigger::NoCustomerReply { after_secs: 3600 };
        assert_eq!(
            arm(&t, Moment::BusinessWrote, T0),
            Arm::Set(T0.plus_millis(3_600_000))
        );
        let wrote = Moment::CustomerWrote { waiting_since: T0 };
        assert_eq!(arm(&t, wrote, T0), Arm::Cancel);
        assert_eq!(arm(&t, Moment::Resolved, T0), Arm::Cancel);
    }

    #[test]
    fn no_agent_reply_counts_from_the_oldest_unanswered_message() {
        let t = Trigger::NoAgentReply { after_secs: 600 };
        let first = T0.plus_millis(-120_000);
        let wrote = Moment::CustomerWrote {
            waiting_since: first,
        };
        assert_eq!(arm(&t, wrote, T0), Arm::Set(first.plus_millis(600_000)));
        assert_eq!(arm(&t, Moment::BusinessWrote, T0), Arm::Cancel);
    }

    #[test]
    fn idle_restarts_on_activity_and_after_resolve_waits_for_a_resolve() {
        let idle = Trigger::Idle { after_secs: 60 };
        assert_eq!(
            arm(&idle, Moment::Reopened, T0),
            Arm::Set(T0.plus_millis(60_000))
        );
        assert_eq!(arm(&idle, Moment::Resolved, T0), Arm::Cancel);
        let after = Trigger::AfterResolve { after_secs: 60 };
        assert_eq!(
            arm(&after, Moment::Resolved, T0),
            Arm::Set(T0.plus_millis(60_000))
        );
        assert_eq!(arm(&after, Moment::Reopened, T0), Arm::Cancel);
        assert!(still_due(&after, true) && !still_due(&after, false));
        assert!(still_due(&idle, false) && !still_due(&idle, true));
        let daily = Trigger::TimeOfDay { at: "09:00".into() };
        assert_eq!(arm(&daily, Moment::BusinessWrote, T0), Arm::Keep);
    }

    #[test]
    fn a_time_of_day_comes_next_in_its_zone_across_dst() {
        // 2026-03-08 is the spring-forward day in New York: 09:00 EDT is 13:00 UTC.
        let before = Timestamp(
            "2026-03-08T12:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond(),
        );
        let next = next_time_of_day("America/New_York", "09:00", before).unwrap();
        let want = "2026-03-08T13:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond();
        assert_eq!(next.millis(), want);
        // Just after it: the next day's.
        let after = next_time_of_day("America/New_York", "09:00", next).unwrap();
        assert_eq!(after.millis() - want, 86_400_000);
        assert!(next_time_of_day("Nowhere/City", "09:00", before).is_none());
        assert!(next_time_of_day("UTC", "25:00", before).is_none());
    }
}
