//! Satisfaction by reply: a customer who answers the survey with "4/5", stars, a thumb or a tapped
//! choice has rated the conversation, which stays resolved; anything else is an ordinary message.

use serde_json::{json, Value};

use crate::harness::{Backend, TestApp};
use crate::messaging::{fake, hook, BOT_TOKEN};
use crate::on_both_backends;
use crate::twilio::{fake_twilio, form, post_signed, SID, TOKEN};

const HOUR: i64 = 3600 * 1000;

async fn survey_by(t: &TestApp, answer_by: &str, message: &str) {
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            "/api/v1/survey",
            &t.admin_token,
            Some(json!({ "enabled": true, "message": message, "answer_by": answer_by })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn status(t: &TestApp, conv: &str) -> String {
    let (_, c) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    c["status"].as_str().unwrap().to_string()
}

async fn answers(t: &TestApp, conv: &str) -> Vec<Value> {
    t.timeline_items(conv)
        .await
        .into_iter()
        .filter(|i| i["type"] == "survey.answered")
        .map(|i| i["data"].clone())
        .collect()
}

async fn act(t: &TestApp, conv: &str, what: &str, body: Value) {
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/{what}"),
            &t.admin_token,
            body,
        )
        .await;
    assert!(s == 200 || s == 201, "{what}: {s} {v}");
}

async fn sms_replies_on(backend: Backend) {
    let clock = parley_server::ManualClock::new(parley_core::Timestamp(1_799_773_200_000));
    let t = TestApp::spawn_with_clock(backend, std::sync::Arc::new(clock.clone())).await;
    let (base, fake) = fake_twilio().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Support line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    let id = inbox["id"].as_str().unwrap().to_string();
    // A survey answered by reply sends no link; one that asks for a reply may not carry one.
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            "/api/v1/survey",
            &t.admin_token,
            Some(json!({ "enabled": true, "message": "Rate us: {link}", "answer_by": "reply" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("message")),
        "{v}"
    );
    let (_, before) = t.get("/api/v1/survey", &t.admin_token).await;
    assert_eq!(
        before["answer_by"], "link",
        "a link unless the admin says otherwise"
    );
    survey_by(
        &t,
        "reply",
        "How did we do? Reply with a number from 1 to 5.",
    )
    .await;
    let (_, now) = t.get("/api/v1/survey", &t.admin_token).await;
    assert_eq!(now["answer_by"], "reply");

    let mut n = 0;
    let mut sms = |from: &str, body: &str| {
        n += 1;
        let sid = format!("SM{n:032}");
        (
            sid.clone(),
            form(&[
                ("MessageSid", &sid),
                ("AccountSid", SID),
                ("From", from),
                ("To", "+15017122661"),
                ("Body", body),
                ("NumMedia", "0"),
            ]),
        )
    };
    let (_, hi) = sms("+15558675310", "Is my order shipped?");
    assert_eq!(post_signed(&t, &id, &hi, TOKEN).await.0, 200);
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    act(
        &t,
        &conv,
        "messages",
        json!({ "body": "Yes, it left today." }),
    )
    .await;
    act(&t, &conv, "resolve", json!({})).await;
    fake.sent.wait_for(2).await;
    let bodies = fake.bodies();
    assert_eq!(
        bodies[1], "How did we do? Reply with a number from 1 to 5.",
        "{bodies:?}"
    );

    // "4/5" rates the conversation with the customer's words, and it stays resolved.
    clock.advance_ms(HOUR);
    let (_, rating) = sms("+15558675310", "4/5");
    assert_eq!(post_signed(&t, &id, &rating, TOKEN).await.0, 200);
    assert_eq!(
        post_signed(&t, &id, &rating, TOKEN).await.0,
        200,
        "a redelivery"
    );
    assert_eq!(status(&t, &conv).await, "resolved");
    let got = answers(&t, &conv).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0]["rating"].as_i64(), got[0]["comment"].as_str()),
        (Some(4), Some("4/5"))
    );
    assert_eq!(got[0]["answered_by"], "reply");
    let messages = t
        .timeline_items(&conv)
        .await
        .iter()
        .filter(|i| i["type"] == "message.created")
        .count();
    assert_eq!(
        messages, 4,
        "the rating is kept as the customer's message, once"
    );

    // The survey took its answer: another rating is an ordinary message, and reopens.
    clock.advance_ms(HOUR);
    let (_, again) = sms("+15558675310", "⭐⭐⭐");
    assert_eq!(post_signed(&t, &id, &again, TOKEN).await.0, 200);
    assert_eq!(status(&t, &conv).await, "open");
    assert_eq!(answers(&t, &conv).await.len(), 1);

    // Words that rate nothing are an ordinary message: "thanks!" reopens.
    act(&t, &conv, "resolve", json!({})).await;
    fake.sent.wait_for(3).await;
    clock.advance_ms(HOUR);
    let (_, thanks) = sms("+15558675310", "thanks!");
    assert_eq!(post_signed(&t, &id, &thanks, TOKEN).await.0, 200);
    assert_eq!(status(&t, &conv).await, "open");
    assert_eq!(answers(&t, &conv).await.len(), 1);

    // That survey is still open: stars answer it.
    act(&t, &conv, "resolve", json!({})).await;
    fake.sent.wait_for(4).await;
    clock.advance_ms(HOUR);
    let (_, stars) = sms("+15558675310", "⭐⭐⭐");
    assert_eq!(post_signed(&t, &id, &stars, TOKEN).await.0, 200);
    assert_eq!(status(&t, &conv).await, "resolved");
    let got = answers(&t, &conv).await;
    let ratings: Vec<i64> = got.iter().map(|a| a["rating"].as_i64().unwrap()).collect();
    assert_eq!(ratings, [4, 3]);

    // A survey past its week is closed: a rating then is an ordinary message.
    let (_, more) = sms("+15558675310", "One more question");
    assert_eq!(post_signed(&t, &id, &more, TOKEN).await.0, 200);
    clock.advance_ms(HOUR);
    act(&t, &conv, "resolve", json!({})).await;
    fake.sent.wait_for(5).await;
    clock.advance_ms(8 * 24 * HOUR);
    let (_, late) = sms("+15558675310", "5");
    assert_eq!(post_signed(&t, &id, &late, TOKEN).await.0, 200);
    assert_eq!(status(&t, &conv).await, "open");
    assert_eq!(answers(&t, &conv).await.len(), 2);
    t.settle().await;
}

