use super::*;
use crate::consent::{Action, Entry, Purpose};

const NY_PHONE: &str = "+12125550100";
const OK_PHONE: &str = "+14055550100";
const PANHANDLE_PHONE: &str = "+18505550100";
const TX_PHONE: &str = "+12145550100";

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).expect("a valid time")
}

fn entry(purpose: Purpose, action: Action, source: &str, when: &str) -> Entry {
    Entry {
        purpose,
        action,
        channel: Some("sms".into()),
        source: source.into(),
        at: at(when),
    }
}

fn policy() -> Policy {
    Policy {
        quiet_hours: Window::FEDERAL,
        inactivity_ms: Some(180 * DAY_MS),
        timezone: "UTC".into(),
    }
}

fn text(purpose: Purpose, customer_started: bool) -> Outbound<'static> {
    Outbound {
        purpose,
        channel: "sms",
        customer_started,
        kind: Kind::Message,
        channel_closed: None,
    }
}

fn to(phone: &'static str) -> Recipient<'static> {
    Recipient {
        phone: Some(phone),
        timezone: None,
        last_inbound: Some(at("2026-11-01T12:00:00Z")),
    }
}

fn code(v: &Verdict) -> &str {
    match v {
        Verdict::Allow => "allow",
        Verdict::Hold { .. } => "hold",
        Verdict::Deny { code, .. } => code,
    }
}

fn granted(purpose: Purpose) -> Vec<Entry> {
    vec![entry(
        purpose,
        Action::Grant,
        "web_form",
        "2026-10-01T00:00:00Z",
    )]
}

#[test]
fn answers_in_a_customer_started_conversation_go_at_any_hour_unless_revoked() {
    let night = at("2026-11-24T03:00:00Z"); // 22:00 in New York
    let reply = text(Purpose::Conversational, true);
    assert_eq!(
        check(&reply, &[], &to(NY_PHONE), &policy(), night),
        Verdict::Allow
    );
    let stop = vec![entry(
        Purpose::Conversational,
        Action::Revoke,
        "keyword",
        "2026-11-02T00:00:00Z",
    )];
    assert_eq!(
        code(&check(&reply, &stop, &to(NY_PHONE), &policy(), night)),
        "opted_out"
    );
}

#[test]
fn a_business_initiated_text_needs_consent_on_record() {
    let noon = at("2026-11-23T17:00:00Z"); // 12:00 in New York
    let first = text(Purpose::Conversational, false);
    assert_eq!(
        code(&check(&first, &[], &to(NY_PHONE), &policy(), noon)),
        "no_consent"
    );
    let v = check(
        &first,
        &granted(Purpose::Informational),
        &to(NY_PHONE),
        &policy(),
        noon,
    );
    assert_eq!(v, Verdict::Allow);
    let email = Outbound {
        channel: "email",
        ..text(Purpose::Informational, false)
    };
    assert_eq!(
        check(&email, &[], &Recipient::default(), &policy(), noon),
        Verdict::Allow
    );
}

#[test]
fn pending_probable_and_spoken_consent_are_not_enough() {
    let noon = at("2026-11-23T17:00:00Z");
    let promo = text(Purpose::Promotional, false);
    let pending = vec![entry(
        Purpose::Promotional,
        Action::Request,
        "web_form",
        "2026-11-20T00:00:00Z",
    )];
    assert_eq!(
        code(&check(&promo, &pending, &to(NY_PHONE), &policy(), noon)),
        "consent_pending"
    );
    let spoken = vec![entry(
        Purpose::Promotional,
        Action::Grant,
        "agent",
        "2026-11-20T00:00:00Z",
    )];
    assert_eq!(
        code(&check(&promo, &spoken, &to(NY_PHONE), &policy(), noon)),
        "written_consent_required"
    );
    let mut flagged = granted(Purpose::Promotional);
    flagged.push(entry(
        Purpose::Promotional,
        Action::Revoke,
        "probable_keyword",
        "2026-11-21T00:00:00Z",
    ));
    assert_eq!(
        code(&check(&promo, &flagged, &to(NY_PHONE), &policy(), noon)),
        "probable_revocation"
    );
}

#[test]
fn notices_always_go() {
    let stop = vec![entry(
        Purpose::Conversational,
        Action::Revoke,
        "keyword",
        "2026-11-02T00:00:00Z",
    )];
    let notice = Outbound {
        kind: Kind::Notice,
        ..text(Purpose::Conversational, true)
    };
    let night = at("2026-11-24T08:00:00Z");
    assert_eq!(
        check(&notice, &stop, &to(NY_PHONE), &policy(), night),
        Verdict::Allow
    );
}

#[test]
fn a_consent_request_goes_while_a_subscription_waits_held_only_by_quiet_hours() {
    let request = Outbound {
        kind: Kind::ConsentRequest,
        ..text(Purpose::Promotional, false)
    };
    let signed_up = vec![entry(
        Purpose::Promotional,
        Action::Request,
        "web_form",
        "2026-11-23T16:00:00Z",
    )];
    // No informational or promotional consent is needed to ask for it.
    let noon = at("2026-11-23T17:00:00Z");
    assert_eq!(
        check(&request, &signed_up, &to(NY_PHONE), &policy(), noon),
        Verdict::Allow
    );
    match check(
        &request,
        &signed_up,
        &to(NY_PHONE),
        &policy(),
        at("2026-11-24T03:00:00Z"),
    ) {
        Verdict::Hold { until, reason } => {
            assert_eq!(until, at("2026-11-24T13:00:00Z"));
            assert!(reason.contains("confirm a subscription"), "{reason}");
        }
        other => panic!("expected a hold, got {other:?}"),
    }
    // Nothing pending, or the customer stopped since: nothing is asked.
    assert_eq!(
        code(&check(&request, &[], &to(NY_PHONE), &policy(), noon)),
        "nothing_to_confirm"
    );
    let mut stopped = signed_up.clone();
    stopped.push(entry(
        Purpose::Conversational,
        Action::Revoke,
        "keyword",
        "2026-11-23T16:30:00Z",
    ));
    assert_eq!(
        code(&check(&request, &stopped, &to(NY_PHONE), &policy(), noon)),
        "opted_out"
    );
    let mut confirmed = signed_up.clone();
    confirmed.push(entry(
        Purpose::Promotional,
        Action::Grant,
        "double_opt_in",
        "2026-11-23T16:30:00Z",
    ));
    assert_eq!(
        code(&check(&request, &confirmed, &to(NY_PHONE), &policy(), noon)),
        "nothing_to_confirm"
    );
    // A lapse of silence does not apply: the sign-up is news from the customer.
    let mut p = policy();
    p.inactivity_ms = Some(60_000);
    let silent = Recipient {
        last_inbound: None,
        ..to(NY_PHONE)
    };
    assert_eq!(
        check(&request, &signed_up, &silent, &p, noon),
        Verdict::Allow
    );
}

#[test]
fn quiet_hours_hold_until_the_window_opens_at_the_recipient() {
    let informational = text(Purpose::Informational, false);
    let consent = granted(Purpose::Informational);
    // 22:00 in New York: held until 08:00 there the next morning.
    let v = check(
        &informational,
        &consent,
        &to(NY_PHONE),
        &policy(),
        at("2026-11-24T03:00:00Z"),
    );
    match v {
        Verdict::Hold { until, reason } => {
            assert_eq!(until, at("2026-11-24T13:00:00Z"));
            assert!(reason.contains("America/New_York"), "{reason}");
        }
        other => panic!("expected a hold, got {other:?}"),
    }
    // 07:59 held, 08:00 allowed, 20:59 allowed, 21:00 held.
    let ny = |local: &str| {
        check(
            &informational,
            &consent,
            &to(NY_PHONE),
            &policy(),
            at(local),
        )
    };
    assert_eq!(code(&ny("2026-11-23T07:59:00-05:00")), "hold");
    assert_eq!(code(&ny("2026-11-23T08:00:00-05:00")), "allow");
    assert_eq!(code(&ny("2026-11-23T20:59:00-05:00")), "allow");
    assert_eq!(code(&ny("2026-11-23T21:00:00-05:00")), "hold");
}

#[test]
fn oklahoma_numbers_stop_at_eight_in_the_evening() {
    let informational = text(Purpose::Informational, false);
    let consent = granted(Purpose::Informational);
    let half_past_eight_central = at("2026-11-23T20:30:00-06:00");
    let ok = check(
        &informational,
        &consent,
        &to(OK_PHONE),
        &policy(),
        half_past_eight_central,
    );
    match ok {
        Verdict::Hold { until, .. } => assert_eq!(until, at("2026-11-24T08:00:00-06:00")),
        other => panic!("expected a hold, got {other:?}"),
    }
    // The same instant is 21:30 in New York, also held; 20:30 in New York is fine there.
    let ny_evening = at("2026-11-23T20:30:00-05:00");
    assert_eq!(
        check(
            &informational,
            &consent,
            &to(NY_PHONE),
            &policy(),
            ny_evening
        ),
        Verdict::Allow
    );
}

#[test]
fn a_code_spanning_two_zones_waits_for_both() {
    let informational = text(Purpose::Informational, false);
    let consent = granted(Purpose::Informational);
    // 08:30 Eastern is 07:30 Central: the panhandle waits for 08:00 Central.
    let v = check(
        &informational,
        &consent,
        &to(PANHANDLE_PHONE),
        &policy(),
        at("2026-11-23T08:30:00-05:00"),
    );
    match v {
        Verdict::Hold { until, .. } => assert_eq!(until, at("2026-11-23T08:00:00-06:00")),
        other => panic!("expected a hold, got {other:?}"),
    }
}

#[test]
fn the_contacts_own_zone_wins_and_the_workspace_zone_is_the_fallback() {
    let informational = text(Purpose::Informational, false);
    let consent = granted(Purpose::Informational);
    let noon_ny = at("2026-11-23T12:00:00-05:00"); // 02:00 the next day in Tokyo
    let traveller = Recipient {
        timezone: Some("Asia/Tokyo"),
        ..to(NY_PHONE)
    };
    assert_eq!(
        code(&check(
            &informational,
            &consent,
            &traveller,
            &policy(),
            noon_ny
        )),
        "hold"
    );
    let foreign = Recipient {
        phone: Some("+447700900123"),
        ..to(NY_PHONE)
    };
    let mut p = policy();
    p.timezone = "Europe/London".into(); // 17:00 there
    assert_eq!(
        check(&informational, &consent, &foreign, &p, noon_ny),
        Verdict::Allow
    );
    p.timezone = "Asia/Tokyo".into();
    assert_eq!(
        code(&check(&informational, &consent, &foreign, &p, noon_ny)),
        "hold"
    );
}

#[test]
fn texas_waits_for_noon_on_sundays() {
    let informational = text(Purpose::Informational, false);
    let consent = granted(Purpose::Informational);
    let sunday_ten = at("2026-11-22T10:00:00-06:00");
    match check(
        &informational,
        &consent,
        &to(TX_PHONE),
        &policy(),
        sunday_ten,
    ) {
        Verdict::Hold { until, .. } => assert_eq!(until, at("2026-11-22T12:00:00-06:00")),
        other => panic!("expected a hold, got {other:?}"),
    }
    let monday_ten = at("2026-11-23T10:00:00-06:00");
    assert_eq!(
        check(
            &informational,
            &consent,
            &to(TX_PHONE),
            &policy(),
            monday_ten
        ),
        Verdict::Allow
    );
}

#[test]
fn workspace_quiet_hours_narrow_the_window() {
    let informational = text(Purpose::Informational, false);
    let consent = granted(Purpose::Informational);
    let mut p = policy();
    p.quiet_hours = Window::parse("10:00", "18:00").expect("valid");
    let nine = at("2026-11-23T09:00:00-05:00");
    match check(&informational, &consent, &to(NY_PHONE), &p, nine) {
        Verdict::Hold { until, .. } => assert_eq!(until, at("2026-11-23T10:00:00-05:00")),
        other => panic!("expected a hold, got {other:?}"),
    }
    assert!(Window::parse("21:00", "08:00").is_err());
    assert!(Window::parse("8am", "9pm").is_err());
    assert!(Window::parse("25:00", "26:00").is_err());
}

#[test]
fn a_number_silent_too_long_is_suspended_until_it_writes_or_reconfirms() {
    let informational = text(Purpose::Informational, false);
    let consent = granted(Purpose::Informational); // 2026-10-01
    let noon = at("2026-11-23T12:00:00-05:00");
    let silent = Recipient {
        last_inbound: Some(at("2026-01-01T00:00:00Z")),
        ..to(NY_PHONE)
    };
    let mut p = policy();
    p.inactivity_ms = Some(30 * DAY_MS);
    assert_eq!(
        code(&check(&informational, &consent, &silent, &p, noon)),
        "inactive_number"
    );
    let wrote = Recipient {
        last_inbound: Some(at("2026-11-20T00:00:00Z")),
        ..silent.clone()
    };
    assert_eq!(
        check(&informational, &consent, &wrote, &p, noon),
        Verdict::Allow
    );
    let mut reconfirmed = consent.clone();
    reconfirmed.push(entry(
        Purpose::Informational,
        Action::Grant,
        "keyword",
        "2026-11-22T00:00:00Z",
    ));
    assert_eq!(
        check(&informational, &reconfirmed, &silent, &p, noon),
        Verdict::Allow
    );
    p.inactivity_ms = None;
    assert_eq!(
        check(&informational, &consent, &silent, &p, noon),
        Verdict::Allow
    );
}

#[test]
fn a_closed_channel_window_is_a_denial_with_its_reason() {
    let mut reply = text(Purpose::Conversational, true);
    reply.channel = "whatsapp";
    reply.channel_closed = Some("outside WhatsApp's 24-hour window: choose a template".into());
    match check(
        &reply,
        &[],
        &to(NY_PHONE),
        &policy(),
        at("2026-11-23T17:00:00Z"),
    ) {
        Verdict::Deny { code, reason } => {
            assert_eq!(code, "outside_window");
            assert!(reason.contains("template"));
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}
