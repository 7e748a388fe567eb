//! Texting law end to end: the workspace's rules, keywords in other languages, HELP answers and
//! the one confirmation of an opt-out, double opt-in by SMS, the gate's denials and quiet-hours
//! holds, the opt-out footer, silent numbers and their purge, and the consent export.

use serde_json::{json, Value};

use crate::harness::{Callback, TestApp};
use crate::on_both;
use crate::on_both_backends;
use crate::twilio::{fake_twilio, form, post_signed, SID, TOKEN};

const DAY_MS: i64 = 86_400_000;

/// A fixed-offset zone where it is now about `hour` o'clock, so quiet hours do not depend on when
/// the test runs.
fn zone_at(hour: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut offset = hour - (now / 3600) % 24;
    if offset > 14 {
        offset -= 24;
    }
    if offset < -12 {
        offset += 24;
    }
    // POSIX sign: Etc/GMT-5 is five hours ahead of UTC.
    match offset {
        0 => "Etc/GMT".into(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

async fn put(t: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    t.call(reqwest::Method::PUT, path, token, Some(body)).await
}

async fn wait_bodies(fake: &crate::twilio::FakeTwilio, n: usize) -> Vec<String> {
    fake.sent.wait_for(n).await;
    fake.bodies()
}

fn texts(deliveries: &[(Option<String>, String)]) -> Vec<String> {
    deliveries
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

on_both!(
    workspace_rules_are_validated_and_drive_keywords,
    |t: TestApp| async move {
        let (s, v) = t.get("/api/v1/compliance/settings", &t.admin_token).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["settings"]["confirm_keyword"], "CONFIRM");
        assert_eq!(
            v["settings"]["quiet_hours"],
            json!({ "start": "08:00", "end": "21:00" })
        );
        assert_eq!(v["settings"]["cross_channel_revocation"], json!(["sms"]));
        assert!(
            v["texts"]["help"].as_str().unwrap().starts_with("Acme:"),
            "{v}"
        );
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let path = "/api/v1/compliance/settings";
        let (s, v) = put(&t, path, &agent, json!({})).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{v}"
        );
        for (bad, field) in [
            (
                json!({ "quiet_hours": { "start": "21:00", "end": "08:00" } }),
                "quiet_hours",
            ),
            (
                json!({ "quiet_hours": { "start": "07:00", "end": "21:00" } }),
                "quiet_hours",
            ),
            (
                json!({ "keywords": { "opt_in": ["stop"] } }),
                "keywords.opt_in",
            ),
            (
                json!({ "keywords": { "opt_out": ["ALTO"], "help": ["alto"] } }),
                "keywords.help",
            ),
            (
                json!({ "cross_channel_revocation": ["fax"] }),
                "cross_channel_revocation",
            ),
            (json!({ "inactivity_days": 100000 }), "inactivity_days"),
        ] {
            let (s, v) = put(&t, path, &t.admin_token, bad.clone()).await;
            assert_eq!(
                (s, v["error"]["field"].as_str()),
                (422, Some(field)),
                "{bad}: {v}"
            );
        }
        let (s, v) = put(&t, path, &t.admin_token, json!({ "quiet": true })).await;
        assert!(
            (400..500).contains(&s) && v["error"]["code"].is_string(),
            "{v}"
        );
        let rules = json!({
            "brand": "Acme Tienda",
            "help_text": "Acme Tienda: ayuda en acme.test. Responda ALTO para cancelar.",
            "keywords": { "opt_out": ["ALTO", "cancelar"], "opt_in": ["COMENZAR"], "help": ["AYUDA"] },
        });
        let (s, v) = put(&t, path, &t.admin_token, rules).await;
        assert_eq!(s, 200, "{v}");
        assert!(v["texts"]["opt_out_confirmation"]
            .as_str()
            .unwrap()
            .starts_with("Acme Tienda:"));
        let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
        assert_eq!(
            audit["items"][0]["action"], "settings.compliance",
            "{audit}"
        );

        // An API inbox stands in for any channel Parley answers on itself.
        let cb = Callback::start(0).await;
        let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
        assert_eq!(t.inbound(&inbox, &secret, "c1", "m1", "Hola").await.0, 200);
        assert_eq!(t.inbound(&inbox, &secret, "c1", "m2", "ayuda").await.0, 200);
        let got = texts(&cb.wait_for(1).await);
        assert_eq!(
            got,
            vec!["Acme Tienda: ayuda en acme.test. Responda ALTO para cancelar."]
        );
        // A redelivered HELP is not answered twice.
        assert_eq!(t.inbound(&inbox, &secret, "c1", "m2", "ayuda").await.0, 200);
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let contact = list["items"][0]["contact_id"].as_str().unwrap().to_string();
        // "Alto." opts out on this channel, with exactly one confirmation.
        assert_eq!(t.inbound(&inbox, &secret, "c1", "m3", "Alto.").await.0, 200);
        assert_eq!(t.inbound(&inbox, &secret, "c1", "m4", "ALTO").await.0, 200);
        let got = texts(&cb.wait_for(2).await);
        t.settle().await;
        assert_eq!(cb.received.lock().unwrap().len(), 2, "{got:?}");
        assert!(got[1].contains("unsubscribed"), "{got:?}");
        let (_, c) = t
            .get(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
            )
            .await;
        assert_eq!(c["states"]["api"]["conversational"], "revoked", "{c}");
        assert_eq!(
            c["states"]["email"]["conversational"], "unknown",
            "a revocation outside SMS stays on its channel by default"
        );
        // The change shows on the conversation's timeline.
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let changes: Vec<&Value> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "consent.changed")
            .collect();
        assert_eq!(changes.len(), 3, "one per purpose: {tl}");
        assert_eq!(changes[0]["data"]["consent"]["action"], "revoke");
        assert_eq!(changes[0]["data"]["consent"]["source"], "keyword");
        let reply = json!({ "body": "Are you sure?" });
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                reply,
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("opted_out")),
            "{v}"
        );
        // The workspace's opt-in word brings them back, confirmed once.
        assert_eq!(
            t.inbound(&inbox, &secret, "c1", "m5", "comenzar").await.0,
            200
        );
        let got = texts(&cb.wait_for(3).await);
        assert!(got[2].contains("subscribed"), "{got:?}");
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Welcome back" }),
            )
            .await;
        assert_eq!(s, 201);
    }
);

