//! Twilio SMS end to end against a local fake of Twilio's Messages API, which checks what Twilio
//! checks (Basic auth with the account sid and auth token, required form fields) and answers with
//! Twilio's payload shapes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::harness::{last_delivery, TestApp};
use crate::on_both;

pub const SID: &str = "AC00000000000000000000000000000001";
pub const TOKEN: &str = "test-auth-token-1";

/// The form fields of one message Twilio accepted.
pub type Sent = Vec<(String, String)>;

#[derive(Clone, Default)]
pub struct FakeTwilio {
    pub sent: crate::harness::Recorded<Sent>,
}

impl FakeTwilio {
    /// The bodies of the messages accepted so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter_map(|f| f.iter().find(|(k, _)| k == "Body").map(|(_, v)| v.clone()))
            .collect()
    }
}

async fn create_message(
    State(f): State<FakeTwilio>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<Value>) {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != expected || account != SID {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "code": 20003, "message": "Authenticate", "status": 401 })),
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let has = |k: &str| form.iter().any(|(n, v)| n == k && !v.is_empty());
    if !has("To")
        || !(has("From") || has("MessagingServiceSid"))
        || !(has("Body") || has("MediaUrl"))
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({ "code": 21602, "message": "Message body is required.", "status": 400 }),
            ),
        );
    }
    let to = form
        .iter()
        .find(|(n, _)| n == "To")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if to == "+15005550009" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({ "code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400 }),
            ),
        );
    }
    let n = f.sent.push(form);
    let sid = format!("SM{:032}", n);
    (
        StatusCode::CREATED,
        axum::Json(
            json!({ "sid": sid, "account_sid": SID, "to": to, "status": "queued", "num_segments": "1" }),
        ),
    )
}

/// `GET /2010-04-01/Accounts/{sid}.json`: the account, for the same credentials.
async fn fetch_account(
    Path(file): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(expected.as_str()) || file != format!("{SID}.json") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({ "code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401 }),
            ),
        );
    }
    (
        StatusCode::OK,
        axum::Json(
            json!({ "sid": SID, "friendly_name": "Acme Support", "status": "active", "type": "Full" }),
        ),
    )
}

pub async fn fake_twilio() -> (String, FakeTwilio) {
    let fake = FakeTwilio::default();
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{file}",
            axum::routing::get(fetch_account),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            axum::routing::post(create_message),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, fake)
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

