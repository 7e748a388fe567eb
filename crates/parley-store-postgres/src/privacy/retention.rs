//! Retention: removing the content of old messages (body, meta, their events' data) while the
//! messages and the timeline's shape stay.

use parley_core::{Timestamp, WorkspaceId};
use parley_store::crypt;
use parley_store::plan::retention::Expired;
use parley_store::*;

use crate::db::{exec, query, Tx};
use crate::rows::{get, id};

/// Redacts up to `limit` messages of the workspace sent before `before` (none still waiting to go
/// out), noting in `expired` what each said; answers them with the files they listed.
pub(super) async fn redact_messages(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    before: Timestamp,
    limit: u32,
    at: Timestamp,
    expired: &mut Expired<uuid::Uuid>,
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
    for r in &due {
        let (msg, conv): (uuid::Uuid, uuid::Uuid) = (get(r, 0)?, get(r, 2)?);
        let place = |field| crypt::aad("message", msg, field);
        let meta: Option<serde_json::Value> = get::<Option<serde_json::Value>>(r, 3)?
            .map(|m| crypt::open_json(tx.keys(), &place("meta"), m))
            .transpose()
            .map_err(|e| StoreError::Other(anyhow::anyhow!("message {msg}: {e}")))?;
        let body = crypt::open_field(tx.keys(), &place("body"), get(r, 4)?)?.unwrap_or_default();
        expired.add(conv, msg.to_string(), &body);
        redact_message(tx, msg, conv, &body, at).await?;
        let meta = meta.map(|m| m.to_string());
        out.push(ExpiredMessage {
            id: id(r, 0)?,
            inbox_id: id(r, 1)?,
            attachments: plan::attachment_ids(meta.as_deref()),
        });
    }
    Ok(out)
}

/// Empties one message, its events and its conversation's preview when the preview shows it.
async fn redact_message(
    tx: &Tx<'_>,
    msg: uuid::Uuid,
    conv: uuid::Uuid,
    body: &str,
    at: Timestamp,
) -> StoreResult<()> {
    exec(tx, sql::retention::REDACT_MESSAGE, &[&at.0, &msg]).await?;
    let events = event_data(
        tx,
        "WHERE conversation_id = $1 AND message_id = $2 AND redacted_at IS NULL",
        &[&conv, &msg],
    )
    .await?;
    for (seq, _, place, data) in &events {
        let data = crypt::seal_text(tx.keys(), place, &plan::retention::redact_event_data(data));
        exec(
            tx,
            "UPDATE event SET data = $2, redacted_at = $3 WHERE seq = $1",
            &[seq, &data, &at.0],
        )
        .await?;
    }
    let preview = query(
        tx,
        "SELECT last_message FROM conversation WHERE id = $1",
        &[&conv],
    )
    .await?;
    let shown = match preview.first() {
        Some(p) => crypt::open_field(
            tx.keys(),
            &crypt::aad("conversation", conv, "preview"),
            get(p, 0)?,
        )?,
        None => None,
    };
    if plan::retention::shows(shown.as_deref(), body) {
        exec(
            tx,
            "UPDATE conversation SET last_message = NULL WHERE id = $1",
            &[&conv],
        )
        .await?;
    }
    Ok(())
}

/// Redacts the comments of survey answers given before `before`.
pub(super) async fn redact_survey_answers(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    before: Timestamp,
    limit: u32,
    expired: &Expired<uuid::Uuid>,
    at: Timestamp,
) -> StoreResult<()> {
    let surveys = query(
        tx,
        "SELECT seq, conversation_id FROM event WHERE workspace_id = $1 AND kind = 'survey.answered' \
         AND at < $2 AND redacted_at IS NULL LIMIT $3 FOR UPDATE SKIP LOCKED",
        &[&ws.as_uuid(), &before.0, &i64::from(limit)],
    )
    .await?;
    for r in &surveys {
        let (seq, conv): (i64, uuid::Uuid) = (get(r, 0)?, get(r, 1)?);
        for (seq, _, place, data) in &event_data(tx, "WHERE seq = $1", &[&seq]).await? {
            let new = expired.survey_answer(&conv, data);
            exec(
                tx,
                "UPDATE event SET data = $2, redacted_at = $3 WHERE seq = $1",
                &[seq, &crypt::seal_text(tx.keys(), place, &new), &at.0],
            )
            .await?;
        }
    }
    Ok(())
}

/// Redacts the copies of the expired messages' text that other events of their conversations hold.
pub(super) async fn redact_copies(
    tx: &Tx<'_>,
    expired: Expired<uuid::Uuid>,
    at: Timestamp,
) -> StoreResult<()> {
    for (conv, previews, ids) in expired.into_copies() {
        let events = event_data(
            tx,
            "WHERE conversation_id = $1 AND (redacted_at IS NULL OR redacted_at < $2)",
            &[&conv, &at.0],
        )
        .await?;
        for (seq, _, place, data) in &events {
            if let Some(new) = plan::retention::redact_copies(data, &previews, &ids) {
                exec(
                    tx,
                    "UPDATE event SET data = $2, redacted_at = $3 WHERE seq = $1",
                    &[seq, &crypt::seal_text(tx.keys(), place, &new), &at.0],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Events matching `filter` (a WHERE clause): their seq, kind, where their data is sealed, and
/// the data opened.
pub(crate) async fn event_data(
    tx: &Tx<'_>,
    filter: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<(i64, String, String, String)>> {
    let sql = format!("SELECT seq, workspace_id, kind, at, data FROM event {filter}");
    let mut out = Vec::new();
    for e in &query(tx, &sql, params).await? {
        let (ws, kind, at): (uuid::Uuid, String, i64) = (get(e, 1)?, get(e, 2)?, get(e, 3)?);
        let place = crypt::event_aad(ws, &kind, at);
        let data = crypt::open_field(tx.keys(), &place, get(e, 4)?)?.unwrap_or_default();
        out.push((get(e, 0)?, kind, place, data));
    }
    Ok(out)
}
