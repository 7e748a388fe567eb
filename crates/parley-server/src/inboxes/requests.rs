//! What an admin sends to add or edit an inbox: its name, kind, rate limit, and the settings of
//! its channel (credentials, addresses, a widget's look), each optional on an edit.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::inboxes::email::settings::{ImapFields, SmtpFields};
use crate::inboxes::settings::MAX_RATE;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInboxRequest {
    pub(super) name: String,
    #[schemars(extend("enum" = ["api", "twilio", "telegram", "whatsapp", "messenger", "instagram", "line", "widget", "email"]))]
    pub(super) kind: String,
    /// `api`: where replies are posted.
    #[serde(default)]
    pub(super) callback_url: Option<String>,
    /// `twilio`: the account, its auth token, the sending number (or Messaging Service sid), and
    /// the API's base URL (for tests and Twilio-compatible providers).
    #[serde(default)]
    pub(super) account_sid: Option<String>,
    #[serde(default)]
    pub(super) auth_token: Option<String>,
    #[serde(default)]
    pub(super) from: Option<String>,
    #[serde(default)]
    pub(super) api_base_url: Option<String>,
    /// Messages per second this sender may send (absent: unlimited).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = MAX_RATE), description = "Messages per second this sender may send; null or 0: unlimited")]
    pub(super) rate_limit: Option<f64>,
    /// `twilio`: Twilio answers STOP, START and HELP itself (its default opt-out handling; the
    /// default here). `false` when the account turned that off, so Parley answers them.
    #[serde(default)]
    pub(super) answers_keywords: Option<bool>,
    /// Telegram, WhatsApp, Messenger, Instagram, LINE credentials (see `channels::settings`).
    #[serde(default)]
    pub(super) bot_token: Option<String>,
    #[serde(default)]
    pub(super) access_token: Option<String>,
    #[serde(default)]
    pub(super) app_secret: Option<String>,
    #[serde(default)]
    pub(super) channel_secret: Option<String>,
    #[serde(default)]
    pub(super) phone_number_id: Option<String>,
    #[serde(default)]
    pub(super) page_id: Option<String>,
    #[serde(default)]
    pub(super) graph_version: Option<String>,
    #[serde(default)]
    pub(super) waba_id: Option<String>,
    /// `widget`: the site that embeds it, greeting, colour, pre-chat form (`widget::WidgetFields`).
    #[serde(default)]
    pub(super) website_url: Option<String>,
    #[serde(default)]
    pub(super) greeting: Option<String>,
    #[serde(default)]
    pub(super) color: Option<String>,
    #[serde(default)]
    #[schemars(extend("items" = { "type": "string", "enum": ["name", "email", "phone"] }))]
    pub(super) prechat_fields: Option<Vec<String>>,
    /// `email`: the support address, the sender name, the outgoing relay and a mailbox to poll.
    #[serde(default)]
    pub(super) address: Option<String>,
    #[serde(default)]
    pub(super) from_name: Option<String>,
    #[serde(default)]
    pub(super) smtp: Option<SmtpFields>,
    #[serde(default)]
    pub(super) imap: Option<ImapFields>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInboxRequest {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) callback_url: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schemars(with = "Option<f64>", range(min = 0.0, max = MAX_RATE), description = "Messages per second this sender may send; null or 0: unlimited")]
    pub(super) rate_limit: Option<Option<f64>>,
    /// `widget`: the site that embeds it, greeting, colour, pre-chat form (`widget::WidgetFields`).
    #[serde(default)]
    pub(super) website_url: Option<String>,
    #[serde(default)]
    pub(super) greeting: Option<String>,
    #[serde(default)]
    pub(super) color: Option<String>,
    #[serde(default)]
    #[schemars(extend("items" = { "type": "string", "enum": ["name", "email", "phone"] }))]
    pub(super) prechat_fields: Option<Vec<String>>,
    /// Channel credentials and addresses, named as when adding the inbox; those left out keep
    /// their stored values.
    #[serde(default)]
    pub(super) account_sid: Option<String>,
    #[serde(default)]
    pub(super) auth_token: Option<String>,
    #[serde(default)]
    pub(super) from: Option<String>,
    #[serde(default)]
    pub(super) api_base_url: Option<String>,
    #[serde(default)]
    pub(super) answers_keywords: Option<bool>,
    #[serde(default)]
    pub(super) bot_token: Option<String>,
    #[serde(default)]
    pub(super) access_token: Option<String>,
    #[serde(default)]
    pub(super) app_secret: Option<String>,
    #[serde(default)]
    pub(super) channel_secret: Option<String>,
    #[serde(default)]
    pub(super) phone_number_id: Option<String>,
    #[serde(default)]
    pub(super) page_id: Option<String>,
    #[serde(default)]
    pub(super) graph_version: Option<String>,
    #[serde(default)]
    pub(super) waba_id: Option<String>,
    #[serde(default)]
    pub(super) address: Option<String>,
    #[serde(default)]
    pub(super) from_name: Option<String>,
    #[serde(default)]
    pub(super) smtp: Option<SmtpFields>,
    #[serde(default)]
    pub(super) imap: Option<ImapFields>,
}

impl UpdateInboxRequest {
    /// The channel fields the edit gives, by name.
    pub(super) fn channel_fields(&self) -> Vec<&'static str> {
        [
            ("account_sid", self.account_sid.is_some()),
            ("auth_token", self.auth_token.is_some()),
            ("from", self.from.is_some()),
            ("api_base_url", self.api_base_url.is_some()),
            ("answers_keywords", self.answers_keywords.is_some()),
            ("bot_token", self.bot_token.is_some()),
            ("access_token", self.access_token.is_some()),
            ("app_secret", self.app_secret.is_some()),
            ("channel_secret", self.channel_secret.is_some()),
            ("phone_number_id", self.phone_number_id.is_some()),
            ("page_id", self.page_id.is_some()),
            ("graph_version", self.graph_version.is_some()),
            ("waba_id", self.waba_id.is_some()),
            ("address", self.address.is_some()),
            ("from_name", self.from_name.is_some()),
            ("smtp", self.smtp.is_some()),
            ("imap", self.imap.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }

    /// What the audit log keeps of an edit: which settings it changed, not their values.
    pub fn audit_detail(&self) -> Value {
        json!({ "name": self.name, "callback_url": self.callback_url, "rate_limit": self.rate_limit, "widget": !self.widget().is_empty(), "channel": self.channel_fields() })
    }
}

macro_rules! widget_fields_of {
    ($t:ty) => {
        impl WidgetRequest for $t {
            fn widget(&self) -> crate::inboxes::widget::settings::WidgetFields {
                crate::inboxes::widget::settings::WidgetFields {
                    website_url: self.website_url.clone(),
                    greeting: self.greeting.clone(),
                    color: self.color.clone(),
                    prechat_fields: self.prechat_fields.clone(),
                }
            }
        }
    };
}

/// The widget's settings a request gives.
pub(super) trait WidgetRequest {
    fn widget(&self) -> crate::inboxes::widget::settings::WidgetFields;
}
widget_fields_of!(CreateInboxRequest);
widget_fields_of!(UpdateInboxRequest);
