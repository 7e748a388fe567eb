//! Telegram, WhatsApp, Messenger and LINE end to end against one local fake of their APIs, which
//! checks each provider's credentials (bot token in the path, Bearer tokens) and answers with each
//! provider's payload shapes. Each test covers: a bad signature refused with nothing stored, a
//! malformed payload refused, a duplicate stored once, a status for an unknown message
//! acknowledged, and a reply reaching the provider.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{json, Value};

use crate::harness::{last_delivery, TestApp};
use crate::on_both;

pub(crate) const BOT_TOKEN: &str = "123456789:AAFakeTokenForTestsOnly_abcdefghijk";
pub(crate) const META_TOKEN: &str = "EAAG-fake-access-token-0001";
pub(crate) const APP_SECRET: &str = "meta-app-secret-0001";
const LINE_SECRET: &str = "line-channel-secret-01";
const LINE_TOKEN: &str = "line-access-token-0001";
pub(crate) const WABA: &str = "102290129340398";

/// One request the fake provider accepted: path and JSON body.
pub(crate) type Seen = (String, Value);

#[derive(Clone, Default)]
pub(crate) struct Fake {
    seen: crate::harness::Recorded<Seen>,
}

async fn provider(
    axum::extract::State(f): axum::extract::State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<Value>) {
    let path = uri.path().to_string();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "not JSON"})),
        );
    };
    let n = f.seen.push((path.clone(), v.clone()));
    if let Some(rest) = path.strip_prefix("/bot") {
        // Telegram: the token is in the path; a wrong one is 401 "Unauthorized".
        if !rest.starts_with(&format!("{BOT_TOKEN}/")) {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
            );
        }
        if rest.ends_with("/answerCallbackQuery") {
            // An id Telegram no longer knows (answered too late, or never sent) is refused.
            return match v["callback_query_id"].as_str() {
                Some(id) if !id.starts_with("stale") => (
                    StatusCode::OK,
                    axum::Json(json!({"ok": true, "result": true})),
                ),
                _ => (
                    StatusCode::BAD_REQUEST,
                    axum::Json(
                        json!({"ok": false, "error_code": 400, "description": "Bad Request: query is too old and response timeout expired or query ID is invalid"}),
                    ),
                ),
            };
        }
        return (
            StatusCode::OK,
            axum::Json(
                json!({"ok": true, "result": {"message_id": 100 + n, "chat": {"id": v["chat_id"]}, "date": 1_700_000_000, "text": v["text"]}}),
            ),
        );
    }
    if path.starts_with("/v2/bot/message/") {
        if v["replyToken"] == "expired-token" {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"message": "Invalid reply token"})),
            );
        }
        if bearer != format!("Bearer {LINE_TOKEN}") {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    json!({"message": "Authentication failed. Confirm that the access token in the authorization header is valid."}),
                ),
            );
        }
        return (
            StatusCode::OK,
            axum::Json(
                json!({"sentMessages": [{"id": format!("{}", 500_000 + n), "quoteToken": "q"}]}),
            ),
        );
    }
    if bearer != format!("Bearer {META_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190, "fbtrace_id": "A1"}}),
            ),
        );
    }
    if v["messaging_product"] == "whatsapp" {
        // The Cloud API takes a phone number in `to` and a business-scoped user id only in
        // `recipient`.
        let phone = |x: &Value| {
            x.as_str().is_some_and(|s| {
                let d = s.trim_start_matches('+');
                !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
            })
        };
        let message = v.get("type").is_some();
        let (to, recipient) = (v.get("to"), v.get("recipient"));
        let addressed = match (to, recipient) {
            (Some(to), None) => phone(to),
            (None, Some(r)) => r.as_str().is_some_and(|r| !r.is_empty()) && !phone(r),
            _ => false,
        };
        if message && !addressed {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                           "error_data": {"messaging_product": "whatsapp", "details": "to must be a phone number; a business-scoped user ID goes in recipient"}, "fbtrace_id": "A2"}}),
                ),
            );
        }
        let contact = match recipient {
            Some(r) => json!({"input": r, "user_id": r}),
            None => json!({"input": v["to"], "wa_id": v["to"]}),
        };
        return (
            StatusCode::OK,
            axum::Json(
                json!({"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": format!("wamid.OUT{n}")}]}),
            ),
        );
    }
    (
        StatusCode::OK,
        axum::Json(
            json!({"recipient_id": v["recipient"]["id"], "message_id": format!("m_OUT{n}")}),
        ),
    )
}

/// The reads that test an inbox's credentials: Telegram's getMe, the Graph API's phone number or
/// page, LINE's bot info; each with the provider's answer to a wrong credential.
async fn lookup(uri: Uri, headers: HeaderMap) -> (StatusCode, axum::Json<Value>) {
    let path = uri.path();
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    if let Some(rest) = path.strip_prefix("/bot") {
        if rest != format!("{BOT_TOKEN}/getMe") {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
            );
        }
        return (
            StatusCode::OK,
            axum::Json(
                json!({"ok": true, "result": {"id": 123456789, "is_bot": true, "first_name": "Acme", "username": "acme_help_bot"}}),
            ),
        );
    }
    if path == "/v2/bot/info" {
        if bearer != Some(&format!("Bearer {LINE_TOKEN}")) {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    json!({"message": "Authentication failed. Confirm that the access token in the authorization header is valid."}),
                ),
            );
        }
        return (
            StatusCode::OK,
            axum::Json(
                json!({"userId": "Ub9952f8", "basicId": "@216ru", "displayName": "Acme LINE", "chatMode": "chat"}),
            ),
        );
    }
    if bearer != Some(&format!("Bearer {META_TOKEN}")) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": {"message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException", "code": 190}}),
            ),
        );
    }
    if path.ends_with("/message_templates") {
        return templates(&uri, &headers);
    }
    if path.ends_with("/106540352242922") {
        return (
            StatusCode::OK,
            axum::Json(
                json!({"verified_name": "Acme", "display_phone_number": "+1 555-010-0001", "id": "106540352242922"}),
            ),
        );
    }
    (
        StatusCode::OK,
        axum::Json(json!({"name": "Acme Page", "id": "1234567890"})),
    )
}

