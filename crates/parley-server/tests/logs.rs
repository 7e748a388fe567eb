//! The logs of a full scenario hold no secret, token, password, message body or phone number:
//! set-up, sign-in (right and wrong), API tokens, an inbox whose callback fails then recovers,
//! customers' messages with their numbers, STOP, HELP, replies, consent, and a Twilio inbox whose
//! provider refuses the credentials. Logs are captured at debug for Parley's crates and info for
//! the rest, as `PARLEY_LOG=debug` would run it. Its own test binary: it installs the process's
//! global subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

// The shared harness; this test uses part of it.
#[allow(dead_code)]
#[path = "it/harness.rs"]
mod harness;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_scenario_logs_nothing_private() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("info,parley_server=debug,parley_store=debug,parley_store_sqlite=debug,parley_channels=debug")
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();

    // At 17:00 UTC whatever the hour: the scenario's texts must not wait for quiet hours to end.
    let t =
        TestApp::spawn_with_clock(Backend::Sqlite, Arc::new(harness::DaytimeClock::new())).await;
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
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // The scenario did log: requests, the retried callback, the refused SMS with Twilio's reason.
    for expected in [
        "request",
        "a delivery will be retried",
        "a delivery failed",
        "21211",
    ] {
        assert!(
            text.contains(expected),
            "no {expected:?} in the logs:\n{text}"
        );
    }
    for private in [
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
    ] {
        assert!(
            !text.contains(private),
            "the logs hold {private:?}:\n{text}"
        );
    }
}
