//! The conversations' answers as types: pages of conversations and of the timeline, counts, what
//! a channel allows, a message sent and a note written.

use parley_core::message::{DeliveryStatus, Direction, SenderKind};
use parley_core::{ConversationId, InboxId, MessageId, Timestamp, UserId};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::views::ConversationView;

/// A page of conversations; `next_cursor` fetches the next.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConversationPage {
    pub items: Vec<ConversationView>,
    pub next_cursor: Option<String>,
}

/// How many conversations each view holds for the caller.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CountsView {
    /// Open and assigned to the caller.
    pub mine: u64,
    /// Open and assigned to nobody.
    pub unassigned: u64,
    /// By status (`open`, `pending`, `snoozed`, `resolved`; absent: none).
    pub statuses: std::collections::BTreeMap<String, u64>,
    /// Open ones by inbox id.
    pub inboxes: std::collections::BTreeMap<String, u64>,
    /// Open ones by team id.
    pub teams: std::collections::BTreeMap<String, u64>,
    /// Open ones by label.
    pub labels: std::collections::BTreeMap<String, u64>,
}

impl From<parley_store::ConversationCounts> for CountsView {
    fn from(c: parley_store::ConversationCounts) -> Self {
        Self {
            mine: c.mine,
            unassigned: c.unassigned,
            statuses: c.statuses,
            inboxes: c.inboxes,
            teams: c.teams,
            labels: c.labels,
        }
    }
}

/// One entry of a timeline. A message's `data.message.status` and `error` are its current
/// delivery status, not the ones it was created with: the one place a client reads them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TimelineItem {
    /// The event's sequence number; `before` pages back from it.
    pub seq: i64,
    /// `message.created`, `note.created`, `conversation.updated`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub at: Timestamp,
    /// The event's payload.
    pub data: Value,
}

impl TimelineItem {
    /// The entry as the API shows it, its delivery status folded into the message.
    pub fn of(e: parley_store::TimelineEntry) -> Result<Self, serde_json::Error> {
        let mut data: Value = serde_json::from_str(&e.event.data)?;
        if let Some((status, error)) = e.delivery {
            if let Some(m) = data.get_mut("message").and_then(Value::as_object_mut) {
                m.insert("status".into(), serde_json::to_value(status)?);
                m.insert("error".into(), serde_json::to_value(error)?);
            }
        }
        Ok(Self {
            seq: e.event.seq,
            kind: e.event.kind,
            at: e.event.at,
            data,
        })
    }
}

/// A page of the timeline, oldest first; `before` (a sequence number) fetches the page before
/// it, `null` on the first page.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TimelinePage {
    pub items: Vec<TimelineItem>,
    pub before: Option<i64>,
}

/// What a conversation's channel can carry and whether a free-form reply may be sent now.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelView {
    /// The inbox's kind (`whatsapp`, `sms`, `email`, …).
    pub kind: String,
    /// What the channel shows natively; `null` for plain-text channels.
    pub capabilities: Option<CapabilitiesView>,
    pub window: WindowView,
    /// What the compliance gate would decide for each purpose.
    pub compliance: Value,
}

/// The customer-service window: `open`, `human_agent` (Meta's HUMAN_AGENT tag),
/// `template_only` or `closed`, and why when it is not open.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WindowView {
    pub state: &'static str,
    pub reason: Option<String>,
}

/// What a channel can show natively.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CapabilitiesView {
    /// Quick replies / reply buttons: how many at most (0: none).
    pub max_choices: usize,
    /// The longest choice title the channel shows.
    pub max_choice_title: usize,
    /// Rows of a list message (WhatsApp lists), 0 when there are none.
    pub max_list_rows: usize,
    pub max_text: usize,
    /// MIME type prefixes sent as native attachments; anything else goes as a link.
    pub media_types: Vec<String>,
    pub max_media_bytes: u64,
    pub read_receipts: bool,
    pub typing: bool,
    /// Hours after the customer's last message in which free-form replies may be sent.
    pub window_hours: Option<u32>,
    pub templates: bool,
}

impl From<parley_channels::rich::Capabilities> for CapabilitiesView {
    fn from(c: parley_channels::rich::Capabilities) -> Self {
        Self {
            max_choices: c.max_choices,
            max_choice_title: c.max_choice_title,
            max_list_rows: c.max_list_rows,
            max_text: c.max_text,
            media_types: c.media_types.iter().map(|t| t.to_string()).collect(),
            max_media_bytes: c.max_media_bytes,
            read_receipts: c.read_receipts,
            typing: c.typing,
            window_hours: c.window_hours,
            templates: c.templates,
        }
    }
}

/// A message on a conversation's timeline, with its delivery status.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MessageView {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub inbox_id: InboxId,
    pub direction: Direction,
    pub sender_kind: SenderKind,
    /// The agent's user id or the contact's id.
    pub sender_id: Option<uuid::Uuid>,
    pub body: String,
    pub external_id: Option<String>,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub created_at: Timestamp,
    /// What the channel gave beyond the text (an email's subject, Message-ID and sanitised HTML).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

