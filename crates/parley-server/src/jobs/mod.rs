//! Background work: the outbox dispatcher (`dispatch`), durable timers (`timers`: snooze wake-ups,
//! scheduled sends, rules' time triggers), retention, this node's heartbeat (`nodes`), and the
//! other loops a serving node runs.

use std::time::Duration;

use crate::state::App;

mod dispatch;
pub mod nodes;
pub mod pacer;
pub mod timers;

use dispatch::dispatch_loop;
pub use dispatch::run_due_deliveries;
pub use timers::run_due_timers;

/// Deletes the content of messages older than each workspace's retention period, and their files;
/// returns how many messages it emptied. Safe to run on several nodes at once.
pub async fn run_retention(app: &App) -> anyhow::Result<usize> {
    let now = app.now();
    let mut total = 0;
    for ws in app.store.list_workspaces().await? {
        let days = crate::compliance::settings::Settings::of(&ws).retention_days;
        if days == 0 {
            continue;
        }
        let before = now.plus_millis(-i64::from(days) * 86_400_000);
        loop {
            let gone = app.store.expire_messages(ws.id, before, 500, now).await?;
            if gone.is_empty() {
                break;
            }
            total += gone.len();
            for m in &gone {
                for file in &m.attachments {
                    // A file left behind is found by no message; the next run does not retry it.
                    if let Err(e) =
                        crate::conversations::attachments::delete(app, ws.id, m.inbox_id, file)
                            .await
                    {
                        tracing::warn!(error = %e, message = %m.id, "could not delete an expired file");
                    }
                }
            }
        }
    }
    if total > 0 {
        tracing::info!(messages = total, "retention emptied old messages");
    }
    Ok(total)
}

async fn retention_loop(app: App) {
    loop {
        if let Err(e) = run_retention(&app).await {
            tracing::error!(error = %e, "the retention job failed");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Starts the background workers; they stop when the runtime does.
pub fn spawn(app: &App) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(dispatch_loop(app.clone())),
        tokio::spawn(timers::timer_loop(app.clone())),
        tokio::spawn(retention_loop(app.clone())),
        tokio::spawn(crate::account::keys::refresh_loop(app.clone())),
        tokio::spawn(nodes::beat_loop(app.clone())),
        tokio::spawn(crate::inboxes::email::imap::poll_loop(
            app.clone(),
            Duration::from_secs(app.config.imap_poll_secs.max(5)),
        )),
    ]
}
