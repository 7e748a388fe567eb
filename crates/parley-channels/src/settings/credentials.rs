//! The credential rules a new or edited inbox passes, per provider, with the error each rule
//! gives: the field and why, in the words the admin sees.

use serde_json::{json, Value};

use super::SettingsError;
use crate::kind::ChannelKind;

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
    use super::*;
    use crate::settings::Settings;

    fn token() -> String {
        "fresh-token".into()
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
