//! `parley bench sign-in-burst`: many wrong sign-ins at once, each from its own address behind a
//! trusted proxy (so none is locked out and every one is hashed), while an unrelated GET is
//! timed; reports that GET's latency before and during the burst and the server's peak memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::{percentile, proc_status};

#[derive(clap::Args)]
pub struct SignInArgs {
    /// Sign-ins in flight at once
    #[arg(long, default_value_t = 50)]
    parallel: usize,
    /// Seconds of the burst
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// The server's password_hash_concurrency [default: the server's own, the number of CPUs]
    #[arg(long)]
    hash_concurrency: Option<usize>,
}

/// Times GETs of `url` one after another, 100 a second, until `stop`; latencies in µs.
async fn time_gets(url: String, token: String, stop: Instant) -> Vec<u64> {
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    while Instant::now() < stop {
        let t = Instant::now();
        let ok = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            seen.push(t.elapsed().as_micros() as u64);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen.sort_unstable();
    seen
}

/// A `parley serve` child on a fresh SQLite database with `toml` as its settings file.
pub(super) struct Child {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub base: String,
    _dir: tempfile::TempDir,
}

pub(super) async fn start(toml: &str) -> anyhow::Result<Child> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("parley.toml");
    std::fs::write(&config, toml)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--admin-email")
        .arg("bench@parley.test")
        .env("PARLEY_ADMIN_PASSWORD", "bench-password-1")
        .env("PARLEY_LOG", "warn")
        .env_remove("PARLEY_TRUSTED_PROXIES")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting parley serve")?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    super::wait_healthy(&base).await?;
    Ok(Child {
        child,
        pid,
        base,
        _dir: dir,
    })
}

pub async fn sign_in_burst(args: SignInArgs) -> anyhow::Result<()> {
    let mut toml = String::from("trusted_proxies = [\"127.0.0.1/32\"]\n");
    if let Some(n) = args.hash_concurrency {
        toml.push_str(&format!("password_hash_concurrency = {n}\n"));
    }
    let Child {
        mut child,
        pid,
        base,
        _dir,
    } = start(&toml).await?;
    let (token, _, _) = super::set_up(&base).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = proc_status(pid, "VmRSS:").unwrap_or(0);
    let url = format!("{base}/api/v1/inboxes");

    let quiet = time_gets(
        url.clone(),
        token.clone(),
        Instant::now() + Duration::from_secs(5),
    )
    .await;

    let stop = Instant::now() + Duration::from_secs(args.secs);
    let next = Arc::new(AtomicU64::new(0));
    let (refused, checked) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut workers = Vec::new();
    for _ in 0..args.parallel {
        let (next, refused, checked) = (next.clone(), refused.clone(), checked.clone());
        let url = format!("{base}/api/v1/auth/sign-in");
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while Instant::now() < stop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let from = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
                let status = client
                    .post(&url)
                    .header("x-forwarded-for", from)
                    .json(&json!({ "email": format!("u{n}@bench.test"), "password": "wrong-password" }))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                match status {
                    422 => checked.fetch_add(1, Ordering::Relaxed),
                    _ => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let busy = time_gets(url, token, stop).await;
    for w in workers {
        w.await?;
    }
    let peak_rss = proc_status(pid, "VmHWM:").unwrap_or(0);
    let _ = child.kill().await;

    let ms = |v: &[u64], p: f64| percentile(v, p);
    println!(
        "sign-in burst: {} in flight for {} s, password_hash_concurrency {}",
        args.parallel,
        args.secs,
        args.hash_concurrency
            .map_or_else(|| "default".to_string(), |n| n.to_string())
    );
    println!(
        "  sign-ins checked {} ({:.0}/s), refused busy {}",
        checked.load(Ordering::Relaxed),
        checked.load(Ordering::Relaxed) as f64 / args.secs as f64,
        refused.load(Ordering::Relaxed)
    );
    println!(
        "  GET /api/v1/inboxes quiet: p50 {:.1} ms, p99 {:.1} ms ({} requests)",
        ms(&quiet, 0.5),
        ms(&quiet, 0.99),
        quiet.len()
    );
    println!(
        "  GET /api/v1/inboxes during the burst: p50 {:.1} ms, p99 {:.1} ms ({} requests)",
        ms(&busy, 0.5),
        ms(&busy, 0.99),
        busy.len()
    );
    println!(
        "  server RSS: idle {} MiB, peak {} MiB",
        idle_rss / 1024,
        peak_rss / 1024
    );
    Ok(())
}
