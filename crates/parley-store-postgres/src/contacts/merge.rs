//! Merging two contacts into one: identities, conversations, consent and lists move to the one kept.

use parley_core::{ContactId, Timestamp, UserId, WorkspaceId};
use parley_store::*;

use crate::conversations::{
    insert_event, load_by_id, load_for_contact, save_conversation, NewEvent,
};
use crate::db::{exec, query, Tx};
use crate::rows::id;

/// Moves the absorbed contact's identities, consent ledger and list memberships to the kept one.
pub(super) async fn move_records(
    tx: &Tx<'_>,
    kept: ContactId,
    absorbed: ContactId,
) -> StoreResult<()> {
    let (k, a) = (kept.as_uuid(), absorbed.as_uuid());
    for stmt in [sql::merge::MOVE_IDENTITIES, sql::merge::MOVE_CONSENT] {
        exec(tx, stmt, &[&k, &a]).await?;
    }
    // Whatever list either was on, the merged contact is on.
    exec(
        tx,
        "INSERT INTO contact_list_member (list_id, contact_id, added_at) \
         SELECT list_id, $1, added_at FROM contact_list_member WHERE contact_id = $2 ON CONFLICT DO NOTHING",
        &[&k, &a],
    )
    .await?;
    Ok(())
}

/// Moves the absorbed contact's conversations to the kept one, folding each into the kept one's
/// conversation in the same inbox when there is one. Runs under the event lock (it appends events
/// and rewrites conversations).
pub(super) async fn move_conversations(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    keep: &ContactView,
    gone: &ContactView,
    actor: UserId,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<()> {
    let (k, a) = (keep.id.as_uuid(), gone.id.as_uuid());
    let absorbed_convs: Vec<parley_core::ConversationId> =
        query(tx, sql::merge::CONVERSATIONS, &[&a])
            .await?
            .iter()
            .map(|r| id(r, 0))
            .collect::<StoreResult<_>>()?;
    for conv_id in absorbed_convs {
        let from = load_by_id(tx, conv_id).await?;
        match load_for_contact(tx, from.inbox_id, keep.id).await {
            Ok(mut into) => {
                let (i, f) = (into.id.as_uuid(), from.id.as_uuid());
                for stmt in [sql::merge::MOVE_EVENTS, sql::merge::MOVE_MESSAGES] {
                    exec(tx, stmt, &[&i, &f]).await?;
                }
                exec(tx, sql::merge::DELETE_CONVERSATION, &[&f]).await?;
                let snoozed = into.snoozed_until;
                let data = plan::merge::fold_thread(&mut into, &from, keep, gone, actor, at);
                save_conversation(tx, &into, true).await?;
                crate::timers::follow_snooze_in(tx, ws, &into, snoozed).await?;
                insert_event(
                    tx,
                    events,
                    NewEvent::on(ws, &into, "conversation.updated", None, at, data),
                )
                .await?;
            }
            Err(StoreError::NotFound) => {
                exec(tx, sql::merge::MOVE_CONVERSATION, &[&k, &from.id.as_uuid()]).await?;
            }
            Err(e) => return Err(e),
        }
    }

    Ok(())
}
