//! Support-desk semantics through the API: reopening with history, filters, sorts, pagination,
//! snooze, labels, priority, contacts and merge.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{ShiftedClock, TestApp};
use crate::{on_both, on_both_backends};

/// A server whose clock the test moves on, so two writes get distinct times without a sleep.
async fn spawn_shifted(backend: crate::harness::Backend) -> (TestApp, ShiftedClock) {
    let clock = ShiftedClock::default();
    let t = TestApp::spawn_with_clock(backend, std::sync::Arc::new(clock.clone())).await;
    (t, clock)
}

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

on_both!(
    resolved_conversation_reopens_with_full_history,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t
            .inbound(&inbox, &secret, "c1", "m1", "first question")
            .await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        t.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "answer" }),
        )
        .await;
        let (s, r) = t
            .post(
                &format!("/api/v1/conversations/{conv}/resolve"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!((s, r["status"].as_str()), (200, Some("resolved")));
        let (s, again) = t
            .post(
                &format!("/api/v1/conversations/{conv}/resolve"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 422, "{again}");
        let (_, v2) = t
            .inbound(&inbox, &secret, "c1", "m2", "second question")
            .await;
        assert_eq!(v2["conversation_id"], conv.as_str(), "same thread");
        let (_, c) = t
            .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
            .await;
        assert_eq!(c["status"], "open");
        assert!(c["waiting_since"].is_string());
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let text = tl.to_string();
        for needle in [
            "first question",
            "answer",
            "\"to\":\"resolved\"",
            "\"to\":\"open\"",
            "second question",
        ] {
            assert!(text.contains(needle), "timeline lacks {needle}: {text}");
        }
    }
);

on_both_backends!(lists_filter_sort_and_page, |backend| async move {
    let (t, clock) = spawn_shifted(backend).await;
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (ann, _) = t.user("ann@acme.test", "agent").await;
    t.add_member(&inbox, &ann).await;
    let mut convs = Vec::new();
    for i in 0..5 {
        let (_, v) = t
            .inbound(&inbox, &secret, &format!("c{i}"), &format!("m{i}"), "help")
            .await;
        convs.push(v["conversation_id"].as_str().unwrap().to_string());
        clock.advance_ms(5);
    }
    let tok = &t.admin_token;
    let (s, _) = t
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{}", convs[4]),
            tok,
            Some(json!({ "priority": "urgent" })),
        )
        .await;
    assert_eq!(s, 200);
    t.post(
        &format!("/api/v1/conversations/{}/assign", convs[1]),
        tok,
        json!({ "assignee_id": ann }),
    )
    .await;
    let (s, lab) = t
        .post(
            &format!("/api/v1/conversations/{}/labels", convs[2]),
            tok,
            json!({ "add": ["VIP", "billing"] }),
        )
        .await;
    assert_eq!(lab["labels"], json!(["billing", "vip"]), "{s}");
    let until = parley_core::Timestamp(t.app.now().0 + 3_600_000).to_rfc3339();
    let (s, sn) = t
        .post(
            &format!("/api/v1/conversations/{}/snooze", convs[3]),
            tok,
            json!({ "until": until }),
        )
        .await;
    assert_eq!((s, sn["status"].as_str()), (200, Some("snoozed")));

    let (_, all) = t.get("/api/v1/conversations?status=all", tok).await;
    assert_eq!(ids(&all), convs, "longest waiting first");
    let (_, open) = t.get("/api/v1/conversations?status=open", tok).await;
    assert_eq!(ids(&open).len(), 4);
    let (_, snoozed) = t.get("/api/v1/conversations?status=snoozed", tok).await;
    assert_eq!(ids(&snoozed), vec![convs[3].clone()]);
    let (_, mine) = t
        .get(&format!("/api/v1/conversations?assignee={ann}"), tok)
        .await;
    assert_eq!(ids(&mine), vec![convs[1].clone()]);
    let (_, none) = t
        .get("/api/v1/conversations?assignee=none&status=all", tok)
        .await;
    assert_eq!(ids(&none).len(), 4);
    let (_, me) = t.get("/api/v1/conversations?assignee=me", tok).await;
    assert!(ids(&me).is_empty());
    let (_, vip) = t
        .get("/api/v1/conversations?label=vip&status=all", tok)
        .await;
    assert_eq!(ids(&vip), vec![convs[2].clone()]);
    let (_, urgent) = t.get("/api/v1/conversations?priority=urgent", tok).await;
    assert_eq!(ids(&urgent), vec![convs[4].clone()]);
    let (_, by_prio) = t
        .get("/api/v1/conversations?sort=priority&status=all", tok)
        .await;
    assert_eq!(ids(&by_prio)[0], convs[4]);
    let (_, newest) = t
        .get("/api/v1/conversations?sort=activity&status=all", tok)
        .await;
    assert_eq!(
        ids(&newest)[0],
        convs[3],
        "the snooze was the latest activity"
    );
    let (_, by_inbox) = t
        .get(
            &format!("/api/v1/conversations?inbox={inbox}&status=all"),
            tok,
        )
        .await;
    assert_eq!(ids(&by_inbox).len(), 5);

    let mut paged = Vec::new();
    let mut path = "/api/v1/conversations?status=all&limit=2".to_string();
    loop {
        let (s, page) = t.get(&path, tok).await;
        assert_eq!(s, 200);
        paged.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/conversations?status=all&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, convs);
    let (_, unl) = t
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{}/labels/vip", convs[2]),
            tok,
            None,
        )
        .await;
    assert_eq!(unl["labels"], json!(["billing"]));
    let (s, un) = t
        .post(
            &format!("/api/v1/conversations/{}/unassign", convs[1]),
            tok,
            json!({}),
        )
        .await;
    assert_eq!((s, un["assignee_id"].clone()), (200, Value::Null));
});

