//! Time-based rules on durable timers, driven by the injected clock: a follow-up fires at its
//! second after our reply, not before; the customer's reply cancels it; it fires after a restart
//! when it fell due while no server ran; an idle conversation is resolved by its rule.

use std::sync::Arc;

use parley_server::{Clock, ManualClock, SystemClock};
use serde_json::{json, Value};

use crate::harness::{Backend, TestApp};
use crate::on_both_backends;

async fn manual(backend: Backend) -> (TestApp, ManualClock) {
    let clock = ManualClock::new(SystemClock.now());
    let t = TestApp::spawn_with_clock(backend, Arc::new(clock.clone())).await;
    (t, clock)
}

async fn rule(t: &TestApp, body: Value) {
    let (s, v) = t.post("/api/v1/automations", &t.admin_token, body).await;
    assert_eq!(s, 201, "{v}");
}

async fn conversation(t: &TestApp, conv: &str) -> Value {
    t.get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await
        .1
}

async fn reply(t: &TestApp, conv: &str, text: &str) {
    let path = format!("/api/v1/conversations/{conv}/messages");
    let (s, v) = t.post(&path, &t.admin_token, json!({ "body": text })).await;
    assert_eq!(s, 201, "{v}");
}

async fn tick(t: &TestApp, clock: &ManualClock, ms: i64) {
    clock.advance_ms(ms);
    parley_server::jobs::run_due_timers(&t.app).await.unwrap();
}

const FOLLOW_UP: &str = r#"{ "name": "Nudge", "trigger": { "kind": "no_customer_reply", "after_secs": 3600 },
    "actions": [{ "kind": "add_labels", "labels": ["nudged"] }, { "kind": "note", "body": "No answer for an hour" }] }"#;

on_both_backends!(
    a_follow_up_fires_at_its_second_and_a_reply_cancels_it,
    |backend| async move {
        let (t, clock) = manual(backend).await;
        rule(&t, serde_json::from_str(FOLLOW_UP).unwrap()).await;
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        reply(&t, &conv, "How can we help?").await;
        tick(&t, &clock, 3_599_000).await;
        assert_eq!(conversation(&t, &conv).await["labels"], json!([]));
        tick(&t, &clock, 1_000).await;
        assert_eq!(conversation(&t, &conv).await["labels"], json!(["nudged"]));
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let by_rule = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["data"]["rule"]["name"] == "Nudge")
            .count();
        assert!(by_rule >= 2, "the label and the note name the rule: {tl}");

        // A second conversation: the customer answers within the hour, and nothing fires.
        let (_, v) = t.inbound(&inbox, &secret, "c2", "m2", "hi").await;
        let other = v["conversation_id"].as_str().unwrap().to_string();
        reply(&t, &other, "Hello!").await;
        tick(&t, &clock, 1_800_000).await;
        t.inbound(&inbox, &secret, "c2", "m3", "thanks, all good")
            .await;
        tick(&t, &clock, 7_200_000).await;
        assert_eq!(conversation(&t, &other).await["labels"], json!([]));
    }
);

