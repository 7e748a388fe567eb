//! The inboxes' answers as types: an inbox as the API shows it (with its outbox backlog for
//! admins), a connection test's verdict, and a WhatsApp inbox's templates.

use parley_channels::ChannelKind;
use parley_core::{InboxId, Timestamp};
use parley_store::{InboxRow, Principal};
use schemars::JsonSchema;
use serde::Serialize;

use crate::state::App;

/// An inbox as the API shows it: everyone sees the webhook URL; admins also see what they paste
/// into the provider's console. Fields in alphabetical order, the order this answer has always had.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InboxView {
    /// Admins: the inbox's outbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<BacklogView>,
    pub created_at: Timestamp,
    pub id: InboxId,
    pub kind: String,
    pub name: String,
    /// Admins, for the kinds whose signing secret is Parley's own (the API channel, Telegram).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The channel's settings, without its credentials (those are write-only).
    pub settings: serde_json::Value,
    /// Widgets: the tag a site embeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// Admins, Meta's channels: the token Meta's console asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<serde_json::Value>,
    /// Where the provider posts; absent for the kinds without a webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

/// An inbox's outbox: `queued` (waiting), `in_flight` (being sent) and the oldest due time.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BacklogView {
    pub in_flight: u64,
    pub oldest_due: Option<Timestamp>,
    pub queued: u64,
}

impl InboxView {
    /// An inbox as `p` sees it: everyone sees the webhook URL; admins also see what they paste
    /// into the provider's console (Meta's verify token, the API channel's signing secret,
    /// Telegram's `secret_token`). Provider credentials are write-only.
    pub fn of(app: &App, p: &Principal, i: &InboxRow) -> InboxView {
        // Send credentials live under `credentials`, which is never shown; the verify token is.
        let mut settings = i.settings.clone();
        let verify_token = settings
            .as_object_mut()
            .and_then(|o| o.remove("credentials"))
            .and_then(|c| c.get("verify_token").cloned());
        let kind = crate::inboxes::channels::kind_of(i);
        // These kinds have no webhook, and their secret is for the server alone.
        let internal = kind.is_some_and(|k| !k.has_webhook());
        // Elsewhere the secret column holds the provider's own credential (Twilio's auth token,
        // Meta's app secret, LINE's channel secret), which never leaves Parley again.
        let ours = kind.is_some_and(|k| k.has_webhook() && k.secret_field().is_none());
        let console = p.role.is_admin() && !internal;
        InboxView {
            backlog: None,
            created_at: i.created_at,
            id: i.id,
            kind: i.kind.clone(),
            name: i.name.clone(),
            secret: (console && ours).then(|| i.secret.clone()),
            settings,
            snippet: (kind == Some(ChannelKind::Widget))
                .then(|| crate::inboxes::widget::settings::snippet(app, i)),
            verify_token: verify_token.filter(|_| console),
            webhook_url: (!internal).then(|| {
                let base = app.config.public_url.trim_end_matches('/');
                format!("{base}/hooks/{}/{}", i.kind, i.id)
            }),
        }
    }
}

/// Whether the provider accepted the inbox's credentials, and what it answered. A refusal is an
/// answer (`ok: false`), not an error of the request.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectionTestView {
    pub ok: bool,
    /// The provider's answer: the account or bot it names, or why it refused.
    pub detail: String,
}

/// A WhatsApp inbox's approved message templates, as Meta lists them: name, language, category,
/// body and parameter names.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TemplatesView {
    pub items: Vec<serde_json::Value>,
}