/// The business account's template list, in two pages as Meta pages it (`paging.next`); the
/// second page's link points at another host, which must not be followed.
fn templates(uri: &Uri, headers: &HeaderMap) -> (StatusCode, axum::Json<Value>) {
    if uri.path() != format!("/v25.0/{WABA}/message_templates") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": {"message": "Unsupported get request. Object does not exist", "type": "GraphMethodException", "code": 100}}),
            ),
        );
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let query = uri.query().unwrap_or_default();
    assert!(query.contains("fields="), "{query}");
    if query.contains("after=PAGE2") {
        return (
            StatusCode::OK,
            axum::Json(json!({"data": [
                {"name": "appointment_reminder", "language": "pt_BR", "status": "APPROVED", "category": "UTILITY", "id": "3",
                 "components": [{"type": "BODY", "text": "Lembrete: {{1}}"}]}],
                "paging": {"cursors": {"before": "PAGE2", "after": "PAGE3"}, "next": format!("http://203.0.113.9/v25.0/{WABA}/message_templates?after=PAGE3")}})),
        );
    }
    (
        StatusCode::OK,
        axum::Json(json!({"data": [
            {"name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY", "parameter_format": "POSITIONAL", "id": "1",
             "components": [{"type": "HEADER", "format": "TEXT", "text": "Your order"}, {"type": "BODY", "text": "Order {{1}} arrives on {{2}}."}]},
            {"name": "shipped_named", "language": "en_US", "status": "APPROVED", "category": "UTILITY", "parameter_format": "NAMED", "id": "2",
             "components": [{"type": "BODY", "text": "Hi {{first_name}}, order {{order_id}} has shipped."}]},
            {"name": "spring_sale", "language": "en_US", "status": "REJECTED", "category": "MARKETING", "id": "4",
             "components": [{"type": "BODY", "text": "Sale!"}]}],
            "paging": {"cursors": {"before": "PAGE1", "after": "PAGE2"}, "next": format!("http://{host}/v25.0/{WABA}/message_templates?fields=name,language,status&status=APPROVED&limit=100&after=PAGE2")}})),
    )
}

pub(crate) async fn fake() -> (String, Fake) {
    let f = Fake::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(provider).get(lookup))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, f)
}

impl Fake {
    pub(crate) async fn wait(&self, n: usize) -> Vec<Seen> {
        self.seen.wait_for(n).await
    }
}

pub(crate) async fn hook(t: &TestApp, path: &str, header: (&str, String), body: &str) -> u16 {
    t.http
        .post(t.url(path))
        .header("content-type", "application/json")
        .header(header.0, header.1)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn conversations(t: &TestApp) -> Vec<Value> {
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    list["items"].as_array().unwrap().clone()
}

async fn timeline_len(t: &TestApp, conv: &str) -> usize {
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    tl["items"].as_array().unwrap().len()
}

async fn reply(t: &TestApp, conv: &str, body: &str) -> (u16, Value) {
    t.post(
        &format!("/api/v1/conversations/{conv}/messages"),
        &t.admin_token,
        json!({ "body": body }),
    )
    .await
}

pub(crate) fn meta_sig(body: &str) -> (&'static str, String) {
    // Same scheme as X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>.
    (
        "x-hub-signature-256",
        parley_channels::api::sign(APP_SECRET, body.as_bytes()),
    )
}

on_both!(telegram_in_and_out, |t: TestApp| async move {
    let (base, fake) = fake().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Bot", "kind": "telegram", "bot_token": BOT_TOKEN, "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    assert!(
        inbox["settings"].get("credentials").is_none(),
        "tokens are never shown again: {inbox}"
    );
    let id = inbox["id"].as_str().unwrap();
    let secret = inbox["secret"].as_str().unwrap().to_string();
    let path = format!("/hooks/telegram/{id}");
    let update = json!({"update_id": 100000001, "message": {"message_id": 7, "from": {"id": 111, "is_bot": false, "first_name": "Ana", "last_name": "Silva"}, "chat": {"id": 111, "type": "private", "first_name": "Ana"}, "date": 1_700_000_000, "text": "Where is my order?"}}).to_string();
    let h = |s: &str| ("x-telegram-bot-api-secret-token", s.to_string());
    assert_eq!(hook(&t, &path, h("wrong"), &update).await, 403);
    assert!(conversations(&t).await.is_empty(), "nothing stored");
    assert_eq!(hook(&t, &path, h(&secret), "{\"update_id\":").await, 400);
    assert_eq!(hook(&t, &path, h(&secret), &update).await, 200);
    assert_eq!(hook(&t, &path, h(&secret), &update).await, 200);
    let convs = conversations(&t).await;
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0]["contact_name"], "Ana Silva");
    let conv = convs[0]["id"].as_str().unwrap();
    assert_eq!(
        timeline_len(&t, conv).await,
        1,
        "a duplicate is stored once"
    );
    assert_eq!(reply(&t, conv, "It left today.").await.0, 201);
    let seen = fake.wait(1).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, format!("/bot{BOT_TOKEN}/sendMessage"));
    assert_eq!(seen[0].1["chat_id"], 111);
    assert_eq!(seen[0].1["text"], "It left today.");
});

on_both!(a_telegram_button_tap_is_answered, |t: TestApp| async move {
    let (base, fake) = fake().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Bot", "kind": "telegram", "bot_token": BOT_TOKEN, "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    let path = format!("/hooks/telegram/{}", inbox["id"].as_str().unwrap());
    let h = (
        "x-telegram-bot-api-secret-token",
        inbox["secret"].as_str().unwrap().to_string(),
    );
    let tap = |update: u64, id: &str, data: &str| {
        json!({"update_id": update, "callback_query": {"id": id, "from": {"id": 111, "is_bot": false, "first_name": "Ana"},
            "message": {"message_id": 20, "chat": {"id": 111, "type": "private", "first_name": "Ana"}, "date": 1_700_000_100, "text": "How can we help?",
                "reply_markup": {"inline_keyboard": [[{"text": "Talk to agent", "callback_data": "agent"}]]}},
            "chat_instance": "-1234567890", "data": data}})
        .to_string()
    };
    // A forged tap is refused before anything is answered.
    let forged = tap(100000001, "4382bfdwdsb323b2d0", "agent");
    let wrong = ("x-telegram-bot-api-secret-token", "wrong".to_string());
    assert_eq!(hook(&t, &path, wrong, &forged).await, 403);

    let body = tap(100000002, "4382bfdwdsb323b2d9", "agent");
    assert_eq!(hook(&t, &path, h.clone(), &body).await, 200);
    let seen = fake.wait(1).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, format!("/bot{BOT_TOKEN}/answerCallbackQuery"));
    assert_eq!(
        seen[0].1,
        json!({ "callback_query_id": "4382bfdwdsb323b2d9" })
    );
    let convs = conversations(&t).await;
    assert_eq!(convs.len(), 1);
    let (_, tl) = t
        .get(
            &format!(
                "/api/v1/conversations/{}/timeline",
                convs[0]["id"].as_str().unwrap()
            ),
            &t.admin_token,
        )
        .await;
    assert_eq!(
        tl["items"][0]["data"]["message"]["body"], "Talk to agent",
        "{tl}"
    );

    // Telegram refusing the answer (too late) costs the delivery nothing: the tap is stored.
    let late = tap(100000003, "stale-1", "agent");
    assert_eq!(hook(&t, &path, h, &late).await, 200);
    let seen = fake.wait(2).await;
    assert_eq!(seen[1].1, json!({ "callback_query_id": "stale-1" }));
    let conv = convs[0]["id"].as_str().unwrap();
    assert_eq!(timeline_len(&t, conv).await, 2);
});

