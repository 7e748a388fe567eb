//! `parley bench dispatch`: the outbound pipeline against a local fake of Twilio's Messages API.
//!
//! Each run queues replies in a fresh database with the workers stopped, then starts them and
//! times the drain: claim, send over loopback HTTP (Basic auth, form body, JSON answer), record
//! the outcome. A second phase gives two senders their own rate limits and measures the rate
//! each one actually achieved at the fake provider. A third gives one sender a provider that takes
//! seconds per request and a backlog, and times another sender's replies meanwhile.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use parley_core::role::Role;
use parley_core::{ConversationId, InboxId};
use parley_server::{App, Config, Database, SystemClock};
use parley_store::{Command, InboundMessage, NewInbox, NewUser};
use serde_json::json;

#[derive(clap::Args)]
pub struct DispatchArgs {
    /// Run on PostgreSQL: an admin URL; a fresh database is created under it
    #[arg(long)]
    postgres: Option<String>,
    /// Replies queued per throughput run
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Throughput runs (the median is reported)
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Deliveries in flight at once
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Per-sender rates of the rate-limit phase (messages per second), comma-separated
    #[arg(long, default_value = "50,200", value_delimiter = ',')]
    rates: Vec<f64>,
    /// Seconds of traffic queued per sender in the rate-limit phase
    #[arg(long, default_value_t = 10)]
    rate_secs: u64,
    /// With encryption at rest (a fresh master key)
    #[arg(long)]
    encrypted: bool,
    /// Deliveries one inbox may have in flight in the throughput and rate-limit phases
    /// [default: the server's default]
    #[arg(long)]
    per_inbox_concurrency: Option<usize>,
    /// How long the slow provider takes per request in the slow-provider phase (milliseconds)
    #[arg(long, default_value_t = 5_000)]
    slow_ms: u64,
    /// Replies queued for the slow provider before the other sender's are timed
    #[arg(long, default_value_t = 200)]
    slow_backlog: usize,
    /// The other sender's replies timed in the slow-provider phase, one every 200 ms
    #[arg(long, default_value_t = 20)]
    probes: usize,
}

/// What the fake provider saw: arrival times per sending number.
#[derive(Default)]
struct Seen {
    by_from: HashMap<String, Vec<Instant>>,
    total: usize,
}

const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "bench-auth-token";

/// A fake Twilio that checks Basic auth and the required fields, and answers like Twilio; a
/// request from `slow.0` is answered only after `slow.1`.
async fn fake_twilio(
    seen: Arc<Mutex<Seen>>,
    slow: Option<(String, Duration)>,
) -> anyhow::Result<String> {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    type Slow = Option<(String, Duration)>;
    async fn create(
        State((seen, expected, slow)): State<(Arc<Mutex<Seen>>, String, Slow)>,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, String) {
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
            return (
                StatusCode::UNAUTHORIZED,
                r#"{"code":20003,"message":"Authenticate","status":401}"#.into(),
            );
        }
        let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let (Some(to), Some(from)) = (form.get("To"), form.get("From")) else {
            return (
                StatusCode::BAD_REQUEST,
                r#"{"code":21604,"message":"A 'To' phone number is required.","status":400}"#
                    .into(),
            );
        };
        if let Some((number, wait)) = &slow {
            if number == from {
                tokio::time::sleep(*wait).await;
            }
        }
        let n = {
            let Ok(mut s) = seen.lock() else {
                return (StatusCode::INTERNAL_SERVER_ERROR, String::new());
            };
            s.total += 1;
            s.by_from
                .entry(from.clone())
                .or_default()
                .push(Instant::now());
            s.total
        };
        let answer = json!({ "sid": format!("SM{n:032}"), "account_sid": SID, "to": to, "from": from, "status": "queued", "num_segments": "1" });
        (StatusCode::CREATED, answer.to_string())
    }
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            axum::routing::post(create),
        )
        .with_state((seen, expected, slow));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// A fresh server (workers stopped) with one Twilio inbox per rate (`None`: unlimited).