impl From<parley_store::MessageView> for MessageView {
    fn from(m: parley_store::MessageView) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            inbox_id: m.inbox_id,
            direction: m.direction,
            sender_kind: m.sender_kind,
            sender_id: m.sender_id,
            body: m.body,
            external_id: m.external_id,
            status: m.status,
            error: m.error,
            created_at: m.created_at,
            meta: m.meta,
        }
    }
}

/// A message queued for the customer: the message, its conversation as it now is, and what the
/// compliance gate decided (`{"verdict": "allow"}`, or why it is held).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SentView {
    pub compliance: serde_json::Value,
    pub conversation: ConversationView,
    pub message: Option<MessageView>,
    /// Set instead of `message` for a reply with `send_at`: it waits for its time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<crate::conversations::scheduled::ScheduledView>,
}

/// An internal note.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NoteView {
    pub id: uuid::Uuid,
    pub conversation_id: ConversationId,
    pub author_id: UserId,
    pub body: String,
    /// The agents it notifies.
    pub mentions: Vec<UserId>,
    pub created_at: Timestamp,
}

impl From<parley_store::NoteView> for NoteView {
    fn from(n: parley_store::NoteView) -> Self {
        Self {
            id: n.id,
            conversation_id: n.conversation_id,
            author_id: n.author_id,
            body: n.body,
            mentions: n.mentions,
            created_at: n.created_at,
        }
    }
}

/// A note written: the note, its conversation as it now is, and the mentions in its text that
/// notify nobody.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NoteWrittenView {
    pub note: Option<NoteView>,
    pub conversation: ConversationView,
    /// Mentions as written that name no teammate.
    pub unresolved_mentions: Vec<String>,
    /// Mentions that name several teammates, with them.
    pub ambiguous_mentions: Vec<AmbiguousMention>,
}

/// A mention that names several teammates.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AmbiguousMention {
    /// As written.
    pub mention: String,
    pub candidates: Vec<Teammate>,
}

/// A teammate a mention may mean.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Teammate {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::Sorted;
    use parley_core::WorkspaceId;
    use serde_json::json;

    #[test]
    fn sorted_writes_keys_in_alphabetical_order_at_every_depth() {
        #[derive(Serialize)]
        struct Inner {
            z: u8,
            a: u8,
        }
        #[derive(Serialize)]
        struct Outer {
            b: Inner,
            a: Vec<Inner>,
        }
        let v = Outer {
            b: Inner { z: 1, a: 2 },
            a: vec![Inner { z: 3, a: 4 }],
        };
        let text = serde_json::to_string(&Sorted(v)).unwrap();
        assert_eq!(text, r#"{"a":[{"a":4,"z":3}],"b":{"a":2,"z":1}}"#);
    }

    #[test]
    fn the_channel_view_writes_what_the_json_value_did() {
        let caps = parley_channels::ChannelKind::Whatsapp
            .capabilities()
            .unwrap();
        let view = ChannelView {
            kind: "whatsapp".into(),
            capabilities: Some(caps.clone().into()),
            window: WindowView {
                state: "closed",
                reason: Some("past 24 hours".into()),
            },
            compliance: json!({ "verdict": "allow" }),
        };
        let old = json!({
            "kind": "whatsapp",
            "capabilities": Some(caps),
            "window": { "state": "closed", "reason": "past 24 hours" },
            "compliance": { "verdict": "allow" },
        });
        let text = serde_json::to_string(&Sorted(view)).unwrap();
        assert_eq!(text, serde_json::to_string(&old).unwrap());
    }

    #[test]
    fn the_counts_view_writes_what_the_store_counts_did() {
        let counts = parley_store::ConversationCounts {
            mine: 2,
            unassigned: 1,
            statuses: [("open".to_string(), 3)].into(),
            inboxes: [("i".to_string(), 3)].into(),
            teams: Default::default(),
            labels: [("vip".to_string(), 1)].into(),
        };
        let old = serde_json::to_string(&serde_json::to_value(&counts).unwrap()).unwrap();
        let text = serde_json::to_string(&Sorted(CountsView::from(counts))).unwrap();
        assert_eq!(text, old);
    }

    #[test]
    fn a_timeline_item_carries_the_current_delivery_status() {
        let nil = uuid::Uuid::nil();
        let entry = parley_store::TimelineEntry {
            event: parley_store::Published {
                seq: 7,
                workspace_id: WorkspaceId(nil),
                inbox_id: InboxId(nil),
                conversation_id: Some(ConversationId(nil)),
                kind: "message.created".into(),
                at: Timestamp(0),
                data: r#"{"message":{"body":"hi","status":"queued","error":null}}"#.into(),
            },
            delivery: Some((DeliveryStatus::Failed, Some("refused".into()))),
        };
        let item = TimelineItem::of(entry).unwrap();
        let text = serde_json::to_string(&Sorted(item)).unwrap();
        assert_eq!(
            text,
            r#"{"at":"1970-01-01T00:00:00Z","data":{"message":{"body":"hi","error":"refused","status":"failed"}},"seq":7,"type":"message.created"}"#
        );
    }
}