on_both!(whatsapp_in_and_out, |t: TestApp| async move {
    let (base, fake) = fake().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "WhatsApp", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    let id = inbox["id"].as_str().unwrap();
    let verify = inbox["verify_token"].as_str().unwrap();
    // The subscription handshake.
    let r = t
        .http
        .get(t.url(&format!(
            "/hooks/whatsapp/{id}?hub.mode=subscribe&hub.verify_token={verify}&hub.challenge=1158201444&hub.extra=x"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "1158201444");
    let r = t
        .http
        .get(t.url(&format!(
            "/hooks/whatsapp/{id}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let path = format!("/hooks/whatsapp/{id}");
    let msg = |wamid: &str, ts: i64, text: &str| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "15551234567"}],
            "messages": [{"from": "15551234567", "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": {"body": text}}]}}]}]})
        .to_string()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = msg("wamid.IN1", now - 60, "Where is my order?");
    assert_eq!(
        hook(
            &t,
            &path,
            ("x-hub-signature-256", "sha256=00".into()),
            &body
        )
        .await,
        403
    );
    assert!(conversations(&t).await.is_empty(), "nothing stored");
    let bad = r#"{"object":"page","entry":[]}"#;
    assert_eq!(hook(&t, &path, meta_sig(bad), bad).await, 400);
    assert_eq!(hook(&t, &path, meta_sig(&body), &body).await, 200);
    assert_eq!(hook(&t, &path, meta_sig(&body), &body).await, 200);
    let convs = conversations(&t).await;
    assert_eq!(convs.len(), 1);
    let conv = convs[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        timeline_len(&t, &conv).await,
        1,
        "a duplicate is stored once"
    );
    let (_, ch) = t
        .get(
            &format!("/api/v1/conversations/{conv}/channel"),
            &t.admin_token,
        )
        .await;
    assert_eq!(ch["window"]["state"], "open", "{ch}");
    assert_eq!(ch["capabilities"]["max_choices"], 3);

    assert_eq!(reply(&t, &conv, "It left today.").await.0, 201);
    let seen = fake.wait(1).await;
    assert_eq!(seen[0].0, "/v25.0/106540352242922/messages");
    assert_eq!(seen[0].1["to"], "15551234567");
    assert_eq!(seen[0].1["type"], "text");
    assert_eq!(seen[0].1["text"]["body"], "It left today.");
    // Statuses: unknown ids are acknowledged; ours move forward, a read after delivered.
    let status = |wamid: &str, st: &str| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
            "statuses": [{"id": wamid, "status": st, "timestamp": now.to_string(), "recipient_id": "15551234567"}]}}]}]})
        .to_string()
    };
    let unknown = status("wamid.NOPE", "delivered");
    assert_eq!(hook(&t, &path, meta_sig(&unknown), &unknown).await, 200);
    for st in ["read", "delivered"] {
        let b = status("wamid.OUT1", st);
        assert_eq!(hook(&t, &path, meta_sig(&b), &b).await, 200);
    }
    let delivery = last_delivery(&t, &conv, "read").await;
    assert_eq!(
        delivery["status"], "read",
        "a late delivered never overwrites read"
    );

    // Outside the 24-hour window only a template may go, and the agent is told before sending.
    let old = msg("wamid.IN2", now - 3 * 24 * 3600, "Hello from long ago");
    let other = old.replace("15551234567", "15557654321");
    assert_eq!(hook(&t, &path, meta_sig(&other), &other).await, 200);
    let convs = conversations(&t).await;
    let stale = convs.iter().find(|c| c["id"] != conv.as_str()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, ch) = t
        .get(
            &format!("/api/v1/conversations/{stale}/channel"),
            &t.admin_token,
        )
        .await;
    assert_eq!(ch["window"]["state"], "template_only", "{ch}");
    let (s, v) = reply(&t, &stale, "Are you still there?").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("outside_window"))
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("template"),
        "{v}"
    );
    assert_eq!(timeline_len(&t, &stale).await, 1, "nothing queued");
});

on_both!(
    a_whatsapp_customer_known_only_by_bsuid_is_answered,
    |t: TestApp| async move {
        let (base, fake) = fake().await;
        let (s, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "WhatsApp", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
            .await;
        assert_eq!(s, 201, "{inbox}");
        let path = format!("/hooks/whatsapp/{}", inbox["id"].as_str().unwrap());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // A customer with a username: no `wa_id`, no `from`, only the business-scoped user id.
        let bsuid = "US.13491208655302741918";
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Ana", "username": "@ana"}, "user_id": bsuid}],
            "messages": [{"id": "wamid.BS1", "timestamp": now.to_string(), "type": "text", "text": {"body": "Where is my order?"}}]}}]}]})
        .to_string();
        assert_eq!(hook(&t, &path, meta_sig(&body), &body).await, 200);
        let conv = conversations(&t).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();

        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/typing"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 204);
        let seen = fake.wait(1).await;
        assert_eq!(
            seen[0].1,
            json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.BS1", "typing_indicator": { "type": "text" } })
        );

        assert_eq!(reply(&t, &conv, "It left today.").await.0, 201);
        let delivery = last_delivery(&t, &conv, "sent").await;
        assert_eq!(delivery["status"], "sent", "{delivery}");
        let seen = fake.wait(2).await;
        let sent = &seen[1].1;
        assert_eq!(sent["recipient"], bsuid, "{sent}");
        assert!(sent.get("to").is_none(), "{sent}");
        assert_eq!(sent["text"]["body"], "It left today.");

        // Interactive messages are addressed the same way.
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "Which day?", "choices": [{"id": "mon", "title": "Monday"}, {"id": "tue", "title": "Tuesday"}] }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let delivery = last_delivery(&t, &conv, "sent").await;
        assert_eq!(delivery["status"], "sent", "{delivery}");
        let seen = fake.wait(3).await;
        assert_eq!(seen[2].1["type"], "interactive");
        assert_eq!(seen[2].1["recipient"], bsuid, "{:?}", seen[2]);
    }
);

