//! Retention: removing the content of old messages (body, meta, their events' data) while the
//! messages and the timeline's shape stay.

use parley_core::{Timestamp, WorkspaceId};
use parley_store::plan::retention::Expired;
use parley_store::*;
use rusqlite::{params, Connection};

use crate::db::sql_err;
use crate::rows::{uid, EVENT_PLACE};

/// Redacts up to `limit` messages of the workspace sent before `before` (none still waiting to go
/// out), noting in `expired` what each said; answers them with the files they listed.
pub(super) fn redact_messages(
    c: &Connection,
    ws: WorkspaceId,
    before: Timestamp,
    limit: u32,
    at: Timestamp,
    expired: &mut Expired<String>,
) -> StoreResult<Vec<ExpiredMessage>> {
    let due: Vec<(uuid::Uuid, uuid::Uuid, String, Option<String>, String)> = c
        .prepare_cached(
            "SELECT id, inbox_id, conversation_id, parley_open(meta, 'message:' || id || ':meta'), \
             parley_open(body, 'message:' || id || ':body') FROM message \
             WHERE workspace_id = ?1 AND created_at < ?2 AND redacted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = message.id AND o.state = 'queued') \
             ORDER BY created_at LIMIT ?3",
        )
        .map_err(sql_err)?
        .query_map(params![ws.to_string(), before.0, limit], |r| {
            Ok((uid(r, 0)?, uid(r, 1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)?;
    let mut out = Vec::with_capacity(due.len());
    for (id, inbox, conv, meta, body) in due {
        expired.add(conv.clone(), id.to_string(), &body);
        redact_message(c, &id.to_string(), &conv, &body, at)?;
        out.push(ExpiredMessage {
            id: id.into(),
            inbox_id: inbox.into(),
            attachments: plan::attachment_ids(meta.as_deref()),
        });
    }
    Ok(out)
}

/// Empties one message, its events and its conversation's preview when the preview shows it.
fn redact_message(
    c: &Connection,
    id: &str,
    conv: &str,
    body: &str,
    at: Timestamp,
) -> StoreResult<()> {
    c.prepare_cached(sql::retention::REDACT_MESSAGE)
        .map_err(sql_err)?
        .execute(params![at.0, id])
        .map_err(sql_err)?;
    let events: Vec<(i64, String)> = c
        .prepare_cached(
            &format!("SELECT seq, parley_open(data, {EVENT_PLACE}) FROM event WHERE conversation_id = ?1 AND message_id = ?2 AND redacted_at IS NULL"),
        )
        .map_err(sql_err)?
        .query_map([conv, id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)?;
    for (seq, data) in events {
        c.prepare_cached(&format!("UPDATE event SET data = parley_seal(?2, {EVENT_PLACE}), redacted_at = ?3 WHERE seq = ?1"))
            .map_err(sql_err)?
            .execute(params![seq, plan::retention::redact_event_data(&data), at.0])
            .map_err(sql_err)?;
    }
    c.prepare_cached(
        "UPDATE conversation SET last_message = NULL WHERE id = ?1 \
         AND parley_open(last_message, 'conversation:' || id || ':preview') = ?2",
    )
    .map_err(sql_err)?
    .execute(params![conv, plan::preview(body)])
    .map_err(sql_err)?;
    Ok(())
}

/// Redacts the comments of survey answers given before `before`.
pub(super) fn redact_survey_answers(
    c: &Connection,
    ws: WorkspaceId,
    before: Timestamp,
    limit: u32,
    expired: &Expired<String>,
    at: Timestamp,
) -> StoreResult<()> {
    let surveys: Vec<(i64, String, String)> = c
        .prepare_cached(&format!(
            "SELECT seq, conversation_id, parley_open(data, {EVENT_PLACE}) FROM event WHERE workspace_id = ?1 \
             AND kind = 'survey.answered' AND at < ?2 AND redacted_at IS NULL LIMIT ?3"
        ))
        .map_err(sql_err)?
        .query_map(params![ws.to_string(), before.0, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)?;
    for (seq, conv, data) in surveys {
        let new = expired.survey_answer(&conv, &data);
        c.prepare_cached(&format!("UPDATE event SET data = parley_seal(?2, {EVENT_PLACE}), redacted_at = ?3 WHERE seq = ?1"))
            .map_err(sql_err)?
            .execute(params![seq, new, at.0])
            .map_err(sql_err)?;
    }
    Ok(())
}

/// Redacts the copies of the expired messages' text that other events of their conversations hold.
pub(super) fn redact_copies(
    c: &Connection,
    expired: Expired<String>,
    at: Timestamp,
) -> StoreResult<()> {
    for (conv, previews, ids) in expired.into_copies() {
        let events: Vec<(i64, String)> = c
            .prepare_cached(
                &format!("SELECT seq, parley_open(data, {EVENT_PLACE}) FROM event WHERE conversation_id = ?1 AND (redacted_at IS NULL OR redacted_at < ?2)"),
            )
            .map_err(sql_err)?
            .query_map(params![conv, at.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql_err)?;
        for (seq, data) in events {
            if let Some(new) = plan::retention::redact_copies(&data, &previews, &ids) {
                c.prepare_cached(&format!("UPDATE event SET data = parley_seal(?2, {EVENT_PLACE}), redacted_at = ?3 WHERE seq = ?1"))
                    .map_err(sql_err)?
                    .execute(params![seq, new, at.0])
                    .map_err(sql_err)?;
            }
        }
    }
    Ok(())
}