on_both!(
    double_opt_in_then_business_texts_with_the_footer_and_quiet_hours,
    |t: TestApp| async move {
        let (base, fake) = fake_twilio().await;
        let (s, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
            .await;
        assert_eq!(s, 201, "{inbox}");
        let inbox = inbox["id"].as_str().unwrap().to_string();
        let phone = "+12125550147";
        let (s, k) = t
            .post("/api/v1/contacts", &t.admin_token, json!({ "name": "Dana", "phone": phone, "custom_fields": { "timezone": zone_at(12) } }))
            .await;
        assert_eq!(s, 201, "{k}");
        let contact = k["id"].as_str().unwrap().to_string();
        let start = |body: &str, purpose: &str| {
            t.post(
                "/api/v1/conversations",
                &t.admin_token,
                json!({ "inbox_id": inbox, "contact_id": contact, "body": body, "purpose": purpose }),
            )
        };
        // Nothing on record: a business-initiated text is refused, with the reason.
        let (s, v) = start("Your order shipped", "informational").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("no_consent")),
            "{v}"
        );
        // A web form's subscription waits for CONFIRM; the request says what, how often, fees, STOP.
        let (s, e) = t
            .post(&format!("/api/v1/contacts/{contact}/consent"), &t.admin_token,
                json!({ "purpose": "informational", "action": "grant", "source": "web_form", "evidence": { "form": "checkout", "ip": "203.0.113.9" } }))
            .await;
        assert_eq!(s, 201, "{e}");
        assert_eq!(e["action"], "request");
        assert_eq!(e["confirmation"]["sent"], true, "{e}");
        let sent = wait_bodies(&fake, 1).await;
        for part in [
            "reply CONFIRM",
            "account notifications",
            "Msg & data rates may apply",
            "STOP",
        ] {
            assert!(sent[0].contains(part), "{part} missing from {:?}", sent[0]);
        }
        let (s, v) = start("Your order shipped", "informational").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("consent_pending")),
            "{v}"
        );
        // Promotional consent given by voice is not written consent.
        let (s, v) = t
            .post(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
                json!({ "purpose": "promotional", "action": "grant", "source": "agent" }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("written_consent_required")),
            "{v}"
        );
        // CONFIRM from their phone grants it and is acknowledged.
        let sms = |sid: &str, body: &str| {
            form(&[
                ("MessageSid", sid),
                ("AccountSid", SID),
                ("From", phone),
                ("To", "+15017122661"),
                ("Body", body),
                ("NumMedia", "0"),
            ])
        };
        assert_eq!(
            post_signed(&t, &inbox, &sms("SMc1", "confirm"), TOKEN)
                .await
                .0,
            200
        );
        let sent = wait_bodies(&fake, 2).await;
        assert!(sent[1].contains("you are subscribed"), "{sent:?}");
        let (_, c) = t
            .get(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
            )
            .await;
        assert_eq!(c["states"]["sms"]["informational"], "granted", "{c}");
        assert_eq!(
            c["history"].as_array().unwrap().last().unwrap()["source"],
            "double_opt_in"
        );
        // The same form sent again asks nothing more of the customer.
        let (s, e) = t
            .post(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
                json!({ "purpose": "informational", "action": "grant", "source": "web_form" }),
            )
            .await;
        assert_eq!((s, e["action"].as_str()), (201, Some("grant")), "{e}");
        assert_eq!(e["confirmation"]["reason"], "already subscribed", "{e}");
        assert_eq!(fake.bodies().len(), 2, "no second confirmation request");

        // The first business text of the conversation carries the opt-out footer; the next not.
        let (s, v) = start("Your order shipped", "informational").await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["compliance"]["verdict"], "allow");
        assert_eq!(
            v["message"]["body"],
            "Your order shipped\n\nReply STOP to opt out."
        );
        let (s, v) = start("It arrives Tuesday", "informational").await;
        assert_eq!(
            (s, v["message"]["body"].as_str()),
            (201, Some("It arrives Tuesday")),
            "{v}"
        );
        let sent = wait_bodies(&fake, 4).await;
        assert_eq!(sent[2], "Your order shipped\n\nReply STOP to opt out.");
        // Promotional needs its own consent; the composer sees the gate's verdicts first.
        let conv = v["conversation"]["id"].as_str().unwrap().to_string();
        let (_, ch) = t
            .get(
                &format!("/api/v1/conversations/{conv}/channel"),
                &t.admin_token,
            )
            .await;
        assert_eq!(
            ch["compliance"]["informational"]["verdict"], "allow",
            "{ch}"
        );
        assert_eq!(
            ch["compliance"]["promotional"]["code"], "no_consent",
            "{ch}"
        );
        let (s, v) = start("20% off today", "promotional").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("no_consent")),
            "{v}"
        );

        // At 3 a.m. their time an informational text is held until 8, not sent.
        let (s, _) = t
            .patch(
                &format!("/api/v1/contacts/{contact}"),
                &t.admin_token,
                json!({ "custom_fields": { "timezone": zone_at(3) } }),
            )
            .await;
        assert_eq!(s, 200);
        let (s, v) = start("Reminder: pick-up tomorrow", "informational").await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["compliance"]["verdict"], "hold", "{v}");
        assert!(
            v["compliance"]["reason"]
                .as_str()
                .unwrap()
                .contains("Quiet hours"),
            "{v}"
        );
        let until =
            parley_core::Timestamp::parse_rfc3339(v["compliance"]["until"].as_str().unwrap())
                .unwrap();
        let wait = until.0 - t.app.now().0;
        assert!(
            (4 * 3_600_000..=6 * 3_600_000).contains(&wait),
            "held for {wait} ms"
        );
        t.settle().await;
        assert_eq!(fake.bodies().len(), 4, "nothing goes out in quiet hours");
        // A conversational answer to the customer goes at any hour.
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Thanks for confirming!" }),
            )
            .await;
        assert_eq!(
            (s, v["compliance"]["verdict"].as_str()),
            (201, Some("allow")),
            "{v}"
        );
        let sent = wait_bodies(&fake, 5).await;
        assert_eq!(sent[4], "Thanks for confirming!");
    }
);

