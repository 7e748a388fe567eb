//! Durable timers through the server: a snooze wakes its conversation at its second, a timer that
//! fell due while no server ran fires when one starts, and two servers on one database fire each
//! timer once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_core::Timestamp;
use parley_server::{Clock, ManualClock, SystemClock};
use parley_store::NewTimer;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::on_both_backends;

async fn manual(backend: crate::harness::Backend) -> (TestApp, ManualClock) {
    let clock = ManualClock::new(SystemClock.now());
    let t = TestApp::spawn_with_clock(backend, Arc::new(clock.clone())).await;
    (t, clock)
}

/// A conversation snoozed for a minute; its id.
async fn snoozed(t: &TestApp) -> String {
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    let until = Timestamp(t.app.now().0 + 60_000).to_rfc3339();
    let path = format!("/api/v1/conversations/{conv}/snooze");
    let (s, v) = t
        .post(&path, &t.admin_token, json!({ "until": until }))
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("snoozed")), "{v}");
    conv
}

async fn status(t: &TestApp, conv: &str) -> Value {
    let (_, v) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    v["status"].clone()
}

on_both_backends!(
    a_snooze_wakes_the_conversation_at_its_second,
    |backend| async move {
        let (t, clock) = manual(backend).await;
        let conv = snoozed(&t).await;
        clock.advance_ms(59_999);
        parley_server::jobs::run_due_timers(&t.app).await.unwrap();
        assert_eq!(
            status(&t, &conv).await,
            "snoozed",
            "not a millisecond early"
        );
        clock.advance_ms(1);
        parley_server::jobs::run_due_timers(&t.app).await.unwrap();
        assert_eq!(status(&t, &conv).await, "open");
        assert_eq!(t.app.store.next_timer_due().await.unwrap(), None);
    }
);

on_both_backends!(
    a_snooze_due_while_stopped_wakes_at_start,
    |backend| async move {
        let (mut t, clock) = manual(backend).await;
        let conv = snoozed(&t).await;
        t.stop_workers();
        clock.advance_ms(3_600_000);
        let t = t.restart().await;
        // The new server's worker fires it on its own, at its first round.
        let deadline = Instant::now() + Duration::from_secs(20);
        while status(&t, &conv).await != "open" {
            assert!(
                Instant::now() < deadline,
                "the snooze did not wake at start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
);

on_both_backends!(two_servers_fire_each_timer_once, |backend| async move {
    let t = TestApp::spawn(backend).await;
    let second = t.second_node(|_| {}).await;
    let fired: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    for app in [&t.app, &second.app] {
        let f = Arc::clone(&fired);
        app.timer_bell.watch(move |timer, _| {
            *f.lock().unwrap().entry(timer.key.clone()).or_default() += 1;
        });
    }
    let ws = t.app.store.list_workspaces().await.unwrap()[0].id;
    let now = t.app.now();
    let n = 600;
    let timers = (0..n)
        .map(|i| NewTimer {
            workspace: ws,
            key: format!("probe:{i}"),
            kind: "probe".into(),
            due_at: Timestamp(now.0 + (i % 50) as i64 * 10),
            payload: json!({}),
        })
        .collect();
    t.app.store.set_timers(timers).await.unwrap();
    t.app.timer_bell.due(now);
    second.app.timer_bell.due(now);
    let deadline = Instant::now() + Duration::from_secs(30);
    while fired.lock().unwrap().len() < n {
        assert!(Instant::now() < deadline, "not every timer fired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time for a second firing to show, were there one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fired = fired.lock().unwrap().clone();
    assert_eq!(fired.len(), n);
    assert!(fired.values().all(|&c| c == 1), "a timer fired twice");
    assert_eq!(t.app.store.next_timer_due().await.unwrap(), None);
});