pub async fn post_signed(t: &TestApp, inbox: &str, body: &str, token: &str) -> (u16, String) {
    let url = format!("{}/hooks/twilio/{inbox}", t.app.config.public_url);
    let params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let sig = parley_channels::twilio::signature(token, &url, &params);
    let r = t
        .http
        .post(t.url(&format!("/hooks/twilio/{inbox}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

on_both!(sms_in_and_out_through_twilio, |t: TestApp| async move {
    let (base, fake) = fake_twilio().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Support line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    let id = inbox["id"].as_str().unwrap().to_string();
    assert!(inbox["webhook_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/hooks/twilio/{id}")));

    let sms = form(&[
        ("MessageSid", "SM11111111111111111111111111111111"),
        ("AccountSid", SID),
        ("From", "+15558675310"),
        ("To", "+15017122661"),
        ("Body", "Is my order shipped?"),
        ("NumMedia", "0"),
    ]);
    let (s, _) = post_signed(&t, &id, &sms, "wrong-token").await;
    assert_eq!(s, 403, "a bad signature is refused");
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "and nothing is stored"
    );
    let (s, twiml) = post_signed(&t, &id, &sms, TOKEN).await;
    assert_eq!(s, 200);
    assert!(twiml.contains("<Response>"), "{twiml}");
    let (s, _) = post_signed(&t, &id, &sms, TOKEN).await;
    assert_eq!(s, 200, "Twilio retries are acknowledged");
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let convs = list["items"].as_array().unwrap();
    assert_eq!(convs.len(), 1);
    let conv = convs[0]["id"].as_str().unwrap().to_string();
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    assert_eq!(
        tl["items"].as_array().unwrap().len(),
        1,
        "a duplicate delivery is stored once"
    );
    let (s, _) = post_signed(
        &t,
        &id,
        &form(&[
            ("MessageSid", "SM2"),
            ("AccountSid", SID),
            ("From", "+1"),
            ("To", "+15017122661"),
            ("Body", "x"),
        ]),
        TOKEN,
    )
    .await;
    assert_eq!(s, 400, "a malformed sender is refused");
    let status = form(&[
        ("MessageSid", "SM99999999999999999999999999999999"),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
        ("From", "+15017122661"),
        ("To", "+15558675310"),
    ]);
    let (s, _) = post_signed(&t, &id, &status, TOKEN).await;
    assert_eq!(
        s, 200,
        "a status for an unknown message is acknowledged and ignored"
    );

    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Yes, it left today." }),
        )
        .await;
    assert_eq!(s, 201);
    let sent = fake.sent.wait_for(1).await;
    assert_eq!(sent.len(), 1, "the reply reached Twilio");
    let get = |k: &str| sent[0].iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("To").as_deref(), Some("+15558675310"));
    assert_eq!(get("From").as_deref(), Some("+15017122661"));
    assert_eq!(get("Body").as_deref(), Some("Yes, it left today."));
    assert_eq!(
        get("StatusCallback"),
        Some(format!("{}/hooks/twilio/{id}", t.app.config.public_url))
    );

    // Twilio's status callbacks move the reply forward, out of order as they may arrive.
    let sid = format!("SM{:032}", 1);
    for st in ["sent", "delivered", "sent"] {
        let cb = form(&[
            ("SmsSid", &sid),
            ("SmsStatus", st),
            ("MessageStatus", st),
            ("To", "+15558675310"),
            ("MessageSid", &sid),
            ("AccountSid", SID),
            ("From", "+15017122661"),
            ("ApiVersion", "2010-04-01"),
        ]);
        assert_eq!(post_signed(&t, &id, &cb, TOKEN).await.0, 200);
    }
    let d = last_delivery(&t, &conv, "delivered").await;
    assert_eq!(
        d["status"], "delivered",
        "a late \"sent\" never overwrites \"delivered\": {d}"
    );
    // An undelivered message carries Twilio's reason to the agent.
    t.post(
        &format!("/api/v1/conversations/{conv}/messages"),
        &t.admin_token,
        json!({ "body": "Tracking: 1Z999" }),
    )
    .await;
    fake.sent.wait_for(2).await;
    let sid2 = format!("SM{:032}", 2);
    let cb = form(&[
        ("MessageSid", &sid2),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
        ("AccountSid", SID),
        ("From", "+15017122661"),
        ("To", "+15558675310"),
    ]);
    assert_eq!(post_signed(&t, &id, &cb, TOKEN).await.0, 200);
    let d = last_delivery(&t, &conv, "failed").await;
    assert_eq!(d["status"], "failed", "{d}");
    assert!(
        d["error"]
            .as_str()
            .unwrap()
            .contains("30003: unreachable handset"),
        "{d}"
    );

    // A recipient who texted STOP to Twilio: error 21610 is final, not retried.
    let stop = form(&[
        ("MessageSid", "SM33333333333333333333333333333333"),
        ("AccountSid", SID),
        ("From", "+15005550009"),
        ("To", "+15017122661"),
        ("Body", "hello"),
    ]);
    assert_eq!(post_signed(&t, &id, &stop, TOKEN).await.0, 200);
    let (_, list) = t
        .get("/api/v1/conversations?sort=activity", &t.admin_token)
        .await;
    let stop_conv = list["items"][0]["id"].as_str().unwrap().to_string();
    t.post(
        &format!("/api/v1/conversations/{stop_conv}/messages"),
        &t.admin_token,
        json!({ "body": "hi" }),
    )
    .await;
    let delivery = last_delivery(&t, &stop_conv, "failed").await;
    assert_eq!(delivery["status"], "failed");
    assert!(
        delivery["error"].as_str().unwrap().contains("21610"),
        "{delivery}"
    );
    // The contact is now opted out of SMS, with the carrier's word as evidence: further replies
    // are refused before they are queued.
    let contact = list["items"][0]["contact_id"].as_str().unwrap().to_string();
    let (_, consent) = t
        .get(
            &format!("/api/v1/contacts/{contact}/consent"),
            &t.admin_token,
        )
        .await;
    assert_eq!(consent["opted_out"], json!(["sms"]), "{consent}");
    let revoked = &consent["history"][0];
    assert_eq!(
        (revoked["action"].as_str(), revoked["source"].as_str()),
        (Some("revoke"), Some("carrier"))
    );
    assert_eq!(revoked["evidence"]["twilio_error"], 21610);
    let before = t
        .get(
            &format!("/api/v1/conversations/{stop_conv}/timeline"),
            &t.admin_token,
        )
        .await
        .1["items"]
        .as_array()
        .unwrap()
        .len();
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{stop_conv}/messages"),
            &t.admin_token,
            json!({ "body": "still there?" }),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("opted_out")),
        "{v}"
    );
    let after = t
        .get(
            &format!("/api/v1/conversations/{stop_conv}/timeline"),
            &t.admin_token,
        )
        .await
        .1["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "nothing queued");

    // A per-number sending rate: set, changed, refused when out of range.
    let (s, v) = t.post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Fast", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122662", "rate_limit": 20001 })).await;
    assert_eq!((s, v["error"]["field"].as_str()), (422, Some("rate_limit")));
    let (s, v) = t
        .patch(
            &format!("/api/v1/inboxes/{id}"),
            &t.admin_token,
            json!({ "rate_limit": 1.5 }),
        )
        .await;
    assert_eq!((s, v["settings"]["rate_limit"].as_f64()), (200, Some(1.5)));
    let (s, v) = t
        .patch(
            &format!("/api/v1/inboxes/{id}"),
            &t.admin_token,
            json!({ "rate_limit": null }),
        )
        .await;
    assert_eq!((s, v["settings"]["rate_limit"].is_null()), (200, true));

    let (s, v) = t.post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Bad", "kind": "twilio", "account_sid": "nope", "auth_token": TOKEN, "from": "+15017122661" })).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("account_sid"))
    );
});

