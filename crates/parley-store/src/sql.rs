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

/// Automation rules and their firing log.
pub mod automations {
    /// The columns `plan::automations::RuleFields` reads, in order.
    pub const COLS: &str =
        "id, position, enabled, inbox_id, name, body, fired, last_fired_at, created_at, updated_at";
    pub const NEXT_POSITION: &str =
        "SELECT COALESCE(MAX(position) + 1, 0) FROM automation_rule WHERE workspace_id = $1";
    pub const INBOX_OF_WORKSPACE: &str = "SELECT 1 FROM inbox WHERE id = $1 AND workspace_id = $2";
    pub const INSERT: &str = "INSERT INTO automation_rule (id, workspace_id, position, enabled, inbox_id, name, body, fired, last_fired_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, $8, $8)";
    pub const UPDATE: &str = "UPDATE automation_rule SET enabled = $1, inbox_id = $2, name = $3, body = $4, updated_at = $5 \
         WHERE id = $6 AND workspace_id = $7";
    pub const DELETE: &str = "DELETE FROM automation_rule WHERE id = $1 AND workspace_id = $2";
    pub const SET_POSITION: &str =
        "UPDATE automation_rule SET position = $1, updated_at = $2 WHERE id = $3 AND workspace_id = $4";
    pub const FIRED: &str = "UPDATE automation_rule SET fired = fired + 1, last_fired_at = $1 WHERE id = $2 AND workspace_id = $3";
    pub const INSERT_FIRING: &str = "INSERT INTO automation_firing (rule_id, conversation_id, at, messages) VALUES ($1, $2, $3, $4)";
    /// `$1` workspace, `$2` conversation, `$3` since: the firings that sent messages.
    pub const SENDS: &str = "SELECT f.rule_id, f.at, f.messages FROM automation_firing f \
         JOIN automation_rule r ON r.id = f.rule_id \
         WHERE r.workspace_id = $1 AND f.conversation_id = $2 AND f.at >= $3 AND f.messages > 0 \
         ORDER BY f.at";
    pub const MACRO_COLS: &str = "id, name, actions, created_at, updated_at";
    pub const INSERT_MACRO: &str =
        "INSERT INTO automation_macro (id, workspace_id, name, actions, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)";
    pub const UPDATE_MACRO: &str =
        "UPDATE automation_macro SET name = $1, actions = $2, updated_at = $3 \
         WHERE id = $4 AND workspace_id = $5";
    pub const DELETE_MACRO: &str =
        "DELETE FROM automation_macro WHERE id = $1 AND workspace_id = $2";
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

/// The `Conversations` store.
pub mod conversations {
    pub const INSERT_SURVEY_ANSWER: &str =
        "INSERT INTO survey_answer (conversation_id, sent_at, answered_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    /// Takes a call's provider id for its inbox; nothing when it was taken (a redelivery).
    pub const INSERT_CALL: &str =
        "INSERT INTO call_log (inbox_id, external_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    pub const SNOOZED_DUE: &str =
        "SELECT id, workspace_id FROM conversation WHERE status = 'snoozed' AND snoozed_until <= $1 LIMIT 500";
}

/// The `Outbox` store.
pub mod outbox {
    /// `$1` when it is due again, `$2` the delivery.
    pub const DEFER: &str =
        "UPDATE outbox SET next_attempt_at = $1, claimed_until = NULL WHERE id = $2";
    /// `$1` the time, `$2` the delivery.
    pub const DONE: &str =
        "UPDATE outbox SET state = 'done', claimed_until = NULL, updated_at = $1 WHERE id = $2";
    pub const REPLIES_SENT_UNTIL: &str =
        "SELECT inbox_id, external_id FROM message WHERE conversation_id = $1 AND direction = 'outbound' AND external_id IS NOT NULL AND status IN ('sent', 'delivered') AND created_at <= $2";
    pub const DELETE_NODE: &str = "DELETE FROM node WHERE id = $1";
    pub const RELEASE_CLAIMS: &str =
        "UPDATE outbox SET claimed_until = NULL WHERE state = 'queued' AND claimed_until IS NOT NULL";
    pub const FORGET_PENDING_REPORTS: &str = "DELETE FROM delivery_pending WHERE at < $1";
}

/// The `Contacts` store (contacts and lists).
pub mod contacts {
    pub const SET_CONTACT_BLOCKED: &str =
        "UPDATE contact SET blocked_at = $1, updated_at = $2 WHERE id = $3";
    pub const DELETE_IDENTITY: &str =
        "DELETE FROM contact_identity WHERE id = $1 AND contact_id = $2";
    pub const INSERT_LIST: &str =
        "INSERT INTO contact_list (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4)";
    pub const SET_LIST_NAME: &str = "UPDATE contact_list SET name = $1 WHERE id = $2";
    pub const DELETE_LIST: &str = "DELETE FROM contact_list WHERE id = $1";
    pub const DELETE_LIST_MEMBER: &str =
        "DELETE FROM contact_list_member WHERE list_id = $1 AND contact_id = $2";
}

/// The `Keys` store.
pub mod keys {
    /// `$1` the wrapped key, `$2` its id.
    pub const SET_DATA_KEY: &str = "UPDATE data_key SET wrapped = $1 WHERE id = $2";
    pub const DELETE_SEALING_PENDING: &str = "DELETE FROM sealing_pending";
    pub const INSERT_RESEALING: &str = "INSERT INTO resealing (at) VALUES ($1)";
    pub const DELETE_RESEALING: &str = "DELETE FROM resealing";
    pub const DATA_KEYS: &str = "SELECT id, wrapped FROM data_key ORDER BY id";
    pub const INSERT_SEALING_PENDING: &str = "INSERT INTO sealing_pending (since) VALUES ($1)";
    pub const SEALING_PENDING_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM sealing_pending)";
}