on_both!(
    silent_numbers_are_suspended_reported_and_purged,
    |t: TestApp| async move {
        let (base, _fake) = fake_twilio().await;
        let (_, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
            .await;
        let inbox = inbox["id"].as_str().unwrap().to_string();
        let ws = t.app.store.first_workspace().await.unwrap().unwrap().id;
        let long_ago = t.app.now().plus_millis(-400 * DAY_MS);
        let old = t
            .app
            .store
            .create_contact(
                ws,
                parley_store::NewContact {
                    name: Some("Old".into()),
                    email: None,
                    phone: Some("+12125550148".into()),
                    custom_fields: serde_json::Map::from_iter([(
                        "timezone".to_string(),
                        json!(zone_at(12)),
                    )]),
                    identities: vec![],
                },
                long_ago,
            )
            .await
            .unwrap();
        t.app
            .store
            .record_consent(
                ws,
                parley_store::NewConsent {
                    contact: old.id,
                    purpose: parley_core::consent::Purpose::Informational,
                    action: parley_core::consent::Action::Grant,
                    source: "web_form".into(),
                    channel: Some("sms".into()),
                    evidence: json!({}),
                    at: long_ago,
                    conversation: None,
                },
            )
            .await
            .unwrap();
        let (_, fresh) = t
            .post(
                "/api/v1/contacts",
                &t.admin_token,
                json!({ "name": "New", "phone": "+12125550149" }),
            )
            .await;
        let fresh = fresh["id"].as_str().unwrap().to_string();
        let (s, v) = t
            .post("/api/v1/conversations", &t.admin_token, json!({ "inbox_id": inbox, "contact_id": old.id, "body": "Hello again", "purpose": "informational" }))
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("inactive_number")),
            "{v}"
        );
        // The report is for supervisors and admins.
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (_, sup) = t.user("sue@acme.test", "supervisor").await;
        assert_eq!(t.get("/api/v1/compliance/inactive", &agent).await.0, 403);
        let (s, r) = t.get("/api/v1/compliance/inactive", &sup).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["inactivity_days"], 180);
        assert_eq!(r["items"].as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r["items"][0]["id"], json!(old.id));
        assert!(r["items"][0]["days_silent"].as_i64().unwrap() >= 399, "{r}");
        // Purging checks every id first: one that is not silent changes nothing.
        let path = "/api/v1/compliance/inactive/purge";
        let (s, _) = t.post(path, &sup, json!({ "contact_ids": [old.id] })).await;
        assert_eq!(s, 403);
        let (s, v) = t
            .post(
                path,
                &t.admin_token,
                json!({ "contact_ids": [old.id, fresh] }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("not_inactive")),
            "{v}"
        );
        let (_, k) = t
            .get(&format!("/api/v1/contacts/{}", old.id), &t.admin_token)
            .await;
        assert_eq!(k["phone"], "+12125550148");
        let (s, v) = t
            .post(path, &t.admin_token, json!({ "contact_ids": [old.id] }))
            .await;
        assert_eq!((s, v["purged"].as_u64()), (200, Some(1)), "{v}");
        let (_, k) = t
            .get(&format!("/api/v1/contacts/{}", old.id), &t.admin_token)
            .await;
        assert_eq!(k["phone"], Value::Null, "{k}");
        let (_, r) = t.get("/api/v1/compliance/inactive", &sup).await;
        assert_eq!(r["items"], json!([]));
        let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
        assert_eq!(audit["items"][0]["action"], "compliance.purge");
        // With the suspension off, the report is empty and nothing lapses.
        let (s, _) = put(
            &t,
            "/api/v1/compliance/settings",
            &t.admin_token,
            json!({ "inactivity_days": 0 }),
        )
        .await;
        assert_eq!(s, 200);
        let (_, r) = t.get("/api/v1/compliance/inactive", &sup).await;
        assert_eq!(r["items"], json!([]));
    }
);

