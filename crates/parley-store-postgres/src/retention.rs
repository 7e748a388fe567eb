//! Retention: removing the content of old messages (body, meta, their events' data) while the
//! messages and the timeline's shape stay.

use parley_core::{Timestamp, WorkspaceId};
use parley_store::*;

use crate::db::{exec, query, Tx};
use crate::rows::{get, id};

pub(crate) async fn expiring(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    before: Timestamp,
) -> StoreResult<(u64, Option<Timestamp>)> {
    let rows = query(
        tx,
        "SELECT COUNT(*), MIN(created_at) FROM message \
         WHERE workspace_id = $1 AND created_at < $2 AND redacted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = message.id AND o.state = 'queued')",
        &[&ws.as_uuid(), &before.0],
    )
    .await?;
    let r = rows.first().ok_or(StoreError::NotFound)?;
    Ok((
        get::<i64>(r, 0)? as u64,
        get::<Option<i64>>(r, 1)?.map(Timestamp),
    ))
}

pub(crate) async fn expire(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    before: Timestamp,
    limit: u32,
    at: Timestamp,
) -> StoreResult<Vec<ExpiredMessage>> {
    let due = query(
        tx,
        "SELECT id, inbox_id, conversation_id, meta, body FROM message \
         WHERE workspace_id = $1 AND created_at < $2 AND redacted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = message.id AND o.state = 'queued') \
         ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED",
        &[&ws.as_uuid(), &before.0, &i64::from(limit)],
    )
    .await?;
    let mut out = Vec::with_capacity(due.len());
    // Per conversation: the previews and ids of its expired messages, for the copies other
    // events of it hold.
    let mut copies: std::collections::BTreeMap<uuid::Uuid, (Vec<String>, Vec<String>)> =
        Default::default();
    for r in &due {
        let (msg, conv): (uuid::Uuid, uuid::Uuid) = (get(r, 0)?, get(r, 2)?);
        let meta: Option<serde_json::Value> = get(r, 3)?;
        let body: String = get(r, 4)?;
        let entry = copies.entry(conv).or_default();
        entry.0.push(plan::preview(&body));
        entry.1.push(msg.to_string());
        exec(
            tx,
            "UPDATE message SET body = '', meta = NULL, redacted_at = $2 WHERE id = $1",
            &[&msg, &at.0],
        )
        .await?;
        let events = query(
            tx,
            "SELECT seq, data FROM event WHERE conversation_id = $1 AND message_id = $2 AND redacted_at IS NULL",
            &[&conv, &msg],
        )
        .await?;
        for e in &events {
            let (seq, data): (i64, String) = (get(e, 0)?, get(e, 1)?);
            exec(
                tx,
                "UPDATE event SET data = $2, redacted_at = $3 WHERE seq = $1",
                &[&seq, &plan::redact_event_data(&data), &at.0],
            )
            .await?;
        }
        exec(
            tx,
            "UPDATE conversation SET last_message = NULL WHERE id = $1 AND last_message = $2",
            &[&conv, &plan::preview(&body)],
        )
        .await?;
        let meta = meta.map(|m| m.to_string());
        out.push(ExpiredMessage {
            id: id(r, 0)?,
            inbox_id: id(r, 1)?,
            attachments: plan::attachment_ids(meta.as_deref()),
        });
    }
    for (conv, (previews, ids)) in copies {
        let events = query(
            tx,
            "SELECT seq, data FROM event WHERE conversation_id = $1 AND (redacted_at IS NULL OR redacted_at < $2)",
            &[&conv, &at.0],
        )
        .await?;
        for e in &events {
            let (seq, data): (i64, String) = (get(e, 0)?, get(e, 1)?);
            if let Some(new) = plan::redact_copies(&data, &previews, &ids) {
                exec(
                    tx,
                    "UPDATE event SET data = $2, redacted_at = $3 WHERE seq = $1",
                    &[&seq, &new, &at.0],
                )
                .await?;
            }
        }
    }
    Ok(out)
}

pub(crate) async fn list_workspaces(tx: &Tx<'_>) -> StoreResult<Vec<WorkspaceRow>> {
    let rows = query(tx, "SELECT id FROM workspace ORDER BY created_at, id", &[]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let ws: WorkspaceId = id(r, 0)?;
        out.push(
            crate::account::workspace(tx, Some(ws))
                .await?
                .ok_or(StoreError::NotFound)?,
        );
    }
    Ok(out)
}
