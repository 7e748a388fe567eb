//! Business hours and the auto-replies, with the clock driven by the test: which inboxes are open
//! across a DST change, past midnight and on a holiday; and which auto-reply a customer gets, once
//! per period, never past the compliance gate or to a machine.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::harness::{Backend, Callback, TestApp};
use crate::on_both_backends;

const NY: &str = "America/New_York";

/// A wall-clock time in New York as epoch milliseconds.
fn ny(local: &str) -> i64 {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    dt.to_zoned(jiff::tz::TimeZone::get(NY).unwrap())
        .unwrap()
        .timestamp()
        .as_millisecond()
}

/// A server whose clock starts at `start` (ms) and moves only when the test says.
async fn at(backend: Backend, start: i64) -> (TestApp, parley_server::ManualClock) {
    let clock = parley_server::ManualClock::new(parley_core::Timestamp(start));
    let t = TestApp::spawn_with_clock(backend, Arc::new(clock.clone())).await;
    (t, clock)
}

/// Moves the clock to `to` (ms), forward only.
fn set(t: &TestApp, clock: &parley_server::ManualClock, to: i64) {
    let now = t.app.now().0;
    assert!(to >= now, "the clock only moves forward");
    clock.advance_ms(to - now);
}

async fn put(t: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    t.call(reqwest::Method::PUT, path, token, Some(body)).await
}

fn weekdays_nine_to_five() -> Value {
    let day = json!([["09:00", "17:00"]]);
    json!({ "time_zone": NY, "weekly": {
        "mon": day, "tue": day, "wed": day, "thu": day,
        "fri": [["09:00", "17:00"], ["22:00", "02:00"]],
    }, "special_days": { "2026-03-10": [] } })
}

/// Each inbox's status, by name.
async fn status(t: &TestApp) -> Vec<(String, Value)> {
    let (s, v) = t.get("/api/v1/business-hours/status", &t.admin_token).await;
    assert_eq!(s, 200, "{v}");
    let mut items: Vec<(String, Value)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_string(), i.clone()))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}

fn instant(v: &Value) -> i64 {
    let ts: jiff::Timestamp = v.as_str().unwrap().parse().unwrap();
    ts.as_millisecond()
}

