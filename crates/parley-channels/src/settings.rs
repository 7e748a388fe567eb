//! Each channel's settings: a typed view of what an inbox stores (`inbox.settings`, whose JSON
//! shape does not change) and the credential rules a new or edited inbox passes. Views borrow
//! from the stored JSON, so reading them on every send allocates nothing.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::kind::ChannelKind;

/// A setting that breaks its channel's rules: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

impl SettingsError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
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

/// What an admin gives to create a Twilio, Telegram, WhatsApp, Messenger, Instagram or LINE
/// inbox.
#[derive(Default)]
pub struct Credentials<'a> {
    /// Twilio: the account, its auth token, the sending number (or Messaging Service sid), and
    /// whether Twilio answers STOP, START and HELP itself (its default).
    pub account_sid: Option<&'a str>,
    pub auth_token: Option<&'a str>,
    pub from: Option<&'a str>,
    pub answers_keywords: Option<bool>,
    pub bot_token: Option<&'a str>,
    pub access_token: Option<&'a str>,
    pub app_secret: Option<&'a str>,
    pub channel_secret: Option<&'a str>,
    pub phone_number_id: Option<&'a str>,
    pub page_id: Option<&'a str>,
    /// The provider's API address, for tests and compatible providers (checked by `http_url`).
    pub api_base_url: Option<&'a str>,
    pub graph_version: Option<&'a str>,
    /// WhatsApp: the business account the number belongs to, whose approved templates the
    /// composer lists (optional).
    pub waba_id: Option<&'a str>,
}

/// Credentials are at most this long.
const MAX_CREDENTIAL: usize = 1024;

/// A credential of a new inbox: given, `min` to 1024 characters, without spaces. The minimums
/// (listed in README's channel table) catch a value pasted half or into the wrong field.
fn required<'a>(
    field: &'static str,
    v: Option<&'a str>,
    min: usize,
) -> Result<&'a str, SettingsError> {
    let v = v.map(str::trim).unwrap_or_default();
    let len = v.chars().count();
    let wrong = if v.is_empty() {
        format!("{field} is required for this kind of inbox")
    } else if v.chars().any(char::is_whitespace) {
        format!("{field} must not contain spaces or line breaks")
    } else if len < min {
        format!("{field} must be at least {min} characters; the one given has {len}")
    } else if len > MAX_CREDENTIAL {
        format!("{field} must be at most {MAX_CREDENTIAL} characters; the one given has {len}")
    } else {
        return Ok(v);
    };
    Err(SettingsError::new(field, wrong))
}

fn digits(field: &'static str, v: Option<&str>) -> Result<String, SettingsError> {
    let v = v.map(str::trim).unwrap_or_default();
    if v.is_empty() || v.len() > 32 || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(SettingsError::new(
            field,
            "must be the numeric id Meta shows",
        ));
    }
    Ok(v.to_string())
}

/// What a new Twilio, Telegram, WhatsApp, Messenger, Instagram or LINE inbox stores, and its
/// secret.
/// Send credentials go under `credentials`, which the API never shows again. `token` makes the
/// random token we hand the provider (Telegram's secret, Meta's verify token); `None` for the
/// kinds with other rules.
pub fn new_settings(
    kind: ChannelKind,
    c: &Credentials<'_>,
    token: impl FnOnce() -> String,
) -> Option<Result<(Value, String), SettingsError>> {
    let base = |default: &str| -> Result<String, SettingsError> {
        let given = c.api_base_url.map(http_url).transpose()?;
        Ok(given
            .unwrap_or_else(|| default.to_string())
            .trim_end_matches('/')
            .to_string())
    };
    // Twilio's own fields are checked before its base URL; the others' after it.
    Some(match kind {
        ChannelKind::Twilio => twilio_settings(c, || base("https://api.twilio.com")),
        ChannelKind::Telegram => {
            base("https://api.telegram.org").and_then(|b| telegram_settings(c, b, token))
        }
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => {
            base("https://graph.facebook.com").and_then(|b| meta_settings(kind, c, b, token))
        }
        ChannelKind::Line => base("https://api.line.me").and_then(|b| line_settings(c, b)),
        _ => return None,
    })
}

