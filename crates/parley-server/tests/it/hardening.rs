//! Sign-in throttling end to end: an account locks after five failures and unlocks after the
//! lockout; one address guessing across many accounts is locked out too; the audit log says who
//! and from where.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::harness::{Backend, TestApp};

async fn sign_in(t: &TestApp, email: &str, password: &str, from: &str) -> (u16, Value) {
    let r = t
        .http
        .post(t.url("/api/v1/auth/sign-in"))
        .header("x-forwarded-for", from)
        // A client cannot choose the address Parley records.
        .header("x-parley-client-ip", "192.0.2.1")
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_lock_the_account_and_the_address_for_a_while() {
    let clock = parley_server::ManualClock::new(parley_core::Timestamp(1_799_773_200_000));
    let t = TestApp::spawn_with_clock(Backend::Sqlite, Arc::new(clock.clone())).await;
    let (_, _) = t.user("ann@acme.test", "agent").await;
    let here = "203.0.113.5";
    for _ in 0..5 {
        let (s, v) = sign_in(&t, "admin@acme.test", "wrong-password", here).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("invalid_credentials")),
            "{v}"
        );
    }
    // Locked: even the right password is refused, with when to come back.
    let (s, v) = sign_in(&t, "admin@acme.test", "admin-password", here).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("too_many_requests")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("15 minutes"),
        "{v}"
    );
    // Other accounts are not affected.
    let (s, _) = sign_in(&t, "ann@acme.test", "long-enough-password", here).await;
    assert_eq!(s, 200);
    let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
    let locked = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "auth.locked")
        .cloned()
        .unwrap_or_else(|| panic!("no lockout in the audit log: {audit}"));
    assert_eq!(locked["target"], "admin@acme.test");
    assert_eq!(
        locked["ip"], here,
        "the proxy's address, not the client's claim"
    );
    clock.advance_ms(16 * 60_000);
    let (s, v) = sign_in(&t, "admin@acme.test", "admin-password", here).await;
    assert_eq!(s, 200, "{v}");

    // One address trying many accounts is locked out as a whole.
    let guesser = "198.51.100.77";
    for i in 0..20 {
        let (s, _) = sign_in(&t, &format!("user{i}@acme.test"), "guess-guess", guesser).await;
        assert_eq!(s, 422);
    }
    let (s, v) = sign_in(&t, "ann@acme.test", "long-enough-password", guesser).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("too_many_requests")),
        "{v}"
    );
    let (s, _) = sign_in(&t, "ann@acme.test", "long-enough-password", "198.51.100.78").await;
    assert_eq!(s, 200);
    // A password typed into the email field is not written to the audit log.
    let (s, _) = sign_in(&t, "hunter2 secret", "x", "198.51.100.79").await;
    assert!(s == 422 || s == 429);
    let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
    assert!(!audit.to_string().contains("hunter2"), "{audit}");
}
