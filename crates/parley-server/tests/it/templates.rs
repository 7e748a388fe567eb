//! Templates over the API: merge fields checked when saved, previews that say which fields fell
//! back, replies by `template_id` rendered as the composer renders them and counted, channel
//! limits, and the SMS cost of a rendered text.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::on_both;
use crate::twilio::{fake_twilio, form, post_signed, SID, TOKEN};

async fn template(t: &TestApp, body: Value) -> Value {
    let (s, v) = t.post("/api/v1/templates", &t.admin_token, body).await;
    assert_eq!(s, 201, "{v}");
    v
}

async fn preview(t: &TestApp, id: &str, conv: &str) -> (u16, Value) {
    let path = format!("/api/v1/templates/{id}/preview");
    t.post(&path, &t.admin_token, json!({ "conversation_id": conv }))
        .await
}

on_both!(
    templates_check_fields_render_for_a_conversation_and_count_uses,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "Hello").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let contact = v["contact_id"].as_str().unwrap().to_string();
        let body = "Hi {{first_name | there}}, your tier is {{loyalty_program | standard}}. \
                    {{agent.first_name}} at {{business_name}} ({{inbox.name}})";

        // A field that is neither built in nor declared is refused, naming it; nothing is saved.
        let tier = json!({ "name": "Loyalty tier", "shortcut": "/Tier", "body": body });
        let (s, v) = t
            .post("/api/v1/templates", &t.admin_token, tier.clone())
            .await;
        assert_eq!(s, 422, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("loyalty_program"), "{message}");
        let (_, v) = t.get("/api/v1/templates", &t.admin_token).await;
        assert_eq!(v["items"].as_array().map(Vec::len), Some(0));

        // Declared, it is known; agents read templates and may not write them.
        let (s, v) = t
            .call(
                Method::PUT,
                "/api/v1/templates/fields",
                &t.admin_token,
                Some(json!({ "custom": ["loyalty_program"] })),
            )
            .await;
        assert_eq!((s, &v["custom"]), (200, &json!(["loyalty_program"])), "{v}");
        let tpl = template(&t, tier.clone()).await;
        assert_eq!(tpl["shortcut"], "tier");
        assert_eq!(tpl["fields"][1], "loyalty_program");
        let id = tpl["id"].as_str().unwrap().to_string();
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (s, v) = t.get("/api/v1/templates", &agent).await;
        assert_eq!(
            (s, v["items"][0]["name"].as_str()),
            (200, Some("Loyalty tier"))
        );
        let (s, _) = t.post("/api/v1/templates", &agent, tier.clone()).await;
        assert_eq!(s, 403);
        let (s, v) = t.post("/api/v1/templates", &t.admin_token, tier).await;
        assert_eq!(s, 409, "a shortcut is unique: {v}");

        // The preview says which fields fell back; it is not a use.
        let (s, v) = preview(&t, &id, &conv).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v["text"],
            "Hi Customer, your tier is standard. Admin at Acme (Support)"
        );
        assert_eq!(v["fell_back"], json!(["loyalty_program"]));
        assert!(v.get("sms").is_none(), "not an SMS inbox: {v}");

        // The contact's custom field is rendered once it has one.
        let (s, v) = t
            .patch(
                &format!("/api/v1/contacts/{contact}"),
                &t.admin_token,
                json!({ "custom_fields": { "loyalty_program": "Gold" } }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (_, v) = preview(&t, &id, &conv).await;
        assert_eq!(
            v["text"],
            "Hi Customer, your tier is Gold. Admin at Acme (Support)"
        );
        assert_eq!(v["fell_back"], json!([]));

        // A reply by template_id sends the same text and counts the use.
        let path = format!("/api/v1/conversations/{conv}/messages");
        let (s, v) = t
            .post(&path, &t.admin_token, json!({ "template_id": id }))
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(
            v["message"]["body"],
            "Hi Customer, your tier is Gold. Admin at Acme (Support)"
        );
        let (_, v) = t.get("/api/v1/templates", &t.admin_token).await;
        assert_eq!(v["items"][0]["uses"], 1, "{v}");
        assert!(v["items"][0]["last_used_at"].is_string(), "{v}");
        let (s, v) = t
            .post(
                &path,
                &t.admin_token,
                json!({ "template_id": id, "body": "typed too" }),
            )
            .await;
        assert_eq!(s, 422, "{v}");
        let (s, v) = t
            .post(
                &path,
                &t.admin_token,
                json!({ "template_id": "0190f0f0-0000-7000-8000-000000000001" }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("template_id")),
            "{v}"
        );

        // Saved replies are the templates' shortcuts and texts.
        let (_, v) = t.get("/api/v1/replies", &agent).await;
        assert_eq!(v["items"][0]["shortcut"], "tier", "{v}");
    }
);

