//! Attachments end to end: a customer's WhatsApp image and MMS photo fetched from the provider
//! (with its credentials) and stored; agents download them only from inboxes they work; an agent
//! uploads a file, it goes out as a signed link the provider fetches, and channel limits are
//! enforced with a clear error.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::on_both;
use crate::twilio::{form, post_signed, SID, TOKEN};

const META_TOKEN: &str = "EAAG-fake-access-token-0002";
const APP_SECRET: &str = "meta-app-secret-0002";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really a picture";
const BOT_TOKEN: &str = "123456789:AAFakeTokenForTestsOnly_attachments";

#[derive(Clone, Default)]
struct Provider {
    base: Arc<Mutex<String>>,
    sent: crate::harness::Recorded<Value>,
}

/// Graph API media lookups and downloads (Bearer), Twilio media (Basic), and WhatsApp sends.
async fn provider(
    axum::extract::State(p): axum::extract::State<Provider>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut h = HeaderMap::new();
    let base = p.base.lock().unwrap().clone();
    match uri.path() {
        "/v25.0/MEDIA1" if auth == format!("Bearer {META_TOKEN}") => {
            h.insert("content-type", "application/json".parse().unwrap());
            let info = json!({ "url": format!("{base}/whatsapp/MEDIA1.bin"), "mime_type": "image/png", "id": "MEDIA1" });
            (StatusCode::OK, h, info.to_string().into_bytes())
        }
        "/whatsapp/MEDIA1.bin" if auth == format!("Bearer {META_TOKEN}") => {
            h.insert("content-type", "image/png".parse().unwrap());
            (StatusCode::OK, h, PNG.to_vec())
        }
        p if p == format!("/bot{BOT_TOKEN}/getFile")
            && uri.query() == Some("file_id=PHOTO-BIG") =>
        {
            h.insert("content-type", "application/json".parse().unwrap());
            let ok = json!({"ok": true, "result": {"file_id": "PHOTO-BIG", "file_path": "photos/file_7.jpg"}});
            (StatusCode::OK, h, ok.to_string().into_bytes())
        }
        p if p == format!("/file/bot{BOT_TOKEN}/photos/file_7.jpg") => {
            h.insert("content-type", "image/jpeg".parse().unwrap());
            (StatusCode::OK, h, b"telegram jpeg".to_vec())
        }
        "/twilio/ME1" => {
            use base64::Engine;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
            if auth != format!("Basic {basic}") {
                return (StatusCode::UNAUTHORIZED, h, Vec::new());
            }
            h.insert("content-type", "image/jpeg".parse().unwrap());
            (StatusCode::OK, h, b"jpeg bytes".to_vec())
        }
        "/v25.0/106540352242922/messages" if auth == format!("Bearer {META_TOKEN}") => {
            p.sent.push(serde_json::from_str(&body).unwrap());
            h.insert("content-type", "application/json".parse().unwrap());
            let ok = json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.OUT1"}]});
            (StatusCode::OK, h, ok.to_string().into_bytes())
        }
        _ => (StatusCode::UNAUTHORIZED, h, b"{}".to_vec()),
    }
}

async fn start_provider() -> (String, Provider) {
    let p = Provider::default();
    let app = axum::Router::new().fallback(provider).with_state(p.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    *p.base.lock().unwrap() = base.clone();
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, p)
}

