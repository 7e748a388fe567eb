//! Email inboxes as the server sees them: their settings (the support address, the outgoing SMTP
//! relay, an optional IMAP mailbox), storing a received mail in the right conversation (the SMTP
//! listener and the IMAP poller share this), and what a reply by email needs from the store.

pub mod imap;
pub mod received;
pub mod replies;
pub mod settings;
pub mod smtp;

use parley_channels::settings::EmailSettings;
use parley_channels::ChannelKind;
use parley_store::{InboxRow, Scope};
use serde::Deserialize;
use serde_json::Value;

/// The inbox kind of a mailbox.
pub const KIND: &str = ChannelKind::Email.as_str();

fn setting<'a>(inbox: &'a InboxRow, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(&inbox.settings, |v, k| v.get(k))
}

fn text_setting<'a>(inbox: &'a InboxRow, path: &[&str]) -> &'a str {
    setting(inbox, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn system_scope(inbox: &InboxRow) -> Scope {
    Scope::parley(inbox.workspace_id)
}

/// The typed view of an email inbox's settings (defaults where they cannot be read).
fn settings_of(inbox: &InboxRow) -> EmailSettings<'_> {
    EmailSettings::deserialize(&inbox.settings).unwrap_or_default()
}
