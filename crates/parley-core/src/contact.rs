//! Contacts and the addresses they reach a business from: validated names, emails, phone numbers
//! (E.164), custom fields, and the identity kinds a channel can report.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// An email address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim().to_lowercase();
        let bad = || Invalid::new("email", "must look like name@example.com");
        if s.len() > 254 || s.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty() || domain.len() < 3 || !domain.contains('.') || domain.contains('@') {
            return Err(bad());
        }
        if domain.starts_with('.') || domain.ends_with('.') {
            return Err(bad());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The part before the `@`, used to resolve `@mentions`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

/// A phone number in E.164 form (`+` then 8 to 15 digits). Spaces, dots, dashes and parentheses
/// that people type are removed; a leading `00` is read as `+`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let cleaned: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = if let Some(rest) = cleaned.strip_prefix('+') {
            rest
        } else if let Some(rest) = cleaned.strip_prefix("00") {
            rest
        } else {
            return Err(Invalid::new(
                "phone",
                "must be in international form, starting with +",
            ));
        };
        if !(8..=15).contains(&digits.len())
            || !digits.chars().all(|c| c.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(Invalid::new(
                "phone",
                "must be + followed by 8 to 15 digits",
            ));
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A person's display name: trimmed, 1 to 200 characters, no control characters.
pub fn parse_name(field: &'static str, s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if s.chars().count() > 200 {
        return Err(Invalid::new(field, "must be at most 200 characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(s.to_string())
}

/// Custom fields: a flat JSON object of at most 100 keys whose values are strings, numbers,
/// booleans or null, 16 KiB in all.
pub fn parse_custom_fields(
    v: &serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new("custom_fields", "must be a JSON object"))?;
    if obj.len() > 100 {
        return Err(Invalid::new("custom_fields", "at most 100 fields"));
    }
    for (k, val) in obj {
        if k.is_empty() || k.chars().count() > 64 {
            return Err(Invalid::new(
                "custom_fields",
                "field names must be 1 to 64 characters",
            ));
        }
        if val.is_array() || val.is_object() {
            return Err(Invalid::new(
                "custom_fields",
                format!("field {k:?} must be a string, number, boolean or null"),
            ));
        }
    }
    if serde_json::to_string(obj)
        .map(|s| s.len())
        .unwrap_or(usize::MAX)
        > 16 * 1024
    {
        return Err(Invalid::new("custom_fields", "must be at most 16 KiB"));
    }
    Ok(obj.clone())
}

/// The kind of address an identity is. An identity is (kind, inbox, the provider's id for the person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// A customer of the generic API channel, known by the integrating system's id.
    Api,
    Phone,
    Email,
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
    Line,
    Widget,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Api => "api",
            IdentityKind::Phone => "phone",
            IdentityKind::Email => "email",
            IdentityKind::Whatsapp => "whatsapp",
            IdentityKind::Messenger => "messenger",
            IdentityKind::Instagram => "instagram",
            IdentityKind::Telegram => "telegram",
            IdentityKind::Line => "line",
            IdentityKind::Widget => "widget",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// A provider's id for a person (an external id, a phone number, a chat id): 1 to 256 printable characters.
pub fn parse_external_id(field: &'static str, s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
        // (control characters include NUL, which PostgreSQL cannot store)
        return Err(Invalid::new(field, "must be 1 to 256 printable characters"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(
            Phone::parse("+1 (415) 555-0100").map(Phone::into_string),
            Ok("+14155550100".into())
        );
        assert_eq!(
            Phone::parse("0044 20 7946 0958").map(Phone::into_string),
            Ok("+442079460958".into())
        );
        assert!(Phone::parse("415 555 0100").is_err());
        assert!(Phone::parse("+12").is_err());
        assert!(Phone::parse("+1415555010a").is_err());
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").map(Email::into_string),
            Ok("ann@example.com".into())
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn custom_fields_must_be_flat() {
        assert!(parse_custom_fields(&serde_json::json!({"plan": "gold", "seats": 3})).is_ok());
        assert!(parse_custom_fields(&serde_json::json!({"a": {"b": 1}})).is_err());
        assert!(parse_custom_fields(&serde_json::json!([1])).is_err());
    }

    proptest! {
        #[test]
        fn phone_parse_never_panics_and_is_idempotent(s in ".{0,40}") {
            if let Ok(p) = Phone::parse(&s) {
                prop_assert_eq!(Phone::parse(p.as_str()), Ok(p.clone()));
            }
        }
    }
}