on_both!(messenger_in_and_out, |t: TestApp| async move {
    let (base, fake) = fake().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Page", "kind": "messenger", "page_id": "1234567890", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    let id = inbox["id"].as_str().unwrap();
    let path = format!("/hooks/messenger/{id}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = json!({"object": "page", "entry": [{"id": "1234567890", "time": now, "messaging": [{
        "sender": {"id": "PSID-1"}, "recipient": {"id": "1234567890"}, "timestamp": now,
        "message": {"mid": "m_IN1", "text": "hello, world!"}}]}]})
    .to_string();
    assert_eq!(
        hook(
            &t,
            &path,
            ("x-hub-signature-256", "sha256=beef".into()),
            &body
        )
        .await,
        403
    );
    assert_eq!(hook(&t, &path, meta_sig("[]"), "[]").await, 400);
    assert_eq!(hook(&t, &path, meta_sig(&body), &body).await, 200);
    assert_eq!(hook(&t, &path, meta_sig(&body), &body).await, 200);
    let convs = conversations(&t).await;
    assert_eq!(convs.len(), 1);
    let conv = convs[0]["id"].as_str().unwrap();
    assert_eq!(timeline_len(&t, conv).await, 1);
    assert_eq!(reply(&t, conv, "Hi! How can we help?").await.0, 201);
    let seen = fake.wait(1).await;
    assert_eq!(seen[0].0, "/v25.0/1234567890/messages");
    assert_eq!(seen[0].1["recipient"]["id"], "PSID-1");
    assert_eq!(seen[0].1["messaging_type"], "RESPONSE");
    assert_eq!(seen[0].1["message"]["text"], "Hi! How can we help?");
    assert_eq!(last_delivery(&t, conv, "sent").await["status"], "sent");
    // Messenger's read watermark: everything sent up to then has been read.
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 1_000;
    let read =
        json!({"object": "page", "entry": [{"id": "1234567890", "time": later, "messaging": [{
        "sender": {"id": "PSID-1"}, "recipient": {"id": "1234567890"}, "timestamp": later,
        "read": {"watermark": later}}]}]})
        .to_string();
    assert_eq!(hook(&t, &path, meta_sig(&read), &read).await, 200);
    assert_eq!(last_delivery(&t, conv, "read").await["status"], "read");
});

on_both!(line_in_and_out, |t: TestApp| async move {
    let (base, fake) = fake().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "LINE", "kind": "line", "channel_secret": LINE_SECRET, "access_token": LINE_TOKEN, "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    let id = inbox["id"].as_str().unwrap();
    let path = format!("/hooks/line/{id}");
    let body = json!({"destination": "Ubot", "events": [{"type": "message", "mode": "active", "timestamp": 1_700_000_000_000_i64,
        "source": {"type": "user", "userId": "U4af4980629"}, "webhookEventId": "01HEVT1", "deliveryContext": {"isRedelivery": false},
        "replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", "message": {"id": "444573844083572737", "type": "text", "quoteToken": "q", "text": "Hello, world"}}]})
    .to_string();
    let sig = |b: &str| {
        (
            "x-line-signature",
            parley_channels::line::signature(LINE_SECRET, b.as_bytes()),
        )
    };
    assert_eq!(
        hook(&t, &path, ("x-line-signature", "AAAA".into()), &body).await,
        403
    );
    assert!(conversations(&t).await.is_empty());
    assert_eq!(hook(&t, &path, sig("{}"), "{}").await, 400);
    assert_eq!(hook(&t, &path, sig(&body), &body).await, 200);
    assert_eq!(hook(&t, &path, sig(&body), &body).await, 200);
    let convs = conversations(&t).await;
    assert_eq!(convs.len(), 1);
    let conv = convs[0]["id"].as_str().unwrap();
    assert_eq!(timeline_len(&t, conv).await, 1);
    assert_eq!(reply(&t, conv, "Thanks for writing!").await.0, 201);
    let seen = fake.wait(1).await;
    assert_eq!(seen[0].0, "/v2/bot/message/push");
    assert_eq!(seen[0].1["to"], "U4af4980629");
    assert_eq!(seen[0].1["messages"][0]["type"], "text");
    assert_eq!(seen[0].1["messages"][0]["text"], "Thanks for writing!");

    // A fresh message: the first answer uses its reply token (free), the next one a push.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let fresh = |id: &str, token: &str| {
        json!({"destination": "Ubot", "events": [{"type": "message", "mode": "active", "timestamp": now,
            "source": {"type": "user", "userId": "U4af4980629"}, "webhookEventId": id, "deliveryContext": {"isRedelivery": false},
            "replyToken": token, "message": {"id": id, "type": "text", "quoteToken": "q", "text": "One more thing"}}]})
        .to_string()
    };
    let b = fresh("444573844083572738", "fresh-token");
    assert_eq!(hook(&t, &path, sig(&b), &b).await, 200);
    assert_eq!(reply(&t, conv, "Sure!").await.0, 201);
    let seen = fake.wait(2).await;
    assert_eq!(seen[1].0, "/v2/bot/message/reply");
    assert_eq!(seen[1].1["replyToken"], "fresh-token");
    assert_eq!(reply(&t, conv, "Anything else?").await.0, 201);
    let seen = fake.wait(3).await;
    assert_eq!(
        seen[2].0, "/v2/bot/message/push",
        "a reply token is used once"
    );
    // A token LINE no longer takes: the answer goes as a push instead of failing.
    let b = fresh("444573844083572739", "expired-token");
    assert_eq!(hook(&t, &path, sig(&b), &b).await, 200);
    assert_eq!(reply(&t, conv, "Here you go").await.0, 201);
    let seen = fake.wait(5).await;
    assert_eq!(
        (seen[3].0.as_str(), seen[4].0.as_str()),
        ("/v2/bot/message/reply", "/v2/bot/message/push")
    );
    assert_eq!(seen[4].1["messages"][0]["text"], "Here you go");
    assert_eq!(last_delivery(&t, conv, "sent").await["status"], "sent");
});

/// The message meta of the newest timeline entry.
async fn last_meta(t: &TestApp, conv: &str) -> Value {
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    tl["items"].as_array().unwrap().last().unwrap()["data"]["message"]["meta"].clone()
}

