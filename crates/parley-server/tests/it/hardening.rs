//! Sign-in throttling end to end: an account locks after five failures and unlocks after the
//! lockout; one address guessing across many accounts is locked out too; the audit log says who
//! and from where.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::harness::{Backend, TestApp};
use crate::on_both_backends;

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

on_both_backends!(
    an_overlong_email_is_refused_before_any_work,
    |backend: Backend| async move {
        let t = TestApp::spawn(backend).await;
        let long = format!("{}@acme.test", "a".repeat(300));
        let before = t.app.passwords.runs();
        let from = "203.0.113.30";
        let started = std::time::Instant::now();
        for _ in 0..30 {
            let (s, v) = sign_in(&t, &long, "whatever-password", from).await;
            assert_eq!(
                (s, v["error"]["field"].as_str()),
                (422, Some("email")),
                "{v}"
            );
            assert!(
                v["error"]["message"].as_str().unwrap().contains("254"),
                "{v}"
            );
        }
        assert_eq!(t.app.passwords.runs(), before, "no password was hashed");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        // Nor were they counted: the address is not locked out.
        let (s, v) = sign_in(&t, "admin@acme.test", "admin-password", from).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(t.app.passwords.runs(), before + 1);
    }
);

/// The audit log's address of the newest entry with this action.
async fn last_ip(t: &TestApp, action: &str) -> Value {
    let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
    audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action)
        .map(|e| e["ip"].clone())
        .unwrap_or(Value::Null)
}

on_both_backends!(
    x_forwarded_for_counts_only_from_a_trusted_proxy,
    |backend: Backend| async move {
        // No proxy named: a client's X-Forwarded-For is its own claim and is ignored, so
        // changing it at every attempt does not escape the per-address lock.
        let t = TestApp::spawn_configured(backend.clone(), |c| c.trusted_proxies.clear()).await;
        for i in 0..20 {
            let forged = format!("198.51.100.{i}");
            let (s, _) = sign_in(&t, &format!("user{i}@acme.test"), "guess-guess", &forged).await;
            assert_eq!(s, 422);
        }
        let (s, v) = sign_in(&t, "admin@acme.test", "admin-password", "198.51.100.99").await;
        assert_eq!(s, 429, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("your address"));
        // A sign-in records the peer, not the claim.
        let t2 = TestApp::spawn_configured(backend.clone(), |c| c.trusted_proxies.clear()).await;
        let (s, _) = sign_in(&t2, "admin@acme.test", "admin-password", "198.51.100.7").await;
        assert_eq!(s, 200);
        assert_eq!(last_ip(&t2, "auth.sign_in").await, "127.0.0.1");

        // The proxy on this host named: its header names the client, as the rightmost address
        // that is not itself a trusted proxy.
        let t = TestApp::spawn(backend).await;
        let (s, _) = sign_in(
            &t,
            "admin@acme.test",
            "admin-password",
            "203.0.113.40, 127.0.0.1",
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(last_ip(&t, "auth.sign_in").await, "203.0.113.40");
        for i in 0..20 {
            let from = format!("198.51.100.{i}");
            let (s, _) = sign_in(&t, &format!("user{i}@acme.test"), "guess-guess", &from).await;
            assert_eq!(s, 422);
        }
        let (s, v) = sign_in(&t, "admin@acme.test", "admin-password", "198.51.100.99").await;
        assert_eq!(s, 200, "different clients behind the proxy: {v}");
        // An entry that is no address (some proxies write `unknown`) ends the walk there; the
        // addresses to its right still count.
        let (s, _) = sign_in(
            &t,
            "admin@acme.test",
            "admin-password",
            "unknown, 203.0.113.41",
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(last_ip(&t, "auth.sign_in").await, "203.0.113.41");
    }
);

on_both_backends!(
    ipv6_clients_are_counted_by_their_64,
    |backend: Backend| async move {
        let t = TestApp::spawn(backend).await;
        for i in 0..20 {
            let from = format!("2001:db8:5:6::{:x}", i + 1);
            let (s, _) = sign_in(&t, &format!("user{i}@acme.test"), "guess-guess", &from).await;
            assert_eq!(s, 422);
        }
        let (s, v) = sign_in(
            &t,
            "admin@acme.test",
            "admin-password",
            "2001:db8:5:6:ffff::9",
        )
        .await;
        assert_eq!(s, 429, "the same /64: {v}");
        let (s, v) = sign_in(&t, "admin@acme.test", "admin-password", "2001:db8:5:7::1").await;
        assert_eq!(s, 200, "the next /64: {v}");
    }
);

on_both_backends!(
    guessing_from_many_addresses_does_not_lock_out_the_owners_address,
    |backend: Backend| async move {
        let t = TestApp::spawn(backend).await;
        let home = "203.0.113.50";
        let (s, _) = sign_in(&t, "admin@acme.test", "admin-password", home).await;
        assert_eq!(s, 200);
        for i in 0..6 {
            let from = format!("198.51.100.{}", 10 + i);
            let (s, _) = sign_in(&t, "admin@acme.test", "wrong-password", &from).await;
            assert!(s == 422 || s == 429, "{s}");
        }
        // Locked for any new address...
        let (s, v) = sign_in(&t, "admin@acme.test", "admin-password", "192.0.2.60").await;
        assert_eq!(s, 429, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this account"));
        // ...but the owner's address, which signed in before, gets in.
        let (s, v) = sign_in(&t, "admin@acme.test", "admin-password", home).await;
        assert_eq!(s, 200, "{v}");
        // The lock holds for the others still.
        let (s, _) = sign_in(&t, "admin@acme.test", "admin-password", "192.0.2.61").await;
        assert_eq!(s, 429);
    }
);

on_both_backends!(
    a_burst_of_sign_ins_hashes_a_few_at_a_time,
    |backend: Backend| async move {
        let t = std::sync::Arc::new(
            TestApp::spawn_configured(backend, |c| c.password_hash_concurrency = 2).await,
        );
        let before = t.app.passwords.runs();
        let mut burst = Vec::new();
        for i in 0..10 {
            let t = t.clone();
            burst.push(tokio::spawn(async move {
                let from = format!("198.51.100.{}", 100 + i);
                sign_in(&t, &format!("nobody{i}@acme.test"), "guess-guess", &from).await
            }));
        }
        // Reads go on meanwhile.
        let (s, _) = t.get("/api/v1/health", "").await;
        assert_eq!(s, 200);
        let mut busy = 0;
        for b in burst {
            // On a very slow machine an attempt may wait out its turn: it is told to come back.
            match b.await.unwrap() {
                (422, _) => {}
                (429, v) => {
                    assert!(
                        v["error"]["message"].as_str().unwrap().contains("at once"),
                        "{v}"
                    );
                    busy += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(busy < 10);
        assert_eq!(
            t.app.passwords.runs() + busy,
            before + 10,
            "every other attempt was checked"
        );
        assert!(
            t.app.passwords.peak() <= 2,
            "{} at once",
            t.app.passwords.peak()
        );
    }
);
