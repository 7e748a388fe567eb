//! An inbox's settings as a new or edited inbox gets them: each channel's settings and secret,
//! validated per kind, the sending rate and callback URL, and an edit overlaid on what is stored.

use parley_channels::settings::{Credentials, SettingsError};
use parley_channels::ChannelKind;
use parley_store::{InboxPatch, InboxRow, NewInbox};
use serde_json::{json, Value};

use crate::inboxes::channels::kind_of;
use crate::inboxes::email::settings::{ImapFields, SmtpFields};
use crate::inboxes::requests::{CreateInboxRequest, UpdateInboxRequest, WidgetRequest};

/// The highest per-sender rate accepted (messages per second).
pub const MAX_RATE: f64 = 10_000.0;

fn invalid(field: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field,
        message: message.into(),
    }
}

/// An inbox's name, refused with the words every name is refused with (`name: …`).
fn parse_name(name: &str) -> Result<String, SettingsError> {
    parley_core::contact::parse_name("name", name).map_err(|e| invalid(e.field, e.to_string()))
}

/// The refusal of widget settings on another kind of inbox.
fn not_a_widget() -> SettingsError {
    invalid(
        "website_url",
        "website_url, greeting, color and prechat_fields are settings of widget inboxes",
    )
}

/// A per-sender rate: positive and at most `MAX_RATE`; 0 or null lifts the limit.
fn parse_rate(v: Option<f64>) -> Result<Value, SettingsError> {
    match v {
        None => Ok(Value::Null),
        Some(0.0) => Ok(Value::Null),
        Some(r) if r.is_finite() && r > 0.0 && r <= MAX_RATE => Ok(json!(r)),
        Some(_) => Err(invalid(
            "rate_limit",
            format!("must be a number of messages per second from 0 (unlimited) to {MAX_RATE}"),
        )),
    }
}

/// A callback URL must be absolute http(s).
fn parse_callback(url: &str) -> Result<String, SettingsError> {
    parley_channels::settings::http_url(url)
}

/// The inbox a create request describes, its settings and secret validated per kind.
pub fn new_inbox(req: CreateInboxRequest) -> Result<NewInbox, SettingsError> {
    let name = parse_name(&req.name)?;
    let (mut settings, secret) = channel_settings(&req)?;
    settings["rate_limit"] = parse_rate(req.rate_limit)?;
    Ok(NewInbox {
        name,
        kind: req.kind,
        settings,
        secret,
    })
}

/// What an edit changes of `current`: its name, its channel's settings and secret, its callback
/// URL, rate and widget settings, each validated as when adding the inbox.
pub fn edit(current: &InboxRow, mut req: UpdateInboxRequest) -> Result<InboxPatch, SettingsError> {
    let mut patch = InboxPatch::default();
    if let Some(n) = &req.name {
        patch.name = Some(parse_name(n)?);
    }
    let mut settings = current.settings.clone();
    if let Some((edited, secret)) = edited_channel(current, &mut req)? {
        settings = edited;
        patch.secret = secret;
    }
    if let Some(url) = &req.callback_url {
        settings["callback_url"] = json!(parse_callback(url)?);
    }
    if let Some(rate) = req.rate_limit {
        settings["rate_limit"] = parse_rate(rate)?;
    }
    if !req.widget().is_empty() {
        if kind_of(current) != Some(ChannelKind::Widget) {
            return Err(not_a_widget());
        }
        crate::inboxes::widget::settings::apply(&mut settings, &req.widget())?;
    }
    if settings != current.settings {
        patch.settings = Some(settings);
    }
    Ok(patch)
}

/// Channel settings and secret for a new inbox, validated per kind.
fn channel_settings(req: &CreateInboxRequest) -> Result<(Value, String), SettingsError> {
    let kind = ChannelKind::parse(&req.kind);
    if kind != Some(ChannelKind::Widget) && !req.widget().is_empty() {
        return Err(not_a_widget());
    }
    match kind {
        Some(ChannelKind::Api) => {
            let callback = req
                .callback_url
                .as_deref()
                .map(parse_callback)
                .transpose()?;
            let secret = crate::account::auth::random_token();
            Ok((json!({ "callback_url": callback }), secret))
        }
        Some(ChannelKind::Email) => crate::inboxes::email::settings::new_settings(
            &req.name,
            req.address.as_deref(),
            req.from_name.as_deref(),
            req.smtp.as_ref(),
            req.imap.as_ref(),
        ),
        Some(ChannelKind::Widget) => {
            let mut settings = json!({});
            crate::inboxes::widget::settings::apply(&mut settings, &req.widget())?;
            // The secret signs visitors' tokens; it never leaves the server.
            Ok((settings, crate::account::auth::random_token()))
        }
        _ => crate::inboxes::channels::settings(&req.kind, &credentials(req)),
    }
}