on_both!(
    sms_choices_are_numbered_and_answers_understood,
    |t: TestApp| async move {
        let (base, fake) = fake_twilio().await;
        let (_, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
        let id = inbox["id"].as_str().unwrap().to_string();
        let sms = |sid: &str, body: &str| {
            form(&[
                ("MessageSid", sid),
                ("AccountSid", SID),
                ("From", "+15558675310"),
                ("To", "+15017122661"),
                ("Body", body),
                ("NumMedia", "0"),
            ])
        };
        assert_eq!(
            post_signed(&t, &id, &sms("SMa1", "Can I book a visit?"), TOKEN)
                .await
                .0,
            200
        );
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let (s, _) = t
        .post(&format!("/api/v1/conversations/{conv}/messages"), &t.admin_token,
              json!({ "body": "Which day?", "choices": [{"id": "mon", "title": "Monday"}, {"id": "wed", "title": "Wednesday"}] }))
        .await;
        assert_eq!(s, 201);
        let sent = fake.sent.wait_for(1).await;
        let body = sent[0]
            .iter()
            .find(|(n, _)| n == "Body")
            .map(|(_, v)| v.clone());
        assert_eq!(
            body.as_deref(),
            Some("Which day?\n\n1. Monday\n2. Wednesday\n\nReply with a number.")
        );
        assert_eq!(
            post_signed(&t, &id, &sms("SMa2", " 2. "), TOKEN).await.0,
            200
        );
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let last = tl["items"].as_array().unwrap().last().unwrap()["data"]["message"].clone();
        assert_eq!(
            last["meta"]["choice"],
            json!({"id": "wed", "title": "Wednesday"}),
            "{last}"
        );
    }
);

on_both!(
    an_opt_out_stops_a_reply_already_queued,
    |t: TestApp| async move {
        let mut t = t;
        let (base, fake) = fake_twilio().await;
        let (_, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
        let id = inbox["id"].as_str().unwrap().to_string();
        let sms = form(&[
            ("MessageSid", "SMq1"),
            ("AccountSid", SID),
            ("From", "+15558675311"),
            ("To", "+15017122661"),
            ("Body", "Hi"),
            ("NumMedia", "0"),
        ]);
        assert_eq!(post_signed(&t, &id, &sms, TOKEN).await.0, 200);
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let contact: parley_core::ContactId =
            serde_json::from_value(list["items"][0]["contact_id"].clone()).unwrap();
        t.stop_workers();
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Our new offer!" }),
            )
            .await;
        assert_eq!(s, 201);
        // The opt-out arrives while the reply waits in the outbox.
        let ws = t.app.store.first_workspace().await.unwrap().unwrap().id;
        t.app
            .store
            .record_consent(
                ws,
                parley_store::NewConsent {
                    contact,
                    purpose: parley_core::consent::Purpose::Conversational,
                    action: parley_core::consent::Action::Revoke,
                    source: "keyword".into(),
                    channel: Some("sms".into()),
                    evidence: json!({ "text": "STOP" }),
                    at: t.app.now(),
                    conversation: None,
                },
            )
            .await
            .unwrap();
        parley_server::jobs::run_due_deliveries(&t.app)
            .await
            .unwrap();
        let d = last_delivery(&t, &conv, "failed").await;
        assert_eq!(d["status"], "failed", "{d}");
        assert!(d["error"].as_str().unwrap().contains("opted out"), "{d}");
        assert!(
            fake.sent.lock().unwrap().is_empty(),
            "nothing reached Twilio"
        );
    }
);

on_both!(
    stop_and_start_keywords_change_consent,
    |t: TestApp| async move {
        let (base, fake) = fake_twilio().await;
        let (_, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
        let id = inbox["id"].as_str().unwrap().to_string();
        let sms = |sid: &str, body: &str| {
            form(&[
                ("MessageSid", sid),
                ("AccountSid", SID),
                ("From", "+15558675312"),
                ("To", "+15017122661"),
                ("Body", body),
                ("NumMedia", "0"),
            ])
        };
        assert_eq!(
            post_signed(&t, &id, &sms("SMk1", "Hi there"), TOKEN)
                .await
                .0,
            200
        );
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let contact = list["items"][0]["contact_id"].as_str().unwrap().to_string();
        let reply = |body: &'static str| {
            let (t, conv) = (&t, conv.clone());
            async move {
                t.post(
                    &format!("/api/v1/conversations/{conv}/messages"),
                    &t.admin_token,
                    json!({ "body": body }),
                )
                .await
            }
        };
        // "YES" from someone who never opted out is just an answer.
        assert_eq!(
            post_signed(&t, &id, &sms("SMk2", "Yes"), TOKEN).await.0,
            200
        );
        let (_, c) = t
            .get(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
            )
            .await;
        assert_eq!(c["history"], json!([]), "{c}");
        // " Stop! " revokes at once; Twilio's redelivery of it records nothing more.
        for _ in 0..2 {
            assert_eq!(
                post_signed(&t, &id, &sms("SMk3", " Stop! "), TOKEN).await.0,
                200
            );
        }
        let (_, c) = t
            .get(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
            )
            .await;
        assert_eq!(
            c["history"].as_array().unwrap().len(),
            3,
            "one revocation per purpose: {c}"
        );
        assert_eq!(c["history"][0]["source"], "keyword");
        assert_eq!(c["history"][0]["evidence"]["text"], " Stop! ");
        assert_eq!(
            c["history"][0]["channel"],
            Value::Null,
            "a revocation by SMS holds on every channel"
        );
        let (s, v) = reply("Sorry to see you go").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("opted_out")),
            "{v}"
        );
        // START opts back in; replies go again.
        assert_eq!(
            post_signed(&t, &id, &sms("SMk4", "START"), TOKEN).await.0,
            200
        );
        assert_eq!(reply("Welcome back").await.0, 201);
        // Delivered before the next revocation arrives (which would stop it if still queued).
        let sent = fake.sent.wait_for(1).await;
        // A clear request in words counts too.
        assert_eq!(
            post_signed(&t, &id, &sms("SMk5", "Please stop texting me."), TOKEN)
                .await
                .0,
            200
        );
        assert_eq!(reply("Last one?").await.0, 422);
        assert!(!sent.is_empty(), "Welcome back was never delivered");
        let sent = fake.sent.lock().unwrap().clone();
        let bodies: Vec<String> = sent
            .iter()
            .filter_map(|f| f.iter().find(|(n, _)| n == "Body").map(|(_, v)| v.clone()))
            .collect();
        assert_eq!(bodies, vec!["Welcome back".to_string()]);
    }
);