on_both!(
    rich_replies_choices_and_templates,
    |t: TestApp| async move {
        let (base, fake) = fake().await;
        let (_, wa) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "WhatsApp", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
        .await;
        let path = format!("/hooks/whatsapp/{}", wa["id"].as_str().unwrap());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let inbound = |from: &str, wamid: &str, ts: i64, message: Value| {
            let mut m = message;
            m["from"] = json!(from);
            m["id"] = json!(wamid);
            m["timestamp"] = json!(ts.to_string());
            json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": from}], "messages": [m]}}]}]})
        .to_string()
        };
        let hi = inbound(
            "15551234567",
            "wamid.A1",
            now - 60,
            json!({"type": "text", "text": {"body": "Can I change my delivery day?"}}),
        );
        assert_eq!(hook(&t, &path, meta_sig(&hi), &hi).await, 200);
        let conv = conversations(&t).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();

        // Bad compositions are refused with the field named, and nothing is queued.
        for (body, field) in [
            (
                json!({ "body": "Pick", "choices": (0..11).map(|i| json!({"id": i.to_string(), "title": "x"})).collect::<Vec<_>>() }),
                "choices",
            ),
            (
                json!({ "body": "Pick", "choices": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}] }),
                "choices",
            ),
            (
                json!({ "body": "Pick", "choices": [{"id": "a", "title": ""}] }),
                "choices",
            ),
            (
                json!({ "template": { "name": "Bad Name", "language": "en" } }),
                "template",
            ),
            (json!({ "choices": [{"id": "a", "title": "A"}] }), "body"),
        ] {
            let (s, v) = t
                .post(
                    &format!("/api/v1/conversations/{conv}/messages"),
                    &t.admin_token,
                    body,
                )
                .await;
            assert_eq!((s, v["error"]["field"].as_str()), (422, Some(field)), "{v}");
        }
        assert_eq!(timeline_len(&t, &conv).await, 1);

        let (s, v) = t
        .post(&format!("/api/v1/conversations/{conv}/messages"), &t.admin_token,
              json!({ "body": "Which day suits you?", "choices": [{"id": "tue", "title": "Tuesday"}, {"id": "thu", "title": "Thursday"}] }))
        .await;
        assert_eq!(s, 201, "{v}");
        let seen = fake.wait(1).await;
        let sent = &seen[0].1;
        assert_eq!(sent["type"], "interactive", "{sent}");
        assert_eq!(
            sent["interactive"]["action"]["buttons"][1]["reply"]["id"],
            "thu"
        );
        // She taps "Thursday": the message records the choice.
        let tap = inbound(
            "15551234567",
            "wamid.A2",
            now - 30,
            json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "thu", "title": "Thursday"}}}),
        );
        assert_eq!(hook(&t, &path, meta_sig(&tap), &tap).await, 200);
        assert_eq!(
            last_meta(&t, &conv).await["choice"],
            json!({"id": "thu", "title": "Thursday"})
        );

        // Outside the window, a template goes; free text does not.
        let old = inbound(
            "15557654321",
            "wamid.B1",
            now - 3 * 24 * 3600,
            json!({"type": "text", "text": {"body": "Hi"}}),
        );
        assert_eq!(hook(&t, &path, meta_sig(&old), &old).await, 200);
        let stale = conversations(&t)
            .await
            .into_iter()
            .find(|c| c["id"] != conv.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(reply(&t, &stale, "Hello again").await.0, 422);
        let (s, v) = t
        .post(&format!("/api/v1/conversations/{stale}/messages"), &t.admin_token,
              json!({ "template": { "name": "order_update", "language": "en_US", "params": ["1042", "Thursday"] } }))
        .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(
            v["message"]["body"],
            "Template order_update: 1042 · Thursday"
        );
        let seen = fake.wait(2).await;
        let sent = &seen[1].1;
        assert_eq!(sent["type"], "template", "{sent}");
        assert_eq!(sent["template"]["name"], "order_update");
        assert_eq!(sent["template"]["language"]["code"], "en_US");
        assert_eq!(
            sent["template"]["components"][0]["parameters"][1]["text"],
            "Thursday"
        );

        // Telegram has no templates; its choices are an inline keyboard, and a typed "2" picks the second.
        let (_, tg) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Bot", "kind": "telegram", "bot_token": BOT_TOKEN, "api_base_url": base }))
        .await;
        let tg_path = format!("/hooks/telegram/{}", tg["id"].as_str().unwrap());
        let secret = (
            "x-telegram-bot-api-secret-token",
            tg["secret"].as_str().unwrap().to_string(),
        );
        let update = |id: i64, text: &str| {
            json!({"update_id": id, "message": {"message_id": id, "from": {"id": 222, "is_bot": false, "first_name": "Bo"}, "chat": {"id": 222, "type": "private"}, "date": now, "text": text}}).to_string()
        };
        assert_eq!(
            hook(&t, &tg_path, secret.clone(), &update(1, "Hi")).await,
            200
        );
        let tconv = conversations(&t)
            .await
            .into_iter()
            .find(|c| c["contact_name"] == "Bo")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{tconv}/messages"),
                &t.admin_token,
                json!({ "template": { "name": "x", "language": "en" } }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("template")),
            "{v}"
        );
        t.post(&format!("/api/v1/conversations/{tconv}/messages"), &t.admin_token,
           json!({ "body": "Size?", "choices": [{"id": "s", "title": "Small"}, {"id": "m", "title": "Medium"}, {"id": "l", "title": "Large"}] }))
        .await;
        let seen = fake.wait(3).await;
        let sent = &seen[2].1;
        assert_eq!(
            sent["reply_markup"]["inline_keyboard"][2][0]["callback_data"], "l",
            "{sent}"
        );
        assert_eq!(
            hook(&t, &tg_path, secret.clone(), &update(2, "2")).await,
            200
        );
        assert_eq!(
            last_meta(&t, &tconv).await["choice"],
            json!({"id": "m", "title": "Medium"})
        );
        // Text that picks nothing records no choice.
        assert_eq!(
            hook(&t, &tg_path, secret, &update(3, "never mind")).await,
            200
        );
        assert!(last_meta(&t, &tconv).await.get("choice").is_none());
    }
);