on_both!(
    a_template_limited_to_other_channels_is_refused_here,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "Hello").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let (s, v) = t
            .post(
                "/api/v1/templates",
                &t.admin_token,
                json!({ "shortcut": "x", "body": "Hi", "channels": ["pigeon"] }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("channels")),
            "{v}"
        );
        let tpl = template(
            &t,
            json!({ "shortcut": "text", "body": "Reply YES", "channels": ["sms", "whatsapp"] }),
        )
        .await;
        assert_eq!(tpl["channels"], json!(["sms", "whatsapp"]));
        let id = tpl["id"].as_str().unwrap();
        let (s, v) = preview(&t, id, &conv).await;
        assert_eq!(s, 422, "{v}");
        let path = format!("/api/v1/conversations/{conv}/messages");
        let (s, v) = t
            .post(&path, &t.admin_token, json!({ "template_id": id }))
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("template_id")),
            "{v}"
        );
        let items = t.timeline_items(&conv).await;
        assert_eq!(items.len(), 1, "nothing was sent: {items:?}");
        let (_, v) = t.get("/api/v1/templates", &t.admin_token).await;
        assert_eq!(v["items"][0]["uses"], 0);
        // Opened to every channel, it may be used here.
        let (s, v) = t
            .patch(
                &format!("/api/v1/templates/{id}"),
                &t.admin_token,
                json!({ "shortcut": "text", "body": "Reply YES", "channels": [] }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = preview(&t, id, &conv).await;
        assert_eq!((s, v["text"].as_str()), (200, Some("Reply YES")));
    }
);

on_both!(
    sms_previews_show_encoding_and_segments,
    |t: TestApp| async move {
        let (base, _fake) = fake_twilio().await;
        let (s, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
            .await;
        assert_eq!(s, 201, "{inbox}");
        let inbox = inbox["id"].as_str().unwrap().to_string();
        let sms = form(&[
            ("MessageSid", "SM1"),
            ("AccountSid", SID),
            ("From", "+12125550147"),
            ("To", "+15017122661"),
            ("Body", "Hi"),
        ]);
        assert_eq!(post_signed(&t, &inbox, &sms, TOKEN).await.0, 200);
        let (_, list) = t
            .get(
                &format!("/api/v1/conversations?inbox={inbox}"),
                &t.admin_token,
            )
            .await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();

        // 161 GSM characters need two segments; one emoji makes the whole text UCS-2.
        let long = template(
            &t,
            json!({ "shortcut": "long", "body": "x".repeat(161), "channels": ["sms"] }),
        )
        .await;
        let (s, v) = preview(&t, long["id"].as_str().unwrap(), &conv).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v["sms"],
            json!({ "encoding": "gsm7", "segments": 2, "characters": 161 })
        );
        let wave = template(
            &t,
            json!({ "shortcut": "wave", "body": "Hello {{first_name | there}} 👋" }),
        )
        .await;
        let (_, v) = preview(&t, wave["id"].as_str().unwrap(), &conv).await;
        assert_eq!(v["text"], "Hello there 👋");
        assert_eq!(v["fell_back"], json!(["first_name"]));
        assert_eq!(v["sms"]["encoding"], "ucs2", "{v}");
        assert_eq!(v["sms"]["segments"], 1);

        // An unsaved text previews for the conversation, or for the sample contact on a channel.
        let (s, v) = t
            .post("/api/v1/templates/preview", &t.admin_token, json!({ "body": "{{first_name | you}}: {{conversation.id}}", "conversation_id": conv }))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["text"], format!("you: {conv}"));
        assert_eq!(v["sms"]["segments"], 1);
        let (s, v) = t
            .post(
                "/api/v1/templates/preview",
                &t.admin_token,
                json!({ "body": "Hi {{first_name}}, {{expected_wait}}", "channel": "sms" }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert!(v["text"].as_str().unwrap().starts_with("Hi Maria, "), "{v}");
        assert_eq!(v["sms"]["encoding"], "gsm7");
        let (s, v) = t
            .post(
                "/api/v1/templates/preview",
                &t.admin_token,
                json!({ "body": "Hi {{shoe_size}}" }),
            )
            .await;
        assert_eq!(s, 422, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("shoe_size"),
            "{v}"
        );
    }
);
