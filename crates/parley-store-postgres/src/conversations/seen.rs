//! When each agent last looked at each conversation (what makes a conversation unread for them).

use std::collections::HashMap;

use parley_core::{ConversationId, Timestamp};
use parley_store::{Scope, StoreResult};

use crate::db::{exec, query, Tx};
use crate::rows::get;

/// Moves the user's mark forward, never back (two tabs may report out of order).
pub(crate) async fn mark(
    tx: &Tx<'_>,
    scope: &Scope,
    conversation: ConversationId,
    at: Timestamp,
) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO conversation_seen (user_id, conversation_id, seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET seen_at = GREATEST(conversation_seen.seen_at, excluded.seen_at)",
        &[&scope.user.as_uuid(), &conversation.as_uuid(), &at.0],
    )
    .await?;
    Ok(())
}

pub(crate) async fn read(
    tx: &Tx<'_>,
    scope: &Scope,
    conversations: &[ConversationId],
) -> StoreResult<HashMap<ConversationId, Timestamp>> {
    let ids: Vec<uuid::Uuid> = conversations.iter().map(|c| c.as_uuid()).collect();
    let rows = query(
        tx,
        "SELECT conversation_id, seen_at FROM conversation_seen WHERE user_id = $1 AND conversation_id = ANY($2)",
        &[&scope.user.as_uuid(), &ids],
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let id: uuid::Uuid = get(&r, 0)?;
        out.insert(ConversationId::from(id), Timestamp(get(&r, 1)?));
    }
    Ok(out)
}