on_both!(
    a_contacts_consent_ledger_exports_for_auditors,
    |t: TestApp| async move {
        let (_, k) = t
            .post(
                "/api/v1/contacts",
                &t.admin_token,
                json!({ "name": "Eve", "phone": "+12125550150" }),
            )
            .await;
        let contact = k["id"].as_str().unwrap().to_string();
        let (s, _) = t
            .post(&format!("/api/v1/contacts/{contact}/consent"), &t.admin_token,
                json!({ "purpose": "informational", "action": "grant", "source": "pos", "evidence": { "note": "=HYPERLINK(\"x\"), signed at till 3" } }))
            .await;
        assert_eq!(s, 201);
        let (s, _) = t
            .post(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
                json!({ "purpose": "informational", "action": "revoke", "source": "agent" }),
            )
            .await;
        assert_eq!(s, 201);
        let path = format!("/api/v1/contacts/{contact}/consent/export");
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        assert_eq!(t.get(&path, &agent).await.0, 403);
        let (s, v) = t.get(&format!("{path}?format=xml"), &t.admin_token).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("invalid_query")),
            "{v}"
        );
        let (s, v) = t.get(&path, &t.admin_token).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["contact"]["name"], "Eve");
        let ledger = v["ledger"].as_array().unwrap();
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger[0]["source"], "pos");
        assert_eq!(ledger[1]["action"], "revoke");
        let r = t
            .http
            .get(t.url(&format!("{path}?format=csv")))
            .bearer_auth(&t.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let csv = r.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "at,purpose,action,source,channel,evidence");
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(
            lines[1].contains(",informational,grant,pos,all,\"{"),
            "{csv}"
        );
        assert!(
            lines[1].contains("\"\"=HYPERLINK"),
            "quotes are doubled: {csv}"
        );
        let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
        assert_eq!(audit["items"][0]["action"], "consent.export");
        // The audit log itself exports too, and says so.
        let r = t
            .http
            .get(t.url("/api/v1/audit/export?format=csv"))
            .bearer_auth(&t.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let csv = r.text().await.unwrap();
        assert!(
            csv.starts_with("at,actor_id,action,target,ip,detail\r\n"),
            "{csv}"
        );
        assert!(csv.contains(",consent.export,"), "{csv}");
        let (s, v) = t.get("/api/v1/audit/export", &t.admin_token).await;
        assert_eq!(s, 200);
        assert_eq!(v["items"][0]["action"], "audit.export", "{v}");
        assert_eq!(t.get("/api/v1/audit/export", &agent).await.0, 403);
    }
);

