//! The generic API channel end to end: signed inbound, dedup, signed outbound with retries.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Callback, Socket, TestApp};
use crate::on_both;

on_both!(customer_to_agent_and_back, |t: TestApp| async move {
    let cb = Callback::start(0).await;
    let (inbox, secret) = t.api_inbox("Support", &cb.url).await;
    let (_, agent_token) = t.user("ann@acme.test", "agent").await;
    let (s, _) = t
        .call(
            reqwest::Method::PUT,
            &format!(
                "/api/v1/inboxes/{inbox}/members/{}",
                t.app
                    .store
                    .credentials_by_email("ann@acme.test")
                    .await
                    .unwrap()
                    .unwrap()
                    .0
                    .user_id
            ),
            &t.admin_token,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let mut ws = Socket::connect(&t, &agent_token, None).await;

    let (s, v) = t
        .inbound(&inbox, &secret, "cust-1", "m-1", "My parcel is late")
        .await;
    assert_eq!(s, 200, "{v}");
    let ev = ws
        .next_of(&["message.created"], Duration::from_secs(5))
        .await
        .expect("the agent sees the message");
    assert_eq!(ev["data"]["message"]["body"], "My parcel is late");
    assert_eq!(ev["data"]["message"]["direction"], "inbound");
    let conv = ev["data"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ev["data"]["conversation"]["contact_name"],
        "Customer cust-1"
    );

    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &agent_token,
            json!({ "body": "Sorry! Checking now." }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["message"]["status"], "queued");
    let got = cb.wait_for(1).await;
    let (sig, body) = &got[0];
    parley_channels::api::verify(&secret, sig.as_deref(), body.as_bytes())
        .expect("the callback is signed with the inbox secret");
    let out: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(out["text"], "Sorry! Checking now.");
    assert_eq!(out["contact"]["id"], "cust-1");
    assert_eq!(out["conversation_id"], conv.as_str());
    let upd = ws
        .next_of(&["message.updated"], Duration::from_secs(5))
        .await
        .expect("delivery status is live");
    assert_eq!(upd["data"]["status"], "sent");
});

on_both!(same_inbound_twice_is_stored_once, |t: TestApp| async move {
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (s1, v1) = t.inbound(&inbox, &secret, "c1", "dup-1", "Hello").await;
    let (s2, v2) = t.inbound(&inbox, &secret, "c1", "dup-1", "Hello").await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(v1["message_id"], v2["message_id"]);
    assert_eq!(v2["duplicate"], true);
    let conv = v1["conversation_id"].as_str().unwrap();
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    assert_eq!(tl["items"].as_array().unwrap().len(), 1);
});

on_both!(
    bad_signature_is_refused_and_nothing_stored,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let body = json!({ "id": "x", "contact": { "id": "c1" }, "text": "hi" }).to_string();
        let wrong = parley_channels::api::sign("not-the-secret", body.as_bytes());
        let (s, v) = t.raw_hook(&inbox, Some(&wrong), body.clone()).await;
        assert_eq!(s, 403);
        assert_eq!(v["error"]["code"], "bad_signature");
        let (s, _) = t.raw_hook(&inbox, None, body.clone()).await;
        assert_eq!(s, 403);
        let tampered = body.replace("hi", "ho");
        let (s, _) = t
            .raw_hook(
                &inbox,
                Some(&parley_channels::api::sign(&secret, body.as_bytes())),
                tampered,
            )
            .await;
        assert_eq!(s, 403);
        for bad in [
            "{",
            r#"{"contact":{"id":"c1"}}"#,
            r#"{"contact":{"id":""},"text":"x"}"#,
            r#"{"contact":{"id":"c"},"text":"  "}"#,
        ] {
            let (s, v) = t
                .raw_hook(
                    &inbox,
                    Some(&parley_channels::api::sign(&secret, bad.as_bytes())),
                    bad.to_string(),
                )
                .await;
            assert_eq!(s, 400, "{bad}: {v}");
            assert_eq!(v["error"]["code"], "malformed");
        }
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        assert!(
            list["items"].as_array().unwrap().is_empty(),
            "nothing stored: {list}"
        );
        let (s, _) = t
            .inbound(
                "00000000-0000-0000-0000-000000000000",
                &secret,
                "c",
                "m",
                "x",
            )
            .await;
        assert_eq!(s, 404);
    }
);