async fn status_on(backend: Backend) {
    let (t, clock) = at(backend, ny("2026-03-06T08:00")).await;
    let cb = Callback::start(0).await;
    let (a, _) = t.api_inbox("A shop", &cb.url).await;
    let (b, _) = t.api_inbox("B desk", &cb.url).await;
    let (_, agent) = t.user("ann@acme.test", "agent").await;

    // Refusals name the field; only admins write.
    let path = "/api/v1/business-hours";
    let bad_zone = json!({ "time_zone": "Mars/Olympus", "weekly": {} });
    let bad_time = json!({ "time_zone": NY, "weekly": { "mon": [["09:00", "25:00"]] } });
    let bad_day = json!({ "time_zone": NY, "weekly": { "funday": [["09:00", "10:00"]] } });
    for (body, field) in [
        (bad_zone, "time_zone"),
        (bad_time, "weekly"),
        (bad_day, "weekly"),
    ] {
        let (s, v) = put(&t, path, &t.admin_token, body).await;
        assert_eq!((s, v["error"]["field"].as_str()), (422, Some(field)), "{v}");
    }
    let (s, _) = put(&t, path, &agent, weekdays_nine_to_five()).await;
    assert_eq!(s, 403);
    let (s, v) = t.get(path, &t.admin_token).await;
    assert_eq!((s, &v["hours"]), (200, &Value::Null), "none yet: {v}");
    let all = status(&t).await;
    assert_eq!(
        (all[0].1["open"].as_bool(), all[0].1["source"].as_str()),
        (Some(true), Some("none"))
    );

    let (s, v) = put(&t, path, &t.admin_token, weekdays_nine_to_five()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["hours"]["time_zone"], NY);
    // B has hours of its own: Paris, every day round the clock but Sunday.
    let full = json!([["00:00", "00:00"]]);
    let paris = json!({ "time_zone": "Europe/Paris", "weekly": {
        "mon": full, "tue": full, "wed": full, "thu": full, "fri": full, "sat": full } });
    let (s, v) = put(
        &t,
        &format!("/api/v1/inboxes/{b}/business-hours"),
        &t.admin_token,
        paris,
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // Friday 08:00 EST: A closed until 09:00 EST (14:00 UTC); B open on its own hours.
    let all = status(&t).await;
    let (sa, sb) = (&all[0].1, &all[1].1);
    assert_eq!(
        (sa["inbox_id"].as_str(), sa["open"].as_bool()),
        (Some(a.as_str()), Some(false))
    );
    assert_eq!(instant(&sa["next_open"]), ny("2026-03-06T09:00"));
    assert_eq!(ny("2026-03-06T09:00") % 86_400_000, 14 * 3_600_000);
    assert_eq!(
        (sa["source"].as_str(), sa["time_zone"].as_str()),
        (Some("workspace"), Some(NY))
    );
    assert_eq!(
        (sb["open"].as_bool(), sb["source"].as_str()),
        (Some(true), Some("inbox"))
    );
    assert_eq!(sb["next_open"], Value::Null);

    // Saturday 01:00: still open on Friday's 22:00–02:00; 02:30 closed until Monday.
    set(&t, &clock, ny("2026-03-07T01:00"));
    assert_eq!(status(&t).await[0].1["open"], true, "past midnight");
    set(&t, &clock, ny("2026-03-07T02:30"));
    let sa = status(&t).await[0].1.clone();
    assert_eq!(sa["open"], false);
    // The clocks went forward on Sunday: Monday 09:00 EDT is 13:00 UTC.
    assert_eq!(instant(&sa["next_open"]), ny("2026-03-09T09:00"));
    assert_eq!(ny("2026-03-09T09:00") % 86_400_000, 13 * 3_600_000);
    set(&t, &clock, ny("2026-03-09T09:00"));
    assert_eq!(status(&t).await[0].1["open"], true, "09:00 EDT");

    // Tuesday is a holiday: closed all day, open again Wednesday.
    set(&t, &clock, ny("2026-03-10T10:00"));
    let sa = status(&t).await[0].1.clone();
    assert_eq!(sa["open"], false, "{sa}");
    assert_eq!(instant(&sa["next_open"]), ny("2026-03-11T09:00"));
    // Once B's own hours go, the workspace's hold.
    let path_b = format!("/api/v1/inboxes/{b}/business-hours");
    let (s, _) = t
        .call(reqwest::Method::DELETE, &path_b, &t.admin_token, None)
        .await;
    assert_eq!(s, 204);
    let (_, v) = t.get(&path_b, &t.admin_token).await;
    assert_eq!(v["hours"], Value::Null);
    assert_eq!(status(&t).await[1].1["source"], "workspace");
}
on_both_backends!(status_across_dst_midnight_and_a_holiday, status_on);

async fn teams_on(backend: Backend) {
    let (t, _clock) = at(backend, ny("2026-03-06T08:00")).await;
    let (s, team) = t
        .post(
            "/api/v1/teams",
            &t.admin_token,
            json!({ "name": "Night shift" }),
        )
        .await;
    assert_eq!(s, 201, "{team}");
    let path = format!(
        "/api/v1/teams/{}/business-hours",
        team["id"].as_str().unwrap()
    );
    let night = json!({ "time_zone": NY, "weekly": { "fri": [["20:00", "08:00"]] } });
    let (s, v) = put(&t, &path, &t.admin_token, night.clone()).await;
    let mut kept = night.clone();
    kept["special_days"] = json!({});
    assert_eq!((s, &v["hours"]), (200, &kept), "{v}");
    assert_eq!(t.get(&path, &t.admin_token).await.1["hours"], kept);
    let (s, _) = t
        .call(reqwest::Method::DELETE, &path, &t.admin_token, None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(t.get(&path, &t.admin_token).await.1["hours"], Value::Null);
    let unknown = format!("/api/v1/teams/{}/business-hours", uuid::Uuid::now_v7());
    assert_eq!(put(&t, &unknown, &t.admin_token, night).await.0, 404);

    // The team's hours beat the inbox's for the conversations it handles.
    let cb = Callback::start(0).await;
    let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
    let never = json!({ "time_zone": "UTC", "weekly": {} });
    let inbox_hours = format!("/api/v1/inboxes/{inbox}/business-hours");
    assert_eq!(put(&t, &inbox_hours, &t.admin_token, never).await.0, 200);
    let full = json!([["00:00", "00:00"]]);
    let always = json!({ "time_zone": NY, "weekly": {
        "mon": full, "tue": full, "wed": full, "thu": full, "fri": full, "sat": full, "sun": full } });
    assert_eq!(put(&t, &path, &t.admin_token, always).await.0, 200);
    let mut settings = replies(5, None);
    settings["period_hours"] = json!(1);
    let auto = format!("/api/v1/inboxes/{inbox}/auto-replies");
    assert_eq!(put(&t, &auto, &t.admin_token, settings).await.0, 200);
    assert_eq!(t.inbound(&inbox, &secret, "c1", "m1", "Hi").await.0, 200);
    let (conv, texts) = conversation_replies(&t, "Customer c1").await;
    assert_eq!(
        texts,
        vec!["CLOSED, Customer: we answer when we open again."]
    );
    let conv = conv.unwrap()["id"].as_str().unwrap().to_string();
    let assign = json!({ "team_id": team["id"] });
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/assign"),
            &t.admin_token,
            assign,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m2", "Hello?").await.0,
        200
    );
    let texts = auto_replies(&t, "c1").await;
    assert_eq!(texts[1], "NORMAL: a little while.", "{texts:?}");
}
on_both_backends!(team_hours_are_kept_per_team, teams_on);

/// The automated replies on a conversation's timeline, oldest first.
async fn auto_replies(t: &TestApp, contact: &str) -> Vec<String> {
    conversation_replies(t, &format!("Customer {contact}"))
        .await
        .1
}

/// A conversation's id (by its contact's name) and the automated replies on its timeline.
async fn conversation_replies(t: &TestApp, name: &str) -> (Option<Value>, Vec<String>) {
    let (_, list) = t
        .get(
            "/api/v1/conversations?sort=newest&status=all",
            &t.admin_token,
        )
        .await;
    let Some(conv) = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_name"] == name)
        .cloned()
    else {
        return (None, Vec::new());
    };
    let texts = t
        .timeline_items(conv["id"].as_str().unwrap())
        .await
        .iter()
        .map(|e| &e["data"]["message"])
        .filter(|m| m["meta"]["auto_reply"]["kind"].is_string())
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    (Some(conv), texts)
}

/// Every auto-reply on with short texts; the peak one past `max_unassigned` waiting.
fn replies(max_unassigned: u32, assign_to: Option<&str>) -> Value {
    json!({
        "period_hours": 24,
        "default_wait": "a little while",
        "normal": { "enabled": true, "text": "NORMAL: {{expected_wait}}." },
        "peak": { "enabled": true, "text": "PEAK: {{expected_wait}}.", "max_unassigned": max_unassigned },
        "after_hours": { "enabled": true, "text": "CLOSED, {{first_name | friend}}: we answer {{expected_wait}}." },
        "urgent": { "enabled": true, "text": "URGENT: on-call alerted.", "keywords": ["urgent", "down"], "assign_to": assign_to },
    })
}

async fn after_hours_on(backend: Backend) {
    let (t, clock) = at(backend, ny("2026-12-08T07:00")).await;
    let cb = Callback::start(0).await;
    let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
    let (agent_id, agent) = t.user("ann@acme.test", "agent").await;
    assert_eq!(t.add_member(&inbox, &agent_id).await, 204);
    let path = format!("/api/v1/inboxes/{inbox}/auto-replies");
    let (s, v) = t.get(&path, &agent).await;
    assert_eq!(
        (s, v["after_hours"]["enabled"].as_bool()),
        (200, Some(false)),
        "off by default: {v}"
    );

    // Refusals name the field; only admins write.
    assert_eq!(put(&t, &path, &agent, replies(5, None)).await.0, 403);
    let mut bad = replies(5, None);
    bad["after_hours"]["text"] = json!("We open {{opening_time}}");
    let (s, v) = put(&t, &path, &t.admin_token, bad).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("after_hours")),
        "{v}"
    );
    let nobody = uuid::Uuid::now_v7().to_string();
    let (s, v) = put(&t, &path, &t.admin_token, replies(5, Some(&nobody))).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("assign_to")),
        "{v}"
    );
    let (s, v) = put(&t, &path, &t.admin_token, replies(5, Some(&agent_id))).await;
    assert_eq!(s, 200, "{v}");
    let hours = put(
        &t,
        "/api/v1/business-hours",
        &t.admin_token,
        weekdays_nine_to_five(),
    )
    .await;
    assert_eq!(hours.0, 200, "{}", hours.1);

    // Tuesday 07:00: closed. One after-hours reply, however often the customer writes.
    let closed = "CLOSED, Customer: we answer when we open at 9:00.";
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m1", "Hello?").await.0,
        200
    );
    assert_eq!(auto_replies(&t, "c1").await, vec![closed]);
    clock.advance_ms(30 * 60_000);
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m2", "Anyone?").await.0,
        200
    );
    assert_eq!(
        auto_replies(&t, "c1").await,
        vec![closed],
        "once per period"
    );

    // An urgent word: the urgent reply, and the on-call agent has the conversation.
    assert_eq!(
        t.inbound(&inbox, &secret, "c2", "m3", "Our site is DOWN!")
            .await
            .0,
        200
    );
    let (conv, texts) = conversation_replies(&t, "Customer c2").await;
    assert_eq!(texts, vec!["URGENT: on-call alerted."]);
    assert_eq!(conv.unwrap()["assignee_id"], json!(agent_id));

    // A contact who opted out gets nothing: the gate refuses, nothing is queued.
    assert_eq!(t.inbound(&inbox, &secret, "c3", "m4", "STOP").await.0, 200);
    assert_eq!(
        t.inbound(&inbox, &secret, "c3", "m5", "Hello?").await.0,
        200
    );
    assert_eq!(auto_replies(&t, "c3").await, Vec::<String>::new());

    // A day later the period is over: one more, with the opening said again.
    set(&t, &clock, ny("2026-12-09T07:30"));
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m6", "Hello again")
            .await
            .0,
        200
    );
    assert_eq!(auto_replies(&t, "c1").await, vec![closed, closed]);
    // Open: the normal reply, with the admin's default wait (nobody was answered lately).
    set(&t, &clock, ny("2026-12-09T10:00"));
    assert_eq!(t.inbound(&inbox, &secret, "c4", "m7", "Hi").await.0, 200);
    assert_eq!(
        auto_replies(&t, "c4").await,
        vec!["NORMAL: a little while."]
    );
    t.settle().await;
    // c1 twice, c2, c3's opt-out confirmation, c4 (each once, however often it was delivered).
    let mut sent: Vec<String> = cb
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap()["id"].to_string())
        .collect();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 5, "{:?}", cb.received.lock().unwrap());
}
on_both_backends!(after_hours_urgent_and_opted_out, after_hours_on);

