//! Merging two contacts into one: identities, conversations, consent and lists move to the one kept.

use parley_core::{ContactId, Timestamp, UserId, WorkspaceId};
use parley_store::*;

use crate::contacts::save_contact;
use crate::conversations::{
    insert_event, load_by_id, load_for_contact, save_conversation, NewEvent,
};
use crate::db::{exec, query, Tx};
use crate::rows::{id, load_contact};

/// The two contacts of a merge: the one kept and the one absorbed.
pub(crate) struct Merge {
    pub kept: ContactId,
    pub absorbed: ContactId,
    pub actor: UserId,
    pub at: Timestamp,
}

/// Runs under the event lock (it appends events and rewrites conversations).
pub(crate) async fn merge(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    m: Merge,
    events: &mut Vec<Published>,
) -> StoreResult<ContactView> {
    plan::merge::check(m.kept, m.absorbed)?;
    let w = ws.as_uuid();
    let keep = load_contact(tx, w, m.kept.as_uuid()).await?.live()?;
    let gone = load_contact(tx, w, m.absorbed.as_uuid()).await?.live()?;
    let (k, a) = (m.kept.as_uuid(), m.absorbed.as_uuid());
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
    let absorbed_convs: Vec<parley_core::ConversationId> =
        query(tx, sql::merge::CONVERSATIONS, &[&a])
            .await?
            .iter()
            .map(|r| id(r, 0))
            .collect::<StoreResult<_>>()?;
    for conv_id in absorbed_convs {
        let from = load_by_id(tx, conv_id).await?;
        match load_for_contact(tx, from.inbox_id, m.kept).await {
            Ok(mut into) => {
                let (i, f) = (into.id.as_uuid(), from.id.as_uuid());
                for stmt in [sql::merge::MOVE_EVENTS, sql::merge::MOVE_MESSAGES] {
                    exec(tx, stmt, &[&i, &f]).await?;
                }
                exec(tx, sql::merge::DELETE_CONVERSATION, &[&f]).await?;
                let data = plan::merge::fold_thread(&mut into, &from, &keep, &gone, m.actor, m.at);
                save_conversation(tx, &into, true).await?;
                insert_event(
                    tx,
                    events,
                    NewEvent::on(ws, &into, "conversation.updated", None, m.at, data),
                )
                .await?;
            }
            Err(StoreError::NotFound) => {
                exec(tx, sql::merge::MOVE_CONVERSATION, &[&k, &from.id.as_uuid()]).await?;
            }
            Err(e) => return Err(e),
        }
    }

    save_contact(tx, plan::merge::merged_contact(keep, gone), m.at).await?;
    exec(tx, sql::merge::DELETE_CONTACT, &[&a]).await?;
    load_contact(tx, w, k).await
}
