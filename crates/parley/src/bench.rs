//! `parley bench`: measurements that go into BENCHMARKS.md.
//!
//! `ingest` starts `parley serve` as a child process on a fresh database, connects an agent's
//! WebSocket, posts signed inbound messages over loopback HTTP, and reports sustained messages/s,
//! request-to-socket latency and the server's RSS. `sqlite-raw` measures the machine's ceiling:
//! plain SQLite inserts, one transaction per row and in batches. `dispatch` measures the outbound
//! pipeline (see its module); `gate` the cost of one compliance decision; `sign-in-burst` what
//! a burst of sign-ins does to other requests and to memory; `timers` how late durable timers
//! fire when many fall due at once; `widget-flood` what hundreds of
//! flooding widget sockets do to an agent's live feed; `sockets` what idle sockets cost in memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use parley_channels::api;
use serde_json::{json, Value};

mod dispatch;
mod gate;
mod inbox;
mod privacy;
mod signin;
mod sockets;
mod timers;
mod widget_flood;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Outbound deliveries to a fake provider: throughput, and per-sender rate limits held
    Dispatch(dispatch::DispatchArgs),
    /// Inbound messages over HTTP to a server with a connected agent WebSocket
    Ingest(IngestArgs),
    /// One compliance decision (consent, channel, quiet hours) without the store read
    Gate(gate::GateArgs),
    /// The agent app's first screen: the first page of open conversations and the views' counts
    Inbox(inbox::InboxArgs),
    /// Erasing contacts, searching them and reading their consent, in plaintext or sealed
    Privacy(privacy::PrivacyArgs),
    /// Many sign-ins at once: an unrelated GET's latency and the server's peak memory meanwhile
    SignInBurst(signin::SignInArgs),
    /// Hundreds of widget sockets flooding: an agent's live latency and the server's memory
    WidgetFlood(widget_flood::WidgetFloodArgs),
    /// Thousands of idle agent and widget sockets: the server's memory before, during and after
    Sockets(sockets::SocketsArgs),
    /// 100,000 durable timers due within a short window: their lag and firing rate
    Timers(timers::TimersArgs),
    /// Raw SQLite insert rates on this machine (the ceiling for ingest)
    SqliteRaw {
        /// Seconds per measurement
        #[arg(long, default_value_t = 3)]
        secs: u64,
    },
}

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Run on PostgreSQL: an admin URL; a fresh database is created under it
    #[arg(long)]
    postgres: Option<String>,
    /// Seconds of the closed-loop throughput phase
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Concurrent HTTP connections in the throughput phase
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Messages per second in the fixed-rate latency phase
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of the fixed-rate phase
    #[arg(long, default_value_t = 10)]
    rate_secs: u64,
    /// Pause between the phases, in seconds
    #[arg(long, default_value_t = 3)]
    pause_secs: u64,
    /// SQLite durability for the server: full or normal
    #[arg(long, default_value = "full")]
    sqlite_sync: String,
    /// Active automation rules listening for messages (none fire): the A/B of rule evaluation's
    /// cost on ingest is `--rules 200` against `--rules 0`
    #[arg(long, default_value_t = 0)]
    rules: usize,
    /// Make the rules' triggers match every message (conditions that do not hold), so each
    /// message reads the conversation's facts and checks every rule's conditions
    #[arg(long)]
    rules_read_facts: bool,
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ingest(args) => ingest(args).await,
        BenchCommand::Dispatch(args) => dispatch::dispatch(args).await,
        BenchCommand::Gate(args) => gate::gate(args),
        BenchCommand::Privacy(args) => privacy::privacy(args).await,
        BenchCommand::Inbox(args) => inbox::inbox(args).await,
        BenchCommand::SignInBurst(args) => signin::sign_in_burst(args).await,
        BenchCommand::WidgetFlood(args) => widget_flood::widget_flood(args).await,
        BenchCommand::Sockets(args) => sockets::sockets(args).await,
        BenchCommand::Timers(args) => timers::timers(args).await,
        BenchCommand::SqliteRaw { secs } => {
            tokio::task::spawn_blocking(move || sqlite_raw(secs)).await?
        }
    }
}

fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) a process has used, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