async fn peak_on(backend: Backend) {
    let (t, clock) = at(backend, ny("2026-12-08T10:00")).await;
    let cb = Callback::start(0).await;
    let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
    let path = format!("/api/v1/inboxes/{inbox}/auto-replies");
    assert_eq!(
        put(&t, &path, &t.admin_token, replies(2, None)).await.0,
        200
    );

    // No hours: always open. Nobody answered yet: the default wait.
    assert_eq!(t.inbound(&inbox, &secret, "c1", "m1", "Hi").await.0, 200);
    assert_eq!(
        auto_replies(&t, "c1").await,
        vec!["NORMAL: a little while."]
    );
    // Answered five minutes later: the expected wait is now measured.
    clock.advance_ms(5 * 60_000);
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Hello!" }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    clock.advance_ms(60_000);
    let normal = "NORMAL: about 5 minutes.";
    assert_eq!(t.inbound(&inbox, &secret, "c2", "m2", "Hi").await.0, 200);
    assert_eq!(auto_replies(&t, "c2").await, vec![normal]);
    assert_eq!(t.inbound(&inbox, &secret, "c3", "m3", "Hi").await.0, 200);
    assert_eq!(
        auto_replies(&t, "c3").await,
        vec![normal],
        "2 waiting: not over 2"
    );
    // A third unassigned conversation waiting: over the threshold, the peak reply.
    assert_eq!(t.inbound(&inbox, &secret, "c4", "m4", "Hi").await.0, 200);
    assert_eq!(auto_replies(&t, "c4").await, vec!["PEAK: about 5 minutes."]);
    // An hour on, the answer is out of the window: the default again.
    clock.advance_ms(61 * 60_000);
    assert_eq!(t.inbound(&inbox, &secret, "c5", "m5", "Hi").await.0, 200);
    assert_eq!(auto_replies(&t, "c5").await, vec!["PEAK: a little while."]);
}
on_both_backends!(peak_reply_when_the_queue_is_long, peak_on);