pub async fn upload(
    t: &TestApp,
    inbox: &str,
    name: &str,
    ct: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let r = t
        .http
        .post(t.url(&format!(
            "/api/v1/inboxes/{inbox}/attachments?filename={name}"
        )))
        .bearer_auth(&t.admin_token)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

on_both!(files_in_and_out, |t: TestApp| async move {
    let (base, fake) = start_provider().await;
    let (_, wa) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "WhatsApp", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
        .await;
    let wa_id = wa["id"].as_str().unwrap().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let hook = json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "15551234567"}],
        "messages": [{"from": "15551234567", "id": "wamid.IMG1", "timestamp": now.to_string(), "type": "image",
                      "image": {"id": "MEDIA1", "mime_type": "image/png", "caption": "The broken part"}}]}}]}]})
    .to_string();
    let s = t
        .http
        .post(t.url(&format!("/hooks/whatsapp/{wa_id}")))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            parley_channels::api::sign(APP_SECRET, hook.as_bytes()),
        )
        .body(hook)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 200);
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    let msg = &tl["items"][0]["data"]["message"];
    assert_eq!(msg["body"], "The broken part\n[image] image/png", "{msg}");
    let file = &msg["meta"]["attachments"][0];
    assert_eq!(
        (file["content_type"].as_str(), file["size"].as_u64()),
        (Some("image/png"), Some(PNG.len() as u64))
    );
    let path = format!(
        "/api/v1/inboxes/{wa_id}/attachments/{}",
        file["id"].as_str().unwrap()
    );
    let r = t
        .http
        .get(t.url(&path))
        .bearer_auth(&t.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    assert_eq!(t.http.get(t.url(&path)).send().await.unwrap().status(), 401);
    let (_, outsider) = t.user("outsider@acme.test", "agent").await;
    assert_eq!(
        t.http
            .get(t.url(&path))
            .bearer_auth(&outsider)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // An agent uploads a PDF and sends it; WhatsApp gets a signed link it can fetch unauthenticated.
    let pdf = b"%PDF-1.4 invoice".to_vec();
    let (s, up) = upload(
        &t,
        &wa_id,
        "invoice-1042.pdf",
        "application/pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(s, 201, "{up}");
    let (s, v) = upload(
        &t,
        &wa_id,
        "huge.pdf",
        "application/pdf",
        vec![0; 25 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{v}"
    );
    let (s, v) = upload(&t, &wa_id, "x.html", "text/html", b"<script>".to_vec()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("unsupported_type"))
    );
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "attachments": ["0123456789abcdef0123456789abcdef"] }),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("attachments")),
        "{v}"
    );
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Your invoice", "attachments": [up["id"]] }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let sent = fake.sent.wait_for(1).await;
    let doc = sent
        .iter()
        .find(|b| b["type"] == "document")
        .unwrap_or_else(|| panic!("{sent:?}"));
    assert_eq!(doc["document"]["filename"], "invoice-1042.pdf");
    let link = doc["document"]["link"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:0", &t.base);
    let r = t.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), pdf.as_slice());
    let tampered = link.replace("sig=", "sig=0");
    assert_eq!(t.http.get(&tampered).send().await.unwrap().status(), 403);
    let unsigned = link.split('?').next().unwrap().to_string();
    assert_eq!(t.http.get(&unsigned).send().await.unwrap().status(), 403);

    // Telegram: the largest photo size is fetched through getFile.
    let (_, tg) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Bot", "kind": "telegram", "bot_token": BOT_TOKEN, "api_base_url": base }))
        .await;
    let update = json!({"update_id": 9, "message": {"message_id": 9, "from": {"id": 333, "is_bot": false, "first_name": "Cy"},
        "chat": {"id": 333, "type": "private"}, "date": now, "caption": "Label",
        "photo": [{"file_id": "PHOTO-SMALL", "file_unique_id": "s", "width": 90, "height": 90},
                  {"file_id": "PHOTO-BIG", "file_unique_id": "b", "width": 1280, "height": 1280}]}})
    .to_string();
    let s = t
        .http
        .post(t.url(&format!("/hooks/telegram/{}", tg["id"].as_str().unwrap())))
        .header("content-type", "application/json")
        .header(
            "x-telegram-bot-api-secret-token",
            tg["secret"].as_str().unwrap(),
        )
        .body(update)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 200);
    let (_, list) = t
        .get(
            &format!("/api/v1/conversations?inbox={}", tg["id"].as_str().unwrap()),
            &t.admin_token,
        )
        .await;
    let tg_conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{tg_conv}/timeline"),
            &t.admin_token,
        )
        .await;
    let msg = &tl["items"][0]["data"]["message"];
    assert_eq!(msg["body"], "Label\n[image] file_7.jpg", "{msg}");
    assert_eq!(msg["meta"]["attachments"][0]["size"], 13);

    // MMS: the photo is fetched with the account's credentials; a file over MMS's limit is refused.
    let (_, tw) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "SMS", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
    let tw_id = tw["id"].as_str().unwrap().to_string();
    let media_url = format!("{base}/twilio/ME1");
    let mms = form(&[
        ("MessageSid", "MM1"),
        ("AccountSid", SID),
        ("From", "+15558675310"),
        ("To", "+15017122661"),
        ("Body", "See?"),
        ("NumMedia", "1"),
        ("MediaUrl0", &media_url),
        ("MediaContentType0", "image/jpeg"),
    ]);
    assert_eq!(post_signed(&t, &tw_id, &mms, TOKEN).await.0, 200);
    let (_, list) = t
        .get(
            &format!("/api/v1/conversations?inbox={tw_id}"),
            &t.admin_token,
        )
        .await;
    let sms_conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{sms_conv}/timeline"),
            &t.admin_token,
        )
        .await;
    let msg = &tl["items"][0]["data"]["message"];
    assert_eq!(msg["body"], "See?\n[image/jpeg] attached", "{msg}");
    assert_eq!(msg["meta"]["attachments"][0]["size"], 10);
    let (s, big) = upload(
        &t,
        &tw_id,
        "scan.pdf",
        "application/pdf",
        vec![b'%'; 6_000_000],
    )
    .await;
    assert_eq!(s, 201, "{big}");
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{sms_conv}/messages"),
            &t.admin_token,
            json!({ "body": "Scan", "attachments": [big["id"]] }),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("attachment_too_large")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MMS takes files up to 5 MB"),
        "{v}"
    );
    // A file of another inbox cannot be attached here.
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{sms_conv}/messages"),
            &t.admin_token,
            json!({ "body": "x", "attachments": [up["id"]] }),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("attachments")),
        "{v}"
    );
});