/// A callback or API address: absolute http(s).
pub fn http_url(url: &str) -> Result<String, SettingsError> {
    let wrong = || SettingsError::new("callback_url", "must be an absolute http(s) URL");
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| wrong())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(wrong());
    }
    Ok(parsed.to_string())
}

fn twilio_settings(
    c: &Credentials<'_>,
    base: impl FnOnce() -> Result<String, SettingsError>,
) -> Result<(Value, String), SettingsError> {
    let sid = c.account_sid.map(str::trim).unwrap_or_default();
    if !(sid.starts_with("AC") && sid.len() == 34 && sid.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(SettingsError::new(
            "account_sid",
            "must be a Twilio account sid (AC followed by 32 characters)",
        ));
    }
    let token = c.auth_token.map(str::trim).unwrap_or_default();
    if token.len() < 8 || token.len() > 128 {
        return Err(SettingsError::new(
            "auth_token",
            "must be the account's auth token",
        ));
    }
    let from = c.from.map(str::trim).unwrap_or_default();
    let from = if from.starts_with("MG") && from.len() == 34 {
        from.to_string()
    } else {
        parley_core::contact::Phone::parse(from)
            .map_err(|_| {
                SettingsError::new(
                    "from",
                    "must be the sending number (E.164) or a Messaging Service sid",
                )
            })?
            .into_string()
    };
    let base = base()?;
    Ok((
        json!({
            "account_sid": sid,
            "from": from,
            "api_base_url": base,
            "provider_answers_keywords": c.answers_keywords.unwrap_or(true),
        }),
        token.to_string(),
    ))
}

fn telegram_settings(
    c: &Credentials<'_>,
    base: String,
    token: impl FnOnce() -> String,
) -> Result<(Value, String), SettingsError> {
    let bot = required("bot_token", c.bot_token, 20)?;
    if !bot.contains(':') {
        return Err(SettingsError::new(
            "bot_token",
            "must be the token BotFather gave (digits, a colon, then letters)",
        ));
    }
    Ok((
        json!({ "api_base_url": base, "credentials": { "bot_token": bot } }),
        token(),
    ))
}

fn meta_settings(
    kind: ChannelKind,
    c: &Credentials<'_>,
    base: String,
    token: impl FnOnce() -> String,
) -> Result<(Value, String), SettingsError> {
    let whatsapp = kind == ChannelKind::Whatsapp;
    let (id_field, id) = if whatsapp {
        (
            "phone_number_id",
            digits("phone_number_id", c.phone_number_id)?,
        )
    } else {
        ("page_id", digits("page_id", c.page_id)?)
    };
    let access = required("access_token", c.access_token, 16)?;
    let secret = required("app_secret", c.app_secret, 16)?;
    let version = c.graph_version.unwrap_or("v25.0");
    if !(version.starts_with('v') && version.len() <= 8) {
        return Err(SettingsError::new("graph_version", "must look like v25.0"));
    }
    let mut settings = json!({
        id_field: id,
        "api_base_url": base,
        "graph_version": version,
        "credentials": { "access_token": access, "verify_token": token() },
    });
    match c.waba_id.map(str::trim).filter(|w| !w.is_empty()) {
        Some(_) if !whatsapp => {
            return Err(SettingsError::new(
                "waba_id",
                "is a setting of WhatsApp inboxes",
            ))
        }
        Some(w) => settings["waba_id"] = json!(digits("waba_id", Some(w))?),
        None => {}
    }
    Ok((settings, secret.to_string()))
}

