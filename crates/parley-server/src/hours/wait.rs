//! `{{expected_wait}}` in words a customer reads: "about 5 minutes", "under a minute", or "when we
//! open at 9:00" (with "tomorrow" or the weekday when the opening is not today).

use jiff::tz::TimeZone;
use parley_core::Timestamp;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// The median of `ms` (the lower of the middle two for an even count); `None` when empty.
pub fn median(ms: &mut [i64]) -> Option<i64> {
    if ms.is_empty() {
        return None;
    }
    ms.sort_unstable();
    Some(ms[(ms.len() - 1) / 2])
}

/// A wait in words; `default` (the admin's) when nothing was answered lately.
pub fn phrase(ms: Option<i64>, default: &str) -> String {
    let Some(ms) = ms else {
        return default.to_string();
    };
    if ms < MINUTE {
        return "under a minute".into();
    }
    if ms < 90 * MINUTE {
        return match (ms + MINUTE / 2) / MINUTE {
            1 => "about a minute".into(),
            m => format!("about {m} minutes"),
        };
    }
    match (ms + HOUR / 2) / HOUR {
        1 => "about an hour".into(),
        h => format!("about {h} hours"),
    }
}

/// When business hours next begin, in the schedule's zone, as seen at `now`: "when we open at
/// 9:00", "when we open tomorrow at 9:00", "when we open on Monday at 9:00", or for an opening a
/// week or more away "when we open on Monday 4 January at 9:00".
pub fn opening(zone: &str, now: Timestamp, next: Option<Timestamp>) -> String {
    let local = |at: Timestamp| {
        let tz = TimeZone::get(zone).ok()?;
        let ts = jiff::Timestamp::from_millisecond(at.0).ok()?;
        Some(ts.to_zoned(tz))
    };
    let (Some(next), Some(today)) = (next.and_then(local), local(now)) else {
        return "when we open again".into();
    };
    let time = format!("{}:{:02}", next.hour(), next.minute());
    let (day, today) = (next.date(), today.date());
    let days = (day - today).get_days();
    if day == today {
        format!("when we open at {time}")
    } else if today.tomorrow().ok() == Some(day) {
        format!("when we open tomorrow at {time}")
    } else if days < 7 {
        format!("when we open on {} at {time}", day.strftime("%A"))
    } else {
        format!("when we open on {} at {time}", day.strftime("%A %-d %B"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: &str, local: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = local.parse().unwrap();
        Timestamp(
            dt.to_zoned(TimeZone::get(zone).unwrap())
                .unwrap()
                .timestamp()
                .as_millisecond(),
        )
    }

    #[test]
    fn waits_read_as_a_customer_would_say_them() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5, 1, 3]), Some(3));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
        assert_eq!(phrase(None, "a few hours"), "a few hours");
        assert_eq!(phrase(Some(20_000), "x"), "under a minute");
        assert_eq!(phrase(Some(70_000), "x"), "about a minute");
        assert_eq!(phrase(Some(5 * MINUTE + 10_000), "x"), "about 5 minutes");
        assert_eq!(phrase(Some(89 * MINUTE), "x"), "about 89 minutes");
        assert_eq!(phrase(Some(100 * MINUTE), "x"), "about 2 hours");
    }

    #[test]
    fn the_opening_is_said_in_the_schedules_zone() {
        let z = "America/New_York";
        let nine = at(z, "2026-12-08T09:00");
        assert_eq!(
            opening(z, at(z, "2026-12-08T07:30"), Some(nine)),
            "when we open at 9:00"
        );
        assert_eq!(
            opening(z, at(z, "2026-12-07T23:30"), Some(nine)),
            "when we open tomorrow at 9:00"
        );
        assert_eq!(
            opening(
                z,
                at(z, "2026-12-05T18:00"),
                Some(at(z, "2026-12-07T08:30"))
            ),
            "when we open on Monday at 8:30"
        );
        assert_eq!(
            opening(
                z,
                at(z, "2026-12-24T18:00"),
                Some(at(z, "2027-01-04T09:00"))
            ),
            "when we open on Monday 4 January at 9:00"
        );
        assert_eq!(opening(z, nine, None), "when we open again");
    }
}
