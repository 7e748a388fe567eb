//! Merging two contacts into one: identities, conversations, consent and lists move to the one kept.

use parley_core::{ContactId, Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection};

use crate::contacts::CONTACT_SET;
use crate::conversations::{insert_event, load_conversation_by, save_conversation};
use crate::db::sql_err;
use crate::rows::uid;

/// Moves the absorbed contact's identities, consent ledger and list memberships to the kept one.
pub(super) fn move_records(
    c: &Connection,
    kept: ContactId,
    absorbed: ContactId,
) -> StoreResult<()> {
    let (k, a) = (kept.to_string(), absorbed.to_string());
    for stmt in [sql::merge::MOVE_IDENTITIES, sql::merge::MOVE_CONSENT] {
        c.execute(stmt, [&k, &a]).map_err(sql_err)?;
    }
    // Whatever list either was on, the merged contact is on.
    c.execute(
        "INSERT OR IGNORE INTO contact_list_member (list_id, contact_id, added_at) \
         SELECT list_id, ?1, added_at FROM contact_list_member WHERE contact_id = ?2",
        [&k, &a],
    )
    .map_err(sql_err)?;

    Ok(())
}

/// Moves the absorbed contact's conversations to the kept one, folding each into the kept one's
/// conversation in the same inbox when there is one.
pub(super) fn move_conversations(
    c: &Connection,
    ws: WorkspaceId,
    keep: &ContactView,
    gone: &ContactView,
    actor: UserId,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<()> {
    let (k, a) = (keep.id.to_string(), gone.id.to_string());
    let absorbed_convs: Vec<parley_core::ConversationId> = c
        .prepare(sql::merge::CONVERSATIONS)
        .map_err(sql_err)?
        .query_map([&a], |r| uid(r, 0))
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    for conv_id in absorbed_convs {
        let from = load_conversation_by(c, "c.id = ?1", [conv_id.to_string()])?;
        let existing = load_conversation_by(
            c,
            "c.inbox_id = ?1 AND c.contact_id = ?2",
            (from.inbox_id.to_string(), &k),
        );
        match existing {
            Ok(mut into) => {
                let before = into.clone();
                let (i, f) = (into.id.to_string(), from.id.to_string());
                for stmt in [sql::merge::MOVE_EVENTS, sql::merge::MOVE_MESSAGES] {
                    c.execute(stmt, [&i, &f]).map_err(sql_err)?;
                }
                c.execute(sql::merge::DELETE_CONVERSATION, [&f])
                    .map_err(sql_err)?;
                let data = plan::merge::fold_thread(&mut into, &from, keep, gone, actor, at);
                save_conversation(c, &before, &into)?;
                insert_event(
                    c,
                    events,
                    ws,
                    into.inbox_id,
                    Some(into.id),
                    "conversation.updated",
                    None,
                    at,
                    data,
                )?;
            }
            Err(StoreError::NotFound) => {
                c.execute(sql::merge::MOVE_CONVERSATION, [&k, &from.id.to_string()])
                    .map_err(sql_err)?;
            }
            Err(e) => return Err(e),
        }
    }

    Ok(())
}

/// Writes the merged contact over the kept one and deletes the absorbed one.
pub(super) fn save_merged(
    c: &Connection,
    keep: ContactView,
    gone: ContactView,
    at: Timestamp,
) -> StoreResult<()> {
    let (k, a) = (keep.id.to_string(), gone.id.to_string());
    let merged = plan::merge::merged_contact(keep, gone);
    c.execute(
        &format!("UPDATE contact SET {CONTACT_SET}"),
        params![
            merged.name,
            merged.email,
            merged.phone,
            serde_json::Value::Object(merged.custom_fields).to_string(),
            at.0,
            k
        ],
    )
    .map_err(sql_err)?;
    c.execute(sql::merge::DELETE_CONTACT, [&a])
        .map_err(sql_err)?;
    Ok(())
}
