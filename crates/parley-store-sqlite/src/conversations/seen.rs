//! When each agent last looked at each conversation (what makes a conversation unread for them).

use std::collections::HashMap;

use parley_core::{ConversationId, Timestamp};
use parley_store::{Scope, StoreResult};
use rusqlite::{params, Connection};

use crate::db::sql_err;

/// Moves the user's mark forward, never back (two tabs may report out of order).
pub(crate) fn mark(
    c: &Connection,
    scope: &Scope,
    conversation: ConversationId,
    at: Timestamp,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO conversation_seen (user_id, conversation_id, seen_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
    )
    .map_err(sql_err)?
    .execute(params![scope.user.to_string(), conversation.to_string(), at.0])
    .map_err(sql_err)?;
    Ok(())
}

pub(crate) fn read(
    c: &Connection,
    scope: &Scope,
    conversations: &[ConversationId],
) -> StoreResult<HashMap<ConversationId, Timestamp>> {
    let mut out = HashMap::with_capacity(conversations.len());
    let mut stmt = c
        .prepare_cached(
            "SELECT seen_at FROM conversation_seen WHERE user_id = ?1 AND conversation_id = ?2",
        )
        .map_err(sql_err)?;
    let user = scope.user.to_string();
    for id in conversations {
        let mut rows = stmt.query(params![user, id.to_string()]).map_err(sql_err)?;
        if let Some(r) = rows.next().map_err(sql_err)? {
            out.insert(*id, Timestamp(r.get(0).map_err(sql_err)?));
        }
    }
    Ok(out)
}