on_both!(
    a_credential_too_short_is_refused_with_its_minimum,
    |t: TestApp| async move {
        let (base, _fake) = fake().await;
        let wa = |token: &str, secret: &str| json!({ "name": "WA", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": token, "app_secret": secret, "api_base_url": base });
        let cases = [
            (
                wa("EAAG-short", APP_SECRET),
                "access_token",
                "access_token must be at least 16 characters; the one given has 10",
            ),
            (
                wa(META_TOKEN, "0123456789abcde"),
                "app_secret",
                "app_secret must be at least 16 characters; the one given has 15",
            ),
            (
                json!({ "name": "Page", "kind": "messenger", "page_id": "1234567890", "access_token": "page-tok", "app_secret": APP_SECRET }),
                "access_token",
                "access_token must be at least 16 characters; the one given has 8",
            ),
            (
                json!({ "name": "LINE", "kind": "line", "channel_secret": "abc", "access_token": LINE_TOKEN }),
                "channel_secret",
                "channel_secret must be at least 16 characters; the one given has 3",
            ),
            (
                json!({ "name": "Bot", "kind": "telegram", "bot_token": "123:short" }),
                "bot_token",
                "bot_token must be at least 20 characters; the one given has 9",
            ),
            (
                wa("EAAG fake access token", APP_SECRET),
                "access_token",
                "access_token must not contain spaces or line breaks",
            ),
            (
                wa(&"E".repeat(1025), APP_SECRET),
                "access_token",
                "access_token must be at most 1024 characters; the one given has 1025",
            ),
            (
                json!({ "name": "WA", "kind": "whatsapp", "phone_number_id": "106540352242922", "app_secret": APP_SECRET }),
                "access_token",
                "access_token is required for this kind of inbox",
            ),
        ];
        for (body, field, message) in cases {
            let (s, v) = t.post("/api/v1/inboxes", &t.admin_token, body).await;
            assert_eq!(s, 422, "{v}");
            assert_eq!(v["error"]["field"], field, "{v}");
            assert_eq!(v["error"]["message"], message, "{v}");
        }
        let (_, list) = t.get("/api/v1/inboxes", &t.admin_token).await;
        assert!(
            list["items"].as_array().unwrap().is_empty(),
            "nothing was created: {list}"
        );
        // An edit is held to the same rule, and a refused one changes nothing.
        let (s, inbox) = t
            .post(
                "/api/v1/inboxes",
                &t.admin_token,
                wa(META_TOKEN, APP_SECRET),
            )
            .await;
        assert_eq!(s, 201, "{inbox}");
        let (s, v) = t
            .patch(
                &format!("/api/v1/inboxes/{}", inbox["id"].as_str().unwrap()),
                &t.admin_token,
                json!({ "app_secret": "too-short" }),
            )
            .await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(
            v["error"]["message"],
            "app_secret must be at least 16 characters; the one given has 9"
        );
    }
);

on_both!(
    testing_credentials_asks_each_provider,
    |t: TestApp| async move {
        let (base, _fake) = fake().await;
        let cases = [
            (
                json!({ "kind": "telegram", "bot_token": BOT_TOKEN }),
                json!({ "kind": "telegram", "bot_token": "999:AAWrongTokenForTestsOnly_abcdefghijk" }),
                "acme_help_bot",
            ),
            (
                json!({ "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET }),
                json!({ "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": "EAAG-wrong-access-token", "app_secret": APP_SECRET }),
                "+1 555-010-0001",
            ),
            (
                json!({ "kind": "messenger", "page_id": "1234567890", "access_token": META_TOKEN, "app_secret": APP_SECRET }),
                json!({ "kind": "messenger", "page_id": "1234567890", "access_token": "EAAG-wrong-access-token", "app_secret": APP_SECRET }),
                "Acme Page",
            ),
            (
                json!({ "kind": "line", "channel_secret": LINE_SECRET, "access_token": LINE_TOKEN }),
                json!({ "kind": "line", "channel_secret": LINE_SECRET, "access_token": "line-wrong-token-0001" }),
                "Acme LINE",
            ),
        ];
        for (good, bad, name) in cases {
            for (mut req, ok) in [(good.clone(), true), (bad, false)] {
                req["name"] = json!("Inbox");
                req["api_base_url"] = json!(base);
                let (s, inbox) = t.post("/api/v1/inboxes", &t.admin_token, req.clone()).await;
                assert_eq!(s, 201, "{inbox}");
                let id = inbox["id"].as_str().unwrap();
                let test = || async {
                    let (s, v) = t
                        .post(
                            &format!("/api/v1/inboxes/{id}/test"),
                            &t.admin_token,
                            json!({}),
                        )
                        .await;
                    assert_eq!(s, 200, "{v}");
                    v
                };
                let v = test().await;
                assert_eq!(v["ok"], ok, "{req}: {v}");
                if ok {
                    assert!(v["detail"].as_str().unwrap().contains(name), "{v}");
                    continue;
                }
                // The wrong token is replaced in place; what the provider's console was given
                // (the webhook URL, Meta's verify token, Telegram's secret) stays.
                let token = if good["kind"] == "telegram" {
                    "bot_token"
                } else {
                    "access_token"
                };
                let (s, edited) = t
                    .patch(
                        &format!("/api/v1/inboxes/{id}"),
                        &t.admin_token,
                        json!({ token: good[token] }),
                    )
                    .await;
                assert_eq!(s, 200, "{edited}");
                for kept in ["webhook_url", "verify_token", "secret"] {
                    assert_eq!(edited[kept], inbox[kept], "{kept}: {edited}");
                }
                let v = test().await;
                assert_eq!(v["ok"], true, "{v}");
                assert!(v["detail"].as_str().unwrap().contains(name), "{v}");
            }
        }
    }
);

on_both!(
    an_agent_writing_a_reply_shows_on_the_customers_side,
    |t: TestApp| async move {
        let (base, fake) = fake().await;
        let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Bot", "kind": "telegram", "bot_token": BOT_TOKEN, "api_base_url": base }))
        .await;
        assert_eq!(s, 201, "{inbox}");
        let id = inbox["id"].as_str().unwrap();
        let secret = inbox["secret"].as_str().unwrap().to_string();
        let update = json!({"update_id": 100000001, "message": {"message_id": 7, "from": {"id": 111, "is_bot": false, "first_name": "Ana"}, "chat": {"id": 111, "type": "private", "first_name": "Ana"}, "date": 1_700_000_000, "text": "Hello?"}}).to_string();
        let h = ("x-telegram-bot-api-secret-token", secret);
        assert_eq!(
            hook(&t, &format!("/hooks/telegram/{id}"), h, &update).await,
            200
        );
        let conv = conversations(&t).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let typing = format!("/api/v1/conversations/{conv}/typing");

        // Writing a note: only other agents are told.
        let (s, _) = t
            .post(&typing, &t.admin_token, json!({ "to_customer": false }))
            .await;
        assert_eq!(s, 204);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            fake.seen.lock().unwrap().is_empty(),
            "a note showed as typing to the customer"
        );
        // Writing a reply: Telegram shows "typing…", once for a burst of keystrokes.
        for _ in 0..3 {
            let (s, _) = t.post(&typing, &t.admin_token, json!({})).await;
            assert_eq!(s, 204);
        }
        let seen = fake.wait(1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen_all = fake.seen.lock().unwrap().clone();
        assert_eq!(seen_all.len(), 1, "{seen_all:?}");
        assert_eq!(seen[0].0, format!("/bot{BOT_TOKEN}/sendChatAction"));
        assert_eq!(seen[0].1, json!({ "chat_id": 111, "action": "typing" }));
        let (s, v) = t
            .post(&typing, &t.admin_token, json!({ "to_customer": "yes" }))
            .await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["error"]["field"], "to_customer", "{v}");

        // WhatsApp shows it against the customer's message, which it marks read.
        let (s, wa) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "WhatsApp", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
        .await;
        assert_eq!(s, 201, "{wa}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Bea"}, "wa_id": "15551234567"}],
        "messages": [{"from": "15551234567", "id": "wamid.IN9", "timestamp": now.to_string(), "type": "text", "text": {"body": "Hi"}}]}}]}]}).to_string();
        assert_eq!(
            hook(
                &t,
                &format!("/hooks/whatsapp/{}", wa["id"].as_str().unwrap()),
                meta_sig(&body),
                &body
            )
            .await,
            200
        );
        let wa_conv = conversations(&t)
            .await
            .into_iter()
            .find(|c| c["inbox_id"] == wa["id"])
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{wa_conv}/typing"),
                &t.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 204);
        let seen = fake.wait(2).await;
        assert_eq!(
            seen[1].0,
            "/v21.0/106540352242922/messages".replace(
                "v21.0",
                wa["settings"]["graph_version"].as_str().unwrap_or("v21.0")
            )
        );
        assert_eq!(
            seen[1].1,
            json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN9", "typing_indicator": { "type": "text" } })
        );
    }
);

