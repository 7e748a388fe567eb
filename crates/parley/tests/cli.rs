//! The `parley` binary as a user runs it: a crash (SIGKILL) loses nothing acknowledged and queued
//! replies still go out after a restart; bad input gets a one-line error and a non-zero exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_parley");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &std::path::Path, port: u16) -> std::process::Child {
    Command::new(BIN)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args(["--admin-email", "admin@acme.test"])
        .env("PARLEY_ADMIN_PASSWORD", "admin-password-1")
        .env("PARLEY_LOG", "warn")
        // The integrating system this test stands in for listens on loopback.
        .env("PARLEY_OUTBOUND_ALLOW", "127.0.0.0/8")
        .env_remove("PARLEY_DATABASE_URL")
        .stdout(Stdio::null())
        .spawn()
        .expect("parley serve starts")
}

async fn wait_up(base: &str) {
    for _ in 0..200 {
        if reqwest::get(format!("{base}/api/v1/health"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

fn run(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PARLEY_DATABASE_URL")
        .output()
        .expect("runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(dir.path(), port);
    wait_up(&base).await;
    let out = run(
        &["token", "create", "--email", "admin@acme.test"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let http = reqwest::Client::new();
    // The integrating system is down: nothing listens on its port yet.
    let cb_port = free_port();
    let inbox: Value = http
        .post(format!("{base}/api/v1/inboxes"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Support", "kind": "api", "callback_url": format!("http://127.0.0.1:{cb_port}/cb") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (inbox_id, secret) = (
        inbox["id"].as_str().unwrap().to_string(),
        inbox["secret"].as_str().unwrap().to_string(),
    );

    let sends = (0..200).map(|i| {
        let (http, base, inbox_id, secret) = (http.clone(), base.clone(), inbox_id.clone(), secret.clone());
        async move {
            let body = json!({ "id": format!("m{i}"), "contact": { "id": format!("c{}", i % 20) }, "text": format!("message {i}") }).to_string();
            let sig = parley_channels::api::sign(&secret, body.as_bytes());
            http.post(format!("{base}/hooks/api/{inbox_id}")).header("content-type", "application/json").header("x-parley-signature", sig).body(body).send().await.unwrap().status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let list: Value = http
        .get(format!("{base}/api/v1/conversations?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{base}/api/v1/conversations/{conv}/messages"))
        .bearer_auth(&token)
        .json(&json!({ "body": "reply that must survive" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    server.kill().unwrap(); // SIGKILL: no graceful shutdown
    server.wait().unwrap();

    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let rec = Arc::clone(&received);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cb_port))
        .await
        .unwrap();
    let app = axum::Router::new().route(
        "/cb",
        axum::routing::post(move |body: String| {
            let rec = Arc::clone(&rec);
            async move {
                rec.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut server = serve(dir.path(), port);
    wait_up(&base).await;
    let mut delivered = false;
    for _ in 0..300 {
        if received
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains("reply that must survive"))
        {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(delivered, "the queued reply went out after the crash");
    let mut total = 0;
    let mut cursor = String::new();
    loop {
        let page: Value = http
            .get(format!(
                "{base}/api/v1/conversations?status=all&limit=100{cursor}"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for c in page["items"].as_array().unwrap() {
            let tl: Value = http
                .get(format!(
                    "{base}/api/v1/conversations/{}/timeline?limit=200",
                    c["id"].as_str().unwrap()
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            total += tl["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["data"]["message"]["direction"] == "inbound")
                .count();
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(total, 200, "every acknowledged message survived the crash");
    server.kill().unwrap();
    let _ = server.wait();
}

fn fails_with(out: std::process::Output, needle: &str) {
    assert!(!out.status.success(), "should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "stderr: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gets_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    fails_with(
        run(&["--database-url", "mysql://x/y", "migrate"], dir.path()),
        "postgres:// or sqlite:",
    );
    fails_with(
        run(
            &["token", "create", "--email", "nobody@acme.test"],
            dir.path(),
        ),
        "no user with email",
    );
    fails_with(
        run(
            &[
                "admin",
                "create-user",
                "--email",
                "not-an-email",
                "--name",
                "X",
            ],
            dir.path(),
        ),
        "--email",
    );
    let out = Command::new(BIN)
        .args([
            "admin",
            "create-user",
            "--email",
            "a@acme.test",
            "--name",
            "A",
            "--role",
            "owner",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    fails_with(out, "--role");
    let cfg = dir.path().join("parley.toml");
    std::fs::write(&cfg, "bnid = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    fails_with(out, "unknown field");
    let out = Command::new(BIN)
        .args([
            "serve",
            "--admin-email",
            "admin@acme.test",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("PARLEY_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    fails_with(out, "PARLEY_ADMIN_PASSWORD");
    let ok = run(&["migrate"], dir.path());
    assert!(ok.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "migrations applied"
    );
    let example = Command::new(BIN)
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&example.stdout).contains("[dispatch]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_plays_customers_and_prints_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(dir.path(), port);
    wait_up(&base).await;
    let token = String::from_utf8(
        run(
            &["token", "create", "--email", "admin@acme.test"],
            dir.path(),
        )
        .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let sim = tokio::process::Command::new(BIN)
        .args([
            "simulate",
            "--url",
            &base,
            "--customers",
            "2",
            "--messages",
            "1",
            "--interval-ms",
            "0",
            "--listen-secs",
            "6",
        ])
        .env("PARLEY_TOKEN", &token)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut conv = None;
    for _ in 0..100 {
        let list: Value = http
            .get(format!("{base}/api/v1/conversations"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list["items"].as_array().is_some_and(|a| a.len() == 2) {
            conv = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["contact_name"] == "Customer 2")
                .map(|c| c["id"].as_str().unwrap().to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conv = conv.expect("both simulated customers arrived");
    let r = http
        .post(format!("{base}/api/v1/conversations/{conv}/messages"))
        .bearer_auth(&token)
        .json(&json!({ "body": "Hello from the team" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let out = sim.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("customer-1 → ") && stdout.contains("customer-2 → "),
        "{stdout}"
    );
    assert!(
        stdout.contains("business → customer-2: Hello from the team"),
        "{stdout}"
    );
    server.kill().unwrap();
    let _ = server.wait();
}

/// A service manager's stop (SIGTERM) ends the node cleanly: it exits with success and removes
/// its heartbeat, so the node started after it is not warned about a second node.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_node_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(dir.path(), port);
    wait_up(&base).await;
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "SIGTERM ended the node with {status:?}");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(dir.path(), port);
    wait_up(&base).await;
    let health: Value = reqwest::get(format!("{base}/api/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.kill().unwrap();
    let _ = server.wait();
    assert_eq!(
        health,
        json!({ "status": "ok" }),
        "the stopped node still counts"
    );
}
