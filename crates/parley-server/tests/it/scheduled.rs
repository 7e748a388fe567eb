//! Scheduled replies: kept until their time, edited or cancelled until then, sent through the
//! normal reply path when due, and stopped by an opt-out that came in between.

use std::sync::Arc;

use parley_core::Timestamp;
use parley_server::{Clock, ManualClock, SystemClock};
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::on_both_backends;

struct Scene {
    t: TestApp,
    clock: ManualClock,
    conv: String,
    inbox: String,
    secret: String,
}

async fn scene(backend: crate::harness::Backend) -> Scene {
    let clock = ManualClock::new(SystemClock.now());
    let t = TestApp::spawn_with_clock(backend, Arc::new(clock.clone())).await;
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    Scene {
        t,
        clock,
        conv,
        inbox,
        secret,
    }
}

impl Scene {
    fn in_ms(&self, ms: i64) -> String {
        Timestamp(self.t.app.now().0 + ms).to_rfc3339()
    }

    async fn schedule(&self, body: &str, send_at: &str) -> (u16, Value) {
        let path = format!("/api/v1/conversations/{}/messages", self.conv);
        let req = json!({ "body": body, "send_at": send_at });
        self.t.post(&path, &self.t.admin_token, req).await
    }

    async fn sent(&self) -> Vec<String> {
        self.t
            .timeline_items(&self.conv)
            .await
            .iter()
            .filter(|i| i["type"] == "message.created")
            .filter(|i| i["data"]["message"]["direction"] != "inbound")
            .filter_map(|i| i["data"]["message"]["body"].as_str().map(String::from))
            .collect()
    }

    async fn scheduled(&self) -> Vec<Value> {
        let path = format!("/api/v1/conversations/{}/scheduled", self.conv);
        let (s, v) = self.t.get(&path, &self.t.admin_token).await;
        assert_eq!(s, 200, "{v}");
        v["items"].as_array().unwrap().clone()
    }

    async fn pass(&self, ms: i64) {
        self.clock.advance_ms(ms);
        parley_server::jobs::run_due_timers(&self.t.app)
            .await
            .unwrap();
    }
}

on_both_backends!(
    a_scheduled_reply_goes_at_its_time_edited_and_not_cancelled_ones,
    |backend| async move {
        let s = scene(backend).await;
        let hour = s.in_ms(3_600_000);
        let (st, v) = s.schedule("Later", &hour).await;
        assert_eq!(st, 201, "{v}");
        assert_eq!(
            (v["message"].clone(), v["compliance"]["verdict"].as_str()),
            (Value::Null, Some("scheduled"))
        );
        let id = v["scheduled"]["id"].as_str().unwrap().to_string();
        assert_eq!(v["scheduled"]["send_at"], hour.as_str());

        for (at, why) in [
            (s.in_ms(-1), "past"),
            (s.in_ms(400 * 86_400_000), "too far"),
        ] {
            let (st, v) = s.schedule("x", &at).await;
            assert_eq!(
                (st, v["error"]["field"].as_str()),
                (422, Some("send_at")),
                "{why}: {v}"
            );
        }
        let (st, v) = s.schedule("", &hour).await;
        assert_eq!(st, 422, "an empty reply is refused now: {v}");

        let (_, never) = s.schedule("Never", &s.in_ms(1_800_000)).await;
        let never = never["scheduled"]["id"].as_str().unwrap().to_string();
        let listed = s.scheduled().await;
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0]["body"], "Never", "the soonest first");
        let path = |sid: &str| format!("/api/v1/conversations/{}/scheduled/{sid}", s.conv);
        let tok = &s.t.admin_token;
        let (st, _) =
            s.t.call(reqwest::Method::DELETE, &path(&never), tok, None)
                .await;
        assert_eq!(st, 204);
        let (st, _) =
            s.t.call(reqwest::Method::DELETE, &path(&never), tok, None)
                .await;
        assert_eq!(st, 404);
        let (st, v) =
            s.t.patch(&path(&id), tok, json!({ "body": "Later, edited" }))
                .await;
        assert_eq!(
            (st, v["body"].as_str()),
            (200, Some("Later, edited")),
            "{v}"
        );
        let (st, _) = s.t.patch(&path(&id), tok, json!({})).await;
        assert_eq!(st, 400);

        s.pass(3_599_999).await;
        assert!(s.sent().await.is_empty(), "not a millisecond early");
        assert_eq!(s.scheduled().await.len(), 1);
        s.pass(1).await;
        assert_eq!(s.sent().await, ["Later, edited"]);
        assert!(s.scheduled().await.is_empty());
        let (st, _) =
            s.t.patch(&path(&id), tok, json!({ "body": "too late" }))
                .await;
        assert_eq!(st, 404, "gone once sent");
        s.pass(86_400_000).await;
        assert_eq!(
            s.sent().await,
            ["Later, edited"],
            "sent once, and the cancelled one never"
        );
    }
);

on_both_backends!(
    an_opt_out_after_scheduling_stops_the_reply,
    |backend| async move {
        let s = scene(backend).await;
        let (st, v) = s.schedule("Our offer", &s.in_ms(60_000)).await;
        assert_eq!(st, 201, "{v}");
        let (st, _) = s.t.inbound(&s.inbox, &s.secret, "c1", "m2", "STOP").await;
        assert_eq!(st, 200);
        s.pass(60_000).await;
        assert!(
            !s.sent().await.iter().any(|b| b == "Our offer"),
            "the gate judged it when due"
        );
        let notes: Vec<String> =
            s.t.timeline_items(&s.conv)
                .await
                .iter()
                .map(|i| i.to_string())
                .filter(|i| i.contains("was not sent"))
                .collect();
        assert_eq!(notes.len(), 1, "the refusal is on the timeline");
        assert!(s.scheduled().await.is_empty());
    }
);