async fn fresh_app(
    args: &DispatchArgs,
    provider: &str,
    rates: &[Option<f64>],
    per_inbox: Option<usize>,
) -> anyhow::Result<(App, tempfile::TempDir, Vec<(InboxId, String)>)> {
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
    let mut cfg = Config::new(SocketAddr::from(([127, 0, 0, 1], 0)), database);
    cfg.dispatch.concurrency = args.concurrency;
    if let Some(cap) = per_inbox {
        cfg.dispatch.per_inbox_concurrency = cap;
    }
    // The fake provider listens on loopback.
    cfg.outbound_allow =
        parley_channels::net::parse_allow("127.0.0.0/8").map_err(|e| anyhow::anyhow!(e))?;
    if args.encrypted {
        cfg.master_key = Some(parley_store::crypt::MasterKey::generate());
    }
    let app = parley_server::build(cfg, Arc::new(SystemClock)).await?;
    let now = app.now();
    let admin = NewUser {
        email: "bench@parley.test".into(),
        name: "Bench".into(),
        password_hash: "-".into(),
        role: Role::Admin,
        bot: false,
    };
    let (ws, _) = app
        .store
        .create_workspace("Bench", "UTC", admin, now)
        .await?;
    let mut inboxes = Vec::new();
    for (i, rate) in rates.iter().enumerate() {
        let from = format!("+1555010{:04}", i);
        let inbox = NewInbox {
            name: format!("Line {i}"),
            kind: "twilio".into(),
            settings: json!({ "account_sid": SID, "from": from, "api_base_url": provider, "rate_limit": rate }),
            secret: TOKEN.into(),
        };
        let row = app.store.create_inbox(ws.id, inbox, now).await?;
        inboxes.push((row.id, from));
    }
    Ok((app, dir, inboxes))
}

/// Queues `n` replies in `inbox`, spread over 100 customers, with the workers stopped.
async fn queue_replies(app: &App, inbox: InboxId, n: usize) -> anyhow::Result<()> {
    let (scope, admin, conversations) = customers(app, inbox, n).await?;
    // Concurrent commands share commits, so queueing is quick even on the durable setting.
    let mut pending = futures_util::stream::FuturesUnordered::new();
    for i in 0..n {
        let (store, scope, at) = (app.store.clone(), scope.clone(), app.now());
        let conv = conversations[i % conversations.len()];
        let reply = Command::Reply {
            meta: None,
            body: format!("Your order {i} has shipped."),
        };
        pending.push(async move { store.act(&scope, conv, admin, reply, at).await });
        if pending.len() >= 64 {
            if let Some(r) = futures_util::StreamExt::next(&mut pending).await {
                r?;
            }
        }
    }
    while let Some(r) = futures_util::StreamExt::next(&mut pending).await {
        r?;
    }
    Ok(())
}

/// Up to 100 customers who wrote to `inbox`: the admin's scope, the admin, their conversations.
async fn customers(
    app: &App,
    inbox: InboxId,
    n: usize,
) -> anyhow::Result<(
    parley_store::Scope,
    parley_core::UserId,
    Vec<ConversationId>,
)> {
    let ws = app.store.first_workspace().await?.context("no workspace")?;
    let admin = app
        .store
        .list_users(ws.id)
        .await?
        .into_iter()
        .next()
        .context("no admin")?;
    let scope = app.store.principal(ws.id, admin.id).await?.scope();
    let mut conversations = Vec::new();
    for c in 0..100.min(n) {
        let phone = format!("+1555020{c:04}");
        let inbound = InboundMessage {
            keyword: None,
            survey: None,
            meta: None,
            thread: None,
            inbox_id: inbox,
            identity_kind: parley_core::contact::IdentityKind::Phone,
            sender_external_id: phone.clone(),
            sender_name: None,
            sender_email: None,
            sender_phone: Some(phone),
            external_id: None,
            body: "Hello".into(),
            at: app.now(),
        };
        conversations.push(app.store.apply_inbound(inbound).await?.conversation_id);
    }
    Ok((scope, admin.id, conversations))
}

