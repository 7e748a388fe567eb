use super::*;
use parley_store::Waiting;

fn all_on() -> AutoReplies {
    let mut r = AutoReplies::default();
    r.normal.enabled = true;
    r.peak.enabled = true;
    r.after_hours.enabled = true;
    r.urgent.enabled = true;
    r.peak.max_unassigned = Some(2);
    r.peak.max_wait_minutes = Some(30);
    r
}

fn waiting(n: usize, since: i64, unassigned: bool) -> Vec<Waiting> {
    (0..n)
        .map(|_| Waiting {
            since: Timestamp(since),
            unassigned,
        })
        .collect()
}

#[test]
fn the_reply_follows_the_hours_the_queue_and_the_words() {
    let r = all_on();
    let now = Timestamp(100 * 60_000);
    let quiet = InboxPace::default();
    assert_eq!(r.choose(true, "hi", &quiet, now), Some(Kind::Normal));
    let queue = InboxPace {
        waiting: waiting(3, now.0, true),
        ..Default::default()
    };
    assert_eq!(
        r.choose(true, "hi", &queue, now),
        Some(Kind::Peak),
        "3 > 2 unassigned"
    );
    let slow = InboxPace {
        waiting: waiting(1, 0, false),
        ..Default::default()
    };
    assert_eq!(
        r.choose(true, "hi", &slow, now),
        Some(Kind::Peak),
        "waiting 100 > 30 min"
    );
    assert_eq!(r.choose(false, "hi", &queue, now), Some(Kind::AfterHours));
    assert_eq!(
        r.choose(false, "The heating is down, URGENT!", &quiet, now),
        Some(Kind::Urgent)
    );
    assert_eq!(
        r.choose(false, "not urgently", &quiet, now),
        Some(Kind::AfterHours),
        "whole words only"
    );
    let mut off = all_on();
    off.after_hours.enabled = false;
    off.peak.enabled = false;
    assert_eq!(off.choose(false, "hi", &quiet, now), None);
    assert_eq!(off.choose(true, "hi", &queue, now), Some(Kind::Normal));
}

#[test]
fn settings_are_checked_naming_the_field() {
    let field_of = |r: AutoReplies| match r.check(&[]) {
        Err(ApiError::Unprocessable { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let mut r = all_on();
    r.after_hours.text = "We open {{opening_time}}".into();
    assert_eq!(field_of(r), Some("after_hours"));
    let mut r = all_on();
    r.period_hours = 0;
    assert_eq!(field_of(r), Some("period_hours"));
    let mut r = all_on();
    r.urgent.keywords = vec!["  ".into()];
    assert_eq!(field_of(r), Some("keywords"));
    let mut r = all_on();
    r.urgent.keywords = vec![" Not Working ".into(), "not working".into()];
    assert_eq!(r.check(&[]).unwrap().urgent.keywords, vec!["not working"]);
}
