//! Replies by email: what one needs from the store (the customer's last mail to thread under,
//! the files to attach), and a widget visitor who left being answered by email.

use std::time::Duration;

use parley_channels::channel::Lookups;
use parley_channels::email;
use parley_channels::settings::Settings;
use parley_channels::{Channel, SendOutcome};
use parley_core::message::Direction;
use parley_store::OutboxJob;
use serde_json::Value;

use super::{settings_of, system_scope, KIND};
use crate::state::App;

/// The newest customer email in a conversation, whose subject and ids a reply carries.
async fn last_inbound_email(app: &App, job: &OutboxJob) -> Option<Value> {
    let scope = system_scope(&job.inbox);
    let entries = app
        .store
        .timeline(&scope, job.message.conversation_id, None, 200)
        .await
        .ok()?;
    entries.iter().rev().find_map(|e| {
        if e.event.kind != "message.created" {
            return None;
        }
        let v: Value = serde_json::from_str(&e.event.data).ok()?;
        let m = &v["message"];
        (m["direction"] == Direction::Inbound.as_str() && m["meta"]["email"].is_object())
            .then(|| m["meta"]["email"].clone())
    })
}

/// What a reply by email needs from the store: the customer's last mail, to thread under, and
/// the message's files, to attach (a link in a mail would outlive its signature).
pub async fn reply_lookups(
    app: &App,
    job: &OutboxJob,
    lookups: &mut Lookups,
) -> Result<(), SendOutcome> {
    lookups.parent_email = last_inbound_email(app, job).await;
    for a in crate::conversations::attachments::of_meta(job.message.meta.as_ref()) {
        match crate::conversations::attachments::bytes_of(app, &job.inbox, &a.id).await {
            Ok(bytes) => lookups.files.push(email::OutboundFile {
                filename: a.filename.unwrap_or_else(|| "attachment".into()),
                content_type: a.content_type,
                bytes,
            }),
            Err(e) => {
                return Err(SendOutcome::Transient(format!(
                    "reading an attachment: {e}"
                )))
            }
        }
    }
    Ok(())
}

/// Sends a widget reply by email to a visitor who has left, from the workspace's first email
/// inbox; their answer comes back to that inbox, on the same contact.
pub async fn send_to_visitor(app: &App, job: &OutboxJob, to: &str) -> SendOutcome {
    let inboxes = match app.store.inboxes_of_kind(KIND).await {
        Ok(i) => i,
        Err(e) => return SendOutcome::Transient(e.to_string()),
    };
    let Some(inbox) = inboxes
        .into_iter()
        .find(|i| i.workspace_id == job.inbox.workspace_id)
    else {
        return SendOutcome::Permanent("no email inbox to continue the chat by email".into());
    };
    let channel = Channel {
        settings: Settings::Email(settings_of(&inbox)),
        secret: &inbox.secret,
    };
    let text = crate::conversations::compose::plain_text(job);
    let visitor = email::Visitor {
        to,
        chat: &job.inbox.name,
        text: &text,
        conversation: job.message.conversation_id,
        message: job.message.id,
    };
    let timeout = Duration::from_millis(app.config.dispatch.timeout_ms);
    channel.send_to_visitor(&app.http, visitor, timeout).await
}
