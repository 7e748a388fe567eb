//! `parley bench timers`: many durable timers falling due within a short window, fired by the
//! server's timer worker. Reports the lag of each (when it fired minus when it was due) and the
//! firing rate.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use parley_core::role::Role;
use parley_core::Timestamp;
use parley_server::{Config, Database, SystemClock};
use parley_store::{NewTimer, NewUser};

#[derive(clap::Args)]
pub struct TimersArgs {
    /// Run on PostgreSQL: an admin URL; a fresh database is created under it
    #[arg(long)]
    postgres: Option<String>,
    /// Timers set
    #[arg(long, default_value_t = 100_000)]
    timers: usize,
    /// The first timer falls due this long after all are set (milliseconds)
    #[arg(long, default_value_t = 2_000)]
    lead_ms: i64,
    /// Their due times spread evenly over this window (milliseconds)
    #[arg(long, default_value_t = 1_000)]
    window_ms: i64,
}

pub async fn timers(args: TimersArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database = match &args.postgres {
        Some(admin) => Database::Postgres {
            url: parley_store_postgres::testing::fresh_database(admin)
                .await
                .context("creating a database for the bench")?
                .into(),
        },
        None => Database::Sqlite {
            path: dir.path().join("parley.db"),
            durable: true,
        },
    };
    let cfg = Config::new(SocketAddr::from(([127, 0, 0, 1], 0)), database);
    let app = parley_server::build(cfg, Arc::new(SystemClock)).await?;
    let admin = NewUser {
        email: "bench@parley.test".into(),
        name: "Bench".into(),
        password_hash: "-".into(),
        role: Role::Admin,
        bot: false,
    };
    let (ws, _) = app
        .store
        .create_workspace("Bench", "UTC", admin, app.now())
        .await?;
    let n = args.timers.max(1);
    let lags = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let seen = Arc::clone(&lags);
    app.timer_bell.watch(move |t, at| {
        if let Ok(mut v) = seen.lock() {
            v.push((at.0 - t.due_at.0, Instant::now()));
        }
    });
    let set_started = Instant::now();
    let first = app.now().0 + args.lead_ms;
    let all: Vec<NewTimer> = (0..n)
        .map(|i| NewTimer {
            workspace: ws.id,
            key: format!("bench:{i}"),
            kind: "bench".into(),
            due_at: Timestamp(first + args.window_ms * i as i64 / n as i64),
            payload: serde_json::json!({ "i": i }),
        })
        .collect();
    for chunk in all.chunks(5_000) {
        app.store.set_timers(chunk.to_vec()).await?;
    }
    let set_secs = set_started.elapsed().as_secs_f64();
    anyhow::ensure!(
        app.now().0 < first,
        "setting the timers took {set_secs:.1} s, longer than --lead-ms: raise it"
    );
    println!(
        "set {n} timers in {set_secs:.2} s; due over {} ms",
        args.window_ms
    );
    let workers = parley_server::start_workers(&app).await?;
    let deadline = Instant::now()
        + Duration::from_millis((args.lead_ms + args.window_ms) as u64)
        + Duration::from_secs(600);
    loop {
        let done = lags.lock().map(|v| v.len()).unwrap_or(0);
        if done >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers.iter().for_each(|w| w.abort());
    let fired = lags.lock().map(|v| v.clone()).unwrap_or_default();
    anyhow::ensure!(fired.len() >= n, "only {} of {n} timers fired", fired.len());
    report(&fired);
    Ok(())
}

fn report(fired: &[(i64, Instant)]) {
    let mut lag: Vec<i64> = fired.iter().map(|(l, _)| *l).collect();
    lag.sort_unstable();
    let pct = |p: f64| lag[((lag.len() as f64 - 1.0) * p).round() as usize];
    let first = fired.iter().map(|(_, t)| *t).min();
    let last = fired.iter().map(|(_, t)| *t).max();
    let span = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    println!(
        "fired {} timers: lag (fired - due) p50 {} ms, p99 {} ms, max {} ms; {:.0} timers/s \
         (first to last firing {:.2} s)",
        lag.len(),
        pct(0.5),
        pct(0.99),
        lag[lag.len() - 1],
        lag.len() as f64 / span.max(1e-3),
        span
    );
}
