//! The logs of full scenarios hold no secret, token, password, message body, phone number or
//! email address, at the most verbose level Parley can be asked for (`PARLEY_LOG=trace`, through
//! Parley's own logger, on both databases): set-up, sign-in (right and wrong), API tokens, an
//! inbox whose callback fails then recovers, customers' messages with their numbers, STOP, HELP,
//! replies, consent, a Twilio inbox whose provider refuses the credentials, a Telegram bot whose
//! API cannot be reached, a widget visitor who leaves an email address, mail in and out through
//! SMTP, and an IMAP mailbox that refuses its login. Its own test binary: it installs the
//! process's global subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parley_channels::email::{self as mail, DeliveryError, ReceivedMail, SmtpHandler};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

// The shared harness; this test uses part of it.
#[allow(dead_code)]
#[path = "it/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "it/waits.rs"]
mod waits;

use harness::{Backend, Callback, TestApp};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const TG_TOKEN: &str = "987654321:AAPrivateBotTokenForLogs_xyz";
const VISITOR_EMAIL: &str = "visitor-private@example.net";
const IMAP_USER: &str = "imap-user-private@acme.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scenarios_log_nothing_private() {
    let logs = Captured::default();
    let sink = logs.clone();
    parley_server::logging::init("trace", move || sink.clone(), false);
    let mut backends = vec![Backend::Sqlite];
    if harness::postgres_url().is_some() {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        // At 17:00 UTC whatever the hour: the scenario's texts must not wait for quiet hours.
        let t = TestApp::spawn_with_clock(backend, Arc::new(harness::DaytimeClock::new())).await;
        let mut private = api_and_twilio(&t).await;
        private.extend(every_channel(&t).await);
        // The scenarios did log: requests, the retried callback, the refused SMS with Twilio's
        // reason, a typing indicator Telegram did not get, the mailbox that refused its login.
        let expected = [
            "request",
            "a delivery will be retried",
            "a delivery failed",
            "21211",
            "could not send a typing indicator",
            "polling the IMAP mailbox failed",
        ];
        let logged = || String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        // Some of these are logged by background work: until then, or the guard.
        t.try_wait_until(waits::GUARD, || async {
            expected.iter().all(|e| logged().contains(e)).then_some(())
        })
        .await;
        let text = logged();
        for expected in expected {
            assert!(
                text.contains(expected),
                "no {expected:?} in the logs:\n{text}"
            );
        }
        for p in &private {
            assert!(!text.contains(p.as_str()), "the logs hold {p:?}:\n{text}");
        }
    }
}

