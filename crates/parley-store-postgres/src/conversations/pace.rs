//! How fast and how full an inbox is, and the once-per-period record of auto-replies.

use async_trait::async_trait;
use parley_core::{ConversationId, InboxId, Timestamp, WorkspaceId};
use parley_store::{InboxPace, Pace, StoreError, StoreResult, Waiting};

use crate::db::{exec, query, query_opt};
use crate::rows::get;
use crate::PostgresStore;

const FIRST_RESPONSES: &str = "SELECT c.first_reply_at - (SELECT MIN(m.created_at) FROM message m \
     WHERE m.conversation_id = c.id AND m.direction = 'inbound') \
     FROM conversation c WHERE c.inbox_id = $1 AND c.workspace_id = $2 \
     AND c.first_reply_at >= $3 AND c.first_reply_at < $4";

const WAITING: &str = "SELECT waiting_since, assignee_id IS NULL FROM conversation \
     WHERE workspace_id = $1 AND inbox_id = $2 AND status = 'open' AND waiting_since IS NOT NULL";

#[async_trait]
impl Pace for PostgresStore {
    async fn inbox_pace(
        &self,
        ws: WorkspaceId,
        inbox: InboxId,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<InboxPace> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let (ws, inbox) = (ws.as_uuid(), inbox.as_uuid());
                    let rows =
                        query(tx, FIRST_RESPONSES, &[&inbox, &ws, &since.0, &until.0]).await?;
                    let mut first_responses_ms = Vec::new();
                    for r in &rows {
                        // A conversation the business started has no earlier customer message.
                        if let Some(ms) = get::<Option<i64>>(r, 0)?.filter(|ms| *ms >= 0) {
                            first_responses_ms.push(ms);
                        }
                    }
                    let waiting = query(tx, WAITING, &[&ws, &inbox])
                        .await?
                        .iter()
                        .map(|r| {
                            Ok(Waiting {
                                since: Timestamp(get(r, 0)?),
                                unassigned: get(r, 1)?,
                            })
                        })
                        .collect::<StoreResult<Vec<_>>>()?;
                    Ok(InboxPace {
                        first_responses_ms,
                        waiting,
                    })
                })
            })
            .await
    }

    async fn claim_auto_reply(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        kind: &str,
        at: Timestamp,
        period_ms: i64,
    ) -> StoreResult<bool> {
        let kind = kind.to_string();
        self.db
            .write(move |tx, _| {
                Box::pin(async move {
                    let conv = conv.as_uuid();
                    let known = query_opt(
                        tx,
                        "SELECT 1 FROM conversation WHERE id = $1 AND workspace_id = $2",
                        &[&conv, &ws.as_uuid()],
                    )
                    .await?;
                    if known.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    let changed = exec(
                        tx,
                        "INSERT INTO auto_reply_sent (conversation_id, kind, sent_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (conversation_id, kind) DO UPDATE SET sent_at = excluded.sent_at \
                         WHERE excluded.sent_at - auto_reply_sent.sent_at >= $4",
                        &[&conv, &kind, &at.0, &period_ms],
                    )
                    .await?;
                    Ok(changed == 1)
                })
            })
            .await
    }
}
