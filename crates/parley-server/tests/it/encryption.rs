//! Encryption at rest: with a master key, what Parley keeps of customers and of providers'
//! credentials is not in the database's files or the attachment store in plaintext, yet everything
//! works; the database will not open without its key, nor with another.

use parley_store::crypt::MasterKey;
use serde_json::json;

use crate::harness::{Backend, Callback, TestApp};
use crate::on_both_backends;
use crate::twilio::{fake_twilio, SID, TOKEN};

/// What a scenario writes, none of which may be found at rest.
const PRIVATE: [&str; 11] = [
    TOKEN,
    "contents of a customer's passport scan",
    "my order is 4242-SECRET",
    "Dana asked us to ring after six",
    "signed at the till by Dana",
    "Your parcel 77-SECRET shipped",
    "Whitfield",
    "2125550147",
    "dana.whitfield@example.com",
    "12 Larkspur Lane",
    "cust-88-SECRET",
];

/// Runs the scenario; answers the API inbox and its signing secret.
async fn scenario(t: &TestApp) -> (String, String) {
    let (base, fake) = fake_twilio().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    let cb = Callback::start(0).await;
    let (api, secret) = t.api_inbox("Shop", &cb.url).await;
    let (s, v) = t
        .inbound(&api, &secret, PRIVATE[10], "m1", PRIVATE[2])
        .await;
    assert_eq!(s, 200, "{v}");
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            &t.admin_token,
            json!({ "body": PRIVATE[3] }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, up) = crate::attachments::upload(
        t,
        &api,
        "passport.pdf",
        "application/pdf",
        PRIVATE[1].as_bytes().to_vec(),
    )
    .await;
    assert_eq!(s, 201, "{up}");
    let file = up["id"].as_str().unwrap();
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Here is your scan back", "attachments": [file] }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // Both come back as they went in: the file, and the credentials (Twilio's fake checks them).
    let (s, body) = t
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/inboxes/{api}/attachments/{file}"),
            &t.admin_token,
            None,
        )
        .await;
    assert_eq!((s, body.as_str()), (200, Some(PRIVATE[1])));
    let (s, k) = t
        .post(
            "/api/v1/contacts",
            &t.admin_token,
            json!({ "name": "Dana Whitfield", "phone": "+12125550147", "email": PRIVATE[8], "custom_fields": { "street": PRIVATE[9] } }),
        )
        .await;
    assert_eq!(s, 201, "{k}");
    // Found by a part of the name, of the number, and of an address on a channel.
    for q in ["whitf", "555%200147", "cust-88"] {
        let (_, found) = t
            .get(&format!("/api/v1/contacts?q={q}"), &t.admin_token)
            .await;
        assert_eq!(
            found["items"].as_array().map(Vec::len),
            Some(1),
            "{q}: {found}"
        );
    }
    let (_, found) = t.get("/api/v1/contacts?q=whitf", &t.admin_token).await;
    assert_eq!(
        found["items"][0]["custom_fields"]["street"], PRIVATE[9],
        "{found}"
    );
    let (s, v) = t
        .post("/api/v1/contacts/{id}/consent".replace("{id}", k["id"].as_str().unwrap()).as_str(), &t.admin_token,
            json!({ "purpose": "informational", "action": "grant", "source": "pos", "evidence": { "receipt": PRIVATE[4] } }))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = t
        .post("/api/v1/conversations", &t.admin_token, json!({ "inbox_id": inbox["id"], "contact_id": k["id"], "body": PRIVATE[5], "purpose": "informational" }))
        .await;
    assert!(s == 201 || s == 202, "{v}");
    fake.sent.wait_for(1).await;
    // Everything reads back as it was written.
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    for text in &PRIVATE[2..4] {
        assert!(tl.to_string().contains(text), "{text} missing from {tl}");
    }
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    assert!(list.to_string().contains(PRIVATE[5]), "{list}");
    let (_, ledger) = t
        .get(
            &format!("/api/v1/contacts/{}/consent", k["id"].as_str().unwrap()),
            &t.admin_token,
        )
        .await;
    assert!(ledger.to_string().contains(PRIVATE[4]), "{ledger}");
    (api, secret)
}

async fn encrypted_on(backend: Backend) {
    let key = MasterKey::generate();
    let t = TestApp::spawn_encrypted(backend, key.clone()).await;
    scenario(&t).await;
    // The settings screen shows it on.
    let (s, status) = t.get("/api/v1/encryption", &t.admin_token).await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(status["current_key"], 1, "{status}");
    let at_rest = format!("{}{}", t.raw_contents().await, t.raw_files());
    for secret in PRIVATE {
        assert!(!at_rest.contains(secret), "{secret} is stored in plaintext");
    }
    // It does not open without its key, nor with another.
    let t = t.restart().await;
    let err = t.reopen_error(None).await.expect("refused without a key");
    assert!(err.contains("encrypted at rest"), "{err}");
}

async fn refuses_another_key_on(backend: Backend) {
    let t = TestApp::spawn_encrypted(backend, MasterKey::generate()).await;
    let err = t
        .reopen_error(Some(MasterKey::generate()))
        .await
        .expect("refused with another key");
    assert!(err.contains("does not open"), "{err}");
}

