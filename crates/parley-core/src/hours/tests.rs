use super::*;

fn schedule(
    zone: &str,
    weekly: &[(&str, &[(&str, &str)])],
    special: &[(&str, &[(&str, &str)])],
) -> Schedule {
    let list = |l: &[(&str, &str)]| {
        l.iter()
            .map(|(a, b)| [a.to_string(), b.to_string()])
            .collect()
    };
    Schedule::parse(&ScheduleSpec {
        time_zone: zone.into(),
        weekly: weekly
            .iter()
            .map(|(d, l)| (d.to_string(), list(l)))
            .collect(),
        special_days: special
            .iter()
            .map(|(d, l)| (d.to_string(), list(l)))
            .collect(),
    })
    .unwrap()
}

/// A local wall-clock time in `zone` as an instant.
fn at(zone: &str, local: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    let z = dt.to_zoned(TimeZone::get(zone).unwrap()).unwrap();
    Timestamp(z.timestamp().as_millisecond())
}

const NINE_TO_FIVE: &[(&str, &str)] = &[("09:00", "17:00")];

fn weekdays(zone: &str, special: &[(&str, &[(&str, &str)])]) -> Schedule {
    let week: Vec<(&str, &[(&str, &str)])> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| (*d, NINE_TO_FIVE))
        .collect();
    schedule(zone, &week, special)
}

const H: i64 = 3_600_000;

#[test]
fn open_in_hours_closed_outside_and_the_next_opening_is_monday() {
    let s = weekdays("Europe/Paris", &[]);
    assert!(s.is_open(at("Europe/Paris", "2026-12-07T10:00")));
    assert!(
        !s.is_open(at("Europe/Paris", "2026-12-07T17:00")),
        "the end is not open"
    );
    assert!(
        !s.is_open(at("Europe/Paris", "2026-12-12T10:00")),
        "Saturday"
    );
    assert_eq!(
        s.next_open(at("Europe/Paris", "2026-12-11T18:00")),
        Some(at("Europe/Paris", "2026-12-14T09:00"))
    );
    let now = at("Europe/Paris", "2026-12-08T11:00");
    assert_eq!(s.next_open(now), Some(now), "open now: now");
}

#[test]
fn the_hours_stay_in_wall_clock_time_across_a_dst_change() {
    // New York moves its clocks forward on 2026-03-08 at 02:00.
    let s = weekdays("America/New_York", &[]);
    let friday = s
        .next_open(at("America/New_York", "2026-03-06T08:00"))
        .unwrap();
    let monday = s
        .next_open(at("America/New_York", "2026-03-09T08:00"))
        .unwrap();
    assert_eq!(friday.0 % (24 * H), 14 * H, "09:00 EST is 14:00 UTC");
    assert_eq!(monday.0 % (24 * H), 13 * H, "09:00 EDT is 13:00 UTC");
    // A whole-day Sunday is 23 hours long that day.
    let sunday = schedule("America/New_York", &[("sun", &[("00:00", "00:00")])], &[]);
    let day = sunday.business_ms(
        at("America/New_York", "2026-03-08T00:00"),
        at("America/New_York", "2026-03-09T00:00"),
    );
    assert_eq!(day, 23 * H);
    // And 25 hours when the clocks go back (2026-11-01).
    let day = sunday.business_ms(
        at("America/New_York", "2026-11-01T00:00"),
        at("America/New_York", "2026-11-02T00:00"),
    );
    assert_eq!(day, 25 * H);
}

#[test]
fn an_interval_past_midnight_belongs_to_the_day_it_starts() {
    let s = schedule("UTC", &[("fri", &[("22:00", "02:00")])], &[]);
    assert!(s.is_open(at("UTC", "2026-12-11T23:00")));
    assert!(
        s.is_open(at("UTC", "2026-12-12T01:30")),
        "Saturday night, from Friday"
    );
    assert!(!s.is_open(at("UTC", "2026-12-12T02:30")));
    assert!(
        !s.is_open(at("UTC", "2026-12-12T23:00")),
        "Saturday has no hours of its own"
    );
    assert_eq!(
        s.business_ms(at("UTC", "2026-12-11T00:00"), at("UTC", "2026-12-13T00:00")),
        4 * H
    );
}

