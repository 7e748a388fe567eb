//! The test customer: an admin writes to an SMS inbox as a customer, an agent answers, and the
//! answer is marked delivered without Twilio hearing of it; agents may not use it; a reset starts
//! afresh.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{Callback, TestApp};
use crate::on_both;
use crate::twilio::{fake_twilio, SID, TOKEN};

/// The admin's test customer in `inbox` once its newest message has `status` (or after 5 s).
async fn panel_once(t: &TestApp, inbox: &str, status: &str) -> Value {
    let path = format!("/api/v1/inboxes/{inbox}/test-customer");
    let reached = t
        .try_wait_until(Duration::from_secs(5), || async {
            let (_, v) = t.get(&path, &t.admin_token).await;
            let newest = v["messages"].as_array()?.last()?.clone();
            (newest["status"] == status).then_some(v)
        })
        .await;
    match reached {
        Some(v) => v,
        None => t.get(&path, &t.admin_token).await.1,
    }
}

on_both!(
    a_test_customer_gets_answers_that_reach_no_provider,
    |t: TestApp| async move {
        let (base, fake) = fake_twilio().await;
        let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Support line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
        assert_eq!(s, 201, "{inbox}");
        let inbox = inbox["id"].as_str().unwrap().to_string();
        let messages = format!("/api/v1/inboxes/{inbox}/test-customer/messages");

        let (s, v) = t
            .post(&messages, &t.admin_token, json!({ "text": "  " }))
            .await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["error"]["field"], "text");
        let (_, v) = t
            .get(
                &format!("/api/v1/inboxes/{inbox}/test-customer"),
                &t.admin_token,
            )
            .await;
        assert_eq!(v["conversation_id"], Value::Null, "nothing was stored: {v}");

        let (s, sent) = t
            .post(
                &messages,
                &t.admin_token,
                json!({ "text": "Is my order shipped?" }),
            )
            .await;
        assert_eq!(s, 201, "{sent}");
        let conv = sent["conversation_id"].as_str().unwrap().to_string();
        let contact = sent["contact_id"].as_str().unwrap().to_string();
        let (_, c) = t
            .get(&format!("/api/v1/contacts/{contact}"), &t.admin_token)
            .await;
        assert_eq!(c["name"], "Test customer", "{c}");
        assert_eq!(c["custom_fields"]["test_customer"], true, "{c}");

        // An agent answers in the inbox as usual.
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Yes, it left today." }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let panel = panel_once(&t, &inbox, "delivered").await;
        assert_eq!(panel["test"], true);
        assert_eq!(panel["conversation_id"], conv.as_str());
        let shown: Vec<(String, String, String)> = panel["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
                (s("direction"), s("body"), s("status"))
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "inbound".into(),
                    "Is my order shipped?".into(),
                    "received".into()
                ),
                (
                    "outbound".into(),
                    "Yes, it left today.".into(),
                    "delivered".into()
                ),
            ],
            "{panel}"
        );

        // The gate judges the test customer as any other: after STOP (confirmed, again to no
        // provider), a reply is refused.
        let (s, v) = t
            .post(&messages, &t.admin_token, json!({ "text": "STOP" }))
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Anything else?" }),
            )
            .await;
        assert_eq!(s, 422, "{v}");
        let panel = panel_once(&t, &inbox, "delivered").await;
        let bodies: Vec<&str> = panel["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap())
            .collect();
        assert!(!bodies.contains(&"Anything else?"), "{panel}");
        assert!(
            fake.bodies().is_empty(),
            "Twilio received {:?}",
            fake.bodies()
        );
    }
);

on_both!(
    only_admins_have_a_test_customer_and_a_reset_starts_afresh,
    |t: TestApp| async move {
        let callback = Callback::start(0).await;
        let (inbox, secret) = t.api_inbox("Chat", &callback.url).await;
        let (agent, agent_token) = t.user("agent@example.com", "agent").await;
        assert_eq!(t.add_member(&inbox, &agent).await, 204);
        let panel = format!("/api/v1/inboxes/{inbox}/test-customer");
        let messages = format!("{panel}/messages");

        let (s, _) = t
            .post(&messages, &agent_token, json!({ "text": "Hello" }))
            .await;
        assert_eq!(s, 403, "an agent may not write as the test customer");
        let (s, _) = t.get(&panel, &agent_token).await;
        assert_eq!(s, 403);
        let (s, _) = t
            .call(reqwest::Method::DELETE, &panel, &agent_token, None)
            .await;
        assert_eq!(s, 403);
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        assert!(list["items"].as_array().unwrap().is_empty(), "{list}");

        let (s, first) = t
            .post(&messages, &t.admin_token, json!({ "text": "Hello" }))
            .await;
        assert_eq!(s, 201, "{first}");
        let (s, again) = t
            .post(
                &messages,
                &t.admin_token,
                json!({ "text": "Anyone there?" }),
            )
            .await;
        assert_eq!(s, 201, "{again}");
        assert_eq!(again["conversation_id"], first["conversation_id"]);
        let (_, v) = t.get(&panel, &t.admin_token).await;
        assert_eq!(v["messages"].as_array().unwrap().len(), 2, "{v}");

        // A real customer whose id merely looks like a test one is answered through the channel;
        // the test customer's answer never reaches it.
        let (s, v) = t
            .inbound(&inbox, &secret, "test:lookalike", "m1", "Real question")
            .await;
        assert!(s < 300, "{s} {v}");
        for (conv, body) in [
            (&first["conversation_id"], "To the test customer"),
            (&v["conversation_id"], "To the real customer"),
        ] {
            let conv = conv.as_str().expect("a conversation");
            let path = format!("/api/v1/conversations/{conv}/messages");
            let (s, v) = t.post(&path, &t.admin_token, json!({ "body": body })).await;
            assert_eq!(s, 201, "{v}");
        }
        let got = callback.wait_for(1).await;
        assert!(got[0].1.contains("To the real customer"), "{got:?}");
        let reply = panel_once(&t, &inbox, "delivered").await;
        assert_eq!(
            reply["messages"][2]["body"], "To the test customer",
            "{reply}"
        );
        assert_eq!(
            callback.received.len(),
            1,
            "nothing more reached the callback"
        );

        let (s, _) = t
            .call(reqwest::Method::DELETE, &panel, &t.admin_token, None)
            .await;
        assert_eq!(s, 204);
        let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
        let resets: Vec<_> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == "inbox.test_customer_reset")
            .collect();
        assert_eq!(resets.len(), 1, "{audit}");
        assert_eq!(resets[0]["detail"]["contact_id"], first["contact_id"]);
        let (_, v) = t.get(&panel, &t.admin_token).await;
        assert_eq!(v["conversation_id"], Value::Null, "{v}");
        assert!(v["messages"].as_array().unwrap().is_empty(), "{v}");

        let (s, fresh) = t
            .post(
                &messages,
                &t.admin_token,
                json!({ "text": "Starting over" }),
            )
            .await;
        assert_eq!(s, 201, "{fresh}");
        assert_ne!(fresh["conversation_id"], first["conversation_id"]);
        assert_ne!(fresh["contact_id"], first["contact_id"]);
        let (_, v) = t.get(&panel, &t.admin_token).await;
        let bodies: Vec<&str> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap())
            .collect();
        assert_eq!(bodies, ["Starting over"]);
    }
);