async fn email_on(backend: Backend) {
    let (t, _clock) = at(backend, ny("2026-12-08T07:00")).await;
    let (relay, relay_port) = crate::email::Relay::start().await;
    let smtp = crate::email::listener(&t).await;
    let inbox = crate::email::email_inbox(&t, relay_port).await;
    let id = inbox["id"].as_str().unwrap();
    // Never open: every message is after hours.
    let never = json!({ "time_zone": "UTC", "weekly": {} });
    let hours = format!("/api/v1/inboxes/{id}/business-hours");
    assert_eq!(put(&t, &hours, &t.admin_token, never).await.0, 200);
    let path = format!("/api/v1/inboxes/{id}/auto-replies");
    assert_eq!(
        put(&t, &path, &t.admin_token, replies(5, None)).await.0,
        200
    );

    let mail = "From: Dana Scully <dana@customer.example>\nTo: help@acme.example\nSubject: Order\nMessage-ID: <o-1@customer.example>\n\nWhere is it?\n";
    let r =
        crate::email::smtp_send(smtp, "dana@customer.example", &["help@acme.example"], mail).await;
    assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    let (_, texts) = conversation_replies(&t, "Dana Scully").await;
    assert_eq!(texts, vec!["CLOSED, Dana: we answer when we open again."]);
    assert_eq!(relay.wait_for(1).await.len(), 1);

    // An automatic mail is never answered (nor stored).
    let robot = "From: Shop <orders@shop.example>\nTo: help@acme.example\nSubject: Your order\nAuto-Submitted: auto-generated\nMessage-ID: <r-1@shop.example>\n\nThanks for your order.\n";
    let r =
        crate::email::smtp_send(smtp, "orders@shop.example", &["help@acme.example"], robot).await;
    assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    assert_eq!(conversation_replies(&t, "Shop").await.0, None);
    t.settle().await;
    assert_eq!(
        relay.got.lock().unwrap().len(),
        1,
        "no reply to the machine"
    );
}
on_both_backends!(no_auto_reply_to_automatic_mail, email_on);