on_both!(
    conversations_export_whole_or_by_date_range,
    |t: TestApp| async move {
        let cb = Callback::start(0).await;
        let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
        assert_eq!(
            t.inbound(
                &inbox,
                &secret,
                "c1",
                "m1",
                "Where is my parcel, \"urgent\"?"
            )
            .await
            .0,
            200
        );
        assert_eq!(t.inbound(&inbox, &secret, "c2", "m2", "Hello").await.0, 200);
        let (_, list) = t
            .get("/api/v1/conversations?sort=activity", &t.admin_token)
            .await;
        let conv = list["items"][1]["id"].as_str().unwrap().to_string();
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/notes"),
                &t.admin_token,
                json!({ "body": "VIP" }),
            )
            .await;
        assert_eq!(s, 201);
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "On its way" }),
            )
            .await;
        assert_eq!(s, 201);
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/resolve"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 200);

        let path = format!("/api/v1/conversations/{conv}/export");
        let (s, v) = t.get(&path, &t.admin_token).await;
        assert_eq!(s, 200, "{v}");
        let kinds: Vec<&str> = v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "message.created",
                "note.created",
                "message.created",
                "conversation.updated"
            ],
            "{v}"
        );
        let r = t
            .http
            .get(t.url(&format!("{path}?format=csv")))
            .bearer_auth(&t.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let csv = r.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 5, "{csv}");
        assert!(
            lines[1].ends_with(
                ",message.created,inbound,contact,received,\"Where is my parcel, \"\"urgent\"\"?\""
            ),
            "{csv}"
        );
        assert!(lines[3].contains(",outbound,agent,"), "{csv}");
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        assert_eq!(t.get(&path, &agent).await.0, 403);

        // A range: everything from an hour ago to now, and nothing from last year.
        let now = t.app.now();
        let hour_ago = now.plus_millis(-3_600_000).to_rfc3339();
        let later = now.plus_millis(60_000).to_rfc3339();
        let range = format!("/api/v1/exports/conversations?from={hour_ago}&to={later}");
        let (s, v) = t.get(&range, &t.admin_token).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["threads"].as_array().unwrap().len(), 2, "{v}");
        let (s, v) = t
            .get(
                "/api/v1/exports/conversations?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z",
                &t.admin_token,
            )
            .await;
        assert_eq!(
            (s, v["threads"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{v}"
        );
        for bad in [
            "from=yesterday&to=2026-01-01T00:00:00Z",
            "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&format=xls",
        ] {
            let (s, v) = t
                .get(
                    &format!("/api/v1/exports/conversations?{bad}"),
                    &t.admin_token,
                )
                .await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (400, Some("invalid_query")),
                "{bad}: {v}"
            );
        }
        let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
        let actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.contains(&"export.range") && actions.contains(&"export.conversation"),
            "{actions:?}"
        );
    }
);