/// The provider credentials a request gives, as `parley_channels` reads them.
fn credentials(req: &CreateInboxRequest) -> Credentials<'_> {
    Credentials {
        account_sid: req.account_sid.as_deref(),
        auth_token: req.auth_token.as_deref(),
        from: req.from.as_deref(),
        answers_keywords: req.answers_keywords,
        bot_token: req.bot_token.as_deref(),
        access_token: req.access_token.as_deref(),
        app_secret: req.app_secret.as_deref(),
        channel_secret: req.channel_secret.as_deref(),
        phone_number_id: req.phone_number_id.as_deref(),
        page_id: req.page_id.as_deref(),
        api_base_url: req.api_base_url.as_deref(),
        graph_version: req.graph_version.as_deref(),
        waba_id: req.waba_id.as_deref(),
    }
}

/// The settings and secret an inbox has after an edit of its channel fields: the stored ones
/// overlaid with the edit's, validated as when adding it. What the provider was told about the
/// inbox stays: Meta's verify token, Telegram's `secret_token`. `None` when the edit gives none.
fn edited_channel(
    current: &InboxRow,
    req: &mut UpdateInboxRequest,
) -> Result<Option<(Value, Option<String>)>, SettingsError> {
    let given = req.channel_fields();
    if given.is_empty() {
        return Ok(None);
    }
    let stored = Stored::of(current);
    check_edited_fields(&stored, req, &given)?;
    let (smtp, imap) = if stored.kind == Some(ChannelKind::Email) {
        crate::inboxes::email::settings::edited(current, req.smtp.take(), req.imap.take())?
    } else {
        (None, None)
    };
    let merged = stored.merged(req, smtp, imap);
    let (fresh, secret) = channel_settings(&merged)?;
    let settings = overlay(&current.settings, &fresh);
    let secret = stored
        .secret_field
        .map(|_| secret)
        .filter(|s| *s != current.secret);
    Ok(Some((settings, secret)))
}

/// Refuses channel fields the inbox's kind does not have, and a new API address without the
/// credential that would be sent to it.
fn check_edited_fields(
    stored: &Stored<'_>,
    req: &UpdateInboxRequest,
    given: &[&'static str],
) -> Result<(), SettingsError> {
    let allowed = stored.kind.map_or(&[][..], ChannelKind::setting_fields);
    if let Some(field) = given.iter().find(|f| !allowed.contains(f)) {
        return Err(invalid(
            field,
            format!("is not a setting of {} inboxes", stored.row.kind),
        ));
    }
    // A stored token is never sent to a new address: it would go to whoever the edit names.
    if let Some(url) = &req.api_base_url {
        let moved = stored
            .kept("api_base_url")
            .is_none_or(|was| was != url.trim().trim_end_matches('/'));
        let field = stored
            .kind
            .map_or("access_token", ChannelKind::base_url_credential);
        if moved && !given.contains(&field) {
            return Err(invalid(
                field,
                "must be given again when api_base_url changes",
            ));
        }
    }
    Ok(())
}

/// The stored settings with the freshly validated ones laid over them; the verify token Meta was
/// told stays, and another mailbox starts its own count.
fn overlay(stored: &Value, fresh: &Value) -> Value {
    let mut settings = stored.clone();
    for (key, value) in fresh.as_object().into_iter().flatten() {
        settings[key] = value.clone();
    }
    if let Some(verify) = stored["credentials"].get("verify_token") {
        settings["credentials"]["verify_token"] = verify.clone();
    }
    // The position read in the old mailbox would skip mail in the new one.
    let mailbox = |v: &Value| {
        ["host", "username", "mailbox"].map(|k| v["imap"][k].as_str().map(str::to_ascii_lowercase))
    };
    if mailbox(stored) != mailbox(&settings) {
        settings.as_object_mut().map(|o| o.remove("imap_state"));
    }
    settings
}

/// An inbox's stored channel settings, read as an edit keeps them.
struct Stored<'a> {
    row: &'a InboxRow,
    kind: Option<ChannelKind>,
    /// The field whose value the secret column holds, for kinds where it is a provider
    /// credential; for the others the secret is ours.
    secret_field: Option<&'static str>,
}