struct Server {
    child: tokio::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

async fn start_server(args: &IngestArgs) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--admin-email")
        .arg("bench@parley.test")
        .arg("--sqlite-sync")
        .arg(&args.sqlite_sync)
        .env("PARLEY_ADMIN_PASSWORD", "bench-password-1")
        .env("PARLEY_LOG", "warn")
        .env_remove("PARLEY_CONFIG")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(admin) = &args.postgres {
        let url = parley_store_postgres::testing::fresh_database(admin)
            .await
            .context("creating a database for the bench")?;
        cmd.arg("--database-url").arg(url);
    }
    let child = cmd.spawn().context("starting parley serve")?;
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await?;
    Ok(Server {
        child,
        base,
        _dir: dir,
    })
}

/// Waits up to 30 s for a server started by a bench to answer its health check.
pub(crate) async fn wait_healthy(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("{base}/api/v1/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the server did not come up within 30 s")
}

/// Signs in as the bench admin and returns an API token and an API inbox's id and secret.
async fn set_up(base: &str) -> anyhow::Result<(String, String, String)> {
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&json!({"email": "bench@parley.test", "password": "bench-password-1"}))
        .send()
        .await?;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_string();
    let body: Value = r.json().await?;
    let csrf = body["csrf_token"]
        .as_str()
        .context("no csrf token")?
        .to_string();
    let r: Value = client
        .post(format!("{base}/api/v1/tokens"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let token = r["token"].as_str().context("no token")?.to_string();
    let inbox: Value = client
        .post(format!("{base}/api/v1/inboxes"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench", "kind": "api", "callback_url": "http://127.0.0.1:9/never"}))
        .send()
        .await?
        .json()
        .await?;
    Ok((
        token,
        inbox["id"].as_str().context("no inbox id")?.to_string(),
        inbox["secret"].as_str().context("no secret")?.to_string(),
    ))
}

/// Creates `n` enabled rules that listen for every customer message and never fire (keywords
/// the bench never sends, half with a condition too), so each message pays for reading the
/// conversation's facts and evaluating them all.
async fn add_rules(base: &str, token: &str, n: usize, read_facts: bool) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for i in 0..n {
        let conditions = if i % 2 == 0 {
            json!({ "match": "all", "items": [{ "kind": "label", "label": "vip", "is": true }] })
        } else {
            json!({ "match": "any", "items": [] })
        };
        let trigger = match read_facts {
            true => json!({ "kind": "message_received" }),
            false => {
                json!({ "kind": "keyword", "keywords": [format!("never{i}"), "refund please", "cancel my order"] })
            }
        };
        let conditions = match read_facts {
            true => {
                json!({ "match": "all", "items": [{ "kind": "label", "label": "vip", "is": true }] })
            }
            false => conditions,
        };
        let rule = json!({
            "name": format!("bench rule {i}"),
            "trigger": trigger,
            "conditions": conditions,
            "actions": [{ "kind": "add_labels", "labels": ["bench"] }],
        });
        let r = client
            .post(format!("{base}/api/v1/automations"))
            .bearer_auth(token)
            .json(&rule)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "creating a rule: {}", r.status());
    }
    Ok(())
}

/// Latencies (µs) seen on the agent socket, by phase letter.
type Sender = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

#[derive(Default)]
struct Seen {
    a: Vec<u64>,
    b: Vec<u64>,
    /// (sent at µs since t0, latency µs) of phase B, to see when slow requests happen.
    b_at: Vec<(u64, u64)>,
}

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let server = start_server(&args).await?;
    let pid = server.pid();
    let (token, inbox, secret) = set_up(&server.base).await?;
    add_rules(&server.base, &token, args.rules, args.rules_read_facts).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_kb = proc_status(pid, "VmRSS:").unwrap_or(0);

    let t0 = Instant::now();
    let ws_url = format!(
        "{}/api/v1/realtime?token={token}",
        server.base.replace("http://", "ws://")
    );
    let (ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .context("connecting the agent socket")?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen_reader = Arc::clone(&seen);
    let reader = tokio::spawn(async move {
        let (_, mut read) = ws.split();
        while let Some(Ok(msg)) = read.next().await {
            let Ok(text) = msg.to_text() else { continue };
            let now = t0.elapsed().as_micros() as u64;
            // Bodies are "bench <phase> t=<µs since t0>"; find the marker without a full JSON parse.
            let Some(i) = text.find("\"body\":\"bench ") else {
                continue;
            };
            let rest = &text[i + 14..];
            let phase = rest.as_bytes().first().copied();
            let Some(t) = rest.find("t=").map(|j| &rest[j + 2..]) else {
                continue;
            };
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            let Ok(sent) = digits.parse::<u64>() else {
                continue;
            };
            if let Ok(mut s) = seen_reader.lock() {
                match phase {
                    Some(b'A') => s.a.push(now.saturating_sub(sent)),
                    Some(b'B') => s.b.push(now.saturating_sub(sent)),
                    _ => {}
                }
            }
        }
    });

    let hook = Arc::new(format!("/hooks/api/{inbox}"));
    let addr = server.base.trim_start_matches("http://").to_string();
    let secret = Arc::new(secret);
    let counter = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let acks: Arc<Mutex<Seen>> = Arc::default();
    // A lean HTTP/1.1 client: one keep-alive connection per worker, so the load generator takes as
    // little of the shared CPU as it can.
    let connect = {
        let addr = addr.clone();
        move || {
            let addr = addr.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(&addr).await?;
                tcp.set_nodelay(true)?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                        .await?;
                tokio::spawn(conn);
                anyhow::Ok(sender)
            }
        }
    };
    let post = {
        let (hook, addr, secret, counter, failures, acks) = (
            hook.clone(),
            addr.clone(),
            secret.clone(),
            counter.clone(),
            failures.clone(),
            acks.clone(),
        );
        move |mut sender: Sender, phase: char| {
            let (hook, addr, secret, counter, failures, acks) = (
                hook.clone(),
                addr.clone(),
                secret.clone(),
                counter.clone(),
                failures.clone(),
                acks.clone(),
            );
            async move {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = t0.elapsed().as_micros();
                let body = format!(
                    r#"{{"id":"b{n}","contact":{{"id":"c{}"}},"text":"bench {phase} t={t}"}}"#,
                    n % 1000
                );
                let sig = api::sign(&secret, body.as_bytes());
                let req = hyper::Request::post(hook.as_str())
                    .header("host", addr.as_str())
                    .header("content-type", "application/json")
                    .header(api::SIGNATURE_HEADER, sig)
                    .body(http_body_util::Full::new(bytes::Bytes::from(body)));
                let ok = match req {
                    Ok(r) => match sender.send_request(r).await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            http_body_util::BodyExt::collect(resp.into_body())
                                .await
                                .is_ok()
                                && ok
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                let took = (t0.elapsed().as_micros() - t) as u64;
                if let Ok(mut a) = acks.lock() {
                    if phase == 'A' {
                        a.a.push(took)
                    } else {
                        a.b.push(took);
                        a.b_at.push((t as u64, took));
                    }
                }
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                (ok, sender)
            }
        }
    };

    // Phase B first: the latency at a steady 1,000/s on a quiet server; the burst of phase A
    // leaves seconds of checkpoint I/O behind it that would be measured instead.
    println!(
        "phase B: {} messages/s for {} s …",
        args.rate, args.rate_secs
    );
    let total_b = args.rate * args.rate_secs;
    // Open loop: each request goes out at its scheduled time on a free connection.
    let (free_tx, mut free_rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..64 {
        free_tx.send(connect().await?)?;
    }
    let start_b = tokio::time::Instant::now();
    let mut handles = Vec::with_capacity(total_b as usize);
    for i in 0..total_b {
        tokio::time::sleep_until(start_b + Duration::from_micros(i * 1_000_000 / args.rate)).await;
        let sender = free_rx.recv().await.context("connection pool")?;
        let (post, free_tx) = (post.clone(), free_tx.clone());
        handles.push(tokio::spawn(async move {
            let (ok, sender) = post(sender, 'B').await;
            let _ = free_tx.send(sender);
            ok
        }));
    }
    let mut acked_b = 0;
    for h in handles {
        if h.await? {
            acked_b += 1;
        }
    }
    let elapsed_b = start_b.elapsed().as_secs_f64();

    // A pause, so phase A starts on a quiet server.
    tokio::time::sleep(Duration::from_secs(args.pause_secs)).await;

    // Phase A: closed loop, as fast as the server acknowledges.
    println!(
        "phase A: {} connections for {} s …",
        args.connections, args.secs
    );
    let deadline = Instant::now() + Duration::from_secs(args.secs);
    let started = Instant::now();
    let cpu_before = cpu_secs(pid);
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            let (post, connect) = (post.clone(), connect.clone());
            tokio::spawn(async move {
                let mut ok = 0u64;
                let Ok(mut sender) = connect().await else {
                    return 0;
                };
                while Instant::now() < deadline {
                    let (sent, s) = post(sender, 'A').await;
                    sender = s;
                    ok += u64::from(sent);
                }
                ok
            })
        })
        .collect();
    let mut acked = 0;
    for t in tasks {
        acked += t.await?;
    }
    let elapsed_a = started.elapsed().as_secs_f64();
    let server_cpu_a = cpu_secs(pid) - cpu_before;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let peak_rss_kb = proc_status(pid, "VmHWM:").unwrap_or(0);
    reader.abort();

    let (mut a, mut b) = {
        let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (s.a.clone(), s.b.clone())
    };
    a.sort_unstable();
    b.sort_unstable();
    let (mut ack_a, mut ack_b) = {
        let s = acks.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (s.a.clone(), s.b.clone())
    };
    ack_a.sort_unstable();
    ack_b.sort_unstable();
    if std::env::var_os("PARLEY_BENCH_SLOW").is_some() {
        let s = acks.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let mut slow: Vec<_> = s.b_at.iter().filter(|(_, l)| *l > 5_000).collect();
        slow.sort();
        for (at, l) in slow {
            eprintln!(
                "slow: at {:.3} s, {:.1} ms",
                *at as f64 / 1e6,
                *l as f64 / 1e3
            );
        }
    }
    let backend = if args.postgres.is_some() {
        "postgres".to_string()
    } else {
        format!("sqlite (synchronous={})", args.sqlite_sync)
    };
    println!();
    println!("backend:                          {backend}");
    println!(
        "automation rules:                 {} (none fire)",
        args.rules
    );
    println!("phase A throughput:               {:.0} messages/s ({acked} acknowledged in {elapsed_a:.1} s, {} connections)", acked as f64 / elapsed_a, args.connections);
    println!(
        "phase A server CPU:               {:.0} µs per message ({:.0}% of one core)",
        server_cpu_a * 1e6 / acked.max(1) as f64,
        server_cpu_a * 100.0 / elapsed_a
    );
    println!("phase A request→socket latency:   p50 {:.2} ms, p99 {:.2} ms ({} of {acked} seen on the socket)", percentile(&a, 0.5), percentile(&a, 0.99), a.len());
    println!(
        "phase A request→acknowledgement:  p50 {:.2} ms, p99 {:.2} ms",
        percentile(&ack_a, 0.5),
        percentile(&ack_a, 0.99)
    );
    println!("phase B offered / acknowledged:   {} messages/s, {acked_b} of {total_b} in {elapsed_b:.1} s", args.rate);
    println!(
        "phase B request→socket latency:   p50 {:.2} ms, p99 {:.2} ms ({} seen)",
        percentile(&b, 0.5),
        percentile(&b, 0.99),
        b.len()
    );
    println!(
        "phase B request→acknowledgement:  p50 {:.2} ms, p99 {:.2} ms",
        percentile(&ack_b, 0.5),
        percentile(&ack_b, 0.99)
    );
    println!(
        "server RSS:                       idle {:.1} MB, peak {:.1} MB",
        idle_rss_kb as f64 / 1024.0,
        peak_rss_kb as f64 / 1024.0
    );
    println!(
        "failed requests:                  {}",
        failures.load(Ordering::Relaxed)
    );
    Ok(())
}