async fn retention_on(backend: crate::harness::Backend) {
    let clock = parley_server::ManualClock::new(parley_core::Timestamp(1_799_773_200_000));
    let t = TestApp::spawn_with_clock(backend, std::sync::Arc::new(clock.clone())).await;
    let cb = Callback::start(0).await;
    let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m1", "my card is 4242 4242")
            .await
            .0,
        200
    );
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let (s, up) = crate::attachments::upload(
        &t,
        &inbox,
        "invoice.pdf",
        "application/pdf",
        b"%PDF-1.4 private".to_vec(),
    )
    .await;
    assert_eq!(s, 201, "{up}");
    let file = up["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Your invoice", "attachments": [file] }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    cb.wait_for(1).await;
    let download = format!("/api/v1/inboxes/{inbox}/attachments/{file}");
    assert_eq!(t.get(&download, &t.admin_token).await.0, 200);
    // Resolved with the survey on; the customer's comment is their own words too.
    let (s, _) = put(
        &t,
        "/api/v1/survey",
        &t.admin_token,
        json!({ "enabled": true, "message": "Rate us: {link}" }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{conv}/resolve"),
            &t.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let sent = cb.wait_for(2).await;
    let link = crate::harness::survey_link(&sent[1].1).expect("a survey link");
    let r = t
        .http
        .post(t.url(&link))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("rating=3&comment=call+me+on+555-0199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    clock.advance_ms(31 * DAY_MS);
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m2", "still there?")
            .await
            .0,
        200
    );

    // Off by default; an admin sets 30 days and sees what the next run empties.
    let (_, r) = t.get("/api/v1/retention", &t.admin_token).await;
    assert_eq!(r["retention_days"], 0, "{r}");
    let (s, _) = put(
        &t,
        "/api/v1/compliance/settings",
        &t.admin_token,
        json!({ "retention_days": 30 }),
    )
    .await;
    assert_eq!(s, 200);
    let (_, r) = t.get("/api/v1/retention", &t.admin_token).await;
    assert_eq!(r["next"]["messages"], 3, "{r}");
    let (_, agent) = t.user("ann@acme.test", "agent").await;
    assert_eq!(t.get("/api/v1/retention", &agent).await.0, 403);

    assert_eq!(parley_server::jobs::run_retention(&t.app).await.unwrap(), 3);
    let (_, r) = t.get("/api/v1/retention", &t.admin_token).await;
    assert_eq!(r["next"]["messages"], 0, "{r}");
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
        .filter(|e| e["type"] == "message.created")
        .map(|e| e["data"]["message"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["", "", "", "still there?"], "{tl}");
    assert!(!tl.to_string().contains("4242"), "{tl}");
    assert!(!tl.to_string().contains("555-0199"), "{tl}");
    let survey = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "survey.answered")
        .unwrap();
    assert_eq!(survey["data"]["rating"], 3, "the rating stays: {survey}");
    assert_eq!(
        t.get(&download, &t.admin_token).await.0,
        404,
        "the file is gone too"
    );
}

on_both_backends!(retention_empties_old_messages_and_their_files, retention_on);

/// A world on a manual clock with one or two Twilio numbers and no background workers: the test
/// runs the dispatcher itself, so what reaches Twilio is exactly what was due.
struct OptInWorld {
    t: TestApp,
    clock: parley_server::ManualClock,
    fake: crate::twilio::FakeTwilio,
    inboxes: Vec<String>,
}

const NUMBERS: [&str; 2] = ["+15017122661", "+15017122662"];

impl OptInWorld {
    /// 2027-01-12T17:00:00Z: noon in New York.
    async fn new(backend: crate::harness::Backend, numbers: usize) -> Self {
        let clock = parley_server::ManualClock::new(parley_core::Timestamp(1_799_773_200_000));
        let mut t = TestApp::spawn_with_clock(backend, std::sync::Arc::new(clock.clone())).await;
        t.stop_workers();
        let (base, fake) = fake_twilio().await;
        let mut inboxes = Vec::new();
        for (i, from) in NUMBERS[..numbers].iter().enumerate() {
            let (s, inbox) = t
                .post("/api/v1/inboxes", &t.admin_token, json!({ "name": format!("Line {i}"), "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": from, "api_base_url": base }))
                .await;
            assert_eq!(s, 201, "{inbox}");
            inboxes.push(inbox["id"].as_str().unwrap().to_string());
        }
        Self {
            t,
            clock,
            fake,
            inboxes,
        }
    }

    async fn contact(&self, name: &str, phone: &str) -> String {
        let (s, k) = self
            .t
            .post(
                "/api/v1/contacts",
                &self.t.admin_token,
                json!({ "name": name, "phone": phone }),
            )
            .await;
        assert_eq!(s, 201, "{k}");
        k["id"].as_str().unwrap().to_string()
    }

    async fn subscribe(&self, contact: &str, purpose: &str) -> Value {
        let (s, e) = self
            .t
            .post(
                &format!("/api/v1/contacts/{contact}/consent"),
                &self.t.admin_token,
                json!({ "purpose": purpose, "action": "grant", "source": "web_form" }),
            )
            .await;
        assert_eq!(s, 201, "{e}");
        assert_eq!(e["action"], "request", "{e}");
        e["confirmation"].clone()
    }

    async fn text(&self, inbox: usize, phone: &str, sid: &str, body: &str) {
        let f = form(&[
            ("MessageSid", sid),
            ("AccountSid", SID),
            ("From", phone),
            ("To", NUMBERS[inbox]),
            ("Body", body),
            ("NumMedia", "0"),
        ]);
        assert_eq!(
            post_signed(&self.t, &self.inboxes[inbox], &f, TOKEN)
                .await
                .0,
            200
        );
    }

    /// Runs the dispatcher; the (From, To, Body) of every message Twilio accepted so far.
    async fn sent(&self) -> Vec<(String, String, String)> {
        parley_server::jobs::run_due_deliveries(&self.t.app)
            .await
            .unwrap();
        let get = |f: &Vec<(String, String)>, k: &str| {
            f.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        self.fake
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|f| (get(f, "From"), get(f, "To"), get(f, "Body")))
            .collect()
    }

    async fn requests_to(&self, phone: &str) -> Vec<String> {
        self.sent()
            .await
            .into_iter()
            .filter(|(_, to, body)| to == phone && body.contains("reply CONFIRM"))
            .map(|(from, ..)| from)
            .collect()
    }
}

async fn promotional_double_opt_in_on(backend: crate::harness::Backend) {
    let mut w = OptInWorld::new(backend, 1).await;
    // Noon in New York: the request for a promotional subscription goes, and says so.
    let dana = "+12125550147";
    let k = w.contact("Dana", dana).await;
    let c = w.subscribe(&k, "promotional").await;
    assert_eq!(
        (c["status"].as_str(), c["sent"].as_bool()),
        (Some("sent"), Some(true)),
        "{c}"
    );
    assert_eq!(c["inbox_id"], w.inboxes[0].as_str(), "{c}");
    assert_eq!(
        w.requests_to(dana).await,
        [NUMBERS[0]],
        "the request reached Twilio"
    );
    let (_, tl) =
        w.t.get(&format!("/api/v1/contacts/{k}/timeline"), &w.t.admin_token)
            .await;
    let request = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["data"]["message"]["meta"]["notice"] == "confirm_request")
        .unwrap_or_else(|| panic!("no request on the timeline: {tl}"));
    assert_eq!(request["data"]["message"]["status"], "sent", "{request}");
    // Their CONFIRM grants promotional consent.
    w.text(0, dana, "SMd1", "CONFIRM").await;
    let (_, consent) =
        w.t.get(&format!("/api/v1/contacts/{k}/consent"), &w.t.admin_token)
            .await;
    assert_eq!(
        consent["states"]["sms"]["promotional"], "granted",
        "{consent}"
    );

    // 03:00 in New York: the request waits for 08:00 there, and the answer says so.
    w.clock.advance_ms(15 * 3_600_000);
    let eli = "+12125550148";
    let k = w.contact("Eli", eli).await;
    let c = w.subscribe(&k, "promotional").await;
    assert_eq!(
        (c["status"].as_str(), c["sent"].as_bool()),
        (Some("held"), Some(false)),
        "{c}"
    );
    assert_eq!(c["until"], "2027-01-13T13:00:00Z", "{c}");
    assert!(c["reason"].as_str().unwrap().contains("Quiet hours"), "{c}");
    assert!(
        w.requests_to(eli).await.is_empty(),
        "nothing in quiet hours"
    );
    // A request held overnight meets the customer's STOP before morning: it never goes.
    let gus = "+12125550149";
    let g = w.contact("Gus", gus).await;
    assert_eq!(w.subscribe(&g, "informational").await["status"], "held");
    w.text(0, gus, "SMg1", "STOP").await;
    w.clock.advance_ms(5 * 3_600_000);
    assert_eq!(
        w.requests_to(eli).await,
        [NUMBERS[0]],
        "sent when the window opened"
    );
    assert!(w.requests_to(gus).await.is_empty(), "the STOP stopped it");

    // A customer who told an agent not to text them is not asked, and the answer says why.
    let fay = "+12125550150";
    let f = w.contact("Fay", fay).await;
    let (s, _) = w
        .t
        .post(
            &format!("/api/v1/contacts/{f}/consent"),
            &w.t.admin_token,
            json!({ "purpose": "conversational", "action": "revoke", "source": "agent", "channel": "sms" }),
        )
        .await;
    assert_eq!(s, 201);
    let c = w.subscribe(&f, "promotional").await;
    assert_eq!(
        (
            c["status"].as_str(),
            c["sent"].as_bool(),
            c["code"].as_str()
        ),
        (Some("refused"), Some(false), Some("opted_out")),
        "{c}"
    );
    assert!(c["reason"].as_str().unwrap().contains("opted out"), "{c}");
    assert!(w.requests_to(fay).await.is_empty());
    w.t.shutdown().await;
}

