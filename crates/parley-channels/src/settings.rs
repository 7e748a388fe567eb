//! Each channel's settings: a typed view of what an inbox stores (`inbox.settings`, whose JSON
//! shape does not change) and the credential rules a new or edited inbox passes. Views borrow
//! from the stored JSON, so reading them on every send allocates nothing.

use serde::Deserialize;
use serde_json::Value;

use crate::kind::ChannelKind;

mod credentials;

pub use credentials::{http_url, new_settings, Credentials};

/// A setting that breaks its channel's rules: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

impl SettingsError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        SettingsError {
            field,
            message: message.into(),
        }
    }
}

/// The API channel: where replies are posted (none until the integrator gives one).
#[derive(Debug, Default, Deserialize)]
pub struct ApiSettings<'a> {
    #[serde(borrow, default)]
    pub callback_url: Option<&'a str>,
}

/// Twilio: the account, the sending number or Messaging Service, the API's address. The auth
/// token is the inbox's secret.
#[derive(Debug, Default, Deserialize)]
pub struct TwilioSettings<'a> {
    #[serde(borrow, default)]
    pub account_sid: &'a str,
    #[serde(borrow, default)]
    pub from: &'a str,
    #[serde(borrow, default)]
    pub api_base_url: Option<&'a str>,
    /// Twilio answers STOP, START and HELP itself unless the account turned that off.
    #[serde(default)]
    pub provider_answers_keywords: Option<bool>,
}

/// Telegram: the Bot API's address and the bot's token.
#[derive(Debug, Default, Deserialize)]
pub struct TelegramSettings<'a> {
    #[serde(borrow, default)]
    pub api_base_url: &'a str,
    #[serde(borrow, default)]
    pub credentials: TelegramCredentials<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TelegramCredentials<'a> {
    #[serde(borrow, default)]
    pub bot_token: &'a str,
}

/// WhatsApp, Messenger and Instagram: the Graph API's address and version, the number
/// (WhatsApp) or page (Messenger, Instagram) that sends, and the token. The app secret is the
/// inbox's secret.
#[derive(Debug, Default, Deserialize)]
pub struct MetaSettings<'a> {
    #[serde(borrow, default)]
    pub phone_number_id: &'a str,
    #[serde(borrow, default)]
    pub page_id: &'a str,
    /// WhatsApp: the business account whose templates the composer lists.
    #[serde(borrow, default)]
    pub waba_id: &'a str,
    #[serde(borrow, default)]
    pub api_base_url: &'a str,
    #[serde(borrow, default)]
    pub graph_version: &'a str,
    #[serde(borrow, default)]
    pub credentials: MetaCredentials<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MetaCredentials<'a> {
    #[serde(borrow, default)]
    pub access_token: &'a str,
    /// What Meta's subscription handshake must quote.
    #[serde(borrow, default)]
    pub verify_token: &'a str,
}

/// LINE: the Messaging API's address and the channel access token. The channel secret is the
/// inbox's secret.
#[derive(Debug, Default, Deserialize)]
pub struct LineSettings<'a> {
    #[serde(borrow, default)]
    pub api_base_url: &'a str,
    #[serde(borrow, default)]
    pub credentials: LineCredentials<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LineCredentials<'a> {
    #[serde(borrow, default)]
    pub access_token: &'a str,
}

/// Email: the support address, the sender name, the relay replies go out through and the
/// mailbox polled for mail (how far it was read is the server's, under `imap_state`).
#[derive(Debug, Default, Deserialize)]
pub struct EmailSettings<'a> {
    #[serde(borrow, default)]
    pub address: &'a str,
    #[serde(borrow, default)]
    pub from_name: &'a str,
    #[serde(borrow, default)]
    pub smtp: SmtpSettings<'a>,
    /// The mailbox polled for mail, when the inbox has one.
    #[serde(borrow, default)]
    pub imap: Option<ImapSettings<'a>>,
    #[serde(borrow, default)]
    pub credentials: EmailCredentials<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ImapSettings<'a> {
    #[serde(borrow, default)]
    pub host: &'a str,
    #[serde(default)]
    pub port: Option<u64>,
    #[serde(default)]
    pub tls: Option<bool>,
    #[serde(borrow, default)]
    pub username: &'a str,
    #[serde(borrow, default)]
    pub mailbox: &'a str,
}

#[derive(Debug, Default, Deserialize)]
pub struct SmtpSettings<'a> {
    #[serde(borrow, default)]
    pub host: &'a str,
    #[serde(default)]
    pub port: Option<u64>,
    /// `starttls` (the default), `tls` or `none`.
    #[serde(borrow, default)]
    pub security: &'a str,
    #[serde(borrow, default)]
    pub username: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct EmailCredentials<'a> {
    #[serde(borrow, default)]
    pub smtp_password: Option<&'a str>,
    #[serde(borrow, default)]
    pub imap_password: Option<&'a str>,
}