/// The `Directory` store.
pub mod directory {
    pub const INSERT_TEAM: &str =
        "INSERT INTO team (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4)";
    pub const SET_TEAM_NAME: &str = "UPDATE team SET name = $1 WHERE id = $2";
    pub const UNASSIGN_TEAM: &str = "UPDATE conversation SET team_id = NULL WHERE team_id = $1";
    pub const DELETE_TEAM: &str = "DELETE FROM team WHERE id = $1";
    pub const DELETE_TEAM_MEMBER: &str =
        "DELETE FROM team_member WHERE team_id = $1 AND user_id = $2";
    pub const SET_INBOX_NAME: &str = "UPDATE inbox SET name = $1 WHERE id = $2";
    pub const DELETE_INBOX_MEMBER: &str =
        "DELETE FROM inbox_member WHERE inbox_id = $1 AND user_id = $2";
    pub const TEAM: &str =
        "SELECT id, name, created_at FROM team WHERE workspace_id = $1 AND id = $2";
    pub const TEAM_MEMBERS: &str =
        "SELECT user_id FROM team_member WHERE team_id = $1 ORDER BY user_id";
    pub const FORGET_NODES: &str = "DELETE FROM node WHERE seen_at < $1";
    pub const LIVE_NODES: &str =
        "SELECT id, host, pid, started_at, seen_at FROM node WHERE id <> $1 AND seen_at >= $2 ORDER BY started_at";
}