fn sqlite_raw(secs: u64) -> anyhow::Result<()> {
    let data = "x".repeat(400);
    println!("raw SQLite inserts (WAL), an event-sized row (~550 bytes), {secs} s each:");
    for (label, sync, batch) in [
        ("1 row per transaction, synchronous=FULL", "FULL", 1),
        ("1 row per transaction, synchronous=NORMAL", "NORMAL", 1),
        ("100 rows per transaction, synchronous=FULL", "FULL", 100),
        ("1000 rows per transaction, synchronous=FULL", "FULL", 1000),
    ] {
        let dir = tempfile::tempdir()?;
        let mut conn = rusqlite::Connection::open(dir.path().join("raw.db"))?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync};
             CREATE TABLE event (seq INTEGER PRIMARY KEY AUTOINCREMENT, workspace_id TEXT, inbox_id TEXT, conversation_id TEXT,
                                 kind TEXT, message_id TEXT, at INTEGER, data TEXT);
             CREATE INDEX event_conv ON event (conversation_id, seq);"
        ))?;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut rows = 0u64;
        while Instant::now() < deadline {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached("INSERT INTO event (workspace_id, inbox_id, conversation_id, kind, message_id, at, data) VALUES (?1, ?2, ?3, 'message.created', ?4, ?5, ?6)")?;
                for _ in 0..batch {
                    let id = uuid::Uuid::now_v7().to_string();
                    stmt.execute(rusqlite::params![id, id, id, id, rows as i64, data])?;
                    rows += 1;
                }
            }
            tx.commit()?;
        }
        println!(
            "  {label:<48} {:>9.0} rows/s",
            rows as f64 / started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