on_both!(
    contacts_search_identities_and_merge,
    |t: TestApp| async move {
        let tok = &t.admin_token;
        let (s, ann) = t
        .post("/api/v1/contacts", tok, json!({ "name": "Ann Lee", "email": "Ann@Example.com", "phone": "+1 (415) 555-0100", "custom_fields": { "plan": "gold" } }))
        .await;
        assert_eq!(s, 201, "{ann}");
        assert_eq!(ann["email"], "ann@example.com");
        assert_eq!(ann["phone"], "+14155550100");
        let id = ann["id"].as_str().unwrap().to_string();
        for q in ["ann", "example.com", "555-0100"] {
            let (_, found) = t.get(&format!("/api/v1/contacts?q={q}"), tok).await;
            assert_eq!(ids(&found), vec![id.clone()], "{q}");
        }
        let (s, patched) = t
            .call(
                Method::PATCH,
                &format!("/api/v1/contacts/{id}"),
                tok,
                Some(json!({ "phone": null, "custom_fields": { "seats": 3 } })),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(patched["phone"], Value::Null);
        assert_eq!(
            patched["custom_fields"],
            json!({ "plan": "gold", "seats": 3 })
        );
        let (s, with) = t
            .post(
                &format!("/api/v1/contacts/{id}/identities"),
                tok,
                json!({ "kind": "phone", "external_id": "+44 20 7946 0958" }),
            )
            .await;
        assert_eq!(s, 201);
        assert_eq!(with["identities"][0]["external_id"], "+442079460958");
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t
            .inbound(&inbox, &secret, "app-user-7", "m1", "hi from the app")
            .await;
        let other = v["contact_id"].as_str().unwrap().to_string();
        let (s, merged) = t
            .post(
                &format!("/api/v1/contacts/{id}/merge"),
                tok,
                json!({ "contact_id": other }),
            )
            .await;
        assert_eq!(s, 200, "{merged}");
        assert_eq!(merged["identities"].as_array().unwrap().len(), 2);
        assert_eq!(
            t.get(&format!("/api/v1/contacts/{other}"), tok).await.0,
            404
        );
        let (_, convs) = t
            .get(&format!("/api/v1/contacts/{id}/conversations"), tok)
            .await;
        assert_eq!(
            ids(&convs),
            vec![v["conversation_id"].as_str().unwrap().to_string()]
        );
        let (s, dup) = t
            .post(
                "/api/v1/contacts",
                tok,
                json!({ "identities": [{ "kind": "phone", "external_id": "+442079460958" }] }),
            )
            .await;
        assert_eq!((s, dup["error"]["code"].as_str()), (409, Some("conflict")));
    }
);

on_both!(sms_segments_of_a_draft, |t: TestApp| async move {
    let (s, v) = t
        .post(
            "/api/v1/sms/segments",
            &t.admin_token,
            json!({ "text": "a".repeat(161) }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            v["encoding"].as_str(),
            v["segments"].as_u64(),
            v["units"].as_u64()
        ),
        (Some("gsm7"), Some(2), Some(161))
    );
    let (_, v) = t
        .post(
            "/api/v1/sms/segments",
            &t.admin_token,
            json!({ "text": "Merci, à bientôt 😀" }),
        )
        .await;
    assert_eq!(
        (v["encoding"].as_str(), v["segments"].as_u64()),
        (Some("ucs2"), Some(1))
    );
    let (s, _) = t
        .post("/api/v1/sms/segments", "", json!({ "text": "x" }))
        .await;
    assert_eq!(s, 401);
});

on_both!(
    a_blocked_contact_stops_reopening_conversations,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (s, v) = t.inbound(&inbox, &secret, "spammer", "m1", "buy now").await;
        assert_eq!(s, 200, "{v}");
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let contact = v["contact_id"].as_str().unwrap().to_string();
        let block = format!("/api/v1/contacts/{contact}/block");

        // Agents may not; a supervisor may, and the open conversation is resolved and audited.
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (_, sup) = t.user("sue@acme.test", "supervisor").await;
        assert_eq!(t.post(&block, &agent, json!({})).await.0, 403);
        // Conversations in inboxes the caller works are resolved: the supervisor works none.
        let (s, v) = t.post(&block, &sup, json!({})).await;
        assert_eq!((s, &v["resolved"]), (200, &json!(0)), "{v}");
        let (s, v) = t.post(&block, &t.admin_token, json!({})).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["resolved"], 1);
        assert!(v["contact"]["blocked_at"].is_string(), "{v}");
        let (_, c) = t
            .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
            .await;
        assert_eq!(c["status"], "resolved");
        let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
        assert_eq!(audit["items"][0]["action"], "contact.block", "{audit}");

        // Their next message is kept but leaves the conversation resolved, waiting for nobody.
        let (s, _) = t
            .inbound(&inbox, &secret, "spammer", "m2", "buy more")
            .await;
        assert_eq!(s, 200);
        let (_, c) = t
            .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
            .await;
        assert_eq!(
            (c["status"].as_str(), &c["waiting_since"]),
            (Some("resolved"), &json!(null)),
            "{c}"
        );
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        assert!(tl.to_string().contains("buy more"), "the message is kept");
        let (_, counts) = t.get("/api/v1/conversations/counts", &t.admin_token).await;
        assert_eq!(
            counts["statuses"]["open"].as_u64().unwrap_or(0),
            0,
            "{counts}"
        );

        // Unblocked, they reopen it like anyone else.
        let (s, v) = t.call(reqwest::Method::DELETE, &block, &sup, None).await;
        assert_eq!(s, 200, "{v}");
        assert!(v["contact"].get("blocked_at").is_none(), "{v}");
        t.inbound(&inbox, &secret, "spammer", "m3", "a real question")
            .await;
        let (_, c) = t
            .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
            .await;
        assert_eq!(c["status"], "open");
        // Nobody blocks a contact that is not there.
        let (s, v) = t
            .post(
                &format!("/api/v1/contacts/{}/block", uuid::Uuid::now_v7()),
                &sup,
                json!({}),
            )
            .await;
        assert_eq!(s, 404, "{v}");
    }
);

