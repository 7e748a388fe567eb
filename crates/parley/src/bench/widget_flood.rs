//! `parley bench widget-flood`: hundreds of widget sockets, each from its own address behind a
//! trusted proxy, sending messages and typing frames as fast as they can (no reconnecting once
//! closed), while a new customer writes every quarter second; reports how long an agent's socket
//! takes to show the customers' messages, how many flooders were stopped, and the server's peak
//! memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::{percentile, proc_status};

#[derive(clap::Args)]
pub struct WidgetFloodArgs {
    /// Flooding widget sockets
    #[arg(long, default_value_t = 500)]
    sockets: u32,
    /// Seconds of the flood
    #[arg(long, default_value_t = 10)]
    secs: u64,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn visitor(base: &str, inbox: &str, from: &str) -> anyhow::Result<Ws> {
    let url = format!("{}/widget/{inbox}/socket", base.replace("http://", "ws://"));
    let mut req = url.into_client_request()?;
    req.headers_mut().insert("x-forwarded-for", from.parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    Ok(ws)
}

/// Adds a widget inbox with the bench's token; its id.
pub(super) async fn widget_inbox(base: &str, token: &str) -> anyhow::Result<String> {
    let inbox: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/inboxes"))
        .bearer_auth(token)
        .json(&json!({ "name": "Website", "kind": "widget" }))
        .send()
        .await?
        .json()
        .await?;
    Ok(inbox["id"].as_str().context("no inbox id")?.to_string())
}

pub async fn widget_flood(args: WidgetFloodArgs) -> anyhow::Result<()> {
    let server = super::signin::start("trusted_proxies = [\"127.0.0.1/32\"]\n").await?;
    let (token, _, _) = super::set_up(&server.base).await?;
    let inbox = widget_inbox(&server.base, &token).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = proc_status(server.pid, "VmRSS:").unwrap_or(0);

    // The agent's socket: when each probe arrives.
    let ws_url = format!(
        "{}/api/v1/realtime?token={token}",
        server.base.replace("http://", "ws://")
    );
    let (agent, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .context("connecting the agent socket")?;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<u64>>> = Arc::default();
    let reader = {
        let (sent, latencies) = (sent.clone(), latencies.clone());
        tokio::spawn(async move {
            let (_, mut read) = agent.split();
            while let Some(Ok(msg)) = read.next().await {
                let Ok(text) = msg.to_text() else { continue };
                let Some(i) = text.find("\"body\":\"probe ") else {
                    continue;
                };
                let probe: String = text[i + 8..].chars().take_while(|c| *c != '"').collect();
                let at = sent.lock().ok().and_then(|mut s| s.remove(&probe));
                if let (Some(at), Ok(mut l)) = (at, latencies.lock()) {
                    l.push(at.elapsed().as_micros() as u64);
                }
            }
        })
    };

    let stop = Instant::now() + Duration::from_secs(args.secs);
    let (limited, refused, frames) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut floods = Vec::new();
    for n in 0..args.sockets {
        let (base, inbox) = (server.base.clone(), inbox.clone());
        let (limited, refused, frames) = (limited.clone(), refused.clone(), frames.clone());
        floods.push(tokio::spawn(async move {
            let from = format!("10.30.{}.{}", n / 250, n % 250 + 1);
            let Ok(ws) = visitor(&base, &inbox, &from).await else {
                refused.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let (mut write, mut read) = ws.split();
            let drain = tokio::spawn(async move {
                let mut stopped = false;
                while let Some(Ok(m)) = read.next().await {
                    if m.to_text().is_ok_and(|t| t.contains("rate_limited")) {
                        stopped = true;
                    }
                }
                stopped
            });
            let mut i = 0u64;
            while Instant::now() < stop {
                i += 1;
                let frame = if i.is_multiple_of(4) {
                    json!({ "type": "message", "text": format!("flood {n} {i}") })
                } else {
                    json!({ "type": "typing" })
                };
                if write
                    .send(Message::Text(frame.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
                frames.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
            let _ = write.close().await;
            let stopped = tokio::time::timeout(Duration::from_secs(5), drain).await;
            if matches!(stopped, Ok(Ok(true))) {
                limited.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Customers: a new one every quarter second, each writing once (one customer writing that
    // often would be over the per-visitor rate).
    let mut customers = Vec::new();
    let mut i = 0u32;
    while Instant::now() < stop {
        i += 1;
        let from = format!("192.0.{}.{}", 2 + i / 250, i % 250 + 1);
        let mut customer = visitor(&server.base, &inbox, &from).await?;
        let probe = format!("probe {i}");
        if let Ok(mut s) = sent.lock() {
            s.insert(probe.clone(), Instant::now());
        }
        let frame = json!({ "type": "message", "text": probe });
        customer
            .send(Message::Text(frame.to_string().into()))
            .await?;
        customers.push(customer);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for f in floods {
        let _ = f.await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let peak_rss = proc_status(server.pid, "VmHWM:").unwrap_or(0);
    reader.abort();
    let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_unstable();
    let lost = sent.lock().map(|s| s.len()).unwrap_or(0);
    println!(
        "widget flood: {} sockets for {} s, each from its own address",
        args.sockets, args.secs
    );
    println!(
        "  frames sent {}, sockets closed as rate-limited {}, connections refused {}",
        frames.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    println!(
        "  customer's message to the agent's socket: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} arrived, {} not)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        lat.len(),
        lost
    );
    println!(
        "  server RSS: idle {} MiB, peak {} MiB",
        idle_rss / 1024,
        peak_rss / 1024
    );
    Ok(())
}
