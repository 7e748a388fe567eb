//! The contacts routes' answers as types: the consent ledger and what an agent recorded in it,
//! a block, and one customer across channels. Keys come in alphabetical order, the order these
//! answers have always had.

use std::collections::BTreeMap;

use parley_core::consent::{Action, Purpose, State};
use parley_core::{ContactId, ConversationId, InboxId, Timestamp};
use parley_store::{ConsentEvent, InboxRow};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::compliance::notices::Confirmation;
use crate::conversations::views::MessageView;
use crate::views::sorted;
use crate::views::{ContactView, ConversationView};

/// An entry of the consent ledger.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConsentEntryView {
    #[schemars(with = "String")]
    pub action: Action,
    pub at: Timestamp,
    /// `null`: every channel.
    pub channel: Option<String>,
    pub contact_id: ContactId,
    pub evidence: Value,
    pub id: uuid::Uuid,
    pub purpose: Purpose,
    pub source: String,
}

impl From<ConsentEvent> for ConsentEntryView {
    fn from(e: ConsentEvent) -> Self {
        Self {
            action: e.action,
            at: e.at,
            channel: e.channel,
            contact_id: e.contact_id,
            evidence: e.evidence,
            id: e.id,
            purpose: e.purpose,
            source: e.source,
        }
    }
}

/// A contact's consent: the ledger, the channels they opted out of, a revocation waiting for
/// review, and where each purpose stands on each channel as the gate sees it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConsentView {
    pub history: Vec<ConsentEntryView>,
    pub opted_out: Vec<String>,
    pub probable_revocation: Option<ProbableRevocationView>,
    /// Channel → purpose → `granted`, `revoked`, `pending`, `unknown`, …
    #[schemars(with = "BTreeMap<String, BTreeMap<String, String>>")]
    pub states: BTreeMap<&'static str, BTreeMap<&'static str, State>>,
}

/// A message that may have been a revocation, not yet reviewed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProbableRevocationView {
    pub at: Timestamp,
    pub message_id: Value,
    pub text: Value,
}

/// A consent entry an agent recorded, and under double opt-in what became of the request to
/// confirm it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConsentRecordedView {
    #[schemars(with = "String")]
    pub action: Action,
    pub at: Timestamp,
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
    pub contact_id: ContactId,
    pub evidence: Value,
    pub id: uuid::Uuid,
    pub purpose: Purpose,
    pub source: String,
}

impl ConsentRecordedView {
    pub fn new(e: ConsentEvent, confirmation: Option<Confirmation>) -> Self {
        Self {
            action: e.action,
            at: e.at,
            channel: e.channel,
            confirmation,
            contact_id: e.contact_id,
            evidence: e.evidence,
            id: e.id,
            purpose: e.purpose,
            source: e.source,
        }
    }
}

/// A contact blocked or unblocked; `resolved`: their open conversations a block resolved.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BlockView {
    #[serde(serialize_with = "sorted")]
    pub contact: ContactView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<u64>,
}

/// The inbox (channel) an entry or a reply is on.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelView {
    pub inbox_id: InboxId,
    pub inbox_name: String,
    pub kind: String,
}

impl From<&InboxRow> for ChannelView {
    fn from(i: &InboxRow) -> Self {
        Self {
            inbox_id: i.id,
            inbox_name: i.name.clone(),
            kind: i.kind.clone(),
        }
    }
}

/// The contact's timeline across their conversations; `before` pages back.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContactTimelineView {
    pub before: Option<i64>,
    /// Timeline entries, each with its `channel` (`null` for an inbox you no longer work).
    pub items: Vec<Value>,
}

/// A channel a reply to the contact can go out on.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelOptionView {
    pub conversation_id: Option<ConversationId>,
    /// The one a reply goes out on when none is named.
    pub default: bool,
    pub inbox_id: InboxId,
    pub inbox_name: String,
    pub kind: String,
    pub last_customer_message_at: Option<Timestamp>,
    pub window: WindowView,
}

/// Whether a free-form reply may go now: `open`, `template_only` or `closed`, and why.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WindowView {
    pub reason: Option<String>,
    pub state: &'static str,
}

/// A reply sent to the contact: the channel it went on, what the compliance gate decided, the
/// conversation as it now is and the message.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContactReplyView {
    pub channel: ChannelView,
    pub compliance: Value,
    #[serde(serialize_with = "sorted")]
    pub conversation: ConversationView,
    #[serde(serialize_with = "sorted")]
    pub message: Option<MessageView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::Timestamp;

    /// An answer's bytes are those `json!` gave: keys sorted all the way down.
    fn as_json_macro_wrote_it(v: &impl Serialize) {
        let text = serde_json::to_string(v).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text, value.to_string());
    }

    #[test]
    fn the_consent_answers_keep_their_key_order() {
        let e = ConsentEvent {
            id: uuid::Uuid::nil(),
            contact_id: ContactId(uuid::Uuid::nil()),
            purpose: Purpose::Promotional,
            action: Action::Request,
            source: "web_form".into(),
            channel: Some("sms".into()),
            evidence: serde_json::json!({ "recorded_by": "x", "detail": { "form": "f" } }),
            at: Timestamp(0),
        };
        let confirmation = Confirmation {
            code: None,
            inbox_id: Some(InboxId(uuid::Uuid::nil())),
            message_id: Some(None),
            reason: Some("quiet hours".into()),
            sent: false,
            status: "held",
            until: Some(Timestamp(0)),
        };
        as_json_macro_wrote_it(&ConsentRecordedView::new(e.clone(), Some(confirmation)));
        as_json_macro_wrote_it(&ConsentEntryView::from(e));
    }
}
