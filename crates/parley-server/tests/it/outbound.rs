//! Where Parley connects on someone's behalf: internal addresses are refused before any packet
//! (naming the rule), redirects are not followed, answers are read up to a cap, provider media
//! come only from the provider's hosts, and credentials go nowhere else.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::harness::{last_delivery, Callback, Recorded, TestApp};
use crate::on_both;
use crate::twilio::{form, post_signed, SID, TOKEN};

const META_TOKEN: &str = "EAAG-fake-access-token-0009";
const APP_SECRET: &str = "meta-app-secret-0009";
const BOT_TOKEN: &str = "123456789:AAFakeTokenForTestsOnly_outbound";

/// Runs a test body once per available backend on a server whose `outbound_allow` is empty.
macro_rules! on_both_strict {
    ($name:ident, $body:expr) => {
        $crate::on_both!(@spawn spawn_strict, $name, $body);
    };
}

/// One request a fake server received: path with query, and its Authorization header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

type Answer = Arc<dyn Fn(&str, &str) -> Response + Send + Sync>;

/// A local server that records every request and answers with `answer(path_and_query, own_base)`.
async fn fake(answer: impl Fn(&str, &str) -> Response + Send + Sync + 'static) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let answer: Answer = Arc::new(answer);
    let (s, b) = (seen.clone(), base.clone());
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let (seen, answer, base) = (s.clone(), answer.clone(), b.clone());
        async move {
            let path = uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            seen.lock().unwrap().push((path.clone(), auth));
            answer(&path, &base)
        }
    });
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, seen)
}

fn json_answer(v: Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

fn redirect_to(location: &str) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [("location", location.to_string())],
    )
        .into_response()
}

fn paths(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect()
}

/// A customer writes to an API inbox calling back `url`, an agent answers; the reply's delivery
/// once it has failed (or as it is after 5 s).
async fn reply_through_callback(t: &TestApp, url: &str, customer: &str) -> Value {
    let (inbox, secret) = t.api_inbox("Support", url).await;
    let (s, v) = t
        .inbound(&inbox, &secret, customer, customer, "Hello")
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, list) = t
        .get(
            &format!("/api/v1/conversations?inbox={inbox}"),
            &t.admin_token,
        )
        .await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "On it" }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    last_delivery(t, &conv, "failed").await
}

on_both_strict!(
    callbacks_to_internal_addresses_are_refused_naming_the_rule,
    |t: TestApp| async move {
        // A real receiver on loopback proves nothing reaches it when loopback is not allowed.
        let cb = Callback::start(0).await;
        let port = cb.url.split(':').nth(2).unwrap().split('/').next().unwrap();
        for (i, (url, rule)) in [
            (
                "http://10.0.0.5/cb".to_string(),
                "address 10.0.0.5 is a private network",
            ),
            (
                "http://169.254.169.254/latest/meta-data/".to_string(),
                "address 169.254.169.254 is a link-local address",
            ),
            (
                format!("http://[::ffff:127.0.0.1]:{port}/cb"),
                "is a loopback address",
            ),
            (
                format!("http://localhost:{port}/cb"),
                "is a loopback address",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let d = reply_through_callback(&t, &url, &format!("cust-{i}")).await;
            assert_eq!(d["status"], "failed", "{url}: {d}");
            let error = d["error"].as_str().unwrap();
            assert!(error.contains(rule), "{url}: {error}");
        }
        assert!(cb.received.lock().unwrap().is_empty());
    }
);

on_both!(a_redirect_is_not_followed, |t: TestApp| async move {
    let (elsewhere, elsewhere_seen) = fake(|_, _| StatusCode::OK.into_response()).await;
    let target = format!("{elsewhere}/stolen");
    let (redirector, _) = fake(move |_, _| redirect_to(&target)).await;
    let d = reply_through_callback(&t, &format!("{redirector}/cb"), "c-redirect").await;
    assert_eq!(d["status"], "failed", "{d}");
    assert!(d["error"].as_str().unwrap().contains("307"), "{d}");
    assert!(paths(&elsewhere_seen).is_empty());
});

on_both!(an_endless_answer_is_cut, |t: TestApp| async move {
    // A callback that answers 200 with a body that never ends: Parley stops reading at its cap.
    let streamed = Arc::new(AtomicUsize::new(0));
    let counter = streamed.clone();
    // Rings when the body is dropped: the connection is gone, nothing more can be read.
    struct Dropped(Recorded<()>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.push(());
        }
    }
    let dropped = Recorded::default();
    let bell = dropped.clone();
    let (base, _) = fake(move |_, _| {
        let counter = counter.clone();
        let guard = Dropped(bell.clone());
        let chunks = futures_util::stream::repeat_with(move || {
            let _ = &guard;
            counter.fetch_add(64 * 1024, Ordering::Relaxed);
            Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'a'; 64 * 1024]))
        });
        (StatusCode::OK, Body::from_stream(chunks)).into_response()
    })
    .await;
    let (inbox, secret) = t.api_inbox("Support", &format!("{base}/cb")).await;
    t.inbound(&inbox, &secret, "c-endless", "m-endless", "Hi")
        .await;
    let (_, list) = t
        .get(
            &format!("/api/v1/conversations?inbox={inbox}"),
            &t.admin_token,
        )
        .await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    t.post(
        &format!("/api/v1/conversations/{conv}/messages"),
        &t.admin_token,
        json!({ "body": "On it" }),
    )
    .await;
    let d = last_delivery(&t, &conv, "sent").await;
    assert_eq!(d["status"], "sent", "{d}");
    dropped.wait_for(1).await;
    let n = streamed.load(Ordering::Relaxed);
    assert!(n < 32 * 1024 * 1024, "{n} bytes were read");
});