on_both!(
    outbound_retries_until_2xx_then_fails_after_the_limit,
    |t: TestApp| async move {
        let flaky = Callback::start(2).await;
        let (inbox, secret) = t.api_inbox("Support", &flaky.url).await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        t.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "first" }),
        )
        .await;
        let got = flaky.wait_for(1).await;
        assert!(got[0].1.contains("first"));
        assert_eq!(
            *flaky.failures_left.lock().unwrap(),
            0,
            "two refusals were retried"
        );

        // A callback that never answers 2xx: after max_attempts (4) the failure is permanent and visible.
        let dead = Callback::start(u32::MAX).await;
        let (s, _) = t
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/inboxes/{inbox}"),
                &t.admin_token,
                Some(json!({ "callback_url": dead.url })),
            )
            .await;
        assert_eq!(s, 200);
        let (_, r) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "second" }),
            )
            .await;
        let mid = r["message"]["id"].as_str().unwrap().to_string();
        let item = t
            .wait_until("the message to fail", || async {
                t.timeline_items(&conv)
                    .await
                    .iter()
                    .find(|i| i["data"]["message"]["id"] == mid.as_str())
                    .filter(|i| i["data"]["message"]["status"] == "failed")
                    .cloned()
            })
            .await;
        assert!(
            item["data"]["message"]["error"]
                .as_str()
                .unwrap()
                .contains("gave up after 4 attempts"),
            "{item}"
        );
        let status = item["data"]["message"]["status"].as_str().unwrap();
        assert_eq!(status, "failed");
    }
);

on_both!(
    queued_outbound_survives_a_restart,
    |t: TestApp| async move {
        // The dispatcher is stopped, so the reply is certainly still queued when the server goes down.
        let mut t = t;
        let cb = Callback::start(0).await;
        let (inbox, secret) = t.api_inbox("Support", &cb.url).await;
        t.stop_workers();
        let (_, v) = t
            .inbound(&inbox, &secret, "c1", "m1", "hello before restart")
            .await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "queued across a restart" }),
            )
            .await;
        assert_eq!((s, v["message"]["status"].as_str()), (201, Some("queued")));
        // The workers are stopped: nothing can have sent it.
        assert!(cb.received.lock().unwrap().is_empty());
        let t = t.restart().await;
        let got = cb.wait_for(1).await;
        assert!(got[0].1.contains("queued across a restart"));
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        assert!(
            tl.to_string().contains("hello before restart"),
            "the acknowledged inbound message is still there"
        );
    }
);

on_both!(
    a_timestamped_post_is_accepted_only_while_fresh,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let post = |body: String, sig: String, ts: Option<String>| {
            let t = &t;
            let inbox = inbox.clone();
            async move {
                let mut req = t
                    .http
                    .post(t.url(&format!("/hooks/api/{inbox}")))
                    .header("content-type", "application/json")
                    .header("x-parley-signature", sig)
                    .body(body);
                if let Some(ts) = ts {
                    req = req.header("x-parley-timestamp", ts);
                }
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                (
                    status,
                    r.json::<serde_json::Value>().await.unwrap_or_default(),
                )
            }
        };
        let body = |id: &str| {
            json!({ "id": id, "contact": { "id": "c1" }, "text": format!("hello {id}") })
                .to_string()
        };
        let now = t.app.now().0 / 1000;
        let signed = |id: &str, at: i64| {
            let b = body(id);
            let sig = parley_channels::api::sign_at(&secret, at, b.as_bytes());
            (b, sig)
        };
        // Fresh: accepted.
        let (b, sig) = signed("fresh", now - 30);
        let (s, v) = post(b, sig, Some((now - 30).to_string())).await;
        assert_eq!(s, 200, "{v}");
        // Six minutes old (a replay of a captured post), or six minutes ahead: refused.
        for at in [now - 360, now + 360] {
            let (b, sig) = signed("stale", at);
            let (s, v) = post(b, sig, Some(at.to_string())).await;
            assert_eq!(s, 403, "{v}");
            assert_eq!(v["error"]["code"], "stale_timestamp", "{v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("5 minutes"),
                "{v}"
            );
        }
        // An old post given a new timestamp no longer matches its signature.
        let (b, sig) = signed("tampered", now - 360);
        let (s, v) = post(b, sig, Some(now.to_string())).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("bad_signature"))
        );
        // No timestamp: the body's signature alone, as before.
        let b = body("plain");
        let sig = parley_channels::api::sign(&secret, b.as_bytes());
        let (s, v) = post(b, sig, None).await;
        assert_eq!(s, 200, "{v}");
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let bodies: Vec<&str> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["data"]["message"]["body"].as_str())
            .collect();
        assert_eq!(bodies, ["hello fresh", "hello plain"], "{tl}");
    }
);
