//! When each agent last looked at each conversation (what makes a conversation unread for them).

use std::collections::HashMap;

use async_trait::async_trait;
use parley_core::{ConversationId, Timestamp};
use parley_store::{Scope, Seen, StoreResult};

use crate::db::{exec, query};
use crate::rows::get;
use crate::PostgresStore;

#[async_trait]
impl Seen for PostgresStore {
    async fn mark_seen(
        &self,
        scope: &Scope,
        conversation: ConversationId,
        at: Timestamp,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        self.db
            .write(move |tx, _| Box::pin(async move {
    exec(
        tx,
        "INSERT INTO conversation_seen (user_id, conversation_id, seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET seen_at = GREATEST(conversation_seen.seen_at, excluded.seen_at)",
        &[&scope.user.as_uuid(), &conversation.as_uuid(), &at.0],
    )
    .await?;
    Ok(())
}))
            .await
    }

    async fn seen_at(
        &self,
        scope: &Scope,
        conversations: &[ConversationId],
    ) -> StoreResult<std::collections::HashMap<ConversationId, Timestamp>> {
        let (scope, conversations) = (scope.clone(), conversations.to_vec());
        self.db
            .run(move |tx| Box::pin(async move {
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
}))
            .await
    }
}
