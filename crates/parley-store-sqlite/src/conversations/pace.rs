//! How fast and how full an inbox is, and the once-per-period record of auto-replies.

use async_trait::async_trait;
use parley_core::{ConversationId, InboxId, Timestamp, WorkspaceId};
use parley_store::{InboxPace, Pace, StoreError, StoreResult, Waiting};
use rusqlite::{params, OptionalExtension};

use crate::db::sql_err;
use crate::SqliteStore;

const FIRST_RESPONSES: &str = "SELECT c.first_reply_at - (SELECT MIN(m.created_at) FROM message m \
     WHERE m.conversation_id = c.id AND m.direction = 'inbound') \
     FROM conversation c WHERE c.inbox_id = ?1 AND c.workspace_id = ?2 \
     AND c.first_reply_at >= ?3 AND c.first_reply_at < ?4";

const WAITING: &str = "SELECT waiting_since, assignee_id IS NULL FROM conversation \
     WHERE workspace_id = ?1 AND inbox_id = ?2 AND status = 'open' AND waiting_since IS NOT NULL";

#[async_trait]
impl Pace for SqliteStore {
    async fn inbox_pace(
        &self,
        ws: WorkspaceId,
        inbox: InboxId,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<InboxPace> {
        self.db
            .read(move |c| {
                let (ws, inbox) = (ws.to_string(), inbox.to_string());
                let mut stmt = c.prepare_cached(FIRST_RESPONSES).map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![inbox, ws, since.0, until.0], |r| {
                        r.get::<_, Option<i64>>(0)
                    })
                    .map_err(sql_err)?;
                let mut first_responses_ms = Vec::new();
                for r in rows {
                    // A conversation the business started has no earlier customer message.
                    if let Some(ms) = r.map_err(sql_err)?.filter(|ms| *ms >= 0) {
                        first_responses_ms.push(ms);
                    }
                }
                let mut stmt = c.prepare_cached(WAITING).map_err(sql_err)?;
                let waiting = stmt
                    .query_map(params![ws, inbox], |r| {
                        Ok(Waiting {
                            since: Timestamp(r.get(0)?),
                            unassigned: r.get(1)?,
                        })
                    })
                    .map_err(sql_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sql_err)?;
                Ok(InboxPace {
                    first_responses_ms,
                    waiting,
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
            .write(move |c, _| {
                let conv = conv.to_string();
                let known: Option<i64> = c
                    .prepare_cached("SELECT 1 FROM conversation WHERE id = ?1 AND workspace_id = ?2")
                    .map_err(sql_err)?
                    .query_row(params![conv, ws.to_string()], |r| r.get(0))
                    .optional()
                    .map_err(sql_err)?;
                if known.is_none() {
                    return Err(StoreError::NotFound);
                }
                let changed = c
                    .prepare_cached(
                        "INSERT INTO auto_reply_sent (conversation_id, kind, sent_at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (conversation_id, kind) DO UPDATE SET sent_at = excluded.sent_at \
                         WHERE excluded.sent_at - auto_reply_sent.sent_at >= ?4",
                    )
                    .map_err(sql_err)?
                    .execute(params![conv, kind, at.0, period_ms])
                    .map_err(sql_err)?;
                Ok(changed == 1)
            })
            .await
    }
}