on_both_backends!(
    a_follow_up_due_while_stopped_fires_at_start,
    |backend| async move {
        let (mut t, clock) = manual(backend).await;
        rule(&t, serde_json::from_str(FOLLOW_UP).unwrap()).await;
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        reply(&t, &conv, "How can we help?").await;
        t.stop_workers();
        clock.advance_ms(2 * 3_600_000);
        let t = t.restart().await;
        // The new server's worker fires it on its own, at its first round.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while conversation(&t, &conv).await["labels"] != json!(["nudged"]) {
            assert!(
                std::time::Instant::now() < deadline,
                "the follow-up did not fire at start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
);

on_both_backends!(
    an_idle_conversation_is_resolved_by_its_rule,
    |backend| async move {
        let (t, clock) = manual(backend).await;
        rule(
            &t,
            json!({ "name": "Tidy", "trigger": { "kind": "idle", "after_secs": 86400 },
                "actions": [{ "kind": "resolve" }] }),
        )
        .await;
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        tick(&t, &clock, 43_200_000).await;
        reply(&t, &conv, "On it").await;
        // A day after the customer's message, but only half a day after ours: still open.
        tick(&t, &clock, 43_200_000).await;
        assert_eq!(conversation(&t, &conv).await["status"], "open");
        tick(&t, &clock, 43_200_000).await;
        assert_eq!(conversation(&t, &conv).await["status"], "resolved");
    }
);

on_both_backends!(
    a_rules_webhook_is_signed_and_retried_until_accepted,
    |backend| async move {
        use std::sync::Mutex;
        let (t, clock) = manual(backend).await;
        // A receiver that fails the first call and takes the second.
        type Seen = Arc<Mutex<Vec<(String, String, String)>>>;
        let seen: Seen = Arc::default();
        let s2 = Arc::clone(&seen);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |h: axum::http::HeaderMap, body: String| {
                let s2 = Arc::clone(&s2);
                async move {
                    let get = |k: &str| {
                        h.get(k)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let mut seen = s2.lock().unwrap();
                    seen.push((get("x-parley-signature"), get("x-parley-timestamp"), body));
                    if seen.len() == 1 {
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        rule(
            &t,
            json!({ "name": "Tell the CRM", "trigger": { "kind": "resolved" },
            "actions": [{ "kind": "webhook", "url": url }] }),
        )
        .await;
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/resolve"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 200);
        // The server's own worker may make a call while the test's round finds nothing to claim.
        let calls_after = |n: usize| {
            let seen = Arc::clone(&seen);
            async move {
                for _ in 0..200 {
                    if seen.lock().unwrap().len() >= n {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                seen.lock().unwrap().len()
            }
        };
        let pause = || tokio::time::sleep(std::time::Duration::from_millis(300));
        tick(&t, &clock, 0).await;
        assert_eq!(calls_after(1).await, 1, "the first call is made at once");
        tick(&t, &clock, 10_000).await;
        pause().await;
        assert_eq!(calls_after(0).await, 1, "retried only after its backoff");
        tick(&t, &clock, 60_000).await;
        assert_eq!(calls_after(2).await, 2);
        let calls = seen.lock().unwrap().clone();
        tick(&t, &clock, 3_600_000).await;
        pause().await;
        assert_eq!(
            calls_after(0).await,
            2,
            "an accepted call is not made again"
        );
        let (s, v) = t
            .get("/api/v1/automations/webhook-secret", &t.admin_token)
            .await;
        assert_eq!(s, 200, "{v}");
        let key = v["secret"].as_str().unwrap();
        let (sig, ts, body) = &calls[1];
        let want = parley_channels::api::sign_at(key, ts.parse().unwrap(), body.as_bytes());
        assert_eq!(sig, &want);
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["conversation_id"], conv.as_str());
        assert_eq!(event["rule"]["name"], "Tell the CRM");
    }
);

on_both_backends!(
    a_time_based_rule_dry_runs_as_if_its_timer_fell_due,
    |backend| async move {
        let (t, _clock) = manual(backend).await;
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
        let open = v["conversation_id"].as_str().unwrap().to_string();
        let (_, v) = t.inbound(&inbox, &secret, "c2", "m2", "bye").await;
        let done = v["conversation_id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/conversations/{done}/resolve");
        assert_eq!(t.post(&path, &t.admin_token, json!({})).await.0, 200);
        let (s, v) = t
            .post(
                "/api/v1/automations/dry-run",
                &t.admin_token,
                serde_json::from_str(FOLLOW_UP).unwrap(),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let hit: Vec<&str> = v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["conversation_id"].as_str().unwrap())
            .collect();
        assert_eq!(hit, [open.as_str()], "{v}");
        assert_eq!(
            conversation(&t, &open).await["labels"],
            json!([]),
            "nothing applied"
        );
    }
);
