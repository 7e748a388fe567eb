//! Automation rules over the API: what fires on a customer's message or an agent's change, in
//! which order, attributed to which rule on the timeline, and the guards against loops, storms,
//! bots and opted-out contacts.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Backend, TestApp};
use crate::{on_both, on_both_backends};

async fn rule(t: &TestApp, body: Value) -> String {
    let (s, v) = t.post("/api/v1/automations", &t.admin_token, body).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

fn ruled<'a>(items: &'a [Value], name: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|e| {
            e["data"]["rule"]["name"] == name
                || e["data"]["message"]["meta"]["rule"]["name"] == name
        })
        .collect()
}

async fn rules(t: &TestApp) -> Vec<Value> {
    let (s, v) = t.get("/api/v1/automations", &t.admin_token).await;
    assert_eq!(s, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn labels_of(t: &TestApp, conv: &str) -> Vec<String> {
    let (_, c) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    serde_json::from_value(c["labels"].clone()).unwrap()
}

on_both!(
    keyword_rules_act_in_order_and_name_themselves,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (ann, agent) = t.user("ann@acme.test", "agent").await;
        assert!(t.add_member(&inbox, &ann).await < 300);

        // Bad rules are refused naming the field; agents read rules but do not write them.
        let good = json!({ "name": "Refunds", "trigger": { "kind": "keyword", "keywords": ["refund"] },
        "actions": [{ "kind": "add_labels", "labels": ["Refund"] }, { "kind": "assign", "user_id": ann }] });
        for (bad, field) in [
            (
                json!({ "name": "x", "trigger": { "kind": "message_received" }, "actions": [] }),
                "actions",
            ),
            (
                json!({ "name": " ", "trigger": { "kind": "message_received" }, "actions": [{ "kind": "resolve" }] }),
                "name",
            ),
            (
                json!({ "name": "x", "trigger": { "kind": "pattern", "pattern": "(" }, "actions": [{ "kind": "resolve" }] }),
                "trigger.pattern",
            ),
            (
                json!({ "name": "x", "trigger": { "kind": "keyword", "keywords": [] }, "actions": [{ "kind": "resolve" }] }),
                "trigger.keywords",
            ),
            (
                json!({ "name": "x", "trigger": { "kind": "time_of_day", "at": "25:00" }, "actions": [{ "kind": "resolve" }] }),
                "trigger.at",
            ),
            (
                json!({ "name": "x", "trigger": { "kind": "resolved" }, "actions": [{ "kind": "resolve" }], "limit": { "max": 0, "per_secs": 60 } }),
                "limit",
            ),
        ] {
            let (s, v) = t
                .post("/api/v1/automations", &t.admin_token, bad.clone())
                .await;
            assert_eq!(
                (s, v["error"]["field"].as_str()),
                (422, Some(field)),
                "{bad}: {v}"
            );
        }
        let (s, v) = t
            .post(
                "/api/v1/automations",
                &t.admin_token,
                json!({ "name": "x", "trigger": { "kind": "nope" }, "actions": [] }),
            )
            .await;
        assert!((400..500).contains(&s), "{v}");
        let (s, _) = t.post("/api/v1/automations", &agent, good.clone()).await;
        assert_eq!(s, 403);

        let refunds = rule(&t, good).await;
        let second = rule(
            &t,
            json!({ "name": "Second", "trigger": { "kind": "keyword", "keywords": ["refund"] },
        "actions": [{ "kind": "note", "body": "Refund asked: check the order" }] }),
        )
        .await;
        let off = rule(
            &t,
            json!({ "name": "Off", "enabled": false, "trigger": { "kind": "message_received" },
        "actions": [{ "kind": "add_labels", "labels": ["never"] }] }),
        )
        .await;
        let (s, v) = t
            .post(
                "/api/v1/automations/order",
                &t.admin_token,
                json!({ "ids": [second, refunds] }),
            )
            .await;
        assert_eq!((s, v["error"]["field"].as_str()), (422, Some("ids")), "{v}");
        let (s, v) = t
            .post(
                "/api/v1/automations/order",
                &t.admin_token,
                json!({ "ids": [second, refunds, off] }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, listed) = t.get("/api/v1/automations", &agent).await;
        assert_eq!(s, 200);
        let names: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Second", "Refunds", "Off"]);

        // A message without the keyword fires nothing; with it, the rules act in their order.
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "Hello there").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        assert!(rules(&t).await.iter().all(|r| r["fired"] == 0));
        t.inbound(&inbox, &secret, "c1", "m2", "I want a REFUND please")
            .await;
        let items = t.timeline_items(&conv).await;
        let kinds: Vec<&str> = items
            .iter()
            .filter(|e| e["data"]["rule"].is_object())
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "note.created",
                "conversation.updated",
                "conversation.updated"
            ],
            "{items:?}"
        );
        assert_eq!(ruled(&items, "Second").len(), 1);
        assert_eq!(ruled(&items, "Refunds").len(), 2);
        assert_eq!(
            labels_of(&t, &conv).await,
            ["refund"],
            "the switched-off rule did nothing"
        );
        let (_, c) = t
            .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
            .await;
        assert_eq!(c["assignee_id"].as_str(), Some(ann.as_str()));

        let stats = rules(&t).await;
        let fired: Vec<i64> = stats.iter().map(|r| r["fired"].as_i64().unwrap()).collect();
        assert_eq!(fired, [1, 1, 0]);
        assert!(
            stats[1]["last_fired_at"].is_string() || stats[1]["last_fired_at"].is_number(),
            "{stats:?}"
        );
        assert!(stats[2]["last_fired_at"].is_null());

        // The dry-run lists what would fire and changes nothing.
        let before = t.timeline_items(&conv).await.len();
        let (s, dry) = t
            .post(
                &format!("/api/v1/automations/{refunds}/dry-run?last=10"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{dry}");
        assert_eq!(dry["checked"], 1);
        assert_eq!(
            dry["matches"][0]["conversation_id"].as_str(),
            Some(conv.as_str())
        );
        assert_eq!(dry["matches"][0]["actions"][0]["kind"], "add_labels");
        let (s, dry) = t
            .post(
                &format!("/api/v1/automations/{off}/dry-run"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(
            (s, dry["matches"].as_array().map(Vec::len)),
            (200, Some(1)),
            "a rule switched off is tried as on: {dry}"
        );
        let unsaved = json!({ "name": "Try", "trigger": { "kind": "keyword", "keywords": ["invoice"] }, "actions": [{ "kind": "resolve" }] });
        let (s, dry) = t
            .post(
                "/api/v1/automations/dry-run?last=500",
                &t.admin_token,
                unsaved.clone(),
            )
            .await;
        assert_eq!(
            (s, dry["matches"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{dry}"
        );
        let (s, _) = t
            .post(
                "/api/v1/automations/dry-run?last=501",
                &t.admin_token,
                unsaved,
            )
            .await;
        assert_eq!(s, 400);
        assert_eq!(
            t.timeline_items(&conv).await.len(),
            before,
            "the dry-run applied nothing"
        );
        assert_eq!(rules(&t).await[1]["fired"], 1);

        // Switched off, a rule does nothing; PUT replaces it, DELETE removes it.
        let (s, v) = t
            .patch(
                &format!("/api/v1/automations/{refunds}"),
                &t.admin_token,
                json!({ "enabled": false }),
            )
            .await;
        assert_eq!((s, v["enabled"].as_bool()), (200, Some(false)), "{v}");
        let (s, v) = t.call(Method::PUT, &format!("/api/v1/automations/{second}"), &t.admin_token,
        Some(json!({ "name": "Second v2", "enabled": false, "trigger": { "kind": "resolved" }, "actions": [{ "kind": "reopen" }] }))).await;
        assert_eq!(
            (s, v["name"].as_str(), v["position"].as_i64()),
            (200, Some("Second v2"), Some(0)),
            "{v}"
        );
        t.inbound(&inbox, &secret, "c1", "m3", "refund again").await;
        assert_eq!(
            rules(&t)
                .await
                .iter()
                .map(|r| r["fired"].as_i64().unwrap())
                .sum::<i64>(),
            2
        );
        let (s, _) = t
            .call(
                Method::DELETE,
                &format!("/api/v1/automations/{off}"),
                &t.admin_token,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (s, _) = t
            .get(&format!("/api/v1/automations/{off}"), &t.admin_token)
            .await;
        assert_eq!(s, 404);
    }
);

on_both!(
    chains_stop_at_their_depth_and_rules_never_retrigger_themselves,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "Hi").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let add = |label: &str| {
            let path = format!("/api/v1/conversations/{conv}/labels");
            let body = json!({ "add": [label] });
            let t = &t;
            async move { t.post(&path, &t.admin_token, body).await }
        };

        // A rule that adds a label on any label added: its own label does not set it off again.
        let echo = rule(
            &t,
            json!({ "name": "Echo", "trigger": { "kind": "label_added" },
        "actions": [{ "kind": "add_labels", "labels": ["echoed"] }] }),
        )
        .await;
        let (s, v) = add("start").await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(labels_of(&t, &conv).await, ["echoed", "start"]);
        assert_eq!(rules(&t).await[0]["fired"], 1);
        let (s, _) = t
            .call(
                Method::DELETE,
                &format!("/api/v1/automations/{echo}"),
                &t.admin_token,
                None,
            )
            .await;
        assert_eq!(s, 204);

        // a → b → c → d → e → f: each link is a rule's action; the chain stops past MAX_DEPTH (3).
        for (from, to) in [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "f")] {
            rule(&t, json!({ "name": format!("{from} to {to}"), "trigger": { "kind": "label_added", "label": from },
            "actions": [{ "kind": "add_labels", "labels": [to] }] })).await;
        }
        add("a").await;
        let labels = labels_of(&t, &conv).await;
        assert!(labels.contains(&"e".to_string()), "{labels:?}");
        assert!(!labels.contains(&"f".to_string()), "{labels:?}");
        let fired: Vec<i64> = rules(&t)
            .await
            .iter()
            .map(|r| r["fired"].as_i64().unwrap())
            .collect();
        assert_eq!(fired, [1, 1, 1, 1, 0]);
    }
);

async fn survey_messages(t: &TestApp, conv: &str) -> Vec<Value> {
    t.timeline_items(conv)
        .await
        .into_iter()
        .filter(|e| {
            e["type"] == "message.created" && e["data"]["message"]["meta"]["survey"].is_object()
        })
        .collect()
}

fn recorded<'a>(items: &'a [Value], outcome: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|e| e["type"] == "automation.recorded" && e["data"]["outcome"] == outcome)
        .collect()
}

async fn customer(
    t: &TestApp,
    inbox: &str,
    secret: &str,
    who: &str,
    id: &str,
    text: &str,
    automated: bool,
) -> String {
    let body = json!({ "id": id, "contact": { "id": who, "name": format!("Customer {who}") }, "text": text, "automated": automated }).to_string();
    let sig = parley_channels::api::sign(secret, body.as_bytes());
    let (s, v) = t.raw_hook(inbox, Some(&sig), body).await;
    assert_eq!(s, 200, "{v}");
    v["conversation_id"].as_str().unwrap().to_string()
}

async fn automated_messages_on(backend: Backend) {
    let clock = parley_server::ManualClock::new(parley_core::Timestamp(1_799_773_200_000));
    let t = TestApp::spawn_with_clock(backend, std::sync::Arc::new(clock.clone())).await;
    let (inbox, secret) = t.api_inbox("Shop", "http://127.0.0.1:9/cb").await;
    let (s, _) = t
        .call(
            Method::PUT,
            "/api/v1/survey",
            &t.admin_token,
            Some(json!({ "enabled": true, "message": "Rate us: {link}" })),
        )
        .await;
    assert_eq!(s, 200);
    rule(&t, json!({ "name": "Ask", "trigger": { "kind": "message_received" }, "actions": [{ "kind": "send_survey" }],
        "limit": { "max": 1, "per_secs": 3600 } })).await;
    let answer = |conv: String| {
        let t = &t;
        async move {
            let (s, v) = t
                .post(
                    &format!("/api/v1/conversations/{conv}/messages"),
                    &t.admin_token,
                    json!({ "body": "On it" }),
                )
                .await;
            assert_eq!(s, 201, "{v}");
        }
    };

    // Unanswered: skipped and recorded. Answered: sent, from the automation, naming the rule.
    let conv = customer(&t, &inbox, &secret, "c1", "m1", "Hi", false).await;
    assert_eq!(recorded(&t.timeline_items(&conv).await, "skipped").len(), 1);
    answer(conv.clone()).await;
    customer(&t, &inbox, &secret, "c1", "m2", "Thanks", false).await;
    let sent = survey_messages(&t, &conv).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["data"]["message"]["sender_kind"], "automation");
    assert_eq!(sent[0]["data"]["message"]["meta"]["rule"]["name"], "Ask");

    // The storm guard: one message per hour from this rule; an hour later, another.
    customer(&t, &inbox, &secret, "c1", "m3", "Thanks again", false).await;
    assert_eq!(survey_messages(&t, &conv).await.len(), 1);
    assert_eq!(
        recorded(&t.timeline_items(&conv).await, "held_back").len(),
        1
    );
    clock.advance_ms(3_601_000);
    customer(&t, &inbox, &secret, "c1", "m4", "Still there?", false).await;
    assert_eq!(survey_messages(&t, &conv).await.len(), 2);

    // An automated sender is never answered.
    let bot = customer(&t, &inbox, &secret, "bot", "b1", "Hi", false).await;
    answer(bot.clone()).await;
    customer(
        &t,
        &inbox,
        &secret,
        "bot",
        "b2",
        "I am away until Monday",
        true,
    )
    .await;
    assert!(survey_messages(&t, &bot).await.is_empty());

    // An opted-out contact gets no automated message: the gate's denial is on the timeline.
    let out = customer(&t, &inbox, &secret, "c3", "o1", "Hi", false).await;
    answer(out.clone()).await;
    let (_, c) = t
        .get(&format!("/api/v1/conversations/{out}"), &t.admin_token)
        .await;
    let contact = c["contact_id"].as_str().unwrap();
    let (s, v) = t
        .post(
            &format!("/api/v1/contacts/{contact}/consent"),
            &t.admin_token,
            json!({ "purpose": "conversational", "action": "revoke", "source": "agent" }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    customer(&t, &inbox, &secret, "c3", "o2", "Hello?", false).await;
    assert!(survey_messages(&t, &out).await.is_empty());
    let items = t.timeline_items(&out).await;
    let denied = recorded(&items, "denied");
    assert_eq!(denied.len(), 1, "{items:?}");
    assert_eq!(denied[0]["data"]["rule"]["name"], "Ask");
}

on_both_backends!(
    automated_messages_respect_the_limit_bots_and_consent,
    automated_messages_on
);

on_both!(
    macros_run_their_steps_and_show_on_the_thread,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (ann, agent) = t.user("ann@acme.test", "agent").await;
        let (bob, _) = t.user("bob@acme.test", "agent").await;
        assert!(t.add_member(&inbox, &ann).await < 300);
        assert!(t.add_member(&inbox, &bob).await < 300);
        let (_, v) = t
            .inbound(&inbox, &secret, "c1", "m1", "My parcel is late")
            .await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();

        // Admins write macros; only the actions an agent runs by hand are allowed.
        let bad =
            json!({ "name": "Hook", "actions": [{ "kind": "webhook", "url": "https://x.test" }] });
        let (s, v) = t.post("/api/v1/macros", &t.admin_token, bad).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("actions")),
            "{v}"
        );
        let body = json!({ "name": "Late parcel", "actions": [
        { "kind": "add_labels", "labels": ["shipping"] },
        { "kind": "set_priority", "priority": "high" },
        { "kind": "assign", "user_id": bob },
        { "kind": "note", "body": "Asked the carrier" },
        { "kind": "add_labels", "labels": ["shipping"] },
        { "kind": "resolve" }
    ] });
        let (s, _) = t.post("/api/v1/macros", &agent, body.clone()).await;
        assert_eq!(s, 403);
        let (s, m) = t.post("/api/v1/macros", &t.admin_token, body).await;
        assert_eq!(s, 201, "{m}");
        let mid = m["id"].as_str().unwrap().to_string();
        let (s, list) = t.get("/api/v1/macros", &agent).await;
        assert_eq!(
            (s, list["items"][0]["name"].as_str()),
            (200, Some("Late parcel"))
        );

        // An agent runs it: each step answers its result; assigning someone else is not theirs to do.
        let (s, run) = t
            .post(
                &format!("/api/v1/conversations/{conv}/macros/{mid}"),
                &agent,
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{run}");
        let outcomes: Vec<&str> = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(
            outcomes,
            ["done", "done", "failed", "done", "unchanged", "done"],
            "{run}"
        );
        assert_eq!(run["conversation"]["status"], "resolved");
        assert_eq!(run["conversation"]["priority"], "high");
        assert!(run["conversation"]["assignee_id"].is_null());

        // The thread shows each step, attributed to the macro and the agent.
        let items = t.timeline_items(&conv).await;
        let by_macro: Vec<&Value> = items
            .iter()
            .filter(|e| e["data"]["macro"]["name"] == "Late parcel")
            .collect();
        assert_eq!(by_macro.len(), 6, "{items:?}");
        assert!(
            by_macro
                .iter()
                .all(|e| e["data"]["actor_id"].as_str() == Some(ann.as_str())
                    || e["data"]["note"]["author_id"].as_str() == Some(ann.as_str())),
            "{by_macro:?}"
        );

        // A supervisor may assign someone else with it; a conversation out of reach is not found.
        let (sue, sup) = t.user("sue@acme.test", "supervisor").await;
        assert!(t.add_member(&inbox, &sue).await < 300);
        t.post(
            &format!("/api/v1/conversations/{conv}/reopen"),
            &t.admin_token,
            json!({}),
        )
        .await;
        let (s, run) = t
            .post(
                &format!("/api/v1/conversations/{conv}/macros/{mid}"),
                &sup,
                json!({}),
            )
            .await;
        assert_eq!(
            (s, run["steps"][2]["outcome"].as_str()),
            (200, Some("done")),
            "{run}"
        );
        let (_, outsider) = t.user("out@acme.test", "agent").await;
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/macros/{mid}"),
                &outsider,
                json!({}),
            )
            .await;
        assert_eq!(s, 404);
        let (s, _) = t
            .call(
                Method::DELETE,
                &format!("/api/v1/macros/{mid}"),
                &t.admin_token,
                None,
            )
            .await;
        assert_eq!(s, 204);
    }
);