/// The `Accounts` store.
pub mod accounts {
    /// Removing a member, `$1` workspace, `$2` user.
    pub const LEAVE_INBOXES: &str =
        "DELETE FROM inbox_member WHERE inbox_id IN (SELECT id FROM inbox WHERE workspace_id = $1) AND user_id = $2";
    pub const LEAVE_TEAMS: &str =
        "DELETE FROM team_member WHERE team_id IN (SELECT id FROM team WHERE workspace_id = $1) AND user_id = $2";
    pub const DELETE_MEMBER_SESSIONS: &str =
        "DELETE FROM session WHERE workspace_id = $1 AND user_id = $2";
    pub const REVOKE_MEMBER_TOKENS: &str =
        "UPDATE api_token SET revoked_at = COALESCE(revoked_at, 0) WHERE workspace_id = $1 AND user_id = $2";
    /// `$1` the time, `$2` workspace, `$3` user, `$4` token.
    pub const REVOKE_TOKEN: &str =
        "UPDATE api_token SET revoked_at = $1 WHERE workspace_id = $2 AND user_id = $3 AND id = $4 AND revoked_at IS NULL";
    /// `$1` the settings, `$2` workspace.
    pub const SET_WORKSPACE_SETTINGS: &str = "UPDATE workspace SET settings = $1 WHERE id = $2";
    pub const INSERT_WORKSPACE: &str =
        "INSERT INTO workspace (id, name, timezone, created_at) VALUES ($1, $2, $3, $4)";
    pub const SET_USER_NAME: &str = "UPDATE users SET name = $1 WHERE id = $2";
    pub const SET_USER_PASSWORD: &str = "UPDATE users SET password_hash = $1 WHERE id = $2";
    pub const DELETE_USER_SESSIONS: &str = "DELETE FROM session WHERE user_id = $1";
    pub const SET_MEMBERSHIP_ROLE: &str =
        "UPDATE membership SET role = $1 WHERE workspace_id = $2 AND user_id = $3";
    pub const DELETE_MEMBERSHIP: &str =
        "DELETE FROM membership WHERE workspace_id = $1 AND user_id = $2";
    pub const CREDENTIALS_BY_EMAIL: &str =
        "SELECT u.id, m.workspace_id, u.password_hash FROM users u JOIN membership m ON m.user_id = u.id WHERE u.email = $1 ORDER BY m.created_at LIMIT 1";
    pub const INSERT_SESSION: &str =
        "INSERT INTO session (token_hash, user_id, workspace_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
    pub const LIVE_SESSION: &str =
        "SELECT user_id, workspace_id, csrf_token FROM session WHERE token_hash = $1 AND expires_at > $2";
    pub const INSERT_API_TOKEN: &str =
        "INSERT INTO api_token (id, workspace_id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
    pub const USER_TOKENS: &str =
        "SELECT id, name, created_at, revoked_at FROM api_token WHERE workspace_id = $1 AND user_id = $2 ORDER BY created_at, id";
    pub const LIVE_TOKEN: &str =
        "SELECT user_id, workspace_id FROM api_token WHERE token_hash = $1 AND revoked_at IS NULL";
    pub const ACCESS_CHANGES_AFTER: &str =
        "SELECT id, workspace_id, user_id FROM access_change WHERE id > $1 ORDER BY id LIMIT $2";
    pub const INSERT_AUDIT: &str =
        "INSERT INTO audit (workspace_id, actor_id, action, target, detail, ip, at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub const AUDIT: &str =
        "SELECT workspace_id, actor_id, action, target, detail, ip, at FROM audit WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2";
    pub const WORKSPACE: &str =
        "SELECT id, name, timezone, created_at, settings FROM workspace WHERE id = $1";
    pub const INSERT_USER: &str =
        "INSERT INTO users (id, email, name, password_hash, created_at, bot) VALUES ($1, $2, $3, $4, $5, $6)";
    pub const INSERT_MEMBERSHIP: &str =
        "INSERT INTO membership (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)";
    pub const LAST_ACCESS_CHANGE: &str = "SELECT COALESCE(MAX(id), 0) FROM access_change";
    pub const COUNT_ADMINS: &str =
        "SELECT COUNT(*) FROM membership WHERE workspace_id = $1 AND role = 'admin'";
    pub const WORKSPACE_IDS: &str = "SELECT id FROM workspace ORDER BY created_at, id";
}

