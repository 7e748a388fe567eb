//! `parley bench sockets`: what idle realtime sockets cost the server. Opens N agent sockets (one
//! API token) and M widget visitor sockets, and prints the server's RSS before, while they are
//! open, and after they have all closed.

use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::proc_status;

#[derive(clap::Args)]
pub struct SocketsArgs {
    /// Agent sockets (`/api/v1/realtime`), all with one API token
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Widget visitor sockets (`/widget/{inbox}/socket`)
    #[arg(long, default_value_t = 1_000)]
    widgets: usize,
    /// Sockets being opened at once
    #[arg(long, default_value_t = 64)]
    parallel: usize,
    /// Times to open and close them all (memory a round leaves behind shows in the next)
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// Seconds to wait after the last socket closed before measuring "after" (the allocator
    /// returns freed memory to the system after about ten)
    #[arg(long, default_value_t = 20)]
    settle_secs: u64,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Raises this process's open-file limit to its hard limit (the server, started after, inherits
/// it) and checks that both ends of every socket fit.
fn raise_fd_limit(sockets: usize) -> anyhow::Result<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    // An unlimited hard limit still stops at the kernel's nr_open, 1,048,576 by default.
    let hard = limit.maximum.unwrap_or(1 << 20);
    if limit.current.is_some_and(|soft| soft < hard) {
        limit.current = Some(hard);
        setrlimit(Resource::Nofile, limit).context("raising the open-file limit")?;
    }
    let have = limit.current.unwrap_or(u64::MAX);
    // Each process holds one end of every socket, plus its database, logs and listener.
    anyhow::ensure!(
        have >= sockets as u64 + 256,
        "{sockets} sockets need an open-file limit of at least {}, and this process may have {have} (ulimit -Hn)",
        sockets + 256
    );
    Ok(have)
}

/// Opens one socket and waits for its first frame (`ready` for an agent, `hello` for a visitor),
/// so the server has set it up completely.
async fn open(url: String) -> anyhow::Result<Ws> {
    // The bench's own end keeps small buffers too: 11,000 default ones would be 2.8 GB here.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .context("connecting")?;
    let first = tokio::time::timeout(Duration::from_secs(30), ws.next())
        .await
        .context("no first frame within 30 s")?
        .context("closed before its first frame")??;
    anyhow::ensure!(first.is_text(), "the first frame is not text");
    Ok(ws)
}

async fn open_all(urls: Vec<String>, parallel: usize) -> anyhow::Result<Vec<Ws>> {
    let opened: Vec<anyhow::Result<Ws>> = futures_util::stream::iter(urls.into_iter().map(open))
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    opened.into_iter().collect()
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

pub async fn sockets(args: SocketsArgs) -> anyhow::Result<()> {
    let total = args.agents + args.widgets;
    let fds = raise_fd_limit(total)?;
    // The bench's own settings: every socket comes from 127.0.0.1, and each widget socket is a new
    // visitor on that one address.
    let settings = format!(
        "[connections]\nmax_per_address = {}\n[widget]\nsockets_per_address = {}\n",
        total + 64,
        args.widgets + 1
    );
    let server = super::signin::start(&settings).await?;
    let (token, _, _) = super::set_up(&server.base).await?;
    let inbox = super::widget_flood::widget_inbox(&server.base, &token).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = || proc_status(server.pid, "VmRSS:").unwrap_or(0);
    let before = rss();

    let ws_base = server.base.replace("http://", "ws://");
    println!(
        "sockets: {} agent sockets (one API token) and {} widget sockets, open-file limit {fds}",
        args.agents, args.widgets
    );
    println!("  server RSS before:  {:>8.1} MiB", mib(before));
    for round in 1..=args.rounds.max(1) {
        let mut urls: Vec<String> = (0..args.agents)
            .map(|_| format!("{ws_base}/api/v1/realtime?token={token}"))
            .collect();
        urls.extend((0..args.widgets).map(|_| format!("{ws_base}/widget/{inbox}/socket")));
        let started = std::time::Instant::now();
        let open = open_all(urls, args.parallel)
            .await
            .context("opening the sockets")?;
        let opening = started.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let during = rss();

        let closing = std::time::Instant::now();
        futures_util::stream::iter(open)
            .for_each_concurrent(args.parallel.max(1), |mut ws| async move {
                let _ = ws.close(None).await;
                // Until the server's close answer or the end of the stream.
                while let Ok(Some(Ok(_))) =
                    tokio::time::timeout(Duration::from_secs(5), ws.next()).await
                {}
            })
            .await;
        let closed = closing.elapsed();
        tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
        let after = rss();
        println!(
            "  round {round}: opened in {:.1} s, closed in {:.1} s",
            opening.as_secs_f64(),
            closed.as_secs_f64()
        );
        println!(
            "    server RSS during:  {:>8.1} MiB  ({:.1} KiB a socket over before)",
            mib(during),
            during.saturating_sub(before) as f64 / total.max(1) as f64
        );
        println!(
            "    server RSS after:   {:>8.1} MiB  ({} s after the last socket closed)",
            mib(after),
            args.settle_secs
        );
    }
    let peak = proc_status(server.pid, "VmHWM:").unwrap_or(0);
    println!("  server RSS peak:    {:>8.1} MiB", mib(peak));
    Ok(())
}
