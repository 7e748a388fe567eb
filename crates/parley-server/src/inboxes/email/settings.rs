//! An email inbox's settings: the support address, the outgoing SMTP relay and an optional IMAP
//! mailbox to poll, as an admin gives them, validated; and what an edit keeps of the stored ones.

use parley_channels::settings::SettingsError;
use parley_core::contact::Email;
use parley_store::InboxRow;
use serde::Deserialize;
use serde_json::{json, Value};

fn invalid(field: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field,
        message: message.into(),
    }
}

/// The outgoing relay, as an admin gives it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpFields {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    #[schemars(extend("enum" = ["starttls", "tls", "none", null]))]
    security: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// An existing mailbox to poll, as an admin gives it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImapFields {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    /// TLS from the start (default true; port 993).
    #[serde(default)]
    tls: Option<bool>,
    username: String,
    /// Required when adding; an edit that leaves it out keeps the stored one.
    #[serde(default)]
    password: String,
    #[serde(default)]
    mailbox: Option<String>,
}

/// The relay and mailbox an edit of the inbox leaves: those it gives, with the stored passwords
/// where it leaves them out, else the stored ones. A stored password is never kept for another
/// host: it would go to whoever the edit names.
pub fn edited(
    inbox: &InboxRow,
    smtp: Option<SmtpFields>,
    imap: Option<ImapFields>,
) -> Result<(Option<SmtpFields>, Option<ImapFields>), SettingsError> {
    let stored = &inbox.settings;
    let password = |key: &str| stored["credentials"][key].as_str().map(str::to_string);
    let same_host = |part: &str, host: &str| {
        stored[part]["host"]
            .as_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(host.trim()))
    };
    let again =
        |field: &'static str| invalid(field, "the password must be given again for a new host");
    let smtp = match smtp {
        Some(mut s) => {
            if s.password.is_none() {
                s.password = password("smtp_password");
                if s.password.is_some() && !same_host("smtp", &s.host) {
                    return Err(again("smtp"));
                }
            }
            Some(s)
        }
        None => stored.get("smtp").map(|s| SmtpFields {
            host: s["host"].as_str().unwrap_or_default().into(),
            port: s["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
            security: s["security"].as_str().map(Into::into),
            username: s["username"].as_str().map(Into::into),
            password: password("smtp_password"),
        }),
    };
    let imap = match imap {
        Some(mut i) => {
            if i.password.is_empty() {
                if !same_host("imap", &i.host) {
                    return Err(again("imap"));
                }
                i.password = password("imap_password").unwrap_or_default();
            }
            Some(i)
        }
        None => stored.get("imap").map(|i| ImapFields {
            host: i["host"].as_str().unwrap_or_default().into(),
            port: i["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
            tls: i["tls"].as_bool(),
            username: i["username"].as_str().unwrap_or_default().into(),
            password: password("imap_password").unwrap_or_default(),
            mailbox: i["mailbox"].as_str().map(Into::into),
        }),
    };
    Ok((smtp, imap))
}

fn host(field: &'static str, h: &str) -> Result<String, SettingsError> {
    let h = h.trim();
    if h.is_empty() || h.len() > 253 || h.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(invalid(field, "must be a host name or IP address"));
    }
    Ok(h.to_string())
}

/// Settings and secret of a new email inbox.
pub fn new_settings(
    name: &str,
    address: Option<&str>,
    from_name: Option<&str>,
    smtp: Option<&SmtpFields>,
    imap: Option<&ImapFields>,
) -> Result<(Value, String), SettingsError> {
    let address = support_address(address)?;
    let smtp =
        smtp.ok_or_else(|| invalid("smtp", "is required: the relay replies go out through"))?;
    let (relay, smtp_password) = relay(smtp)?;
    let mut settings = json!({
        "address": address,
        "from_name": from_name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(name),
        "smtp": relay,
        "credentials": { "smtp_password": smtp_password },
    });
    if let Some(i) = imap {
        settings["imap"] = mailbox(i)?;
        settings["credentials"]["imap_password"] = json!(i.password);
    }
    Ok((settings, crate::account::auth::random_token()))
}

/// The support address, lower-cased; Parley adds `+<conversation>` to it, so it has no `+`.
fn support_address(address: Option<&str>) -> Result<String, SettingsError> {
    let address = Email::parse(address.unwrap_or_default())
        .map_err(|_| {
            invalid(
                "address",
                "must be the support address, like help@shop.example",
            )
        })?
        .into_string()
        .to_ascii_lowercase();
    if address.split('@').next().is_some_and(|l| l.contains('+')) {
        return Err(invalid(
            "address",
            "must not contain '+': Parley adds +<conversation> to it for replies",
        ));
    }
    Ok(address)
}

/// The outgoing relay's settings, and its password (kept apart, under `credentials`).
fn relay(smtp: &SmtpFields) -> Result<(Value, Option<String>), SettingsError> {
    let security = match smtp.security.as_deref().unwrap_or("starttls") {
        s @ ("starttls" | "tls" | "none") => s,
        _ => return Err(invalid("smtp", "security must be starttls, tls or none")),
    };
    let default_port = match security {
        "tls" => 465,
        "none" => 25,
        _ => 587,
    };
    let relay = json!({
        "host": host("smtp", &smtp.host)?,
        "port": smtp.port.unwrap_or(default_port),
        "security": security,
        "username": smtp.username,
    });
    Ok((relay, smtp.password.clone()))
}

/// The mailbox's settings, without its password.
fn mailbox(i: &ImapFields) -> Result<Value, SettingsError> {
    let tls = i.tls.unwrap_or(true);
    if i.username.trim().is_empty() || i.password.is_empty() {
        return Err(invalid("imap", "username and password are required"));
    }
    Ok(json!({
        "host": host("imap", &i.host)?,
        "port": i.port.unwrap_or(if tls { 993 } else { 143 }),
        "tls": tls,
        "username": i.username.trim(),
        "mailbox": i.mailbox.as_deref().map(str::trim).filter(|m| !m.is_empty()).unwrap_or("INBOX"),
    }))
}