fn line_settings(c: &Credentials<'_>, base: String) -> Result<(Value, String), SettingsError> {
    let secret = required("channel_secret", c.channel_secret, 16)?;
    let access = required("access_token", c.access_token, 16)?;
    Ok((
        json!({ "api_base_url": base, "credentials": { "access_token": access } }),
        secret.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token() -> String {
        "fresh-token".into()
    }

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

    #[test]
    fn new_settings_store_what_reads_back() {
        let c = Credentials {
            bot_token: Some(" 12345:abcdefghijklmnopq "),
            ..Default::default()
        };
        let (stored, secret) = new_settings(ChannelKind::Telegram, &c, token)
            .unwrap()
            .unwrap();
        assert_eq!(secret, "fresh-token");
        assert_eq!(
            stored,
            json!({ "api_base_url": "https://api.telegram.org", "credentials": { "bot_token": "12345:abcdefghijklmnopq" } })
        );
        let Settings::Telegram(t) = Settings::read(ChannelKind::Telegram, &stored).unwrap() else {
            panic!("not Telegram's settings")
        };
        assert_eq!(t.credentials.bot_token, "12345:abcdefghijklmnopq");
        assert!(new_settings(ChannelKind::Api, &c, token).is_none());

        let c = Credentials {
            account_sid: Some("AC0123456789abcdef0123456789abcdef"),
            auth_token: Some("secret-token"),
            from: Some("+14155550100"),
            api_base_url: Some("https://twilio.example/"),
            ..Default::default()
        };
        let (stored, secret) = new_settings(ChannelKind::Twilio, &c, token)
            .unwrap()
            .unwrap();
        assert_eq!(secret, "secret-token");
        let Settings::Twilio(t) = Settings::read(ChannelKind::Twilio, &stored).unwrap() else {
            panic!("not Twilio's settings")
        };
        assert_eq!(t.api_base_url, Some("https://twilio.example"));
        assert_eq!(t.provider_answers_keywords, Some(true));
        let c = Credentials {
            from: Some("not a number"),
            ..c
        };
        let e = new_settings(ChannelKind::Twilio, &c, token)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.field, "from");
    }

    #[test]
    fn credential_rules_say_which_field_and_why() {
        let err = |kind, c: Credentials<'_>| new_settings(kind, &c, token).unwrap().unwrap_err();
        let e = err(ChannelKind::Line, Credentials::default());
        assert_eq!(e.field, "channel_secret");
        assert_eq!(
            e.message,
            "channel_secret is required for this kind of inbox"
        );
        let e = err(
            ChannelKind::Line,
            Credentials {
                channel_secret: Some("short"),
                ..Default::default()
            },
        );
        assert_eq!(
            e.message,
            "channel_secret must be at least 16 characters; the one given has 5"
        );
        let e = err(
            ChannelKind::Messenger,
            Credentials {
                page_id: Some("12a"),
                ..Default::default()
            },
        );
        assert_eq!(
            (e.field, e.message.as_str()),
            ("page_id", "must be the numeric id Meta shows")
        );
        let e = err(
            ChannelKind::Instagram,
            Credentials {
                page_id: Some("12"),
                access_token: Some("a-long-enough-token"),
                app_secret: Some("a-long-enough-secret"),
                waba_id: Some("99"),
                ..Default::default()
            },
        );
        assert_eq!(
            (e.field, e.message.as_str()),
            ("waba_id", "is a setting of WhatsApp inboxes")
        );
        let e = err(
            ChannelKind::Telegram,
            Credentials {
                bot_token: Some("nocolonbutlongenoughtoken"),
                ..Default::default()
            },
        );
        assert!(e.message.starts_with("must be the token BotFather gave"));
        let e = err(
            ChannelKind::Telegram,
            Credentials {
                bot_token: Some("has a space: in it ok"),
                ..Default::default()
            },
        );
        assert_eq!(
            e.message,
            "bot_token must not contain spaces or line breaks"
        );
    }
}
