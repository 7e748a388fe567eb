//! The kinds of channel an inbox can be, as stored in its `kind` column: one place that lists
//! them, with what follows from the kind alone (identities, consent channel, capabilities).

use std::fmt;
use std::str::FromStr;

use parley_core::contact::IdentityKind;
use serde::{Deserialize, Serialize};

use crate::rich::Capabilities;
use crate::{line, meta, telegram};

/// An inbox's channel. Serialises to the strings stored in `inbox.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Api,
    Twilio,
    Telegram,
    Whatsapp,
    Messenger,
    Instagram,
    Line,
    Email,
    Widget,
}

impl ChannelKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: [ChannelKind; 9] = [
        ChannelKind::Api,
        ChannelKind::Twilio,
        ChannelKind::Telegram,
        ChannelKind::Whatsapp,
        ChannelKind::Messenger,
        ChannelKind::Instagram,
        ChannelKind::Line,
        ChannelKind::Widget,
        ChannelKind::Email,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Api => "api",
            ChannelKind::Twilio => "twilio",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Messenger => "messenger",
            ChannelKind::Instagram => "instagram",
            ChannelKind::Line => "line",
            ChannelKind::Email => "email",
            ChannelKind::Widget => "widget",
        }
    }

    /// The kind a stored string names; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How the people an inbox of this kind talks to are known.
    pub fn identity_kind(self) -> IdentityKind {
        match self {
            ChannelKind::Api => IdentityKind::Api,
            ChannelKind::Twilio => IdentityKind::Phone,
            ChannelKind::Telegram => IdentityKind::Telegram,
            ChannelKind::Whatsapp => IdentityKind::Whatsapp,
            ChannelKind::Messenger => IdentityKind::Messenger,
            ChannelKind::Instagram => IdentityKind::Instagram,
            ChannelKind::Line => IdentityKind::Line,
            ChannelKind::Email => IdentityKind::Email,
            ChannelKind::Widget => IdentityKind::Widget,
        }
    }

    /// The channel consent is recorded for: SMS for Twilio numbers, else the kind itself.
    pub fn consent_channel(self) -> &'static str {
        match self {
            ChannelKind::Twilio => "sms",
            other => other.as_str(),
        }
    }

    /// What the messaging apps can show natively; `None` for the channels that take plain text
    /// (the API, SMS, email, the widget).
    pub fn capabilities(self) -> Option<Capabilities> {
        Some(match self {
            ChannelKind::Telegram => telegram::capabilities(),
            ChannelKind::Whatsapp => meta::whatsapp_capabilities(),
            ChannelKind::Messenger => meta::messenger_capabilities(),
            ChannelKind::Instagram => meta::instagram_capabilities(),
            ChannelKind::Line => line::capabilities(),
            _ => return None,
        })
    }

    /// Which of Meta's channels this is, for the ones on the Graph API.
    pub fn meta_channel(self) -> Option<meta::Channel> {
        match self {
            ChannelKind::Whatsapp => Some(meta::Channel::WhatsApp),
            ChannelKind::Messenger => Some(meta::Channel::Messenger),
            ChannelKind::Instagram => Some(meta::Channel::Instagram),
            _ => None,
        }
    }

    /// The largest file the channel takes, with its name for an error message.
    pub fn attachment_limit(self) -> Option<(u64, &'static str)> {
        let name = match self {
            ChannelKind::Twilio => return Some((5_000_000, "MMS")),
            ChannelKind::Email => return Some((20_000_000, "email")),
            ChannelKind::Whatsapp => "WhatsApp",
            ChannelKind::Messenger => "Messenger",
            ChannelKind::Instagram => "Instagram",
            ChannelKind::Telegram => "Telegram",
            ChannelKind::Line => "LINE",
            _ => "this channel",
        };
        self.capabilities().map(|c| (c.max_media_bytes, name))
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no channel kind {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for ChannelKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::ChannelKind;

    #[test]
    fn a_kind_reads_and_writes_the_stored_string() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            assert_eq!(serde_json::from_value::<ChannelKind>(json).unwrap(), kind);
        }
        assert_eq!(ChannelKind::parse("sms"), None);
        assert_eq!(ChannelKind::parse("Telegram"), None);
        assert!("fax".parse::<ChannelKind>().is_err());
    }

    #[test]
    fn identities_and_consent_follow_the_kind() {
        use parley_core::contact::IdentityKind;
        assert_eq!(ChannelKind::Twilio.identity_kind(), IdentityKind::Phone);
        assert_eq!(ChannelKind::Line.identity_kind(), IdentityKind::Line);
        assert_eq!(ChannelKind::Twilio.consent_channel(), "sms");
        assert_eq!(ChannelKind::Whatsapp.consent_channel(), "whatsapp");
        assert!(ChannelKind::Api.capabilities().is_none());
        assert_eq!(
            ChannelKind::Twilio.attachment_limit(),
            Some((5_000_000, "MMS"))
        );
        assert_eq!(ChannelKind::Widget.attachment_limit(), None);
    }
}
