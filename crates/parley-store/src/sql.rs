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

/// Erasing a contact (`plan::erase`), in the order they run.
pub mod erase {
    /// Per conversation (`$1`): a provider's error may quote the number.
    pub const CLEAR_OUTBOX_ERRORS: &str = "UPDATE outbox SET last_error = NULL \
         WHERE message_id IN (SELECT id FROM message WHERE conversation_id = $1)";
    /// Per conversation (`$2`, `$1` the time): queued replies fail, messages then outbox rows.
    pub const CANCEL_MESSAGES: &str =
        "UPDATE message SET status = 'failed', error = 'contact erased', updated_at = $1 \
         WHERE id IN (SELECT o.message_id FROM outbox o JOIN message m ON m.id = o.message_id \
                      WHERE m.conversation_id = $2 AND o.state = 'queued')";
    pub const CANCEL_OUTBOX: &str = "UPDATE outbox SET state = 'failed', last_error = 'contact erased', claimed_until = NULL, updated_at = $1 \
         WHERE state = 'queued' AND message_id IN (SELECT id FROM message WHERE conversation_id = $2)";
    /// Per conversation (`$2`, `$1` the time).
    pub const REDACT_MESSAGES: &str = "UPDATE message SET body = '', meta = NULL, error = NULL, redacted_at = $1 WHERE conversation_id = $2";
    /// `$1` the contact.
    pub const CLEAR_PREVIEWS: &str =
        "UPDATE conversation SET last_message = NULL WHERE contact_id = $1";
    /// `$1` workspace, `$2` contact: purpose, source, channel, at.
    pub const REVOCATIONS: &str = "SELECT purpose, source, channel, at FROM consent_event \
         WHERE workspace_id = $1 AND contact_id = $2 AND action = 'revoke'";
    /// `$1` workspace, `$2` contact: only revocations stay on the ledger.
    pub const DROP_GRANTS: &str = "DELETE FROM consent_event WHERE workspace_id = $1 AND contact_id = $2 AND action <> 'revoke'";
    /// `$1` the contact.
    pub const DELETE_IDENTITIES: &str = "DELETE FROM contact_identity WHERE contact_id = $1";
    /// `$1` the contact: an erased person is on no list, so nothing may be sent to them from one.
    pub const LEAVE_LISTS: &str = "DELETE FROM contact_list_member WHERE contact_id = $1";
    /// `$1` the time, `$2` the contact.
    pub const ANONYMISE: &str = "UPDATE contact SET name = NULL, email = NULL, phone = NULL, email_sealed = NULL, phone_sealed = NULL, custom_fields = '{}', \
         erased_at = $1, updated_at = $1 WHERE id = $2";
}

/// Retention (`plan::retention`).
pub mod retention {
    /// `$1` workspace, `$2` the cut-off: how many messages are due, and the oldest's time.
    pub const EXPIRING: &str = "SELECT COUNT(*), MIN(created_at) FROM message \
         WHERE workspace_id = $1 AND created_at < $2 AND redacted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = message.id AND o.state = 'queued')";
    /// `$1` the time, `$2` the message.
    pub const REDACT_MESSAGE: &str =
        "UPDATE message SET body = '', meta = NULL, redacted_at = $1 WHERE id = $2";
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
    erase::CLEAR_OUTBOX_ERRORS,
    erase::CANCEL_MESSAGES,
    erase::CANCEL_OUTBOX,
    erase::REDACT_MESSAGES,
    erase::CLEAR_PREVIEWS,
    erase::REVOCATIONS,
    erase::DROP_GRANTS,
    erase::DELETE_IDENTITIES,
    erase::LEAVE_LISTS,
    erase::ANONYMISE,
    retention::EXPIRING,
    retention::REDACT_MESSAGE,
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