#[test]
fn holidays_close_and_special_days_change_the_hours() {
    let s = weekdays(
        "Europe/London",
        &[("2026-12-25", &[]), ("2026-12-24", &[("09:00", "13:00")])],
    );
    assert!(
        !s.is_open(at("Europe/London", "2026-12-25T10:00")),
        "Christmas, a Friday"
    );
    assert_eq!(
        s.next_open(at("Europe/London", "2026-12-24T14:00")),
        Some(at("Europe/London", "2026-12-28T09:00"))
    );
    assert!(s.is_open(at("Europe/London", "2026-12-24T12:00")));
    assert!(!s.is_open(at("Europe/London", "2026-12-24T13:30")));
}

#[test]
fn business_time_counts_only_open_time_and_overlaps_once() {
    let s = weekdays("UTC", &[]);
    // Friday 16:00 to Monday 10:00: one hour each side of the weekend.
    assert_eq!(
        s.business_ms(at("UTC", "2026-12-11T16:00"), at("UTC", "2026-12-14T10:00")),
        2 * H
    );
    assert_eq!(
        s.business_ms(at("UTC", "2026-12-14T10:00"), at("UTC", "2026-12-11T16:00")),
        0
    );
    let overlapping = schedule(
        "UTC",
        &[("mon", &[("09:00", "12:00"), ("11:00", "13:00")])],
        &[],
    );
    assert_eq!(
        overlapping.business_ms(at("UTC", "2026-12-14T00:00"), at("UTC", "2026-12-15T00:00")),
        4 * H
    );
}

#[test]
fn a_schedule_with_no_hours_never_opens() {
    let s = schedule("UTC", &[], &[]);
    assert!(!s.is_open(at("UTC", "2026-12-14T10:00")));
    assert_eq!(s.next_open(at("UTC", "2026-12-14T10:00")), None);
    assert_eq!(
        s.business_ms(at("UTC", "2026-12-14T00:00"), at("UTC", "2026-12-21T00:00")),
        0
    );
}

#[test]
fn bad_schedules_are_refused_naming_what_is_wrong() {
    let spec = |zone: &str, day: &str, from: &str, to: &str, date: &str| ScheduleSpec {
        time_zone: zone.into(),
        weekly: [(day.to_string(), vec![[from.to_string(), to.to_string()]])].into(),
        special_days: [(date.to_string(), vec![])].into(),
    };
    let err = |s: ScheduleSpec| Schedule::parse(&s).unwrap_err();
    assert_eq!(
        err(spec("Mars/Olympus", "mon", "09:00", "17:00", "2026-12-25")).field,
        "time_zone"
    );
    assert!(err(spec("UTC", "monday", "09:00", "17:00", "2026-12-25"))
        .reason
        .contains("\"monday\" is not a day"));
    assert!(err(spec("UTC", "mon", "24:00", "17:00", "2026-12-25"))
        .reason
        .contains("not a time"));
    assert!(err(spec("UTC", "mon", "9:00", "17:00", "2026-12-25"))
        .reason
        .contains("not a time"));
    assert!(err(spec("UTC", "mon", "09:00", "09:00", "2026-12-25"))
        .reason
        .contains("empty"));
    assert_eq!(
        err(spec("UTC", "mon", "09:00", "17:00", "25/12/2026")).field,
        "special_days"
    );
}

proptest::proptest! {
    #[test]
    fn business_time_adds_up_and_agrees_with_is_open(
        a in 1_780_000_000_000i64..1_830_000_000_000,
        d1 in 0i64..(20 * 24 * H),
        d2 in 0i64..(20 * 24 * H),
    ) {
        let s = schedule(
            "America/New_York",
            &[("mon", NINE_TO_FIVE), ("wed", &[("08:00", "12:00"), ("20:00", "03:00")]), ("sat", &[("00:00", "00:00")])],
            &[("2026-07-03", &[]), ("2026-11-26", &[("10:00", "14:00")])],
        );
        let (b, c) = (a + d1, a + d1 + d2);
        let whole = s.business_ms(Timestamp(a), Timestamp(c));
        proptest::prop_assert_eq!(whole, s.business_ms(Timestamp(a), Timestamp(b)) + s.business_ms(Timestamp(b), Timestamp(c)));
        proptest::prop_assert_eq!(s.is_open(Timestamp(a)), s.business_ms(Timestamp(a), Timestamp(a + 1)) == 1);
        if let Some(next) = s.next_open(Timestamp(a)) {
            proptest::prop_assert!(next.0 >= a && s.is_open(next));
            proptest::prop_assert_eq!(s.business_ms(Timestamp(a), next), 0);
        }
    }
}
