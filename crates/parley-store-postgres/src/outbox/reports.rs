//! Delivery reports: applied to the message they name, moving its status forward only, or held
//! until the send they report on is recorded.

use parley_core::message::DeliveryStatus;
use parley_core::WorkspaceId;
use parley_store::*;

use super::{message, seal_error};
use crate::conversations::{insert_event, NewEvent};
use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{get, id};

/// Applies reports that arrived before the send was recorded, and forgets them.
pub(super) async fn apply_pending(
    tx: &Tx<'_>,
    msg: &mut MessageView,
    provider_id: &str,
) -> StoreResult<()> {
    let inbox = msg.inbox_id.as_uuid();
    let pending = query(
        tx,
        "DELETE FROM delivery_pending WHERE inbox_id = $1 AND provider_id = $2 RETURNING status, error",
        &[&inbox, &provider_id],
    )
    .await?;
    for row in pending {
        let status: String = get(&row, 0)?;
        let place = pending_place(&inbox.to_string(), provider_id, &status);
        let error = parley_store::crypt::open_field(tx.keys(), &place, get(&row, 1)?)?;
        if let Some(status) = DeliveryStatus::parse(&status) {
            plan::apply_report(msg, status, error);
        }
    }
    Ok(())
}

pub(crate) async fn record_delivery(
    tx: &Tx<'_>,
    r: DeliveryReport,
    events: &mut Vec<Published>,
) -> StoreResult<bool> {
    let inbox = r.inbox.as_uuid();
    let found = query_opt(
        tx,
        "SELECT id, workspace_id FROM message WHERE inbox_id = $1 AND direction = 'outbound' \
         AND external_id = $2 FOR UPDATE",
        &[&inbox, &r.provider_id],
    )
    .await?;
    let Some(row) = found else {
        exec(
            tx,
            sql::outbox::FORGET_PENDING_REPORTS,
            &[&(r.at.0 - plan::PENDING_REPORT_TTL_MS)],
        )
        .await?;
        exec(
            tx,
            "INSERT INTO delivery_pending (inbox_id, provider_id, status, error, at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (inbox_id, provider_id, status) \
             DO UPDATE SET error = EXCLUDED.error, at = EXCLUDED.at",
            &[
                &inbox,
                &r.provider_id,
                &r.status.as_str(),
                &parley_store::crypt::seal_field(
                    tx.keys(),
                    &pending_place(&inbox.to_string(), &r.provider_id, r.status.as_str()),
                    r.error.as_deref(),
                ),
                &r.at.0,
            ],
        )
        .await?;
        return Ok(false);
    };
    let (message_id, ws): (uuid::Uuid, WorkspaceId) = (get(&row, 0)?, id(&row, 1)?);
    let mut msg = message(tx, message_id).await?;
    if !plan::apply_report(&mut msg, r.status, r.error) {
        return Ok(true);
    }
    exec(
        tx,
        "UPDATE message SET status = $2, error = $3, updated_at = $4 WHERE id = $1",
        &[
            &message_id,
            &msg.status.as_str(),
            &seal_error(tx, message_id, &msg.error),
            &r.at.0,
        ],
    )
    .await?;
    let ev = NewEvent {
        ws,
        inbox: msg.inbox_id,
        conversation: Some(msg.conversation_id),
        kind: "message.updated",
        message: Some(msg.id),
        at: r.at,
        data: plan::events::message_updated(&msg),
    };
    insert_event(tx, events, ev).await?;
    Ok(true)
}

/// Where a held delivery report's error is sealed.
fn pending_place(inbox: &str, provider_id: &str, status: &str) -> String {
    format!("pending:{inbox}:{provider_id}:{status}")
}
