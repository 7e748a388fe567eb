//! Retention: the content an expiry removes from events (`redact_event_data`), and what goes
//! with an expired message — the conversation's preview of it and copies of its text other events
//! hold. The backends run `sql::retention`.

use std::collections::BTreeMap;

/// The messages one run expired, per conversation (`K`, the backend's id type): their previews
/// and ids, which other events of the conversation may quote.
pub struct Expired<K> {
    by_conversation: BTreeMap<K, (Vec<String>, Vec<String>)>,
}

impl<K: Ord> Default for Expired<K> {
    fn default() -> Self {
        Self {
            by_conversation: BTreeMap::new(),
        }
    }
}

impl<K: Ord> Expired<K> {
    /// Records an expired message of `conv` with its text as it was.
    pub fn add(&mut self, conv: K, id: String, body: &str) {
        let entry = self.by_conversation.entry(conv).or_default();
        entry.0.push(super::preview(body));
        entry.1.push(id);
    }

    /// A survey answer's data as it is kept: the customer's comment goes as their messages do,
    /// and with it the copies of this run's expired messages.
    pub fn survey_answer(&self, conv: &K, data: &str) -> String {
        let new = redact_event_data(data);
        match self.by_conversation.get(conv) {
            Some((previews, ids)) => redact_copies(&new, previews, ids).unwrap_or(new),
            None => new,
        }
    }

    /// Each conversation with what to remove from its other events (`plan::redact_copies`).
    pub fn into_copies(self) -> impl Iterator<Item = (K, Vec<String>, Vec<String>)> {
        self.by_conversation
            .into_iter()
            .map(|(k, (previews, ids))| (k, previews, ids))
    }
}

/// The first 140 characters of a body, on one line, for conversation lists.
/// An event's data with the content of the message it carries removed (retention, erasure): the
/// body, the meta (subjects, files, choices) and the conversation's preview of it.
pub fn redact_event_data(data: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
    if let Some(m) = v.get_mut("message").filter(|m| m.is_object()) {
        m["body"] = serde_json::json!("");
        m["meta"] = serde_json::Value::Null;
        m["redacted"] = serde_json::json!(true);
    }
    if let Some(c) = v.get_mut("conversation").filter(|c| c.is_object()) {
        c["last_message"] = serde_json::Value::Null;
    }
    // A survey answer keeps its rating; the customer's own words go.
    if v.get("comment").is_some_and(|c| !c.is_null()) {
        v["comment"] = serde_json::Value::Null;
    }
    v.to_string()
}

/// Another event's data with its copies of expired messages' text removed: the conversation
/// snapshot's preview (`last_message`) when it is one of `previews`, and a consent change's
/// quoted text when its message is one of `messages`. `None` when nothing in it changes.
pub fn redact_copies(data: &str, previews: &[String], messages: &[String]) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(data).ok()?;
    let mut changed = false;
    if let Some(c) = v.get_mut("conversation").filter(|c| c.is_object()) {
        if c["last_message"]
            .as_str()
            .is_some_and(|p| previews.iter().any(|x| x == p))
        {
            c["last_message"] = serde_json::Value::Null;
            changed = true;
        }
    }
    if let Some(e) = v.pointer_mut("/consent/evidence").filter(|e| e.is_object()) {
        if e["message_id"]
            .as_str()
            .is_some_and(|m| messages.iter().any(|x| x == m))
            && e.get("text").is_some()
        {
            e["text"] = serde_json::json!("");
            changed = true;
        }
    }
    changed.then(|| v.to_string())
}

/// Whether the conversation's preview is of the expired message `body` (and so goes with it).
pub fn shows(preview: Option<&str>, body: &str) -> bool {
    preview == Some(super::preview(body).as_str())
}