/// The API channel and Twilio; returns what must not be logged.
async fn api_and_twilio(t: &TestApp) -> Vec<String> {
    let phone = "+12125550199";
    let secret_words = "my account number is 4242-SECRET";
    // Sign-ins, right and wrong, and a token.
    let (_, agent_token) = t.user("ann@acme.test", "agent").await;
    let (s, _) = t
        .post(
            "/api/v1/auth/sign-in",
            "",
            json!({ "email": "ann@acme.test", "password": "wrong-password-77" }),
        )
        .await;
    assert_eq!(s, 422);
    let (s, tok) = t
        .post("/api/v1/tokens", &agent_token, json!({ "name": "laptop" }))
        .await;
    assert_eq!(s, 201, "{tok}");
    let pat = tok["token"].as_str().unwrap().to_string();
    // A callback that fails twice, then answers.
    let cb = Callback::start(2).await;
    let (inbox, inbox_secret) = t.api_inbox("App", &cb.url).await;
    let body = json!({ "id": "m1", "contact": { "id": "c1", "phone": phone, "name": "Zed Private" }, "text": secret_words }).to_string();
    let sig = parley_channels::api::sign(&inbox_secret, body.as_bytes());
    assert_eq!(t.raw_hook(&inbox, Some(&sig), body).await.0, 200);
    // A bad signature, and malformed JSON.
    assert_eq!(
        t.raw_hook(&inbox, Some("sha256=00"), "{}".into()).await.0,
        403
    );
    let bad = "{\"text\": \"4242-SECRET".to_string();
    let sig = parley_channels::api::sign(&inbox_secret, bad.as_bytes());
    assert!(t.raw_hook(&inbox, Some(&sig), bad).await.0 >= 400);
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let contact = list["items"][0]["contact_id"].as_str().unwrap().to_string();
    let reply = "Your code is 9911-PRIVATE";
    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": reply }),
        )
        .await;
    assert_eq!(s, 201);
    cb.wait_for(1).await;
    for (i, text) in ["HELP", "STOP"].iter().enumerate() {
        let body =
            json!({ "id": format!("k{i}"), "contact": { "id": "c1" }, "text": text }).to_string();
        let sig = parley_channels::api::sign(&inbox_secret, body.as_bytes());
        assert_eq!(t.raw_hook(&inbox, Some(&sig), body).await.0, 200);
    }
    let (s, _) = t
        .post(&format!("/api/v1/contacts/{contact}/consent"), &t.admin_token,
            json!({ "purpose": "informational", "action": "grant", "source": "pos", "evidence": { "receipt": "RCPT-77-PRIVATE" } }))
        .await;
    assert_eq!(s, 201);
    // A Twilio inbox whose provider refuses the number, quoting it as Twilio does.
    let refuse = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(|body: String| async move {
            let to = form_urlencoded::parse(body.as_bytes())
                .find(|(k, _)| k == "To")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let msg = format!("The 'To' number {to} is not a valid phone number.");
            (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({ "code": 21211, "message": msg, "status": 400 })),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, refuse).await });
    let (s, tw) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio",
            "account_sid": "AC00000000000000000000000000000009", "auth_token": "tw-auth-token-PRIVATE",
            "from": "+15017122661", "api_base_url": fake }))
        .await;
    assert_eq!(s, 201, "{tw}");
    let tw = tw["id"].as_str().unwrap().to_string();
    let (s, _) = t
        .post(
            "/api/v1/conversations",
            &t.admin_token,
            json!({ "inbox_id": tw, "contact_id": contact, "body": "hello by SMS" }),
        )
        .await;
    assert!(s == 201 || s == 422);
    [
        phone,
        "2125550199",
        "4242-SECRET",
        "9911-PRIVATE",
        "RCPT-77-PRIVATE",
        "Zed Private",
        "wrong-password-77",
        "long-enough-password",
        "tw-auth-token-PRIVATE",
        pat.as_str(),
        &pat["pat_".len()..],
        inbox_secret.as_str(),
        t.admin_token.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The outgoing relay: accepts every mail.
#[derive(Clone, Default)]
struct Relay(Arc<Mutex<usize>>);

#[async_trait::async_trait]
impl SmtpHandler for Relay {
    async fn accept_recipient(&self, _: &str) -> Result<bool, DeliveryError> {
        Ok(true)
    }
    async fn deliver(&self, _: ReceivedMail) -> Result<(), DeliveryError> {
        *self.0.lock().unwrap() += 1;
        Ok(())
    }
}

/// Speaks SMTP as a sending server would, one command at a time.
async fn smtp_send(port: u16, from: &str, data: &str) {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    for cmd in [
        String::new(),
        "EHLO mx.customer.example".into(),
        format!("MAIL FROM:<{from}>"),
        "RCPT TO:<help@acme.example>".into(),
        "DATA".into(),
        format!("{}\r\n.", data.replace('\n', "\r\n")),
        "QUIT".into(),
    ] {
        if !cmd.is_empty() {
            w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
        }
        // Multi-line replies carry '-' after the code on every line but the last.
        loop {
            line.clear();
            r.read_line(&mut line).await.unwrap();
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                break;
            }
        }
    }
}

async fn only_conversation_of(t: &TestApp, inbox: &str) -> String {
    t.wait_until(&format!("a conversation in inbox {inbox}"), || async {
        let (_, list) = t
            .get(
                &format!("/api/v1/conversations?inbox={inbox}"),
                &t.admin_token,
            )
            .await;
        list["items"][0]["id"].as_str().map(str::to_string)
    })
    .await
}

