//! Retention: removing the content of old messages (body, meta, their events' data) while the
//! messages and the timeline's shape stay.

use parley_core::{Timestamp, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection};

use crate::db::sql_err;
use crate::rows::{uid, EVENT_PLACE};

pub(crate) fn expiring(
    c: &Connection,
    ws: WorkspaceId,
    before: Timestamp,
) -> StoreResult<(u64, Option<Timestamp>)> {
    c.prepare_cached(sql::retention::EXPIRING)
        .map_err(sql_err)?
        .query_row(params![ws.to_string(), before.0], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, Option<i64>>(1)?.map(Timestamp),
            ))
        })
        .map_err(sql_err)
}

pub(crate) fn expire(
    c: &Connection,
    ws: WorkspaceId,
    before: Timestamp,
    limit: u32,
    at: Timestamp,
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
    let mut expired = plan::retention::Expired::default();
    for (id, inbox, conv, meta, body) in due {
        expired.add(conv.clone(), id.to_string(), &body);
        c.prepare_cached(sql::retention::REDACT_MESSAGE)
            .map_err(sql_err)?
            .execute(params![at.0, id.to_string()])
            .map_err(sql_err)?;
        let events: Vec<(i64, String)> = c
            .prepare_cached(
                &format!("SELECT seq, parley_open(data, {EVENT_PLACE}) FROM event WHERE conversation_id = ?1 AND message_id = ?2 AND redacted_at IS NULL"),
            )
            .map_err(sql_err)?
            .query_map([conv.as_str(), id.to_string().as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
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
        .execute(params![conv, plan::preview(&body)])
        .map_err(sql_err)?;
        out.push(ExpiredMessage {
            id: id.into(),
            inbox_id: inbox.into(),
            attachments: plan::attachment_ids(meta.as_deref()),
        });
    }
    // A survey answer's comment is the customer's own words: it goes as their messages do. Done
    // before the copies below, with them, as an event is rewritten once per run.
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
    Ok(out)
}
