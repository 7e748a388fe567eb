//! The dispatcher shares its sending slots fairly: a provider that does not answer holds at most
//! its inbox's share, and another inbox's replies go out meanwhile; admins see each backlog.

use serde_json::json;

use crate::harness::{Backend, Callback, Recorded, TestApp};
use crate::on_both_backends;

/// An integrating system that takes every callback and answers none until `release` is sent.
struct Stalled {
    url: String,
    arrived: Recorded<()>,
    release: tokio::sync::watch::Sender<bool>,
}

async fn stalled() -> Stalled {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let arrived = Recorded::default();
    let (release, open) = tokio::sync::watch::channel(false);
    let state = (arrived.clone(), open);
    let app = axum::Router::new().route(
        "/cb",
        axum::routing::post(
            |axum::extract::State((arrived, mut open)): axum::extract::State<(
                Recorded<()>,
                tokio::sync::watch::Receiver<bool>,
            )>| async move {
                arrived.push(());
                let _ = open.wait_for(|o| *o).await;
                axum::http::StatusCode::OK
            },
        ),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app.with_state(state)).await;
    });
    Stalled {
        url,
        arrived,
        release,
    }
}

/// Queues `n` replies in a new conversation of `inbox`; returns the conversation.
async fn replies(t: &TestApp, inbox: &str, secret: &str, who: &str, n: usize) -> String {
    let (s, v) = t
        .inbound(inbox, secret, who, &format!("{who}-1"), "hi")
        .await;
    assert_eq!(s, 200, "{v}");
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    for i in 0..n {
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": format!("reply {i}") }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    conv
}

async fn backlog(t: &TestApp, inbox: &str) -> serde_json::Value {
    let (s, v) = t
        .get(&format!("/api/v1/inboxes/{inbox}"), &t.admin_token)
        .await;
    assert_eq!(s, 200, "{v}");
    v["backlog"].clone()
}

async fn a_stalled_provider_holds_only_its_share(backend: Backend) {
    // Provider calls wait as long as the stalled provider does: nothing times out under the test.
    let t = TestApp::spawn_tuned(backend, |c| {
        c.dispatch.timeout_ms = 600_000;
        c.dispatch.concurrency = 32;
        c.dispatch.per_inbox_concurrency = 8;
    })
    .await;
    let slow = stalled().await;
    let quick = Callback::start(0).await;
    let (a, a_secret) = t.api_inbox("Slow provider", &slow.url).await;
    let (b, b_secret) = t.api_inbox("Other provider", &quick.url).await;

    // More replies than the dispatcher has slots, all due before the other inbox's.
    replies(&t, &a, &a_secret, "a", 40).await;
    slow.arrived.wait_for(8).await;
    replies(&t, &b, &b_secret, "b", 1).await;

    // The other inbox's reply is delivered while the slow provider has answered nothing.
    let got = quick.wait_for(1).await;
    assert!(got[0].1.contains("reply 0"), "{got:?}");
    assert_eq!(
        slow.arrived.len(),
        8,
        "the slow inbox holds no more than its cap of slots"
    );
    let held = backlog(&t, &a).await;
    assert_eq!(held["in_flight"], 8, "{held}");
    assert_eq!(held["queued"], 32, "{held}");
    assert!(held["oldest_due"].is_string(), "{held}");
    // Its callback has answered; the dispatcher records that just after.
    t.wait_until("the other inbox's reply to be recorded", || async {
        (backlog(&t, &b).await["in_flight"] == 0).then_some(())
    })
    .await;
    let other = backlog(&t, &b).await;
    assert_eq!(
        other,
        json!({ "queued": 0, "in_flight": 0, "oldest_due": null })
    );
    // Agents see the inbox, not its outbox.
    let (ann, agent) = t.user("ann@acme.test", "agent").await;
    let member = format!("/api/v1/inboxes/{a}/members/{ann}");
    let (s, _) = t
        .call(reqwest::Method::PUT, &member, &t.admin_token, None)
        .await;
    assert_eq!(s, 204);
    let (s, v) = t.get(&format!("/api/v1/inboxes/{a}"), &agent).await;
    assert_eq!(s, 200, "{v}");
    assert!(v.get("backlog").is_none(), "{v}");

    // Once the provider answers, its backlog drains.
    slow.release.send(true).unwrap();
    let empty = json!({ "queued": 0, "in_flight": 0, "oldest_due": null });
    t.wait_until("the slow inbox's backlog to drain", || async {
        (backlog(&t, &a).await == empty).then_some(())
    })
    .await;
    assert_eq!(backlog(&t, &a).await, empty);
    assert_eq!(slow.arrived.len(), 40);
}

/// Four numbers on one provider account that stops answering: together their caps would take
/// every slot, but the last quarter is kept for inboxes with nothing in flight.
async fn stalled_inboxes_leave_a_reserve_for_the_others(backend: Backend) {
    let t = TestApp::spawn_tuned(backend, |c| {
        c.dispatch.timeout_ms = 600_000;
        c.dispatch.concurrency = 32;
        c.dispatch.per_inbox_concurrency = 8;
    })
    .await;
    let slow = stalled().await;
    let quick = Callback::start(0).await;
    let mut numbers = Vec::new();
    for n in 0..4 {
        let (id, secret) = t.api_inbox(&format!("Number {n}"), &slow.url).await;
        replies(&t, &id, &secret, &format!("n{n}"), 10).await;
        numbers.push(id);
    }
    // Three quarters of the slots are taken by the stalled numbers' first replies.
    slow.arrived.wait_for(24).await;
    assert!(slow.arrived.len() >= 24);
    let (b, b_secret) = t.api_inbox("Other provider", &quick.url).await;
    replies(&t, &b, &b_secret, "b", 1).await;

    // The other inbox's reply is delivered while the stalled numbers hold their slots.
    let got = quick.wait_for(1).await;
    assert!(got[0].1.contains("reply 0"), "{got:?}");
    let mut held = 0;
    for id in &numbers {
        let backlog = backlog(&t, id).await;
        let n = backlog["in_flight"].as_u64().unwrap();
        assert!(n <= 8, "{backlog}");
        held += n;
    }
    assert!(held < 32, "the stalled numbers hold {held} of 32 slots");

    slow.release.send(true).unwrap();
    slow.arrived.wait_for(40).await;
    assert_eq!(slow.arrived.len(), 40);
}

on_both_backends!(
    stalled_inboxes_leave_a_reserve_for_the_others,
    stalled_inboxes_leave_a_reserve_for_the_others
);

on_both_backends!(
    a_stalled_provider_holds_only_its_share,
    a_stalled_provider_holds_only_its_share
);
