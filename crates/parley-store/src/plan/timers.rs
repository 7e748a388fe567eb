//! What both backends write for timers: the snooze wake-up a conversation's snooze sets, and the
//! key range a prefix names.

use parley_core::{ConversationId, Timestamp, WorkspaceId};

use crate::{snooze_key, NewTimer, SNOOZE_KIND};

/// The wake-up of a conversation snoozed until `until`.
pub fn snooze(ws: WorkspaceId, conv: ConversationId, until: Timestamp) -> NewTimer {
    NewTimer {
        workspace: ws,
        key: snooze_key(conv),
        kind: SNOOZE_KIND.into(),
        due_at: until,
        payload: serde_json::json!({ "conversation_id": conv }),
    }
}

/// The first key after every key starting with `prefix` (keys are compared as bytes): a prefix
/// becomes a range the unique index answers, and `%` or `_` in a key mean nothing special.
pub fn prefix_end(prefix: &str) -> String {
    // U+10FFFF sorts after any character a key holds, in UTF-8 byte order as in code points.
    format!("{prefix}\u{10FFFF}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_holds_its_keys_only() {
        let end = prefix_end("conv:1:");
        for key in ["conv:1:", "conv:1:snooze", "conv:1:rule:9"] {
            assert!(key >= "conv:1:" && key < end.as_str(), "{key}");
        }
        for key in ["conv:1", "conv:10:snooze", "conv:2:snooze"] {
            assert!(!(key >= "conv:1:" && key < end.as_str()), "{key}");
        }
    }
}
