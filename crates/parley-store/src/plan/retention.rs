//! Retention: what an expiry run removes besides the expired messages themselves — the
//! conversation's preview of them and the copies of their text other events hold. The backends
//! run `sql::retention` and rewrite events with `plan::redact_event_data` and these.

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
        let new = super::redact_event_data(data);
        match self.by_conversation.get(conv) {
            Some((previews, ids)) => super::redact_copies(&new, previews, ids).unwrap_or(new),
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

/// Whether the conversation's preview is of the expired message `body` (and so goes with it).
pub fn shows(preview: Option<&str>, body: &str) -> bool {
    preview == Some(super::preview(body).as_str())
}