on_both!(
    mms_media_come_only_from_twilio_and_credentials_stay_there,
    |t: TestApp| async move {
        // Another local server: allowed by outbound_allow, but not Twilio's and not the inbox's
        // base URL.
        let (other, other_seen) =
            fake(|_, _| ([("content-type", "image/jpeg")], b"stolen".to_vec()).into_response())
                .await;
        let to_other = format!("{other}/cdn/ME2");
        let (base, seen) = fake(move |path, own| match path {
            "/media/ME1" => redirect_to(&format!("{own}/cdn/ME1")),
            "/cdn/ME1" => ([("content-type", "image/jpeg")], b"jpeg".to_vec()).into_response(),
            "/media/ME2" => redirect_to(&to_other),
            _ => StatusCode::NOT_FOUND.into_response(),
        })
        .await;
        let (_, tw) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "SMS", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
            .await;
        let tw_id = tw["id"].as_str().unwrap().to_string();
        let foreign = format!("{other}/media/ME0");
        let own = format!("{base}/media/ME1");
        let redirected = format!("{base}/media/ME2");
        let mms = form(&[
            ("MessageSid", "MM9"),
            ("AccountSid", SID),
            ("From", "+15558675310"),
            ("To", "+15017122661"),
            ("Body", "Look"),
            ("NumMedia", "3"),
            ("MediaUrl0", &foreign),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", &own),
            ("MediaContentType1", "image/jpeg"),
            ("MediaUrl2", &redirected),
            ("MediaContentType2", "image/jpeg"),
        ]);
        assert_eq!(post_signed(&t, &tw_id, &mms, TOKEN).await.0, 200);
        // The foreign link and the redirect away from the provider reached nobody else.
        assert!(paths(&other_seen).is_empty(), "{:?}", paths(&other_seen));
        let seen = seen.lock().unwrap().clone();
        let auth_of = |p: &str| {
            seen.iter()
                .find(|(path, _)| path == p)
                .map(|(_, a)| a.clone())
        };
        assert!(auth_of("/media/ME1")
            .unwrap()
            .unwrap()
            .starts_with("Basic "));
        // The redirect within the provider is followed once, without the credentials.
        assert_eq!(auth_of("/cdn/ME1"), Some(None), "{seen:?}");
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
        let msg = &tl["items"][0]["data"]["message"];
        let attachments = msg["meta"]["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1, "{msg}");
        assert_eq!(attachments[0]["size"], 4);
        assert!(msg["body"].as_str().unwrap().contains(&foreign), "{msg}");
    }
);

/// Posts a signed WhatsApp image message to the inbox's webhook.
async fn whatsapp_image(t: &TestApp, inbox: &str, media_id: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let hook = json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "15551234567"}],
        "messages": [{"from": "15551234567", "id": format!("wamid.{media_id}"), "timestamp": now.to_string(), "type": "image",
                      "image": {"id": media_id, "mime_type": "image/png"}}]}}]}]})
    .to_string();
    let s = t
        .http
        .post(t.url(&format!("/hooks/whatsapp/{inbox}")))
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
}

on_both!(
    whatsapp_media_on_a_foreign_host_get_no_token,
    |t: TestApp| async move {
        let (other, other_seen) =
            fake(|_, _| ([("content-type", "image/png")], b"stolen".to_vec()).into_response())
                .await;
        let foreign = format!("{other}/whatsapp/MEDIA9.bin");
        let (base, seen) = fake(move |path, _| match path {
            "/v25.0/MEDIA9" => {
                json_answer(json!({ "url": foreign, "mime_type": "image/png", "id": "MEDIA9" }))
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        })
        .await;
        let (_, wa) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "WhatsApp", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base }))
            .await;
        whatsapp_image(&t, wa["id"].as_str().unwrap(), "MEDIA9").await;
        assert_eq!(paths(&seen), ["/v25.0/MEDIA9"]);
        assert!(paths(&other_seen).is_empty(), "{:?}", paths(&other_seen));
    }
);

