//! `parley simulate`: plays one or many customers against a running server through the API
//! channel, and prints what the business answers (received at a callback URL it serves itself).

use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_channels::api;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// The server to talk to
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "PARLEY_URL")]
    url: String,
    /// An admin's personal API token (create one with `parley token create --email …`)
    #[arg(long, env = "PARLEY_TOKEN", hide_env_values = true)]
    token: String,
    /// Name of the API inbox to use (created if missing)
    #[arg(long, default_value = "Simulator")]
    inbox: String,
    /// How many customers to play
    #[arg(long, default_value_t = 1)]
    customers: u32,
    /// Messages each customer sends
    #[arg(long, default_value_t = 1)]
    messages: u32,
    /// Pause between messages, in milliseconds
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
    /// Read lines from standard input and send each as customer 1
    #[arg(long)]
    interactive: bool,
    /// Stop after this many seconds of listening for answers (default: until Ctrl-C)
    #[arg(long)]
    listen_secs: Option<u64>,
    /// Address for the callback listener (the server must reach it)
    #[arg(long, default_value = "127.0.0.1:0")]
    callback_bind: std::net::SocketAddr,
}

const LINES: &[&str] = &[
    "Hi! My order hasn't arrived yet.",
    "Can I change the delivery address?",
    "Do you ship to Canada?",
    "The app says my card was declined, but I was charged.",
    "Thanks, that helps!",
];

async fn callback(State(secret): State<String>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let sig = headers
        .get(api::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    if api::verify(&secret, sig, &body).is_err() {
        eprintln!("! a callback arrived with a bad signature; ignored");
        return StatusCode::FORBIDDEN;
    }
    match serde_json::from_slice::<api::ApiOutbound>(&body) {
        Ok(m) => {
            println!("business → {}: {}", m.contact.id, m.text);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn api_call(client: &reqwest::Client, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let _ = client;
    let resp = req.send().await.context("reaching the server")?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = body["error"]["message"].as_str().unwrap_or("no details");
        anyhow::bail!("the server answered {status}: {msg}");
    }
    Ok(body)
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_string();
    let client = reqwest::Client::new();
    let auth = format!("Bearer {}", args.token);

    let listener = tokio::net::TcpListener::bind(args.callback_bind)
        .await
        .context("starting the callback listener")?;
    let callback_url = format!("http://{}/callback", listener.local_addr()?);

    let inboxes = api_call(
        &client,
        client
            .get(format!("{base}/api/v1/inboxes"))
            .header("authorization", &auth),
    )
    .await?;
    let existing = inboxes["items"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|i| i["name"] == args.inbox.as_str() && i["kind"] == "api")
        })
        .cloned();
    let inbox = match existing {
        Some(i) => {
            let id = i["id"].as_str().unwrap_or_default();
            let body = json!({ "callback_url": callback_url });
            api_call(
                &client,
                client
                    .patch(format!("{base}/api/v1/inboxes/{id}"))
                    .header("authorization", &auth)
                    .json(&body),
            )
            .await?
        }
        None => {
            let body = json!({ "name": args.inbox, "kind": "api", "callback_url": callback_url });
            api_call(
                &client,
                client
                    .post(format!("{base}/api/v1/inboxes"))
                    .header("authorization", &auth)
                    .json(&body),
            )
            .await?
        }
    };
    let inbox_id = inbox["id"]
        .as_str()
        .context("the server sent no inbox id")?
        .to_string();
    let secret = inbox["secret"]
        .as_str()
        .context("the inbox secret is shown to admins only: use an admin's token")?
        .to_string();
    println!(
        "Using inbox {:?} ({inbox_id}); answers arrive at {callback_url}",
        args.inbox
    );

    let app = axum::Router::new()
        .route("/callback", axum::routing::post(callback))
        .with_state(secret.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let hook = format!("{base}/hooks/api/{inbox_id}");
    let run_id = std::process::id();
    let send = |customer: u32, seq: u64, text: String| {
        let (client, hook, secret) = (client.clone(), hook.clone(), secret.clone());
        async move {
            let body = json!({
                "id": format!("sim-{run_id}-{customer}-{seq}"),
                "contact": { "id": format!("customer-{customer}"), "name": format!("Customer {customer}") },
                "text": text,
            })
            .to_string();
            let sig = api::sign(&secret, body.as_bytes());
            let r = client
                .post(&hook)
                .header("content-type", "application/json")
                .header(api::SIGNATURE_HEADER, sig)
                .body(body)
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => println!("customer-{customer} → {text}"),
                Ok(r) => eprintln!("! customer-{customer}: the server answered {}", r.status()),
                Err(e) => eprintln!("! customer-{customer}: {e}"),
            }
        }
    };

    if args.interactive {
        println!("Type a message and press Enter to send it as customer-1 (Ctrl-D to stop).");
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut seq = 0u64;
        while let Some(line) = lines.next_line().await? {
            if !line.trim().is_empty() {
                seq += 1;
                send(1, seq, line).await;
            }
        }
        return Ok(());
    }

    for m in 0..args.messages {
        let batch: Vec<_> = (1..=args.customers)
            .map(|c| {
                send(
                    c,
                    u64::from(m),
                    LINES[(m as usize + c as usize) % LINES.len()].to_string(),
                )
            })
            .collect();
        futures_util::future::join_all(batch).await;
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
    println!("Waiting for the business to answer (reply in Parley; Ctrl-C to stop)…");
    match args.listen_secs {
        Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    Ok(())
}