/// Twilio media of any type, so a customer can send what a browser would run.
async fn start_media() -> String {
    async fn media(uri: Uri) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut h = HeaderMap::new();
        let (ct, body): (&str, &[u8]) = match uri.path() {
            "/twilio/SVG" => (
                "image/svg+xml",
                b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            ),
            "/twilio/HTML" => ("text/html", b"<script>alert(document.cookie)</script>"),
            "/twilio/PNG" => ("image/png", PNG),
            _ => return (StatusCode::NOT_FOUND, h, Vec::new()),
        };
        h.insert("content-type", ct.parse().unwrap());
        (StatusCode::OK, h, body.to_vec())
    }
    let app = axum::Router::new().fallback(media);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    base
}

on_both!(
    files_that_could_run_are_downloads,
    |t: TestApp| async move {
        let base = start_media().await;
        let (_, tw) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "SMS", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
        let tw_id = tw["id"].as_str().unwrap().to_string();
        let (svg, html, png) = (
            format!("{base}/twilio/SVG"),
            format!("{base}/twilio/HTML"),
            format!("{base}/twilio/PNG"),
        );
        let mms = form(&[
            ("MessageSid", "MM9"),
            ("AccountSid", SID),
            ("From", "+15558675310"),
            ("To", "+15017122661"),
            ("Body", "Look"),
            ("NumMedia", "3"),
            ("MediaUrl0", &svg),
            ("MediaContentType0", "image/svg+xml"),
            ("MediaUrl1", &html),
            ("MediaContentType1", "text/html"),
            ("MediaUrl2", &png),
            ("MediaContentType2", "image/png"),
        ]);
        assert_eq!(post_signed(&t, &tw_id, &mms, TOKEN).await.0, 200);
        let (_, list) = t
            .get(
                &format!("/api/v1/conversations?inbox={tw_id}"),
                &t.admin_token,
            )
            .await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let files = tl["items"][0]["data"]["message"]["meta"]["attachments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(files.len(), 3, "{tl}");
        // An agent's own upload of a type browsers do not show is a download too.
        let (s, txt) = upload(&t, &tw_id, "notes.txt", "text/plain", b"<b>hi</b>".to_vec()).await;
        assert_eq!(s, 201, "{txt}");
        let mut checked = 0;
        for file in files.iter().chain([&txt]) {
            let ct = file["content_type"].as_str().unwrap().to_string();
            let path = format!(
                "/api/v1/inboxes/{tw_id}/attachments/{}",
                file["id"].as_str().unwrap()
            );
            let r = t
                .http
                .get(t.url(&path))
                .bearer_auth(&t.admin_token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let h = r.headers();
            let disposition = h["content-disposition"].to_str().unwrap();
            let want = if ct == "image/png" {
                "inline;"
            } else {
                "attachment;"
            };
            assert!(disposition.starts_with(want), "{ct}: {disposition}");
            assert_eq!(
                h["content-security-policy"], "default-src 'none'; sandbox",
                "{ct}"
            );
            assert_eq!(h["x-content-type-options"], "nosniff", "{ct}");
            checked += 1;
        }
        assert_eq!(checked, 4);
        // The signed link (for providers and visitors) is served the same way.
        let id = files[0]["id"].as_str().unwrap();
        let exp = 4_102_444_800_000i64;
        let sig = parley_channels::api::sign(TOKEN, format!("media/{tw_id}/{id}/{exp}").as_bytes());
        let link = format!(
            "/media/{tw_id}/{id}?exp={exp}&sig={}",
            sig.trim_start_matches("sha256=")
        );
        let r = t.http.get(t.url(&link)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{link}");
        assert!(r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"));
        assert_eq!(
            r.headers()["content-security-policy"],
            "default-src 'none'; sandbox"
        );
    }
);