on_both!(
    whatsapp_templates_are_listed_from_the_business_account,
    |t: TestApp| async move {
        let (base, fake) = fake().await;
        let (s, wa) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "WhatsApp", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
            .await;
        assert_eq!(s, 201, "{wa}");
        let id = wa["id"].as_str().unwrap().to_string();
        let list = format!("/api/v1/inboxes/{id}/templates");
        // Without the business account's id there is nothing to ask.
        let (s, v) = t.get(&list, &t.admin_token).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("templates_unavailable")),
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Business Account ID"),
            "{v}"
        );
        for bad in ["not-digits", "12 34"] {
            let (s, v) = t
                .patch(
                    &format!("/api/v1/inboxes/{id}"),
                    &t.admin_token,
                    json!({ "waba_id": bad }),
                )
                .await;
            assert_eq!(
                (s, v["error"]["field"].as_str()),
                (422, Some("waba_id")),
                "{v}"
            );
        }
        let (s, v) = t
            .patch(
                &format!("/api/v1/inboxes/{id}"),
                &t.admin_token,
                json!({ "waba_id": WABA }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["settings"]["waba_id"], WABA);

        // Approved ones only, from both pages, by name; the link to another host is not followed.
        let (s, v) = t.get(&list, &t.admin_token).await;
        assert_eq!(s, 200, "{v}");
        let names: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["appointment_reminder", "order_update", "shipped_named"],
            "{v}"
        );
        assert_eq!(v["items"][1]["body"], "Order {{1}} arrives on {{2}}.");
        assert_eq!(v["items"][1]["params"], json!(["1", "2"]));
        assert_eq!(
            (
                v["items"][1]["named"].as_bool(),
                v["items"][2]["named"].as_bool()
            ),
            (Some(false), Some(true))
        );
        assert_eq!(v["items"][2]["params"], json!(["first_name", "order_id"]));

        // An agent of the inbox may list them; another inbox kind has none; a wrong token is told.
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (s, _) = t.get(&list, &agent).await;
        assert_eq!(
            s, 404,
            "an agent who does not work the inbox does not see it"
        );
        let (s, api) = t
            .post(
                "/api/v1/inboxes",
                &t.admin_token,
                json!({ "name": "Own", "kind": "api" }),
            )
            .await;
        assert_eq!(s, 201);
        let (s, v) = t
            .get(
                &format!("/api/v1/inboxes/{}/templates", api["id"].as_str().unwrap()),
                &t.admin_token,
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("templates_unavailable")),
            "{v}"
        );
        let (s, _) = t
            .patch(
                &format!("/api/v1/inboxes/{id}"),
                &t.admin_token,
                json!({ "access_token": "EAAG-wrong-token-0000" }),
            )
            .await;
        assert_eq!(s, 200);
        let (s, v) = t.get(&list, &t.admin_token).await;
        assert_eq!(s, 422, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Invalid OAuth access token"),
            "{v}"
        );
        let (s, _) = t
            .patch(
                &format!("/api/v1/inboxes/{id}"),
                &t.admin_token,
                json!({ "access_token": META_TOKEN }),
            )
            .await;
        assert_eq!(s, 200);

        // A named template goes with each parameter's name.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let old = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "15557654321"}],
            "messages": [{"from": "15557654321", "id": "wamid.T1", "timestamp": (now - 3 * 24 * 3600).to_string(), "type": "text", "text": {"body": "Hi"}}]}}]}]})
        .to_string();
        assert_eq!(
            hook(&t, &format!("/hooks/whatsapp/{id}"), meta_sig(&old), &old).await,
            200
        );
        let conv = conversations(&t).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let send = format!("/api/v1/conversations/{conv}/messages");
        for bad in [
            json!({ "template": { "name": "shipped_named", "language": "en_US", "params": ["Ana", "1042"], "names": ["first_name"] } }),
            json!({ "template": { "name": "shipped_named", "language": "en_US", "params": ["Ana"], "names": ["First Name"] } }),
        ] {
            let (s, v) = t.post(&send, &t.admin_token, bad).await;
            assert_eq!(
                (s, v["error"]["field"].as_str()),
                (422, Some("template")),
                "{v}"
            );
        }
        let (s, v) = t
            .post(&send, &t.admin_token, json!({ "template": { "name": "shipped_named", "language": "en_US", "params": ["Ana", "1042"], "names": ["first_name", "order_id"] } }))
            .await;
        assert_eq!(s, 201, "{v}");
        let seen = fake.wait(1).await;
        assert_eq!(
            seen[0].1["template"]["components"][0]["parameters"],
            json!([{"type": "text", "parameter_name": "first_name", "text": "Ana"},
                   {"type": "text", "parameter_name": "order_id", "text": "1042"}]),
            "{:?}",
            seen[0]
        );
    }
);