on_both_backends!(
    unread_is_per_agent_and_cleared_by_looking,
    |backend| async move {
        let (t, clock) = spawn_shifted(backend).await;
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (ann, ann_token) = t.user("ann@acme.test", "agent").await;
        let s = t.add_member(&inbox, &ann).await;
        assert_eq!(s, 204);
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let unread = |token: String| {
            let t = &t;
            async move { t.get("/api/v1/conversations", &token).await.1["items"][0]["unread"].clone() }
        };
        assert_eq!(unread(ann_token.clone()).await, true);
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/seen"),
                &ann_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 204);
        assert_eq!(unread(ann_token.clone()).await, false, "Ann looked");
        assert_eq!(
            unread(t.admin_token.clone()).await,
            true,
            "the admin did not"
        );
        // The customer writes again: unread again for Ann.
        clock.advance_ms(5);
        t.inbound(&inbox, &secret, "c1", "m2", "anyone?").await;
        assert_eq!(unread(ann_token.clone()).await, true);
        // An answer leaves nobody waiting: read for everyone.
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &ann_token,
                json!({ "body": "Here!" }),
            )
            .await;
        assert_eq!(s, 201);
        assert_eq!(unread(t.admin_token.clone()).await, false);
        // Nobody marks what they cannot see.
        let (_, cid) = t.user("cid@acme.test", "agent").await;
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/seen"),
                &cid,
                json!({}),
            )
            .await;
        assert_eq!(s, 404);
    }
);

