//! The website chat widget: its settings and the `<script>` tag a business pastes into its site
//! (which loads `/widget.js`), and the visitor's WebSocket (`/widget/{inbox}/socket`). A visitor
//! is known by a token signed with the inbox's secret and kept in their browser, so their thread
//! survives page loads; they see agents' replies and typing live, and whether anyone is online.

pub mod admission;
mod frames;
pub mod limits;
pub mod settings;
pub mod socket;
mod tokens;
mod visitor;

use parley_store::{OutboxJob, Scope};

use crate::state::App;

/// The inbox kind of a website widget.
pub const KIND: &str = parley_channels::ChannelKind::Widget.as_str();

fn system_scope(inbox: &parley_store::InboxRow) -> Scope {
    Scope::parley(inbox.workspace_id)
}

/// Delivers an agent's reply to a visitor: their open socket shows it; when they have left and
/// gave an email address, it also goes by email.
pub async fn deliver(app: &App, job: &OutboxJob) -> parley_channels::SendOutcome {
    let here = app
        .visitors
        .lock()
        .map(|v| v.contains_key(&job.message.conversation_id))
        .unwrap_or(true);
    if !here {
        let email = app
            .store
            .contact(&system_scope(&job.inbox), job.contact_id)
            .await
            .ok()
            .and_then(|c| c.email);
        // By email, an opt-out from email applies too.
        // When the ledger cannot be read, no email goes.
        let may_email = app
            .store
            .consent_history(&system_scope(&job.inbox), job.contact_id)
            .await
            .map(|l| {
                let entries: Vec<_> = l.iter().map(|e| e.entry()).collect();
                parley_core::consent::may_reply(&entries, "email")
            })
            .unwrap_or(false);
        if let Some(to) = email.filter(|_| may_email) {
            let sent = crate::inboxes::email::replies::send_to_visitor(app, job, &to).await;
            if !matches!(sent, parley_channels::SendOutcome::Accepted { .. }) {
                // Not the relay's words: a refusal quotes the visitor's address.
                let permanent = matches!(sent, parley_channels::SendOutcome::Permanent(_));
                tracing::warn!(permanent, "could not email a reply to a visitor who left");
            }
        }
    }
    parley_channels::SendOutcome::Accepted {
        provider_id: Some(job.message.id.to_string()),
    }
}