on_both!(
    past_a_day_on_messenger_only_a_person_may_answer,
    |t: TestApp| async move {
        let (base, fake) = fake().await;
        let (s, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Page", "kind": "messenger", "page_id": "1234567890", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
            .await;
        assert_eq!(s, 201, "{inbox}");
        let id = inbox["id"].as_str().unwrap();
        let then = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - 2 * 24 * 3600 * 1000;
        let body =
            json!({"object": "page", "entry": [{"id": "1234567890", "time": then, "messaging": [{
            "sender": {"id": "PSID-9"}, "recipient": {"id": "1234567890"}, "timestamp": then,
            "message": {"mid": "m_OLD", "text": "Anyone there?"}}]}]})
            .to_string();
        assert_eq!(
            hook(
                &t,
                &format!("/hooks/messenger/{id}"),
                meta_sig(&body),
                &body
            )
            .await,
            200
        );
        let conv = conversations(&t).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, made) = t
            .post(
                "/api/v1/bots",
                &t.admin_token,
                json!({ "name": "Answer bot", "inbox_ids": [id] }),
            )
            .await;
        assert_eq!(s, 201, "{made}");
        // Two days on, Meta takes a reply only from a person (HUMAN_AGENT): the bot is told now
        // and nothing is queued.
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                made["token"].as_str().unwrap(),
                json!({ "body": "Hi from the bot" }),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("outside_window")),
            "{v}"
        );
        assert_eq!(timeline_len(&t, &conv).await, 1);
        assert_eq!(reply(&t, &conv, "Sorry for the wait!").await.0, 201);
        let seen = fake.wait(1).await;
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].1["tag"], "HUMAN_AGENT", "{:?}", seen[0]);
    }
);

/// The inbox each conversation is in, by the name of its contact.
async fn inbox_of_contacts(t: &TestApp) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = conversations(t)
        .await
        .iter()
        .map(|c| {
            (
                c["contact_name"].as_str().unwrap_or_default().to_string(),
                c["inbox_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

on_both!(
    one_meta_app_serving_several_numbers_routes_each_change_to_its_number,
    |t: TestApp| async move {
        let (base, _fake) = fake().await;
        let mut ids = Vec::new();
        for (number, secret) in [
            ("1065400001", APP_SECRET),
            ("1065400002", APP_SECRET),
            ("1065400003", "another-app-secret-0003"),
        ] {
            let (s, inbox) = t
                .post("/api/v1/inboxes", &t.admin_token, json!({ "name": format!("WA {number}"), "kind": "whatsapp", "phone_number_id": number, "access_token": META_TOKEN, "app_secret": secret, "api_base_url": base }))
                .await;
            assert_eq!(s, 201, "{inbox}");
            ids.push(inbox["id"].as_str().unwrap().to_string());
        }
        let change = |number: &str, from: &str, name: &str| {
            json!({"field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": number},
                "contacts": [{"profile": {"name": name}, "wa_id": from}],
                "messages": [{"from": from, "id": format!("wamid.{name}"), "timestamp": "1700000000", "type": "text", "text": {"body": "hello"}}]}})
        };
        // One delivery to A's address: a change for A, one for B, one for a number no inbox has,
        // and one for C, whose inbox belongs to another Meta app.
        let body = json!({"object": "whatsapp_business_account", "entry": [
            {"id": WABA, "changes": [change("1065400001", "15551110001", "Ana"), change("1065400002", "15551110002", "Bea")]},
            {"id": WABA, "changes": [change("1065400999", "15551110009", "Nobody"), change("1065400003", "15551110003", "Cid")]}]})
        .to_string();
        let path = format!("/hooks/whatsapp/{}", ids[0]);
        assert_eq!(hook(&t, &path, meta_sig(&body), &body).await, 200);
        assert_eq!(
            inbox_of_contacts(&t).await,
            [
                ("Ana".to_string(), ids[0].clone()),
                ("Bea".to_string(), ids[1].clone())
            ],
            "each change lands in its number's inbox; unknown numbers and other apps' are dropped"
        );
    }
);

on_both!(
    one_meta_app_serving_several_pages_routes_each_entry_to_its_page,
    |t: TestApp| async move {
        let (base, _fake) = fake().await;
        let mut ids = Vec::new();
        for page in ["2000000001", "2000000002"] {
            let (s, inbox) = t
                .post("/api/v1/inboxes", &t.admin_token, json!({ "name": format!("Page {page}"), "kind": "messenger", "page_id": page, "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
                .await;
            assert_eq!(s, 201, "{inbox}");
            ids.push(inbox["id"].as_str().unwrap().to_string());
        }
        let entry = |page: &str, psid: &str| {
            json!({"id": page, "time": 1_700_000_000_000_i64, "messaging": [{
                "sender": {"id": psid}, "recipient": {"id": page}, "timestamp": 1_700_000_000_000_i64,
                "message": {"mid": format!("m_{psid}"), "text": "hello"}}]})
        };
        let body = json!({"object": "page", "entry": [
            entry("2000000002", "PSID-B"), entry("2000000999", "PSID-X"), entry("2000000001", "PSID-A")]})
        .to_string();
        // Meta happened to call B's address this time.
        let path = format!("/hooks/messenger/{}", ids[1]);
        assert_eq!(hook(&t, &path, meta_sig(&body), &body).await, 200);
        let convs = conversations(&t).await;
        assert_eq!(
            convs.len(),
            2,
            "the unknown page's entry is dropped: {convs:?}"
        );
        for (inbox, psid) in [(&ids[0], "PSID-A"), (&ids[1], "PSID-B")] {
            let conv = convs
                .iter()
                .find(|c| c["inbox_id"] == inbox.as_str())
                .unwrap();
            let (_, contact) = t
                .get(
                    &format!("/api/v1/contacts/{}", conv["contact_id"].as_str().unwrap()),
                    &t.admin_token,
                )
                .await;
            assert_eq!(contact["identities"][0]["external_id"], psid, "{contact}");
        }
    }
);

on_both!(
    an_instagram_entry_naming_the_account_stays_in_the_inbox_meta_called,
    |t: TestApp| async move {
        let (base, _fake) = fake().await;
        let (s, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Insta", "kind": "instagram", "page_id": "2000000001", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
            .await;
        assert_eq!(s, 201, "{inbox}");
        let id = inbox["id"].as_str().unwrap();
        // Meta names the Instagram professional account here, not the Facebook Page.
        let account = "17841400000000001";
        let body = json!({"object": "instagram", "entry": [{"id": account, "time": 1_700_000_000_000_i64,
            "messaging": [{"sender": {"id": "IGSID-1"}, "recipient": {"id": account},
                "timestamp": 1_700_000_000_000_i64, "message": {"mid": "ig_m1", "text": "hello"}}]}]})
        .to_string();
        let path = format!("/hooks/instagram/{id}");
        assert_eq!(hook(&t, &path, meta_sig(&body), &body).await, 200);
        let convs = conversations(&t).await;
        assert_eq!(convs.len(), 1, "{convs:?}");
        assert_eq!(convs[0]["inbox_id"], id);
    }
);