on_both!(
    every_kind_of_inbox_answers_its_test_customer_without_a_provider,
    |t: TestApp| async move {
        // Every provider address is a closed port: a delivery that tried one would fail or retry.
        let nowhere = "http://127.0.0.1:9";
        let inboxes = [
            json!({ "name": "Web", "kind": "widget" }),
            json!({ "name": "Mail", "kind": "email", "address": "help@acme.example", "smtp": { "host": "127.0.0.1", "port": 9, "security": "none" } }),
            json!({ "name": "Bot", "kind": "telegram", "bot_token": "123456789:AAFakeTokenForTestsOnly_testcustomer", "api_base_url": nowhere }),
            json!({ "name": "WA", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": "EAAG-fake-access-token-0042", "app_secret": "meta-app-secret-0042", "api_base_url": nowhere }),
            json!({ "name": "Hook", "kind": "api", "callback_url": format!("{nowhere}/cb") }),
        ];
        for body in inboxes {
            let (s, inbox) = t.post("/api/v1/inboxes", &t.admin_token, body).await;
            assert_eq!(s, 201, "{inbox}");
            let (kind, inbox) = (
                inbox["kind"].clone(),
                inbox["id"].as_str().unwrap().to_string(),
            );
            let (s, sent) = t
                .post(
                    &format!("/api/v1/inboxes/{inbox}/test-customer/messages"),
                    &t.admin_token,
                    json!({ "text": "Hello?" }),
                )
                .await;
            assert_eq!(s, 201, "{kind}: {sent}");
            let conv = sent["conversation_id"].as_str().unwrap();
            let (s, v) = t
                .post(
                    &format!("/api/v1/conversations/{conv}/messages"),
                    &t.admin_token,
                    json!({ "body": "Hi there" }),
                )
                .await;
            assert_eq!(s, 201, "{kind}: {v}");
            let panel = panel_once(&t, &inbox, "delivered").await;
            assert_eq!(
                panel["messages"][1]["status"], "delivered",
                "{kind}: {panel}"
            );
        }
    }
);

// "Start over" erases the test customer as any contact is erased, and a revocation outlives an
// erasure: after STOP, the next test customer of that admin and inbox is still opted out.
on_both!(
    an_opt_out_outlives_a_reset_as_it_outlives_any_erasure,
    |t: TestApp| async move {
        let (base, fake) = fake_twilio().await;
        let (_, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Support line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
        let inbox = inbox["id"].as_str().unwrap().to_string();
        let panel = format!("/api/v1/inboxes/{inbox}/test-customer");
        let messages = format!("{panel}/messages");
        let write = |text: &'static str| {
            let (t, messages) = (&t, &messages);
            async move {
                let (s, v) = t
                    .post(messages, &t.admin_token, json!({ "text": text }))
                    .await;
                assert_eq!(s, 201, "{v}");
                v["conversation_id"].as_str().unwrap().to_string()
            }
        };
        let reply = |conv: String| {
            let t = &t;
            async move {
                let path = format!("/api/v1/conversations/{conv}/messages");
                t.post(&path, &t.admin_token, json!({ "body": "Hi" })).await
            }
        };
        write("STOP").await;
        let (s, _) = t
            .call(reqwest::Method::DELETE, &panel, &t.admin_token, None)
            .await;
        assert_eq!(s, 204);
        let conv = write("Hello again").await;
        let (s, v) = reply(conv).await;
        assert_eq!((s, &v["error"]["code"]), (422, &json!("opted_out")), "{v}");
        assert!(
            fake.bodies().is_empty(),
            "Twilio received {:?}",
            fake.bodies()
        );
    }
);
