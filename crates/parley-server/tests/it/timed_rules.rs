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