impl<'a> Stored<'a> {
    fn of(row: &'a InboxRow) -> Self {
        let kind = kind_of(row);
        Stored {
            row,
            kind,
            secret_field: kind.and_then(ChannelKind::secret_field),
        }
    }

    fn kept(&self, key: &str) -> Option<String> {
        self.row.settings[key].as_str().map(str::to_string)
    }

    fn credential(&self, key: &str) -> Option<String> {
        self.row.settings["credentials"][key]
            .as_str()
            .map(str::to_string)
    }

    fn secret_of(&self, field: &str) -> Option<String> {
        (self.secret_field == Some(field)).then(|| self.row.secret.clone())
    }

    /// The create request an edit amounts to: the fields it gives, the stored ones elsewhere.
    fn merged(
        &self,
        req: &mut UpdateInboxRequest,
        smtp: Option<SmtpFields>,
        imap: Option<ImapFields>,
    ) -> CreateInboxRequest {
        let stored = &self.row.settings;
        CreateInboxRequest {
            name: self.row.name.clone(),
            kind: self.row.kind.clone(),
            callback_url: None,
            account_sid: req.account_sid.take().or_else(|| self.kept("account_sid")),
            auth_token: req
                .auth_token
                .take()
                .or_else(|| self.secret_of("auth_token")),
            from: req.from.take().or_else(|| self.kept("from")),
            api_base_url: req
                .api_base_url
                .take()
                .or_else(|| self.kept("api_base_url")),
            rate_limit: None,
            answers_keywords: req
                .answers_keywords
                .or_else(|| stored["provider_answers_keywords"].as_bool()),
            bot_token: req
                .bot_token
                .take()
                .or_else(|| self.credential("bot_token")),
            access_token: (req.access_token.take()).or_else(|| self.credential("access_token")),
            app_secret: req
                .app_secret
                .take()
                .or_else(|| self.secret_of("app_secret")),
            channel_secret: (req.channel_secret.take())
                .or_else(|| self.secret_of("channel_secret")),
            phone_number_id: (req.phone_number_id.take()).or_else(|| self.kept("phone_number_id")),
            page_id: req.page_id.take().or_else(|| self.kept("page_id")),
            graph_version: req
                .graph_version
                .take()
                .or_else(|| self.kept("graph_version")),
            waba_id: req.waba_id.take().or_else(|| self.kept("waba_id")),
            website_url: None,
            greeting: None,
            color: None,
            prechat_fields: None,
            address: req.address.take().or_else(|| self.kept("address")),
            from_name: req.from_name.take().or_else(|| self.kept("from_name")),
            smtp,
            imap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_positive_and_bounded_and_zero_lifts_it() {
        assert_eq!(parse_rate(None).unwrap(), Value::Null);
        assert_eq!(parse_rate(Some(0.0)).unwrap(), Value::Null);
        assert_eq!(parse_rate(Some(2.5)).unwrap(), json!(2.5));
        for bad in [-1.0, MAX_RATE + 1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(parse_rate(Some(bad)).unwrap_err().field, "rate_limit");
        }
    }

    #[test]
    fn an_edit_keeps_the_verify_token_and_another_mailbox_starts_over() {
        let stored = json!({
            "credentials": { "verify_token": "vt", "access_token": "old" },
            "imap": { "host": "imap.shop.example", "username": "help", "mailbox": "INBOX" },
            "imap_state": { "uid_validity": 1, "last_uid": 9 },
        });
        let same_box = json!({
            "credentials": { "access_token": "new" },
            "imap": { "host": "IMAP.shop.example", "username": "help", "mailbox": "INBOX" },
        });
        let kept = overlay(&stored, &same_box);
        assert_eq!(kept["credentials"]["verify_token"], "vt");
        assert_eq!(kept["credentials"]["access_token"], "new");
        assert_eq!(kept["imap_state"]["last_uid"], 9);
        let other_box = json!({ "imap": { "host": "imap.other.example", "username": "help" } });
        assert!(overlay(&stored, &other_box).get("imap_state").is_none());
    }
}