on_both!(
    telegram_file_paths_stay_on_the_file_api,
    |t: TestApp| async move {
        let (other, other_seen) = fake(|_, _| StatusCode::OK.into_response()).await;
        let absolute = format!("{other}/x.jpg");
        let (base, seen) = fake(move |path, _| {
            let file_path = if path.contains("file_id=CLIMB") {
                "../../x.jpg".to_string()
            } else {
                absolute.clone()
            };
            json_answer(json!({"ok": true, "result": {"file_id": "F", "file_path": file_path}}))
        })
        .await;
        let (_, tg) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Bot", "kind": "telegram", "bot_token": BOT_TOKEN, "api_base_url": base }))
            .await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for (i, file) in ["CLIMB", "ABSOLUTE"].into_iter().enumerate() {
            let update = json!({"update_id": 20 + i, "message": {"message_id": 20 + i, "from": {"id": 444, "is_bot": false, "first_name": "Di"},
                "chat": {"id": 444, "type": "private"}, "date": now,
                "photo": [{"file_id": file, "file_unique_id": file, "width": 90, "height": 90}]}})
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
        }
        let asked = paths(&seen);
        assert_eq!(asked.len(), 2, "{asked:?}");
        assert!(asked.iter().all(|p| p.contains("/getFile?")), "{asked:?}");
        assert!(paths(&other_seen).is_empty());
    }
);

on_both_strict!(
    test_connection_names_the_rule_and_shows_no_answer,
    |t: TestApp| async move {
        // Loopback is not allowed here: the fake's answer must never be read or shown.
        let (base, seen) = fake(|_, _| {
            (
                StatusCode::UNAUTHORIZED,
                json_answer(json!({ "message": "SECRET-INTERNAL-BODY" })),
            )
                .into_response()
        })
        .await;
        for (url, rule) in [
            (base.clone(), "is a loopback address"),
            (
                "http://10.0.0.5".to_string(),
                "address 10.0.0.5 is a private network",
            ),
        ] {
            let (s, inbox) = t
                .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": url }))
                .await;
            assert_eq!(s, 201, "{inbox}");
            let (s, v) = t
                .post(
                    &format!("/api/v1/inboxes/{}/test", inbox["id"].as_str().unwrap()),
                    &t.admin_token,
                    json!({}),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["ok"], false, "{v}");
            let detail = v["detail"].as_str().unwrap();
            assert!(detail.contains(rule), "{detail}");
            assert!(!detail.contains("SECRET-INTERNAL-BODY"), "{detail}");
        }
        assert!(paths(&seen).is_empty());
    }
);

/// An SMTP relay on loopback that accepts everything.
struct AnyRelay;

#[async_trait::async_trait]
impl parley_channels::email::SmtpHandler for AnyRelay {
    async fn accept_recipient(
        &self,
        _: &str,
    ) -> Result<bool, parley_channels::email::DeliveryError> {
        Ok(true)
    }
    async fn deliver(
        &self,
        _: parley_channels::email::ReceivedMail,
    ) -> Result<(), parley_channels::email::DeliveryError> {
        Ok(())
    }
}

on_both!(
    mail_servers_at_private_addresses_are_refused,
    |t: TestApp| async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay_port = l.local_addr().unwrap().port();
        tokio::spawn(parley_channels::email::serve_smtp(
            l,
            parley_channels::email::SmtpServerConfig::default(),
            Arc::new(AnyRelay),
        ));
        let mut details = Vec::new();
        for (smtp, port, imap) in [
            ("10.0.0.5", 587, "127.0.0.1"),
            ("127.0.0.1", relay_port, "192.168.7.9"),
        ] {
            let (s, v) = t
                .post(
                    "/api/v1/inboxes",
                    &t.admin_token,
                    json!({ "name": "Support", "kind": "email", "address": "help@acme.example",
                        "smtp": { "host": smtp, "port": port, "security": "none" },
                        "imap": { "host": imap, "port": 993, "tls": true,
                                  "username": "help@acme.example", "password": "imap-pass" } }),
                )
                .await;
            assert_eq!(s, 201, "{v}");
            let (s, r) = t
                .post(
                    &format!("/api/v1/inboxes/{}/test", v["id"].as_str().unwrap()),
                    &t.admin_token,
                    json!({}),
                )
                .await;
            assert_eq!((s, &r["ok"]), (200, &json!(false)), "{r}");
            details.push(r["detail"].as_str().unwrap().to_string());
        }
        assert!(
            details[0].contains("SMTP")
                && details[0].contains("address 10.0.0.5 is a private network"),
            "{}",
            details[0]
        );
        assert!(
            details[1].contains("IMAP")
                && details[1].contains("address 192.168.7.9 is a private network"),
            "{}",
            details[1]
        );
    }
);

#[tokio::test]
async fn an_s3_endpoint_on_a_private_address_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = parley_server::Config::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        parley_server::Database::Sqlite {
            path: dir.path().join("parley.db"),
            durable: false,
        },
    );
    cfg.s3 = Some(parley_blobs::S3Config {
        endpoint: "http://10.0.0.5:9000".into(),
        region: "us-east-1".into(),
        bucket: "files".into(),
        access_key_id: "minio".into(),
        secret_access_key: "minio-secret".into(),
        path_style: true,
        prefix: None,
    });
    let err = parley_server::build(cfg, Arc::new(parley_server::SystemClock))
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").contains("address 10.0.0.5 is a private network"),
        "{err:#}"
    );
}
