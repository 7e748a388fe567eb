//! The JSON payload of each event both backends append, so SQLite and PostgreSQL publish
//! byte-identical events.

use parley_core::conversation::Change;
use serde_json::json;

use crate::{ConversationView, MessageView, NoteView};

pub fn message_created(msg: &MessageView, conv: &ConversationView) -> String {
    json!({ "message": msg, "conversation": conv }).to_string()
}

/// The payload of an event that only records something on a conversation's timeline (a survey
/// answer): its own fields and the conversation as it is.
pub fn conversation_event(data: serde_json::Value, conv: &ConversationView) -> String {
    let mut out = match data {
        serde_json::Value::Object(m) => m,
        other => {
            let mut m = serde_json::Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    out.insert("conversation".into(), json!(conv));
    serde_json::Value::Object(out).to_string()
}

pub fn note_created(note: &NoteView, conv: &ConversationView) -> String {
    json!({ "note": note, "conversation": conv }).to_string()
}

pub fn conversation_updated(
    change: &serde_json::Value,
    actor: Option<uuid::Uuid>,
    conv: &ConversationView,
) -> String {
    json!({ "change": change, "actor_id": actor, "conversation": conv }).to_string()
}

pub fn change_json(change: &Change) -> serde_json::Value {
    serde_json::to_value(change).unwrap_or(serde_json::Value::Null)
}

pub fn message_updated(msg: &MessageView) -> String {
    json!({
        "message_id": msg.id,
        "conversation_id": msg.conversation_id,
        "status": msg.status,
        "error": msg.error,
        "external_id": msg.external_id,
    })
    .to_string()
}