on_both_backends!(
    a_rating_by_sms_answers_the_survey_and_keeps_it_resolved,
    sms_replies_on
);

async fn telegram_choice_on(backend: Backend) {
    let t = TestApp::spawn(backend).await;
    let (base, fake) = fake().await;
    survey_by(
        &t,
        "both",
        "How did we do? Tap a rating, or rate us here: {link}",
    )
    .await;
    let (_, tg) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Bot", "kind": "telegram", "bot_token": BOT_TOKEN, "api_base_url": base }))
        .await;
    let path = format!("/hooks/telegram/{}", tg["id"].as_str().unwrap());
    let secret = (
        "x-telegram-bot-api-secret-token",
        tg["secret"].as_str().unwrap().to_string(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let hi = json!({"update_id": 1, "message": {"message_id": 1, "from": {"id": 222, "is_bot": false, "first_name": "Bo"}, "chat": {"id": 222, "type": "private"}, "date": now, "text": "Hi"}});
    assert_eq!(hook(&t, &path, secret.clone(), &hi.to_string()).await, 200);
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    act(&t, &conv, "messages", json!({ "body": "Sorted!" })).await;
    act(&t, &conv, "resolve", json!({})).await;
    let seen = fake.wait(2).await;
    let survey = &seen[1].1;
    assert!(
        survey["text"].as_str().unwrap().contains("/survey/"),
        "{survey}"
    );
    let keyboard = &survey["reply_markup"]["inline_keyboard"];
    assert_eq!(keyboard.as_array().map(Vec::len), Some(5), "{survey}");
    assert_eq!(keyboard[3][0]["callback_data"], "survey:4", "{survey}");

    // She taps "4 – Good": a rating, and the conversation stays resolved.
    let tap = json!({"update_id": 2, "callback_query": {"id": "q1", "from": {"id": 222, "is_bot": false, "first_name": "Bo"},
        "message": {"message_id": 101, "chat": {"id": 222, "type": "private"}, "date": now, "text": "How did we do?"},
        "chat_instance": "-1", "data": "survey:4"}});
    assert_eq!(hook(&t, &path, secret, &tap.to_string()).await, 200);
    assert_eq!(status(&t, &conv).await, "resolved");
    let got = answers(&t, &conv).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["rating"], 4);
    t.settle().await;
}

on_both_backends!(a_tapped_rating_answers_the_survey, telegram_choice_on);
