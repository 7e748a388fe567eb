//! A phone system's call notifications (`POST /hooks/call/{inbox}`): signed like the API channel,
//! stored once per call as a `call` event on the caller's conversation, beside their texts.

use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::on_both;
use crate::twilio::{fake_twilio, form, post_signed, SID, TOKEN};

async fn call(t: &TestApp, inbox: &str, secret: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let sig = parley_channels::api::sign(secret, body.as_bytes());
    call_raw(t, inbox, Some(&sig), body).await
}

async fn call_raw(t: &TestApp, inbox: &str, sig: Option<&str>, body: String) -> (u16, Value) {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(sig) = sig {
        headers.push(("x-parley-signature", sig));
    }
    let path = format!("/hooks/call/{inbox}");
    let (s, text) = t
        .send(reqwest::Method::POST, &path, &headers, body.into_bytes())
        .await;
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn calls(t: &TestApp, conv: &str) -> Vec<Value> {
    t.timeline_items(conv)
        .await
        .into_iter()
        .filter(|i| i["type"] == "call")
        .map(|i| i["data"].clone())
        .collect()
}

async fn conversation_count(t: &TestApp) -> usize {
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    list["items"].as_array().unwrap().len()
}

on_both!(
    a_missed_call_lands_once_on_the_callers_conversation,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Shop", "http://127.0.0.1:9/none").await;
        let missed = json!({ "from": "+15558675310", "at": "2026-12-08T09:30:00Z", "answered": false, "id": "CA1" });

        // Bad signatures and malformed notifications are refused, and nothing is stored.
        let (s, v) = call(&t, &inbox, "not-the-secret", &missed).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("bad_signature")),
            "{v}"
        );
        assert_eq!(call_raw(&t, &inbox, None, missed.to_string()).await.0, 403);
        for bad in [
            json!({ "from": "12", "answered": false }),
            json!({ "from": "+15558675310" }),
            json!({ "from": "+15558675310", "answered": "no" }),
            json!({ "from": "+15558675310", "answered": true, "at": "yesterday" }),
            json!({ "from": "+15558675310", "answered": true, "id": "" }),
            json!([1, 2]),
        ] {
            let (s, v) = call(&t, &inbox, &secret, &bad).await;
            assert_eq!(s, 400, "{bad}: {v}");
            assert!(v["error"]["message"].is_string(), "{v}");
        }
        assert_eq!(conversation_count(&t).await, 0);

        // A call from someone new makes a contact and a conversation holding the call.
        let (s, v) = call(&t, &inbox, &secret, &missed).await;
        assert_eq!((s, v["duplicate"].as_bool()), (200, Some(false)), "{v}");
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let got = calls(&t, &conv).await;
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0]["answered"].as_bool(), got[0]["call_id"].as_str()),
            (Some(false), Some("CA1"))
        );
        let item = t
            .timeline_items(&conv)
            .await
            .into_iter()
            .find(|i| i["type"] == "call")
            .unwrap();
        assert_eq!(item["at"], "2026-12-08T09:30:00Z", "{item}");
        let (_, contact) = t
            .get(
                &format!("/api/v1/contacts/{}", v["contact_id"].as_str().unwrap()),
                &t.admin_token,
            )
            .await;
        assert_eq!(contact["phone"], "+15558675310", "{contact}");

        // The phone system sending it again stores nothing more.
        let (s, v) = call(&t, &inbox, &secret, &missed).await;
        assert_eq!((s, v["duplicate"].as_bool()), (200, Some(true)), "{v}");
        let answered = json!({ "from": "+1 555 867 5310", "answered": true, "duration_secs": 95, "id": "CA2" });
        assert_eq!(call(&t, &inbox, &secret, &answered).await.0, 200);
        let got = calls(&t, &conv).await;
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            (
                got[1]["answered"].as_bool(),
                got[1]["duration_secs"].as_i64()
            ),
            (Some(true), Some(95))
        );
        assert_eq!(conversation_count(&t).await, 1);

        // Inboxes whose channel takes no calls have no call hook.
        let (s, widget) = t
            .post(
                "/api/v1/inboxes",
                &t.admin_token,
                json!({ "name": "Website", "kind": "widget" }),
            )
            .await;
        assert_eq!(s, 201, "{widget}");
        let widget = widget["id"].as_str().unwrap();
        assert_eq!(call(&t, widget, &secret, &missed).await.0, 404);
        assert_eq!(
            call(&t, "0190a3e2-7b1c-7cde-8f00-000000000001", &secret, &missed)
                .await
                .0,
            404
        );
    }
);

on_both!(
    a_call_to_an_sms_number_joins_the_callers_texts,
    |t: TestApp| async move {
        let (base, _fake) = fake_twilio().await;
        let (s, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Support line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
            .await;
        assert_eq!(s, 201, "{inbox}");
        let id = inbox["id"].as_str().unwrap().to_string();
        let sms = form(&[
            ("MessageSid", "SM1"),
            ("AccountSid", SID),
            ("From", "+15558675310"),
            ("To", "+15017122661"),
            ("Body", "Call me back?"),
            ("NumMedia", "0"),
        ]);
        assert_eq!(post_signed(&t, &id, &sms, TOKEN).await.0, 200);
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let (s, resolved) = t
            .post(
                &format!("/api/v1/conversations/{conv}/resolve"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{resolved}");

        // Signed with the number's auth token; the call joins the texts and reopens nothing.
        let missed = json!({ "from": "+15558675310", "answered": false, "id": "CA9" });
        let (s, v) = call(&t, &id, TOKEN, &missed).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["conversation_id"], conv.as_str());
        assert_eq!(calls(&t, &conv).await.len(), 1);
        let (_, c) = t
            .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
            .await;
        assert_eq!(c["status"], "resolved");
    }
);