/// Waits until nothing is left queued; returns false after `limit`.
async fn drained(app: &App, limit: Duration) -> anyhow::Result<bool> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if app.store.next_outbox_due().await?.is_none() {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(false)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub async fn dispatch(args: DispatchArgs) -> anyhow::Result<()> {
    let backend = if args.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite (synchronous=FULL)"
    };
    println!(
        "dispatch bench on {backend}: {} replies per run, {} in flight, fake Twilio on loopback",
        args.messages, args.concurrency
    );
    let mut rates = Vec::new();
    for run in 1..=args.runs {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let provider = fake_twilio(seen.clone(), None).await?;
        let (app, _dir, inboxes) =
            fresh_app(&args, &provider, &[None], args.per_inbox_concurrency).await?;
        queue_replies(&app, inboxes[0].0, args.messages).await?;
        let start = Instant::now();
        let workers = parley_server::start_workers(&app).await?;
        let done = drained(&app, Duration::from_secs(600)).await?;
        let secs = start.elapsed().as_secs_f64();
        workers.iter().for_each(|w| w.abort());
        let received = seen.lock().map(|s| s.total).unwrap_or(0);
        anyhow::ensure!(done, "run {run}: the outbox did not drain");
        anyhow::ensure!(
            received == args.messages,
            "run {run}: the provider received {received} of {}",
            args.messages
        );
        let rate = args.messages as f64 / secs;
        println!("  run {run}: {received} sent and recorded in {secs:.2} s = {rate:.0} msg/s");
        rates.push(rate);
    }
    println!(
        "throughput, limits off: median {:.0} msg/s over {} runs",
        median(rates),
        args.runs
    );

    // Rate-limit phase: each sender has its own limit and a backlog of `rate_secs` worth.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let provider = fake_twilio(seen.clone(), None).await?;
    let limits: Vec<Option<f64>> = args.rates.iter().map(|r| Some(*r)).collect();
    let (app, _dir, inboxes) =
        fresh_app(&args, &provider, &limits, args.per_inbox_concurrency).await?;
    for ((inbox, _), rate) in inboxes.iter().zip(&args.rates) {
        queue_replies(&app, *inbox, (rate * args.rate_secs as f64) as usize).await?;
    }
    let workers = parley_server::start_workers(&app).await?;
    let done = drained(&app, Duration::from_secs(args.rate_secs * 3 + 30)).await?;
    workers.iter().for_each(|w| w.abort());
    anyhow::ensure!(done, "the rate-limited outbox did not drain");
    let by_from = seen
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .by_from
        .clone();
    println!("per-sender limits, {} s of backlog each:", args.rate_secs);
    for ((_, from), rate) in inboxes.iter().zip(&args.rates) {
        let times = by_from.get(from).cloned().unwrap_or_default();
        let (Some(first), Some(last)) = (times.first(), times.last()) else {
            anyhow::bail!("sender {from} sent nothing");
        };
        let span = last.duration_since(*first).as_secs_f64();
        let achieved = (times.len() - 1) as f64 / span;
        // The busiest second: a limit must hold over short windows, not only on average.
        let mut peak = 0;
        for (i, t) in times.iter().enumerate() {
            let end = times[i..].partition_point(|x| x.duration_since(*t) < Duration::from_secs(1));
            peak = peak.max(end);
        }
        println!(
            "  sender {from}: limit {rate} msg/s, achieved {achieved:.2} msg/s ({:+.2} %), busiest second {peak} messages, {} sent",
            (achieved / rate - 1.0) * 100.0,
            times.len()
        );
    }

    println!(
        "slow provider: one sender takes {} ms per request with {} replies queued; another \
         sender's replies, one every 200 ms:",
        args.slow_ms, args.slow_backlog
    );
    let capped = parley_server::config::DispatchConfig::default().per_inbox_concurrency;
    for (label, cap) in [
        (format!("per_inbox_concurrency = {capped}"), capped),
        (
            format!("per_inbox_concurrency = {} (no cap)", args.concurrency),
            args.concurrency,
        ),
    ] {
        let waits = slow_provider(&args, cap).await?;
        println!(
            "  {label}: the other sender's latency median {:.3} s, p90 {:.3} s ({} replies)",
            median(waits.clone()),
            percentile(waits.clone(), 0.9),
            waits.len()
        );
    }
    Ok(())
}

/// The slow-provider phase with `cap` deliveries per inbox: how long each of the other sender's
/// replies took from being queued to reaching the provider, in seconds.
async fn slow_provider(args: &DispatchArgs, cap: usize) -> anyhow::Result<Vec<f64>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let slow_from = "+15550100000".to_string();
    let wait = Duration::from_millis(args.slow_ms);
    let provider = fake_twilio(seen.clone(), Some((slow_from, wait))).await?;
    let (app, _dir, inboxes) = fresh_app(args, &provider, &[None, None], Some(cap)).await?;
    let ((slow, _), (quick, quick_from)) = (inboxes[0].clone(), inboxes[1].clone());
    queue_replies(&app, slow, args.slow_backlog).await?;
    let (scope, admin, conversations) = customers(&app, quick, 1).await?;
    let workers = parley_server::start_workers(&app).await?;
    // Let the slow provider's requests take the slots they may.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut queued = Vec::new();
    for i in 0..args.probes {
        let reply = Command::Reply {
            meta: None,
            body: format!("Probe {i}"),
        };
        queued.push(Instant::now());
        app.store
            .act(&scope, conversations[0], admin, reply, app.now())
            .await?;
        app.dispatch_bell.notify_one();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + wait * 10 + Duration::from_secs(60);
    let arrived = loop {
        let got = seen
            .lock()
            .map(|s| s.by_from.get(&quick_from).cloned().unwrap_or_default())
            .unwrap_or_default();
        if got.len() >= args.probes || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    workers.iter().for_each(|w| w.abort());
    anyhow::ensure!(
        arrived.len() >= args.probes,
        "the other sender's replies did not all arrive"
    );
    Ok(queued
        .iter()
        .zip(&arrived)
        .map(|(q, a)| a.duration_since(*q).as_secs_f64())
        .collect())
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 * p).ceil() as usize).saturating_sub(1);
    v.get(i).copied().unwrap_or(0.0)
}