/// An inbox's settings, read as its kind says.
#[derive(Debug)]
pub enum Settings<'a> {
    Api(ApiSettings<'a>),
    Twilio(TwilioSettings<'a>),
    Telegram(TelegramSettings<'a>),
    Whatsapp(MetaSettings<'a>),
    Messenger(MetaSettings<'a>),
    Instagram(MetaSettings<'a>),
    Line(LineSettings<'a>),
    Email(EmailSettings<'a>),
    /// The widget's settings (origin, greeting, colour, pre-chat form) are the server's.
    Widget,
}

impl<'a> Settings<'a> {
    /// Reads stored settings. The kind is the tag: it lives in its own column, so the stored
    /// JSON carries none. A field of the wrong type is an error, a missing one its default.
    pub fn read(kind: ChannelKind, stored: &'a Value) -> Result<Self, serde_json::Error> {
        use serde::de::Deserialize as _;
        Ok(match kind {
            ChannelKind::Api => Settings::Api(ApiSettings::deserialize(stored)?),
            ChannelKind::Twilio => Settings::Twilio(TwilioSettings::deserialize(stored)?),
            ChannelKind::Telegram => Settings::Telegram(TelegramSettings::deserialize(stored)?),
            ChannelKind::Whatsapp => Settings::Whatsapp(MetaSettings::deserialize(stored)?),
            ChannelKind::Messenger => Settings::Messenger(MetaSettings::deserialize(stored)?),
            ChannelKind::Instagram => Settings::Instagram(MetaSettings::deserialize(stored)?),
            ChannelKind::Line => Settings::Line(LineSettings::deserialize(stored)?),
            ChannelKind::Email => Settings::Email(EmailSettings::deserialize(stored)?),
            ChannelKind::Widget => Settings::Widget,
        })
    }

    pub fn kind(&self) -> ChannelKind {
        match self {
            Settings::Api(_) => ChannelKind::Api,
            Settings::Twilio(_) => ChannelKind::Twilio,
            Settings::Telegram(_) => ChannelKind::Telegram,
            Settings::Whatsapp(_) => ChannelKind::Whatsapp,
            Settings::Messenger(_) => ChannelKind::Messenger,
            Settings::Instagram(_) => ChannelKind::Instagram,
            Settings::Line(_) => ChannelKind::Line,
            Settings::Email(_) => ChannelKind::Email,
            Settings::Widget => ChannelKind::Widget,
        }
    }

    /// The Graph API settings of a WhatsApp, Messenger or Instagram inbox.
    pub fn meta(&self) -> Option<&MetaSettings<'a>> {
        match self {
            Settings::Whatsapp(m) | Settings::Messenger(m) | Settings::Instagram(m) => Some(m),
            _ => None,
        }
    }

    /// The setting that names the number or page a Meta event is for, and its value.
    pub fn meta_address(&self) -> Option<(&'static str, &'a str)> {
        match self {
            Settings::Whatsapp(m) => Some(("phone_number_id", m.phone_number_id)),
            Settings::Messenger(m) | Settings::Instagram(m) => Some(("page_id", m.page_id)),
            _ => None,
        }
    }
}

impl ChannelKind {
    /// The channel fields an inbox of this kind has, as the API names them.
    pub fn setting_fields(self) -> &'static [&'static str] {
        match self {
            ChannelKind::Twilio => &[
                "account_sid",
                "auth_token",
                "from",
                "api_base_url",
                "answers_keywords",
            ],
            ChannelKind::Telegram => &["bot_token", "api_base_url"],
            ChannelKind::Whatsapp => &[
                "phone_number_id",
                "access_token",
                "app_secret",
                "api_base_url",
                "graph_version",
                "waba_id",
            ],
            ChannelKind::Messenger | ChannelKind::Instagram => &[
                "page_id",
                "access_token",
                "app_secret",
                "api_base_url",
                "graph_version",
            ],
            ChannelKind::Line => &["channel_secret", "access_token", "api_base_url"],
            ChannelKind::Email => &["address", "from_name", "smtp", "imap"],
            ChannelKind::Api | ChannelKind::Widget => &[],
        }
    }

    /// The field whose value the inbox's secret column holds when it is the provider's own
    /// credential; `None` when the secret is ours (a signing key).
    pub fn secret_field(self) -> Option<&'static str> {
        match self {
            ChannelKind::Twilio => Some("auth_token"),
            ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => {
                Some("app_secret")
            }
            ChannelKind::Line => Some("channel_secret"),
            _ => None,
        }
    }

    /// The credential sent to `api_base_url`, which must be given again when that changes.
    pub fn base_url_credential(self) -> &'static str {
        match self {
            ChannelKind::Twilio => "auth_token",
            ChannelKind::Telegram => "bot_token",
            _ => "access_token",
        }
    }

    /// Whether a provider calls the inbox's webhook (the widget and email have none).
    pub fn has_webhook(self) -> bool {
        !matches!(self, ChannelKind::Widget | ChannelKind::Email)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stored_settings_read_as_their_kind() {
        let stored = json!({
            "phone_number_id": "123", "api_base_url": "https://graph.example", "graph_version": "v25.0",
            "credentials": { "access_token": "tok", "verify_token": "ver" }, "rate_limit": null,
        });
        let s = Settings::read(ChannelKind::Whatsapp, &stored).unwrap();
        assert_eq!(s.kind(), ChannelKind::Whatsapp);
        let m = s.meta().unwrap();
        assert_eq!((m.phone_number_id, m.graph_version), ("123", "v25.0"));
        assert_eq!(m.credentials.access_token, "tok");
        assert_eq!(s.meta_address(), Some(("phone_number_id", "123")));

        let stored = json!({ "callback_url": null });
        let api = Settings::read(ChannelKind::Api, &stored).unwrap();
        assert!(matches!(
            api,
            Settings::Api(ApiSettings { callback_url: None })
        ));
        let stored = json!({});
        let empty = Settings::read(ChannelKind::Telegram, &stored).unwrap();
        assert!(matches!(empty, Settings::Telegram(t) if t.credentials.bot_token.is_empty()));
        assert!(Settings::read(ChannelKind::Line, &json!({ "api_base_url": 5 })).is_err());
    }
}