on_both!(
    only_a_conversations_first_message_is_its_creation,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        rule(
            &t,
            json!({ "name": "Welcome", "trigger": { "kind": "conversation_created" },
        "conditions": { "match": "all", "items": [{ "kind": "channel", "in": ["api"] }] },
        "actions": [{ "kind": "add_labels", "labels": ["new"] }] }),
        )
        .await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "Hi").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        assert_eq!(labels_of(&t, &conv).await, ["new"]);
        let path = format!("/api/v1/conversations/{conv}/labels/new");
        let (s, _) = t.call(Method::DELETE, &path, &t.admin_token, None).await;
        assert_eq!(s, 200);
        t.inbound(&inbox, &secret, "c1", "m2", "Hello again").await;
        assert!(labels_of(&t, &conv).await.is_empty());
        assert_eq!(rules(&t).await[0]["fired"], 1);

        // A blocked sender's messages set off no rule.
        let (_, v) = t.inbound(&inbox, &secret, "c2", "b1", "Hi").await;
        let contact = v["contact_id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/contacts/{contact}/block");
        let (s, v) = t.post(&path, &t.admin_token, json!({})).await;
        assert_eq!(s, 200, "{v}");
        let any = json!({ "name": "Any", "trigger": { "kind": "message_received" },
            "actions": [{ "kind": "note", "body": "seen" }] });
        rule(&t, any).await;
        t.inbound(&inbox, &secret, "c2", "b2", "Hello?").await;
        assert_eq!(rules(&t).await[1]["fired"], 0);

        // A customer's message that reopens a resolved conversation is a reopen.
        let reopened = json!({ "name": "Back", "trigger": { "kind": "reopened" },
            "actions": [{ "kind": "add_labels", "labels": ["returning"] }] });
        rule(&t, reopened).await;
        let hook = json!({ "name": "Tell the CRM", "trigger": { "kind": "resolved" },
            "actions": [{ "kind": "webhook", "url": "https://crm.example/hook" }] });
        rule(&t, hook).await;
        let path = format!("/api/v1/conversations/{conv}/resolve");
        let (s, _) = t.post(&path, &t.admin_token, json!({})).await;
        assert_eq!(s, 200);
        t.inbound(&inbox, &secret, "c1", "m3", "One more thing")
            .await;
        assert_eq!(labels_of(&t, &conv).await, ["returning"]);
        // The webhook call is queued, once, and shown on the timeline.
        let items = t.timeline_items(&conv).await;
        let hooks: Vec<&Value> = ruled(&items, "Tell the CRM");
        assert_eq!(hooks.len(), 1, "{items:?}");
        assert_eq!(hooks[0]["data"]["outcome"], "queued");
    }
);
