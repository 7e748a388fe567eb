//! The sample contact the settings screen previews an unsaved template for: a name, and each
//! declared contact field showing its key, so an admin sees where every field lands.

use parley_core::{ContactId, ConversationId, InboxId, Timestamp};
use parley_store::{ContactView, InboxRow, WorkspaceRow};

use crate::templates::Target;

/// A conversation of the sample contact in an inbox of channel `channel` (`sms`, …; none: the
/// API channel).
pub(crate) fn target(
    ws: &WorkspaceRow,
    channel: Option<&str>,
    declared: &[String],
    now: Timestamp,
) -> Target {
    let nil = uuid::Uuid::nil();
    // SMS inboxes are stored as Twilio's; the other channels under their own name.
    let kind = match channel {
        Some("sms") => "twilio",
        Some(other) => other,
        None => "api",
    };
    let custom_fields = declared
        .iter()
        .map(|k| (k.clone(), serde_json::Value::String(format!("[{k}]"))))
        .collect();
    Target {
        id: ConversationId::from(nil),
        team: None,
        sample: true,
        inbox: InboxRow {
            id: InboxId::from(nil),
            workspace_id: ws.id,
            name: "Support".into(),
            kind: kind.into(),
            settings: serde_json::json!({}),
            secret: String::new(),
            created_at: now,
        },
        contact: ContactView {
            id: ContactId::from(nil),
            name: Some("Maria Garcia".into()),
            email: None,
            phone: None,
            custom_fields,
            identities: Vec::new(),
            created_at: now,
            updated_at: now,
            erased_at: None,
            blocked_at: None,
        },
    }
}
