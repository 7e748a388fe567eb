//! Workspace settings the app's settings screens edit: saved replies and SLA policies.

use serde_json::json;

use crate::harness::{Backend, Callback, TestApp};
use crate::on_both;
use crate::on_both_backends;

on_both!(
    saved_replies_are_kept_checked_and_admin_only,
    |t: TestApp| async move {
        let (s, v) = t.get("/api/v1/replies", &t.admin_token).await;
        assert_eq!(
            (s, v["items"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{v}"
        );
        let (s, v) = t
            .call(
                reqwest::Method::PUT,
                "/api/v1/replies",
                &t.admin_token,
                Some(json!({ "items": [
                { "shortcut": "/Thanks", "body": "  Thanks for writing, we're on it.  " },
                { "shortcut": "hours", "body": "We answer 9:00-17:00, Monday to Friday." },
            ] })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        // Shortcuts lose their slash and case; texts their outer spaces; listed by shortcut.
        assert_eq!(v["items"][0]["shortcut"], "hours");
        assert_eq!(v["items"][1]["shortcut"], "thanks");
        assert_eq!(v["items"][1]["body"], "Thanks for writing, we're on it.");

        // Every agent reads them; only admins change them; a bad list changes nothing.
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (s, v) = t.get("/api/v1/replies", &agent).await;
        assert_eq!((s, v["items"].as_array().map(Vec::len)), (200, Some(2)));
        let (s, _) = t
            .call(
                reqwest::Method::PUT,
                "/api/v1/replies",
                &agent,
                Some(json!({ "items": [] })),
            )
            .await;
        assert_eq!(s, 403);
        for bad in [
            json!({ "items": [{ "shortcut": "two words", "body": "x" }] }),
            json!({ "items": [{ "shortcut": "a", "body": "x" }, { "shortcut": "A", "body": "y" }] }),
            json!({ "items": [{ "shortcut": "a", "body": "   " }] }),
            json!({ "items": [{ "shortcut": "a", "body": "x".repeat(4097) }] }),
            json!({ "items": [{ "shortcut": "a", "body": "x", "extra": 1 }] }),
            json!({ "replies": [] }),
        ] {
            let (s, v) = t
                .call(
                    reqwest::Method::PUT,
                    "/api/v1/replies",
                    &t.admin_token,
                    Some(bad.clone()),
                )
                .await;
            assert!(s == 400 || s == 422, "{bad}: {s} {v}");
            assert!(v["error"]["message"].is_string(), "{v}");
        }
        let (_, v) = t.get("/api/v1/replies", &agent).await;
        assert_eq!(
            v["items"].as_array().map(Vec::len),
            Some(2),
            "unchanged: {v}"
        );
        // The compliance settings in the same document are untouched by it, and the reverse.
        let (s, _) = t
            .call(
                reqwest::Method::PUT,
                "/api/v1/compliance/settings",
                &t.admin_token,
                Some(json!({ "help_text": "Acme: reply STOP to stop." })),
            )
            .await;
        assert_eq!(s, 200);
        let (_, v) = t.get("/api/v1/replies", &agent).await;
        assert_eq!(v["items"].as_array().map(Vec::len), Some(2), "{v}");
    }
);

/// SLA policies: checked, admin-only, and read by every list and conversation as the answer the
/// waiting customer is owed and by when, first response and then next response.
async fn sla_on(backend: Backend) {
    let start = 1_799_773_200_000;
    let clock = parley_server::ManualClock::new(parley_core::Timestamp(start));
    let t = TestApp::spawn_with_clock(backend, std::sync::Arc::new(clock.clone())).await;
    let cb = Callback::start(0).await;
    let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
    let (s, v) = t.get("/api/v1/sla", &t.admin_token).await;
    assert_eq!(
        (s, v["policies"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{v}"
    );
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m1", "Where is my order?")
            .await
            .0,
        200
    );
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    assert!(
        list["items"][0]["sla"].is_null(),
        "no policy, no clock: {list}"
    );

    let put = |body: serde_json::Value, token: String| {
        let t = &t;
        async move {
            t.call(reqwest::Method::PUT, "/api/v1/sla", &token, Some(body))
                .await
        }
    };
    let (s, v) = put(
        json!({ "policies": [
            { "name": "Urgent", "priority": "urgent", "first_response_minutes": 5, "next_response_minutes": 10 },
            { "name": "Shop", "inbox_id": inbox, "first_response_minutes": 60, "next_response_minutes": 30 },
        ] }),
        t.admin_token.clone(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["policies"][1]["inbox_id"], inbox.as_str());

    // The list and the conversation show the first response due an hour after the message.
    let due = |ms: i64| parley_core::Timestamp(start + ms).to_rfc3339();
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let sla = &list["items"][0]["sla"];
    assert_eq!(sla["policy"], "Shop", "{list}");
    assert_eq!(sla["target"], "first_response");
    assert_eq!(sla["due_at"], due(3_600_000).as_str());
    assert_eq!(sla["breached"], false);
    // Urgent comes first in the list, so it decides for an urgent conversation.
    let (s, _) = t
        .patch(
            &format!("/api/v1/conversations/{conv}"),
            &t.admin_token,
            json!({ "priority": "urgent" }),
        )
        .await;
    assert_eq!(s, 200);
    clock.advance_ms(6 * 60_000);
    let (_, one) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    assert_eq!(
        (
            one["sla"]["policy"].as_str(),
            one["sla"]["due_at"].as_str(),
            one["sla"]["breached"].as_bool()
        ),
        (Some("Urgent"), Some(due(5 * 60_000).as_str()), Some(true)),
        "{one}"
    );
    // Answering stops the clock; the customer's next message starts the next-response target.
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Looking now" }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, one) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    assert!(one["sla"].is_null(), "{one}");
    assert_eq!(one["first_reply_at"], due(6 * 60_000).as_str());
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m2", "Thanks, and?")
            .await
            .0,
        200
    );
    let (_, one) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    assert_eq!(
        (
            one["sla"]["target"].as_str(),
            one["sla"]["due_at"].as_str(),
            one["sla"]["breached"].as_bool()
        ),
        (
            Some("next_response"),
            Some(due(16 * 60_000).as_str()),
            Some(false)
        ),
        "{one}"
    );
    // A pending conversation's clock is paused.
    let (s, _) = t
        .patch(
            &format!("/api/v1/conversations/{conv}"),
            &t.admin_token,
            json!({ "status": "pending" }),
        )
        .await;
    assert_eq!(s, 200);
    let (_, one) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    assert!(one["sla"].is_null(), "{one}");

    // Every member reads the policies; only admins change them; a bad list changes nothing.
    let (_, agent) = t.user("ann@acme.test", "agent").await;
    let (s, v) = t.get("/api/v1/sla", &agent).await;
    assert_eq!((s, v["policies"].as_array().map(Vec::len)), (200, Some(2)));
    assert_eq!(put(json!({ "policies": [] }), agent.clone()).await.0, 403);
    for bad in [
        json!({ "policies": [{ "name": "No target" }] }),
        json!({ "policies": [{ "name": "Zero", "first_response_minutes": 0 }] }),
        json!({ "policies": [{ "name": "Negative", "first_response_minutes": -5 }] }),
        json!({ "policies": [{ "name": "Long", "next_response_minutes": 43_201 }] }),
        json!({ "policies": [{ "name": "A", "first_response_minutes": 1 }, { "name": "a", "first_response_minutes": 2 }] }),
        json!({ "policies": [{ "name": "Odd", "priority": "soon", "first_response_minutes": 1 }] }),
        json!({ "policies": [{ "name": "Gone", "inbox_id": "018f0000-0000-7000-8000-000000000000", "first_response_minutes": 1 }] }),
        json!({ "policies": [{ "name": " ", "first_response_minutes": 1 }] }),
        json!({ "policies": [{ "name": "X", "first_response_minutes": 1, "extra": true }] }),
        json!({ "rules": [] }),
    ] {
        let (s, v) = put(bad.clone(), t.admin_token.clone()).await;
        assert!(s == 400 || s == 422, "{bad}: {s} {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    let (_, v) = t.get("/api/v1/sla", &agent).await;
    assert_eq!(
        v["policies"].as_array().map(Vec::len),
        Some(2),
        "unchanged: {v}"
    );
    // Saved replies in the same settings document are untouched.
    let (_, v) = t.get("/api/v1/replies", &agent).await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
}

on_both_backends!(sla_policies_set_when_customers_must_be_answered, sla_on);

on_both!(
    provider_credentials_are_never_shown_again,
    |t: TestApp| async move {
        // Each kind with its credentials; every credential's text is unique so it can be looked for.
        let sid = format!("AC{}", "1".repeat(32));
        let kinds = [
            (
                json!({ "kind": "api", "callback_url": "http://127.0.0.1:1/cb" }),
                json!({ "name": "API 2" }),
            ),
            (
                json!({ "kind": "twilio", "account_sid": sid, "auth_token": "cred-twilio-auth-1", "from": "+15017122661" }),
                json!({ "auth_token": "cred-twilio-auth-2" }),
            ),
            (
                json!({ "kind": "telegram", "bot_token": "123456:cred-telegram-bot-1" }),
                json!({ "bot_token": "123456:cred-telegram-bot-2" }),
            ),
            (
                json!({ "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": "cred-wa-access-1", "app_secret": "cred-wa-app-secret-1" }),
                json!({ "access_token": "cred-wa-access-2", "app_secret": "cred-wa-app-secret-2" }),
            ),
            (
                json!({ "kind": "messenger", "page_id": "1234567890", "access_token": "cred-fb-access-1", "app_secret": "cred-fb-app-secret-1" }),
                json!({ "access_token": "cred-fb-access-2", "app_secret": "cred-fb-app-secret-2" }),
            ),
            (
                json!({ "kind": "instagram", "page_id": "1234567891", "access_token": "cred-ig-access-1", "app_secret": "cred-ig-app-secret-1" }),
                json!({ "access_token": "cred-ig-access-2", "app_secret": "cred-ig-app-secret-2" }),
            ),
            (
                json!({ "kind": "line", "channel_secret": "cred-line-channel-1", "access_token": "cred-line-access-1" }),
                json!({ "channel_secret": "cred-line-channel-2", "access_token": "cred-line-access-2" }),
            ),
            (
                json!({ "kind": "widget", "website_url": "https://shop.example" }),
                json!({ "greeting": "Hi" }),
            ),
            (
                json!({ "kind": "email", "address": "help@acme.example",
                        "smtp": { "host": "127.0.0.1", "port": 1, "security": "none", "username": "relay", "password": "cred-smtp-pass-1" },
                        "imap": { "host": "127.0.0.1", "port": 1, "tls": false, "username": "box", "password": "cred-imap-pass-1" } }),
                json!({ "smtp": { "host": "127.0.0.1", "port": 1, "security": "none", "username": "relay", "password": "cred-smtp-pass-2" },
                        "imap": { "host": "127.0.0.1", "port": 1, "tls": false, "username": "box", "password": "cred-imap-pass-2" } }),
            ),
        ];
        let (agent_id, agent) = t.user("agent@acme.test", "agent").await;
        let leaks = |what: &str, v: &serde_json::Value| {
            let text = v.to_string();
            assert!(!text.contains("cred-"), "{what} shows a credential: {text}");
        };
        let mut ids = Vec::new();
        for (i, (mut create, edit)) in kinds.into_iter().enumerate() {
            let kind = create["kind"].as_str().unwrap().to_string();
            create["name"] = json!(format!("Inbox {i}"));
            let (s, made) = t.post("/api/v1/inboxes", &t.admin_token, create).await;
            assert_eq!(s, 201, "{kind}: {made}");
            leaks(&format!("{kind} created"), &made);
            let id = made["id"].as_str().unwrap().to_string();
            let path = format!("/api/v1/inboxes/{id}");
            let (s, edited) = t.patch(&path, &t.admin_token, edit).await;
            assert_eq!(s, 200, "{kind}: {edited}");
            leaks(&format!("{kind} edited"), &edited);
            let (s, one) = t.get(&path, &t.admin_token).await;
            assert_eq!(s, 200);
            leaks(&format!("{kind} read"), &one);
            // What the provider's console needs stays visible to admins.
            let internal = kind == "widget" || kind == "email";
            assert_eq!(one["webhook_url"].is_string(), !internal, "{kind}: {one}");
            assert_eq!(
                one["secret"].is_string(),
                kind == "api" || kind == "telegram",
                "{kind}: {one}"
            );
            assert_eq!(
                one["verify_token"].is_string(),
                ["whatsapp", "messenger", "instagram"].contains(&kind.as_str()),
                "{kind}: {one}"
            );
            let (s, _) = t
                .call(
                    reqwest::Method::PUT,
                    &format!("{path}/members/{agent_id}"),
                    &t.admin_token,
                    None,
                )
                .await;
            assert!(s < 300, "{kind}: {s}");
            let (_, seen) = t.get(&path, &agent).await;
            leaks(&format!("{kind} read by an agent"), &seen);
            assert!(seen.get("secret").is_none(), "{kind}: {seen}");
            ids.push(id);
        }
        for token in [&t.admin_token, &agent] {
            let (s, list) = t.get("/api/v1/inboxes", token).await;
            assert_eq!(s, 200);
            assert!(list["items"].as_array().unwrap().len() >= ids.len());
            leaks("the list", &list);
        }
    }
);