on_both_backends!(
    a_promotional_double_opt_in_is_asked_held_by_quiet_hours_and_answered_truthfully,
    promotional_double_opt_in_on
);

async fn opt_in_judged_at_the_number_it_goes_to_on(backend: crate::harness::Backend) {
    let mut w = OptInWorld::new(backend, 1).await;
    // Ida texts from New York; her stored phone is later changed to a Los Angeles number. The
    // number that wrote is the one her conversation on this inbox answers.
    let (ny, la) = ("+12125550180", "+13105550180");
    let k = w.contact("Ida", ny).await;
    w.text(0, ny, "SMi1", "Hi, is my order ready?").await;
    let (s, v) =
        w.t.patch(
            &format!("/api/v1/contacts/{k}"),
            &w.t.admin_token,
            json!({ "phone": la }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // 21:30 in New York, 18:30 in Los Angeles: the text would reach New York in quiet hours, so
    // the answer says held, not sent.
    w.clock.advance_ms(9 * 3_600_000 + 1_800_000);
    // An agent's informational text to her is held the same way, and told so.
    let (s, v) =
        w.t.post(
            &format!("/api/v1/contacts/{k}/consent"),
            &w.t.admin_token,
            json!({ "purpose": "informational", "action": "grant", "source": "pos" }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = w
        .t
        .post(
            &format!("/api/v1/contacts/{k}/messages"),
            &w.t.admin_token,
            json!({ "body": "Your order shipped", "inbox_id": w.inboxes[0], "purpose": "informational" }),
        )
        .await;
    assert_eq!(
        (s, v["compliance"]["verdict"].as_str()),
        (201, Some("hold")),
        "{v}"
    );
    let c = w.subscribe(&k, "promotional").await;
    assert_eq!(
        (c["status"].as_str(), c["sent"].as_bool()),
        (Some("held"), Some(false)),
        "{c}"
    );
    assert_eq!(c["until"], "2027-01-13T13:00:00Z", "{c}");
    assert!(
        c["reason"].as_str().unwrap().contains("America/New_York"),
        "{c}"
    );
    assert!(w.requests_to(ny).await.is_empty(), "held, as answered");
    assert!(w.requests_to(la).await.is_empty());
    // 08:00 in New York: it goes to the number that wrote.
    w.clock.advance_ms(10 * 3_600_000 + 1_800_000);
    assert_eq!(w.requests_to(ny).await, [NUMBERS[0]]);
    w.t.shutdown().await;
}

on_both_backends!(
    the_opt_in_answer_judges_the_number_the_request_goes_to,
    opt_in_judged_at_the_number_it_goes_to_on
);

async fn opt_in_from_the_customers_number_on(backend: crate::harness::Backend) {
    let mut w = OptInWorld::new(backend, 2).await;
    // Never heard from: the workspace's first SMS number asks.
    let ann = "+12125550160";
    let a = w.contact("Ann", ann).await;
    assert_eq!(
        w.subscribe(&a, "informational").await["inbox_id"],
        w.inboxes[0].as_str()
    );
    assert_eq!(w.requests_to(ann).await, [NUMBERS[0]]);

    // Wrote to the second number: the request comes from it.
    let hal = "+12125550161";
    let h = w.contact("Hal", hal).await;
    w.text(1, hal, "SMh1", "Hi, do you ship to Albany?").await;
    let c = w.subscribe(&h, "informational").await;
    assert_eq!(c["inbox_id"], w.inboxes[1].as_str(), "{c}");
    assert_eq!(w.requests_to(hal).await, [NUMBERS[1]]);
    // Confirmed there; later wrote to the first number. The number that took their CONFIRM asks
    // again: the consent record wins over the latest conversation.
    w.text(1, hal, "SMh2", "CONFIRM").await;
    w.text(0, hal, "SMh3", "Is the store open Sunday?").await;
    let c = w.subscribe(&h, "promotional").await;
    assert_eq!(c["inbox_id"], w.inboxes[1].as_str(), "{c}");
    assert_eq!(w.requests_to(hal).await, [NUMBERS[1], NUMBERS[1]]);
    w.t.shutdown().await;
}

on_both_backends!(
    the_opt_in_request_comes_from_the_number_the_customer_used,
    opt_in_from_the_customers_number_on
);

async fn keywords_in_longer_messages_on(backend: crate::harness::Backend) {
    let mut w = OptInWorld::new(backend, 1).await;
    let kim = "+12125550170";
    let k = w.contact("Kim", kim).await;
    let (s, _) =
        w.t.post(
            &format!("/api/v1/contacts/{k}/consent"),
            &w.t.admin_token,
            json!({ "purpose": "informational", "action": "grant", "source": "pos" }),
        )
        .await;
    assert_eq!(s, 201);
    // An identifier that contains an opt-out word revokes nothing and holds nothing.
    w.text(0, kim, "SMk1", "My reference is M2-AFTER-REVOKE-ee34e0")
        .await;
    w.text(0, kim, "SMk2", "stop_123").await;
    let path = format!("/api/v1/contacts/{k}/consent");
    let c = w.t.get(&path, &w.t.admin_token).await.1;
    assert!(c["probable_revocation"].is_null(), "{c}");
    assert_eq!(c["states"]["sms"]["informational"], "granted", "{c}");
    let (s, v) = w
        .t
        .post(
            &format!("/api/v1/contacts/{k}/messages"),
            &w.t.admin_token,
            json!({ "body": "Your order shipped", "inbox_id": w.inboxes[0], "purpose": "informational" }),
        )
        .await;
    assert_eq!(
        (s, v["compliance"]["verdict"].as_str()),
        (201, Some("allow")),
        "{v}"
    );
    // A reply opening with STOP set apart from the rest is a revocation, not a probable one.
    w.text(0, kim, "SMk3", "Stop - wrong number").await;
    let c = w.t.get(&path, &w.t.admin_token).await.1;
    assert!(c["probable_revocation"].is_null(), "{c}");
    assert_eq!(c["states"]["sms"]["conversational"], "revoked", "{c}");
    let last = c["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["source"], "keyword", "{last}");
    w.t.shutdown().await;
}

on_both_backends!(
    identifiers_are_not_keywords_and_a_leading_stop_revokes,
    keywords_in_longer_messages_on
);
