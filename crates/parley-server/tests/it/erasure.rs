//! Erasing a contact end to end: what goes (name, addresses, fields, message and note content,
//! files — from the API and from the database's files), what stays (the anonymised timeline, the
//! revocations, which still refuse their number), who may do it, and the audit.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Callback, TestApp};
use crate::on_both;
use crate::twilio::{fake_twilio, SID, TOKEN};

const PRIVATE: [&str; 5] = [
    "Elm St",
    "Pat Doe",
    "2125550147",
    "pat@example.com",
    "%PDF-1.4 Pat",
];

on_both!(
    erasure_removes_a_contact_and_keeps_their_opt_out,
    |t: TestApp| async move {
        let cb = Callback::start(0).await;
        let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
        let (s, v) = t
            .inbound(&inbox, &secret, "c1", "m1", "Hi, it's Pat at 12 Elm St")
            .await;
        assert_eq!(s, 200, "{v}");
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let contact = v["contact_id"].as_str().unwrap().to_string();
        let k = format!("/api/v1/contacts/{contact}");
        let (s, v) = t
        .patch(&k, &t.admin_token, json!({ "name": "Pat Doe", "phone": "+12125550147", "email": "pat@example.com", "custom_fields": { "street": "12 Elm St" } }))
        .await;
        assert_eq!(s, 200, "{v}");
        let (s, up) = crate::attachments::upload(
            &t,
            &inbox,
            "id.pdf",
            "application/pdf",
            b"%PDF-1.4 Pat".to_vec(),
        )
        .await;
        assert_eq!(s, 201, "{up}");
        let file = up["id"].as_str().unwrap().to_string();
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Shipping to 12 Elm St", "attachments": [file] }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        cb.wait_for(1).await;
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/notes"),
                &t.admin_token,
                json!({ "body": "Pat Doe prefers mornings" }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        // Pat says on the phone they want no more texts; the agent records it.
        let (s, v) = t
        .post(&format!("{k}/consent"), &t.admin_token, json!({ "purpose": "informational", "action": "revoke", "source": "agent", "evidence": { "call": "Pat Doe, 12 Elm St" } }))
        .await;
        assert_eq!(s, 201, "{v}");
        let download = format!("/api/v1/inboxes/{inbox}/attachments/{file}");
        assert_eq!(t.get(&download, &t.admin_token).await.0, 200);

        // Only an admin erases.
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (_, supervisor) = t.user("sue@acme.test", "supervisor").await;
        for who in [&agent, &supervisor] {
            let (s, v) = t.call(Method::DELETE, &k, who, None).await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "{v}"
            );
        }
        let (s, v) = t.call(Method::DELETE, &k, &t.admin_token, None).await;
        assert_eq!(s, 200, "{v}");
        let e = &v["erasure"];
        assert_eq!(
            (
                &e["conversations"],
                &e["identities"],
                &e["revocations_kept"],
                &e["files_deleted"],
                &e["repeated"]
            ),
            (&json!(1), &json!(1), &json!(1), &json!(1), &json!(false)),
            "{v}"
        );

        // Gone from every answer, the file included; the conversation stays, anonymised.
        let (_, c) = t.get(&k, &t.admin_token).await;
        assert!(c["erased_at"].is_string(), "{c}");
        assert_eq!(
            (&c["name"], &c["phone"], &c["email"]),
            (&json!(null), &json!(null), &json!(null)),
            "{c}"
        );
        assert_eq!(t.get(&download, &t.admin_token).await.0, 404);
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let kinds: Vec<&str> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["type"].as_str())
            .filter(|k| *k != "conversation.updated")
            .collect();
        assert_eq!(
            kinds,
            [
                "message.created",
                "message.created",
                "note.created",
                "consent.changed"
            ],
            "{tl}"
        );
        let (_, ledger) = t.get(&format!("{k}/consent"), &t.admin_token).await;
        let (_, found) = t.get("/api/v1/contacts?q=Pat", &t.admin_token).await;
        assert_eq!(found["items"], json!([]), "{found}");
        for secret in PRIVATE {
            for (what, text) in [("timeline", tl.to_string()), ("ledger", ledger.to_string())] {
                assert!(
                    !text.contains(secret),
                    "the {what} still holds {secret}: {text}"
                );
            }
        }
        assert_eq!(ledger["history"][0]["action"], "revoke", "{ledger}");
        // And from the database's files.
        let raw = t.raw_contents().await;
        for secret in PRIVATE {
            assert!(!raw.contains(secret), "the database still holds {secret}");
        }

        // Nothing more is recorded about them, nor sent to them.
        let (s, v) = t.patch(&k, &t.admin_token, json!({ "name": "Pat" })).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("contact_erased")),
            "{v}"
        );
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Still there?" }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("contact_erased")),
            "{v}"
        );

        // Audited once, without what was erased.
        let (s, again) = t.call(Method::DELETE, &k, &t.admin_token, None).await;
        assert_eq!(
            (s, &again["erasure"]["repeated"]),
            (200, &json!(true)),
            "{again}"
        );
        let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
        let erasures: Vec<_> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == "contact.erase")
            .collect();
        assert_eq!(erasures.len(), 1, "{audit}");
        assert_eq!(erasures[0]["target"], contact.as_str());
        for secret in PRIVATE {
            assert!(
                !audit.to_string().contains(secret),
                "the audit log holds {secret}"
            );
        }

        // Their number comes back as a new contact: the opt-out still holds.
        let (base, _fake) = fake_twilio().await;
        let (s, sms) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
        assert_eq!(s, 201, "{sms}");
        let (s, back) = t
            .post(
                "/api/v1/contacts",
                &t.admin_token,
                json!({ "phone": "+1 212 555 0147" }),
            )
            .await;
        assert_eq!(s, 201, "{back}");
        let (s, v) = t
        .post("/api/v1/conversations", &t.admin_token, json!({ "inbox_id": sms["id"], "contact_id": back["id"], "body": "Your order shipped", "purpose": "informational" }))
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("opted_out")),
            "{v}"
        );
        // Someone else's number is merely not subscribed.
        let (_, other) = t
            .post(
                "/api/v1/contacts",
                &t.admin_token,
                json!({ "phone": "+12125550199" }),
            )
            .await;
        let (s, v) = t
        .post("/api/v1/conversations", &t.admin_token, json!({ "inbox_id": sms["id"], "contact_id": other["id"], "body": "Your order shipped", "purpose": "informational" }))
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("no_consent")),
            "{v}"
        );
    }
);
