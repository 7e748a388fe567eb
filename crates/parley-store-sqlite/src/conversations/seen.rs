//! When each agent last looked at each conversation (what makes a conversation unread for them).

use std::collections::HashMap;

use async_trait::async_trait;
use parley_core::{ConversationId, Timestamp};
use parley_store::{Scope, Seen, StoreResult};
use rusqlite::params;

use crate::db::sql_err;
use crate::SqliteStore;

#[async_trait]
impl Seen for SqliteStore {
    async fn mark_seen(
        &self,
        scope: &Scope,
        conversation: ConversationId,
        at: Timestamp,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        self.db
            .write(move |c, _| {
    c.prepare_cached(
        "INSERT INTO conversation_seen (user_id, conversation_id, seen_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
    )
    .map_err(sql_err)?
    .execute(params![scope.user.to_string(), conversation.to_string(), at.0])
    .map_err(sql_err)?;
    Ok(())
})
            .await
    }

    async fn seen_at(
        &self,
        scope: &Scope,
        conversations: &[ConversationId],
    ) -> StoreResult<std::collections::HashMap<ConversationId, Timestamp>> {
        let (scope, conversations) = (scope.clone(), conversations.to_vec());
        self.db
            .read(move |c| {
                let mut out = HashMap::with_capacity(conversations.len());
                let mut stmt = c
        .prepare_cached(
            "SELECT seen_at FROM conversation_seen WHERE user_id = ?1 AND conversation_id = ?2",
        )
        .map_err(sql_err)?;
                let user = scope.user.to_string();
                for id in &conversations {
                    let mut rows = stmt.query(params![user, id.to_string()]).map_err(sql_err)?;
                    if let Some(r) = rows.next().map_err(sql_err)? {
                        out.insert(*id, Timestamp(r.get(0).map_err(sql_err)?));
                    }
                }
                Ok(out)
            })
            .await
    }
}
