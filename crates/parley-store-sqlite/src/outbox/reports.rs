//! Delivery reports: applied to the message they name, moving its status forward only, or held
//! until the send they report on is recorded.

use parley_core::message::DeliveryStatus;
use parley_core::WorkspaceId;
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::conversations::{insert_event, message};
use crate::db::sql_err;
use crate::rows::uid;

/// Applies reports that arrived before the send was recorded, and forgets them.
pub(super) fn apply_pending(
    c: &Connection,
    msg: &mut MessageView,
    provider_id: &str,
) -> StoreResult<()> {
    let inbox = msg.inbox_id.to_string();
    let pending: Vec<(String, Option<String>)> = c
        .prepare_cached(
            "SELECT status, parley_open(error, 'pending:' || inbox_id || ':' || provider_id || ':' || status) \
             FROM delivery_pending WHERE inbox_id = ?1 AND provider_id = ?2",
        )
        .map_err(sql_err)?
        .query_map(params![inbox, provider_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    if pending.is_empty() {
        return Ok(());
    }
    for (status, error) in pending {
        if let Some(status) = DeliveryStatus::parse(&status) {
            plan::apply_report(msg, status, error);
        }
    }
    c.execute(
        "DELETE FROM delivery_pending WHERE inbox_id = ?1 AND provider_id = ?2",
        params![inbox, provider_id],
    )
    .map_err(sql_err)?;
    Ok(())
}

pub(crate) fn record_delivery(
    c: &Connection,
    r: DeliveryReport,
    events: &mut Vec<Published>,
) -> StoreResult<bool> {
    let found: Option<(String, WorkspaceId)> = c
        .prepare_cached(
            "SELECT id, workspace_id FROM message WHERE inbox_id = ?1 AND direction = 'outbound' AND external_id = ?2",
        )
        .map_err(sql_err)?
        .query_row(params![r.inbox.to_string(), r.provider_id], |row| {
            Ok((row.get(0)?, uid(row, 1)?))
        })
        .optional()
        .map_err(sql_err)?;
    let Some((message_id, ws)) = found else {
        c.execute(
            sql::outbox::FORGET_PENDING_REPORTS,
            [r.at.0 - plan::PENDING_REPORT_TTL_MS],
        )
        .map_err(sql_err)?;
        c.execute(
            "INSERT OR REPLACE INTO delivery_pending (inbox_id, provider_id, status, error, at) \
             VALUES (?1, ?2, ?3, parley_seal(?4, 'pending:' || ?1 || ':' || ?2 || ':' || ?3), ?5)",
            params![
                r.inbox.to_string(),
                r.provider_id,
                r.status.as_str(),
                r.error,
                r.at.0
            ],
        )
        .map_err(sql_err)?;
        return Ok(false);
    };
    let mut msg = message(c, &message_id)?;
    if !plan::apply_report(&mut msg, r.status, r.error) {
        return Ok(true);
    }
    c.execute(
        "UPDATE message SET status = ?2, error = parley_seal(?3, 'message:' || ?1 || ':error'), updated_at = ?4 WHERE id = ?1",
        params![message_id, msg.status.as_str(), msg.error, r.at.0],
    )
    .map_err(sql_err)?;
    insert_event(
        c,
        events,
        ws,
        msg.inbox_id,
        Some(msg.conversation_id),
        "message.updated",
        Some(msg.id),
        r.at,
        plan::events::message_updated(&msg),
    )?;
    Ok(true)
}