on_both!(
    an_unclear_request_is_flagged_for_review,
    |t: TestApp| async move {
        let (base, _fake) = fake_twilio().await;
        let (_, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
        let id = inbox["id"].as_str().unwrap().to_string();
        let sms = form(&[
            ("MessageSid", "SMp1"),
            ("AccountSid", SID),
            ("From", "+15558675313"),
            ("To", "+15017122661"),
            ("Body", "I want to cancel my order"),
            ("NumMedia", "0"),
        ]);
        assert_eq!(post_signed(&t, &id, &sms, TOKEN).await.0, 200);
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let contact = list["items"][0]["contact_id"].as_str().unwrap().to_string();
        let (_, c) = t
            .get(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
            )
            .await;
        assert_eq!(
            c["probable_revocation"]["text"], "I want to cancel my order",
            "{c}"
        );
        assert_eq!(
            c["opted_out"],
            json!([]),
            "answers in the conversation still go: {c}"
        );
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Which order?" }),
            )
            .await;
        assert_eq!(s, 201);
        // The agent reviews it: it was about the order, not about messages.
        for (body, field) in [
            (
                json!({ "purpose": "marketing", "action": "grant" }),
                "purpose",
            ),
            (
                json!({ "purpose": "informational", "action": "maybe" }),
                "action",
            ),
            (
                json!({ "purpose": "informational", "action": "grant", "source": "keyword" }),
                "source",
            ),
            (
                json!({ "purpose": "informational", "action": "grant", "channel": "fax" }),
                "channel",
            ),
        ] {
            let (s, v) = t
                .post(
                    &format!("/api/v1/contacts/{contact}/consent"),
                    &t.admin_token,
                    body,
                )
                .await;
            assert_eq!((s, v["error"]["field"].as_str()), (422, Some(field)), "{v}");
        }
        let (s, v) = t
        .post(&format!("/api/v1/contacts/{contact}/consent"), &t.admin_token,
              json!({ "purpose": "informational", "action": "grant", "evidence": { "note": "asked about order 1042 only" } }))
        .await;
        assert_eq!(s, 201, "{v}");
        let (_, c) = t
            .get(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
            )
            .await;
        assert_eq!(c["probable_revocation"], Value::Null, "{c}");
        let last = c["history"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (
                last["source"].as_str(),
                last["evidence"]["detail"]["note"].as_str()
            ),
            (Some("agent"), Some("asked about order 1042 only"))
        );
        assert!(last["evidence"]["recorded_by"].is_string());
        let (s, _) = t
            .post(
                "/api/v1/contacts/00000000-0000-7000-8000-000000000000/consent",
                &t.admin_token,
                json!({ "purpose": "informational", "action": "grant" }),
            )
            .await;
        assert_eq!(s, 404);
    }
);