/// Maya Chen (`maya-x@`), Sam Ortiz (`sam.o@`) and Sam Lee (`slee@`), agents: their ids by name.
pub async fn teammates(t: &TestApp) -> std::collections::HashMap<&'static str, String> {
    let mut ids = std::collections::HashMap::new();
    for (email, name) in [
        ("maya-x@acme.test", "Maya Chen"),
        ("sam.o@acme.test", "Sam Ortiz"),
        ("slee@acme.test", "Sam Lee"),
    ] {
        let body = json!({ "email": email, "name": name, "password": "long-enough-password", "role": "agent" });
        let (s, v) = t.post("/api/v1/users", &t.admin_token, body).await;
        assert_eq!(s, 201, "{v}");
        ids.insert(name, v["id"].as_str().unwrap().to_string());
    }
    ids
}

// Mentions are written the way people name each other: a first name only one teammate has, the
// full name in quotes, or the email's local part; the answer says which named nobody.
on_both!(
    mentions_resolve_by_name_and_say_what_they_missed,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let ids = teammates(&t).await;
        let note = |body: &'static str| {
            let t = &t;
            let path = format!("/api/v1/conversations/{conv}/notes");
            async move {
                let (s, v) = t.post(&path, &t.admin_token, json!({ "body": body })).await;
                assert_eq!(s, 201, "{v}");
                v
            }
        };
        let v = note("@Maya can you look?").await;
        assert_eq!(v["note"]["mentions"], json!([ids["Maya Chen"]]), "{v}");
        assert_eq!(v["unresolved_mentions"], json!([]));
        let v = note("cc @\"Sam Lee\" and @maya-x").await;
        assert_eq!(
            v["note"]["mentions"],
            json!([ids["Sam Lee"], ids["Maya Chen"]]),
            "{v}"
        );
        // Two Sams: neither is picked; a name nobody has is said so.
        let v = note("@Sam and @Priya, see above").await;
        assert_eq!(v["note"]["mentions"], json!([]), "{v}");
        assert_eq!(v["unresolved_mentions"], json!(["@Priya"]), "{v}");
        let ambiguous = &v["ambiguous_mentions"][0];
        assert_eq!(ambiguous["mention"], "@Sam", "{v}");
        assert_eq!(ambiguous["candidates"].as_array().unwrap().len(), 2, "{v}");
    }
);

// A reply's status on the timeline is its current one, in the one field that holds it.
on_both!(
    timeline_shows_a_messages_current_status,
    |t: TestApp| async move {
        let cb = crate::harness::Callback::start(0).await;
        let (inbox, secret) = t.api_inbox("Support", &cb.url).await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Hello" }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["message"]["status"], "queued");
        cb.wait_for(1).await;
        let d = crate::harness::last_delivery(&t, &conv, "sent").await;
        assert_eq!(d["status"], "sent", "{d}");
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        assert!(
            tl["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i.get("delivery").is_none()),
            "no second place for the status: {tl}"
        );
    }
);