/// The `Templates` store. Rows are read as `COLS` in this order.
pub mod templates {
    pub const COLS: &str = "id, workspace_id, name, shortcut, body, channels, uses, last_used_at, created_at, updated_at";
    pub const INSERT: &str = "INSERT INTO template (id, workspace_id, name, shortcut, body, channels, uses, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)";
    /// `$1` the workspace.
    pub const ALL: &str = "SELECT id, workspace_id, name, shortcut, body, channels, uses, last_used_at, created_at, updated_at \
         FROM template WHERE workspace_id = $1";
    /// `$1` the template, `$2` its workspace.
    pub const ONE: &str = "SELECT id, workspace_id, name, shortcut, body, channels, uses, last_used_at, created_at, updated_at \
         FROM template WHERE id = $1 AND workspace_id = $2";
    pub const UPDATE: &str =
        "UPDATE template SET name = $1, shortcut = $2, body = $3, channels = $4, updated_at = $5 \
         WHERE id = $6 AND workspace_id = $7";
    pub const DELETE: &str = "DELETE FROM template WHERE id = $1 AND workspace_id = $2";
    pub const COUNT_USE: &str =
        "UPDATE template SET uses = uses + 1, last_used_at = $1 WHERE id = $2 AND workspace_id = $3";
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
    conversations::INSERT_SURVEY_ANSWER,
    conversations::INSERT_CALL,
    conversations::SNOOZED_DUE,
    outbox::REPLIES_SENT_UNTIL,
    outbox::DELETE_NODE,
    outbox::RELEASE_CLAIMS,
    outbox::FORGET_PENDING_REPORTS,
    contacts::SET_CONTACT_BLOCKED,
    contacts::DELETE_IDENTITY,
    contacts::INSERT_LIST,
    contacts::SET_LIST_NAME,
    contacts::DELETE_LIST,
    contacts::DELETE_LIST_MEMBER,
    templates::INSERT,
    templates::ALL,
    templates::ONE,
    templates::UPDATE,
    templates::DELETE,
    templates::COUNT_USE,
    keys::DELETE_SEALING_PENDING,
    keys::INSERT_RESEALING,
    keys::DELETE_RESEALING,
    keys::DATA_KEYS,
    keys::INSERT_SEALING_PENDING,
    keys::SEALING_PENDING_EXISTS,
    directory::INSERT_TEAM,
    directory::SET_TEAM_NAME,
    directory::UNASSIGN_TEAM,
    directory::DELETE_TEAM,
    directory::DELETE_TEAM_MEMBER,
    directory::SET_INBOX_NAME,
    directory::DELETE_INBOX_MEMBER,
    directory::TEAM,
    directory::TEAM_MEMBERS,
    directory::FORGET_NODES,
    directory::LIVE_NODES,
    accounts::INSERT_WORKSPACE,
    accounts::SET_USER_NAME,
    accounts::SET_USER_PASSWORD,
    accounts::DELETE_USER_SESSIONS,
    accounts::SET_MEMBERSHIP_ROLE,
    accounts::DELETE_MEMBERSHIP,
    accounts::CREDENTIALS_BY_EMAIL,
    accounts::INSERT_SESSION,
    accounts::LIVE_SESSION,
    accounts::INSERT_API_TOKEN,
    accounts::USER_TOKENS,
    accounts::LIVE_TOKEN,
    accounts::ACCESS_CHANGES_AFTER,
    accounts::INSERT_AUDIT,
    accounts::AUDIT,
    accounts::WORKSPACE,
    accounts::INSERT_USER,
    accounts::INSERT_MEMBERSHIP,
    accounts::LAST_ACCESS_CHANGE,
    accounts::COUNT_ADMINS,
    accounts::WORKSPACE_IDS,
    accounts::LEAVE_INBOXES,
    accounts::LEAVE_TEAMS,
    accounts::DELETE_MEMBER_SESSIONS,
    accounts::REVOKE_MEMBER_TOKENS,
    accounts::REVOKE_TOKEN,
    accounts::SET_WORKSPACE_SETTINGS,
    keys::SET_DATA_KEY,
    outbox::DEFER,
    automations::NEXT_POSITION,
    automations::INSERT,
    automations::UPDATE,
    automations::DELETE,
    automations::SET_POSITION,
    automations::FIRED,
    automations::INSERT_FIRING,
    automations::SENDS,
    automations::INSERT_MACRO,
    automations::UPDATE_MACRO,
    automations::DELETE_MACRO,
    outbox::DONE,
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