/// Telegram, the widget and email; returns what must not be logged.
async fn every_channel(t: &TestApp) -> Vec<String> {
    let reply = |conv: String, body: &'static str| async move {
        let path = format!("/api/v1/conversations/{conv}/messages");
        let (s, v) = t.post(&path, &t.admin_token, json!({ "body": body })).await;
        assert_eq!(s, 201, "{v}");
    };
    // Telegram, whose API cannot be reached: the errors of the HTTP client name the URL, and
    // Telegram's URLs carry the bot token.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (s, tg) = t
        .post(
            "/api/v1/inboxes",
            &t.admin_token,
            json!({ "name": "Bot", "kind": "telegram",
            "bot_token": TG_TOKEN, "api_base_url": closed }),
        )
        .await;
    assert_eq!(s, 201, "{tg}");
    let tg_id = tg["id"].as_str().unwrap().to_string();
    let update = json!({"update_id": 1, "message": {"message_id": 7,
        "from": {"id": 424242427, "is_bot": false, "first_name": "Tgfirst", "last_name": "Tglast-Private"},
        "chat": {"id": 424242427, "type": "private"}, "date": 1_700_000_000, "text": "tg-text-PRIVATE"}});
    let r = t
        .http
        .post(t.url(&format!("/hooks/telegram/{tg_id}")))
        .header(
            "x-telegram-bot-api-secret-token",
            tg["secret"].as_str().unwrap(),
        )
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let conv = only_conversation_of(t, &tg_id).await;
    let typing = format!("/api/v1/conversations/{conv}/typing");
    assert!(t.post(&typing, &t.admin_token, json!({})).await.0 < 300);
    reply(conv, "tg-reply-PRIVATE").await;
    let (_, tested) = t
        .post(
            &format!("/api/v1/inboxes/{tg_id}/test"),
            &t.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(tested["ok"], false, "{tested}");

    // A widget visitor who leaves an email address.
    let (s, w) = t
        .post(
            "/api/v1/inboxes",
            &t.admin_token,
            json!({ "name": "Site", "kind": "widget",
            "prechat_fields": ["email", "name"] }),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let url = format!(
        "ws://{}/widget/{}/socket",
        t.addr,
        w["id"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({ "type": "contact", "name": "Wvisitor Private", "email": VISITOR_EMAIL })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        json!({ "type": "message", "text": "widget-text-PRIVATE", "client_id": "c1" })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let acked = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            if m.to_text().is_ok_and(|f| f.contains(r#""type":"ack""#)) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(acked, Ok(true), "the visitor's message is acknowledged");

    // Mail in through Parley's SMTP listener, the reply out through a relay.
    let relay = Relay::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_port = l.local_addr().unwrap().port();
    tokio::spawn(mail::serve_smtp(
        l,
        mail::SmtpServerConfig::default(),
        Arc::new(relay.clone()),
    ));
    let (s, em) = t
        .post(
            "/api/v1/inboxes",
            &t.admin_token,
            json!({ "name": "Mail", "kind": "email",
            "address": "help@acme.example",
            "smtp": { "host": "127.0.0.1", "port": relay_port, "security": "none" } }),
        )
        .await;
    assert_eq!(s, 201, "{em}");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = l.local_addr().unwrap().port();
    tokio::spawn(parley_server::inboxes::email::smtp::serve(t.app.clone(), l));
    let mail = "From: Dmail Private <dmail-private@customer.example>\nTo: help@acme.example\n\
        Subject: mail-subject-PRIVATE\nMessage-ID: <m1@customer.example>\n\
        Date: Mon, 23 Nov 2026 09:00:00 +0000\n\nmail-text-PRIVATE\n";
    smtp_send(listener, "dmail-private@customer.example", mail).await;
    let conv = only_conversation_of(t, em["id"].as_str().unwrap()).await;
    reply(conv, "mail-reply-PRIVATE").await;
    t.try_wait_until(waits::GUARD, || async {
        (*relay.0.lock().unwrap() > 0).then_some(())
    })
    .await;
    assert_eq!(*relay.0.lock().unwrap(), 1, "the reply reached the relay");

    // An IMAP mailbox that refuses the password it is given.
    let (addr, _) = mail::fake_imap::start(IMAP_USER, "imap-pass-PRIVATE", vec![]).await;
    let (s, im) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Box", "kind": "email",
            "address": "box@acme.example", "smtp": { "host": "127.0.0.1", "port": relay_port, "security": "none" },
            "imap": { "host": addr.ip().to_string(), "port": addr.port(), "tls": false,
                      "username": IMAP_USER, "password": "imap-wrong-PRIVATE" } }))
        .await;
    assert_eq!(s, 201, "{im}");
    parley_server::inboxes::email::imap::poll(&t.app)
        .await
        .unwrap();

    [
        TG_TOKEN,
        &TG_TOKEN[10..],
        "424242427",
        "Tglast-Private",
        "tg-text-PRIVATE",
        "tg-reply-PRIVATE",
        VISITOR_EMAIL,
        "visitor-private",
        "Wvisitor Private",
        "widget-text-PRIVATE",
        "dmail-private",
        "Dmail Private",
        "mail-subject-PRIVATE",
        "mail-text-PRIVATE",
        "mail-reply-PRIVATE",
        IMAP_USER,
        "imap-user-private",
        "imap-pass-PRIVATE",
        "imap-wrong-PRIVATE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
