//! Consent to be messaged, per purpose, derived from an append-only ledger of grants, revocations
//! and requests awaiting the customer's confirmation (double opt-in). The latest event for a
//! purpose on a channel decides; with none, the channel's default applies (see `compliance`).

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Why a business messages someone (CTIA / TCPA categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Answers within a conversation the customer started.
    Conversational,
    /// Reminders, alerts, order updates.
    Informational,
    /// Marketing; needs written consent.
    Promotional,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::Conversational,
        Purpose::Informational,
        Purpose::Promotional,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Conversational => "conversational",
            Purpose::Informational => "informational",
            Purpose::Promotional => "promotional",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Grant,
    Revoke,
    /// A subscription from a form, an import or the API, pending until the customer confirms it
    /// from their own phone (double opt-in).
    Request,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Grant => "grant",
            Action::Revoke => "revoke",
            Action::Request => "request",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "grant" => Some(Action::Grant),
            "revoke" => Some(Action::Revoke),
            "request" => Some(Action::Request),
            _ => None,
        }
    }
}

/// One entry of the ledger as the decision needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub purpose: Purpose,
    pub action: Action,
    /// The channel it applies to (`sms`, `whatsapp`, …); `None`: every channel.
    pub channel: Option<String>,
    /// How it was given or taken back (`keyword`, `web_form`, `agent`, …).
    pub source: String,
    pub at: Timestamp,
}

/// Where a purpose stands on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Granted,
    Revoked,
    /// Requested from a form or an import, not yet confirmed by the customer.
    Pending,
    /// Nothing recorded.
    Unknown,
}

/// The entry that decides `purpose` on `channel`: the latest for it (on that channel or on all);
/// of entries at the same instant, the later in the ledger.
pub fn deciding<'a>(entries: &'a [Entry], purpose: Purpose, channel: &str) -> Option<&'a Entry> {
    entries
        .iter()
        .filter(|e| e.purpose == purpose && e.channel.as_deref().is_none_or(|c| c == channel))
        .max_by_key(|e| e.at)
}

/// The state of `purpose` on `channel`.
pub fn state(entries: &[Entry], purpose: Purpose, channel: &str) -> State {
    deciding(entries, purpose, channel).map_or(State::Unknown, |e| match e.action {
        Action::Grant => State::Granted,
        Action::Revoke => State::Revoked,
        Action::Request => State::Pending,
    })
}

/// Whether a conversational reply may go to the contact on `channel`: unless they revoked it.
pub fn may_reply(entries: &[Entry], channel: &str) -> bool {
    state(entries, Purpose::Conversational, channel) != State::Revoked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(purpose: Purpose, action: Action, channel: Option<&str>, at: i64) -> Entry {
        Entry {
            purpose,
            action,
            channel: channel.map(str::to_string),
            source: "keyword".into(),
            at: Timestamp(at),
        }
    }

    #[test]
    fn the_latest_entry_for_the_channel_decides() {
        use Action::*;
        use Purpose::*;
        assert!(may_reply(&[], "sms"));
        let stop = [e(Conversational, Revoke, Some("sms"), 10)];
        assert!(!may_reply(&stop, "sms"));
        assert!(
            may_reply(&stop, "whatsapp"),
            "a revocation on SMS leaves WhatsApp"
        );
        let everywhere = [e(Conversational, Revoke, None, 10)];
        assert!(!may_reply(&everywhere, "whatsapp"));
        let again = [
            e(Conversational, Revoke, Some("sms"), 10),
            e(Conversational, Grant, Some("sms"), 20),
        ];
        assert!(may_reply(&again, "sms"));
        assert_eq!(state(&again, Promotional, "sms"), State::Unknown);
        assert_eq!(Purpose::parse("promotional"), Some(Promotional));
        assert_eq!(Purpose::parse("spam"), None);
    }
}
