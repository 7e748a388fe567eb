//! A rule's webhook action: the event POSTed to the admin's URL, signed like the API channel
//! (`X-Parley-Signature: sha256=HMAC(secret, "{timestamp}.{body}")` with `X-Parley-Timestamp`),
//! under the workspace's webhook secret; a durable timer carries each attempt, so a failed call is
//! retried with backoff, across restarts, until it is accepted or `MAX_ATTEMPTS` have failed.

use axum::extract::State;
use parley_core::ids::WorkspaceId;
use parley_store::{NewTimer, StoreError, TimerRow, WorkspaceRow};
use serde_json::{json, Value};

use crate::http::caller::{require_admin, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::state::App;

/// The timer kind of a webhook call.
pub const WEBHOOK_KIND: &str = "webhook";
/// Calls tried before one is given up (about a day of backoff).
const MAX_ATTEMPTS: u32 = 10;
const SETTINGS_KEY: &str = "automation_webhook_secret";

/// Queues the call: a timer due now, its first attempt.
pub async fn queue(app: &App, ws: WorkspaceId, url: &str, event: Value) -> Result<(), StoreError> {
    let body = event.to_string();
    let id = uuid::Uuid::now_v7();
    let timer = NewTimer {
        workspace: ws,
        key: format!("webhook:{id}:0"),
        kind: WEBHOOK_KIND.into(),
        due_at: app.now(),
        payload: json!({ "url": url, "body": body, "attempt": 0, "id": id }),
    };
    crate::jobs::timers::set(app, timer).await.map(drop)
}

fn secret_of(ws: &WorkspaceRow) -> Option<String> {
    ws.settings[SETTINGS_KEY].as_str().map(str::to_string)
}

/// The workspace's webhook secret, made on first use.
async fn secret(app: &App, ws: WorkspaceId) -> Result<String, StoreError> {
    let row = app.store.workspace(ws).await?;
    if let Some(s) = secret_of(&row) {
        return Ok(s);
    }
    let s = crate::account::auth::random_token();
    let mut doc = match row.settings.is_object() {
        true => row.settings.clone(),
        false => json!({}),
    };
    doc[SETTINGS_KEY] = json!(s);
    app.store.set_workspace_settings(ws, doc).await?;
    app.forget_workspace(ws);
    Ok(s)
}

/// One attempt. A failure sets the next attempt's timer (the current one then ends).
pub async fn deliver(app: &App, timer: &TimerRow) -> Result<(), StoreError> {
    let p = &timer.payload;
    let (Some(url), Some(body)) = (p["url"].as_str(), p["body"].as_str()) else {
        return Ok(());
    };
    let attempt = p["attempt"].as_u64().unwrap_or(0) as u32;
    let secret = secret(app, timer.workspace_id).await?;
    let ts = app.now().millis() / 1000;
    let sig = parley_channels::api::sign_at(&secret, ts, body.as_bytes());
    let sent = app
        .http
        .post(url)
        .header("content-type", "application/json")
        .header(parley_channels::api::SIGNATURE_HEADER, sig)
        .header(parley_channels::api::TIMESTAMP_HEADER, ts.to_string())
        .body(body.to_string())
        .send()
        .await;
    let failure = match sent {
        Ok(r) if r.status().is_success() => return Ok(()),
        Ok(r) => format!("answered {}", r.status()),
        Err(e) => e.to_string(),
    };
    if attempt + 1 >= MAX_ATTEMPTS {
        tracing::warn!(%url, attempts = attempt + 1, %failure, "a rule's webhook was given up");
        return Ok(());
    }
    let jitter: f64 = rand::random();
    let wait = parley_core::retry::backoff_ms(attempt, 30_000, 3_600_000, jitter);
    tracing::info!(%url, attempt, %failure, wait_ms = wait, "a rule's webhook is retried");
    let mut payload = p.clone();
    payload["attempt"] = json!(attempt + 1);
    let next = NewTimer {
        workspace: timer.workspace_id,
        key: format!("webhook:{}:{}", p["id"].as_str().unwrap_or(""), attempt + 1),
        kind: WEBHOOK_KIND.into(),
        due_at: app.now().plus_millis(wait),
        payload,
    };
    crate::jobs::timers::set(app, next).await.map(drop)
}

/// The secret a receiver checks the signature with.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SecretView {
    secret: String,
}

/// `GET /api/v1/automations/webhook-secret` (admins): the workspace's webhook signing secret.
pub async fn get_secret(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<SecretView>> {
    require_admin(&p)?;
    let secret = secret(&app, p.workspace_id).await?;
    Ok(Json(SecretView { secret }))
}
