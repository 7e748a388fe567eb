//! Statements whose text is the same on SQLite and PostgreSQL, written once. Parameters are `$1`,
//! `$2`, …; SQLite numbers `$n` by where each first appears, so in every statement here they
//! first appear in ascending order (a test checks), and both backends bind them by position.

/// One row when the user is an admin of the workspace or a member of the inbox.
/// `$1` workspace, `$2` user, `$3` inbox.
pub const ASSIGNEE_WORKS_INBOX: &str = "SELECT m.role FROM membership m \
     WHERE m.workspace_id = $1 AND m.user_id = $2 \
     AND (m.role = 'admin' OR EXISTS (SELECT 1 FROM inbox_member im WHERE im.inbox_id = $3 AND im.user_id = $2))";

/// Merging contacts (`plan::merge`), in the order they run: `$1` the kept contact (or
/// conversation), `$2` the absorbed one.
pub mod merge {
    /// The absorbed contact's identities and consent ledger (which moves, never goes).
    pub const MOVE_IDENTITIES: &str =
        "UPDATE contact_identity SET contact_id = $1 WHERE contact_id = $2";
    pub const MOVE_CONSENT: &str = "UPDATE consent_event SET contact_id = $1 WHERE contact_id = $2";
    /// `$1` the absorbed contact.
    pub const CONVERSATIONS: &str = "SELECT id FROM conversation WHERE contact_id = $1";
    /// A thread absorbed by the kept contact's thread in the same inbox: `$1` that thread, `$2`
    /// the absorbed one; its timeline is re-parented, never rewritten, then it goes.
    pub const MOVE_EVENTS: &str =
        "UPDATE event SET conversation_id = $1 WHERE conversation_id = $2";
    pub const MOVE_MESSAGES: &str =
        "UPDATE message SET conversation_id = $1 WHERE conversation_id = $2";
    /// `$1` the absorbed thread.
    pub const DELETE_CONVERSATION: &str = "DELETE FROM conversation WHERE id = $1";
    /// A thread in an inbox where the kept contact has none: `$1` the kept contact, `$2` the thread.
    pub const MOVE_CONVERSATION: &str = "UPDATE conversation SET contact_id = $1 WHERE id = $2";
    /// `$1` the absorbed contact, last.
    pub const DELETE_CONTACT: &str = "DELETE FROM contact WHERE id = $1";
}

/// Every shared statement, for the test of their parameter order.
pub const ALL: &[&str] = &[
    ASSIGNEE_WORKS_INBOX,
    merge::MOVE_IDENTITIES,
    merge::MOVE_CONSENT,
    merge::CONVERSATIONS,
    merge::MOVE_EVENTS,
    merge::MOVE_MESSAGES,
    merge::DELETE_CONVERSATION,
    merge::MOVE_CONVERSATION,
    merge::DELETE_CONTACT,
];

#[cfg(test)]
mod tests {
    /// SQLite gives `$n` the next free index where it first appears; that index must be `n`.
    #[test]
    fn parameters_first_appear_in_ascending_order() {
        for sql in super::ALL {
            let mut seen: Vec<u32> = Vec::new();
            let mut rest = *sql;
            while let Some(i) = rest.find('$') {
                rest = &rest[i + 1..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let Ok(n) = digits.parse::<u32>() else {
                    continue;
                };
                if !seen.contains(&n) {
                    assert_eq!(n as usize, seen.len() + 1, "{sql}");
                    seen.push(n);
                }
            }
        }
    }
}