on_both!(
    an_admin_tests_the_credentials_of_an_inbox,
    |t: TestApp| async move {
        let (base, _fake) = fake_twilio().await;
        let mut ids = Vec::new();
        for token in [TOKEN, "not-the-token"] {
            let (s, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": token, "from": "+15017122661", "api_base_url": base }))
            .await;
            assert_eq!(s, 201, "{inbox}");
            ids.push(inbox["id"].as_str().unwrap().to_string());
        }
        let (s, good) = t
            .post(
                &format!("/api/v1/inboxes/{}/test", ids[0]),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{good}");
        assert_eq!(good["ok"], true, "{good}");
        assert!(
            good["detail"].as_str().unwrap().contains("Acme Support"),
            "{good}"
        );
        let (s, bad) = t
            .post(
                &format!("/api/v1/inboxes/{}/test", ids[1]),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{bad}");
        assert_eq!(bad["ok"], false, "{bad}");
        assert!(
            bad["detail"].as_str().unwrap().contains("Authenticate"),
            "{bad}"
        );

        // The wrong token is replaced in place: an edit that fails validation changes nothing, a
        // field of another channel is refused, and the new token both sends and signs webhooks.
        let bad_inbox = format!("/api/v1/inboxes/{}", ids[1]);
        let (s, v) = t
            .patch(
                &bad_inbox,
                &t.admin_token,
                json!({ "auth_token": TOKEN, "account_sid": "nope" }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("account_sid")),
            "{v}"
        );
        // The stored token never goes to a new address unless it is given again.
        let (s, v) = t
            .patch(
                &bad_inbox,
                &t.admin_token,
                json!({ "api_base_url": "http://127.0.0.1:9/elsewhere" }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("auth_token")),
            "{v}"
        );
        let (s, v) = t
            .patch(
                &bad_inbox,
                &t.admin_token,
                json!({ "bot_token": "123:abc" }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("bot_token")),
            "{v}"
        );
        let (_, still) = t
            .post(&format!("{bad_inbox}/test"), &t.admin_token, json!({}))
            .await;
        assert_eq!(still["ok"], false, "{still}");
        let body = form(&[
            ("MessageSid", "SM00000000000000000000000000000077"),
            ("AccountSid", SID),
            ("From", "+14155550100"),
            ("To", "+15017122661"),
            ("Body", "hello"),
        ]);
        assert_eq!(post_signed(&t, &ids[1], &body, TOKEN).await.0, 403);
        let (s, edited) = t
            .patch(&bad_inbox, &t.admin_token, json!({ "auth_token": TOKEN }))
            .await;
        assert_eq!(s, 200, "{edited}");
        assert_eq!(
            (
                edited["settings"]["account_sid"].as_str(),
                edited["settings"]["from"].as_str(),
                edited["settings"]["api_base_url"].as_str()
            ),
            (
                Some(SID),
                Some("+15017122661"),
                Some(base.trim_end_matches('/'))
            ),
            "the rest stays: {edited}"
        );
        let (_, fixed) = t
            .post(&format!("{bad_inbox}/test"), &t.admin_token, json!({}))
            .await;
        assert_eq!(fixed["ok"], true, "{fixed}");
        assert_eq!(
            post_signed(&t, &ids[1], &body, "not-the-token").await.0,
            403
        );
        assert_eq!(post_signed(&t, &ids[1], &body, TOKEN).await.0, 200);
        let (_, log) = t.get("/api/v1/audit", &t.admin_token).await;
        let log = log.to_string();
        assert!(log.contains("auth_token") && !log.contains(TOKEN), "{log}");

        // Nothing to ask for an API inbox; agents may not test at all.
        let (api, _) = t.api_inbox("Hook", "http://127.0.0.1:9/cb").await;
        let (s, v) = t
            .post(
                &format!("/api/v1/inboxes/{api}/test"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("not_testable")),
            "{v}"
        );
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (s, _) = t
            .post(
                &format!("/api/v1/inboxes/{}/test", ids[0]),
                &agent,
                json!({}),
            )
            .await;
        assert_eq!(s, 403);
    }
);
