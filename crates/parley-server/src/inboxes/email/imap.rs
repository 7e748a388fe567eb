//! The IMAP poller: it reads each email inbox's mailbox in batches from where the last poll
//! stopped, stores each mail, and keeps its place in the inbox's settings.

use std::time::Duration;

use parley_channels::email;
use parley_channels::settings::ImapSettings;
use parley_store::{InboxPatch, InboxRow};
use serde::Deserialize;
use serde_json::{json, Value};

use super::received::{store, Refused};
use super::{settings_of, KIND};
use crate::state::App;

/// Polls the IMAP mailbox of every email inbox that has one once; returns how many mails were
/// stored. A mailbox that fails is logged and tried again next time; the others go on.
pub async fn poll(app: &App) -> anyhow::Result<usize> {
    let mut stored = 0;
    for inbox in app.store.inboxes_of_kind(KIND).await? {
        let Some(imap) = inbox.settings.get("imap").filter(|v| v.is_object()) else {
            continue;
        };
        // A backlog (a mailbox connected for the first time) is read in batches, a few per poll.
        for _ in 0..IMAP_BATCHES_PER_POLL {
            // Each batch starts from the state the previous one saved.
            let Some(current) = app.store.inbox_for_hook(inbox.id).await? else {
                break;
            };
            match poll_one(app, &current, imap).await {
                Ok((n, fetched)) => {
                    stored += n;
                    if fetched < IMAP_BATCH {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(inbox = %inbox.id, error = %e, "polling the IMAP mailbox failed");
                    break;
                }
            }
        }
    }
    Ok(stored)
}

/// Mails fetched at once, and batches read in one poll.
const IMAP_BATCH: usize = 25;
const IMAP_BATCHES_PER_POLL: usize = 40;

fn imap_account(app: &App, inbox: &InboxRow, imap: &Value) -> email::ImapAccount {
    let imap = ImapSettings::deserialize(imap).unwrap_or_default();
    email::imap_account(&settings_of(inbox), &imap, app.http.policy())
}

/// Reads one batch; returns how many mails were stored and how many were fetched.
async fn poll_one(app: &App, inbox: &InboxRow, imap: &Value) -> anyhow::Result<(usize, usize)> {
    let acct = imap_account(app, inbox, imap);
    let state = inbox.settings.get("imap_state");
    let validity = state
        .and_then(|v| v.get("uid_validity"))
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok());
    let last_uid = state
        .and_then(|v| v.get("last_uid"))
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0);
    let batch = email::fetch_since(&acct, validity, last_uid, IMAP_BATCH)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut last = if Some(batch.uid_validity) == validity {
        last_uid
    } else {
        0
    };
    let mut stored = 0;
    for (uid, raw) in &batch.messages {
        match store(app, inbox, raw).await {
            Ok(_) => stored += 1,
            Err(Refused::Automatic) => {}
            Err(Refused::Malformed(e)) => {
                tracing::warn!(inbox = %inbox.id, uid, error = %e, "skipped an unreadable mail");
            }
            // Stop here so this mail is fetched again next time; nothing after it is skipped.
            Err(Refused::Unavailable(e)) => {
                save_state(app, inbox, batch.uid_validity, last).await?;
                anyhow::bail!("storing mail {uid} failed: {e}");
            }
        }
        last = last.max(*uid);
    }
    save_state(app, inbox, batch.uid_validity, last).await?;
    Ok((stored, batch.messages.len()))
}

async fn save_state(
    app: &App,
    inbox: &InboxRow,
    validity: u32,
    last_uid: u32,
) -> anyhow::Result<()> {
    // Read the inbox afresh so a change an admin made meanwhile is kept.
    let Some(current) = app.store.inbox_for_hook(inbox.id).await? else {
        return Ok(());
    };
    let mut settings = current.settings.clone();
    let state = json!({ "uid_validity": validity, "last_uid": last_uid });
    if settings.get("imap_state") == Some(&state) {
        return Ok(());
    }
    settings["imap_state"] = state;
    app.store
        .update_inbox(
            inbox.workspace_id,
            inbox.id,
            InboxPatch {
                settings: Some(settings),
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}

/// Polls IMAP mailboxes every `every` until the runtime stops.
pub async fn poll_loop(app: App, every: Duration) {
    loop {
        if let Err(e) = poll(&app).await {
            tracing::error!(error = %e, "polling IMAP mailboxes failed");
        }
        tokio::time::sleep(every).await;
    }
}
