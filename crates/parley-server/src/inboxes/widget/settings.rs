//! A widget inbox's settings: the site that embeds it, its greeting, colour and pre-chat form,
//! validated as an admin gives them; and the `<script>` tag the site pastes in.

use parley_channels::settings::SettingsError;
use parley_store::InboxRow;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::App;

fn invalid(field: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field,
        message: message.into(),
    }
}

/// The pre-chat form may ask for these, in this order.
const PRECHAT_FIELDS: [&str; 3] = ["name", "email", "phone"];

/// What an admin sets on a widget inbox; every field is optional.
#[derive(Debug, Default, Deserialize)]
pub struct WidgetFields {
    /// The site that embeds the widget (`https://shop.example`): other sites are refused.
    pub website_url: Option<String>,
    /// The first thing a visitor reads when they open the chat.
    pub greeting: Option<String>,
    /// The launcher's and header's colour, `#rrggbb`.
    pub color: Option<String>,
    /// Asked before the first message, from `name`, `email`, `phone`.
    pub prechat_fields: Option<Vec<String>>,
}

impl WidgetFields {
    pub fn is_empty(&self) -> bool {
        self.website_url.is_none()
            && self.greeting.is_none()
            && self.color.is_none()
            && self.prechat_fields.is_none()
    }
}

/// The origin (`https://shop.example`) of a site's address.
pub(super) fn origin_of(url: &str) -> Result<String, SettingsError> {
    let bad = || {
        invalid(
            "website_url",
            "must be the site's address, like https://shop.example",
        )
    };
    let u = reqwest::Url::parse(url.trim()).map_err(|_| bad())?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(bad());
    }
    Ok(u.origin().ascii_serialization())
}

/// Applies `f` to the settings of a widget inbox (new or existing), validating each field given.
pub fn apply(settings: &mut Value, f: &WidgetFields) -> Result<(), SettingsError> {
    if !settings.is_object() {
        *settings = json!({});
    }
    if let Some(url) = &f.website_url {
        settings["website_origin"] = if url.trim().is_empty() {
            Value::Null
        } else {
            json!(origin_of(url)?)
        };
    }
    if let Some(g) = &f.greeting {
        if g.chars().count() > 500 {
            return Err(invalid("greeting", "must be at most 500 characters"));
        }
        settings["greeting"] = json!(g.trim());
    }
    if let Some(c) = &f.color {
        let ok =
            c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit());
        if !ok {
            return Err(invalid("color", "must be a colour like #1f6feb"));
        }
        settings["color"] = json!(c.to_ascii_lowercase());
    }
    if let Some(fields) = &f.prechat_fields {
        if let Some(bad) = fields
            .iter()
            .find(|x| !PRECHAT_FIELDS.contains(&x.as_str()))
        {
            return Err(invalid(
                "prechat_fields",
                format!("{bad:?} is not a field the pre-chat form has (name, email, phone)"),
            ));
        }
        let ordered: Vec<&str> = PRECHAT_FIELDS
            .into_iter()
            .filter(|p| fields.iter().any(|x| x == p))
            .collect();
        settings["prechat_fields"] = json!(ordered);
    }
    Ok(())
}

/// The `<script>` tag an admin pastes into their site.
pub fn snippet(app: &App, inbox: &InboxRow) -> String {
    format!(
        r#"<script src="{}/widget.js" data-inbox="{}" async></script>"#,
        app.config.public_url.trim_end_matches('/'),
        inbox.id
    )
}