/// A rotation seals every field and file again under a new key; everything still reads.
async fn rotation_on(backend: Backend) {
    let first = MasterKey::generate();
    let t = TestApp::spawn_encrypted(backend, first.clone()).await;
    scenario(&t).await;
    assert!(t.live_rows().await.contains("~pk:1:"));
    let done = parley_server::account::keys::rotate(&t.app, std::time::Duration::ZERO, &|_| {})
        .await
        .unwrap();
    assert_eq!((done.key, done.files), (2, 2), "{done:?}");
    assert!(done.records > 10, "{done:?}");
    let rows = t.live_rows().await;
    assert!(
        !rows.contains("~pk:1:"),
        "a field is still sealed under key 1"
    );
    assert!(rows.contains("~pk:2:"));
    assert!(
        !t.raw_files().contains("PK1\0\0\0\0\u{1}"),
        "a file is still sealed under key 1"
    );
    // Nothing is left to do, and everything reads as before.
    assert_eq!(t.app.store.reseal(100).await.unwrap(), 0);
    let (_, found) = t.get("/api/v1/contacts?q=whitf", &t.admin_token).await;
    assert_eq!(
        found["items"][0]["custom_fields"]["street"], PRIVATE[9],
        "{found}"
    );
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    assert!(list.to_string().contains(PRIVATE[5]), "{list}");
    // New values are sealed under the new key; a server started later reads it all.
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            &t.admin_token,
            json!({ "body": "after the rotation" }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert!(!t.live_rows().await.contains("~pk:1:"));
    let t = t.restart().await;
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    assert!(list.to_string().contains(PRIVATE[5]), "{list}");
    // A new master key: the data keys are wrapped under it, and the old one opens nothing.
    let next = MasterKey::generate();
    assert_eq!(t.app.store.rewrap_data_keys(&next).await.unwrap(), 2);
    let t = t.restart_with(next).await;
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    assert!(list.to_string().contains(PRIVATE[5]), "{list}");
    let err = t
        .reopen_error(Some(first))
        .await
        .expect("the old key is refused");
    assert!(err.contains("does not open"), "{err}");
}

/// A database that held data before encryption was turned on is sealed by `parley keys encrypt`,
/// and everything still reads and is still found.
async fn encrypting_existing_on(backend: Backend) {
    let t = TestApp::spawn_with_clock(
        backend,
        std::sync::Arc::new(crate::harness::DaytimeClock::new()),
    )
    .await;
    let (api, secret) = scenario(&t).await;
    // Plain text that looks sealed is only text, before encryption and after.
    let lookalike = "~pk:1:not sealed at all";
    let (_, first) = t.inbound(&api, &secret, PRIVATE[10], "m7", lookalike).await;
    let conv = first["conversation_id"].as_str().unwrap().to_string();
    let timeline = format!("/api/v1/conversations/{conv}/timeline");
    let (s, tl) = t.get(&timeline, &t.admin_token).await;
    assert!(s == 200 && tl.to_string().contains(lookalike), "{tl}");
    let (t, refused, unfinished, files) = t.encrypt_existing(MasterKey::generate()).await;
    assert!(refused.contains("keys encrypt"), "{refused}");
    assert!(unfinished.contains("did not finish"), "{unfinished}");
    let (s, tl) = t.get(&timeline, &t.admin_token).await;
    assert!(s == 200 && tl.to_string().contains(lookalike), "{tl}");
    assert_eq!(files, 2);
    let at_rest = format!("{}{}", t.live_rows().await, t.raw_files());
    for secret in PRIVATE {
        assert!(
            !at_rest.contains(secret),
            "{secret} is still stored in plaintext"
        );
    }
    let (_, found) = t.get("/api/v1/contacts?q=whitf", &t.admin_token).await;
    assert_eq!(
        found["items"][0]["custom_fields"]["street"], PRIVATE[9],
        "{found}"
    );
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    assert!(list.to_string().contains(PRIVATE[5]), "{list}");
    // The customer writes again from the same address: the same contact and conversation,
    // found through the blind index the old address became; the provider's secret still checks.
    let (s, again) = t
        .inbound(&api, &secret, PRIVATE[10], "m8", "and again")
        .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["contact_id"], first["contact_id"], "{again}");
    assert_eq!(
        again["conversation_id"], first["conversation_id"],
        "{again}"
    );
}

on_both_backends!(
    at_rest_nothing_is_plaintext,
    |backend: Backend| async move {
        encrypted_on(backend.clone()).await;
        refuses_another_key_on(backend.clone()).await;
        rotation_on(backend.clone()).await;
        encrypting_existing_on(backend).await;
    }
);

/// The same scenario without a key leaves them readable: the check above can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_they_are_plaintext() {
    let clock = std::sync::Arc::new(crate::harness::DaytimeClock::new());
    let t = TestApp::spawn_with_clock(Backend::Sqlite, clock).await;
    let (s, status) = t.get("/api/v1/encryption", &t.admin_token).await;
    assert_eq!(
        (s, &status["enabled"]),
        (200, &serde_json::json!(false)),
        "{status}"
    );
    scenario(&t).await;
    let at_rest = format!("{}{}", t.raw_contents().await, t.raw_files());
    for secret in PRIVATE {
        assert!(
            at_rest.contains(secret),
            "{secret} should be readable without a key"
        );
    }
}
