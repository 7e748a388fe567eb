//! The steps of agents' commands on conversations, of starting a conversation with an outbound
//! message and of waking snoozed ones; each runs in the writer's transaction, so the state it
//! reads is the latest.

use parley_core::conversation::{Change, Status};
use parley_core::{ConversationId, IdentityId, InboxId, Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection};

use crate::accounts::new_id;
use crate::contacts::insert_identity;
use crate::conversations::{
    insert_conversation, insert_event, insert_message, load_conversation_by, new_conversation,
    save_conversation,
};
use crate::db::sql_err;
use crate::rows::uid;

/// Refuses an assignee who does not work the inbox and a team of another workspace.
fn check_assignment(
    c: &Connection,
    ws: WorkspaceId,
    inbox: InboxId,
    assignee: Option<UserId>,
    team: Option<parley_core::TeamId>,
) -> StoreResult<()> {
    let works_inbox = match assignee {
        Some(u) => Some(
            c.prepare_cached(sql::ASSIGNEE_WORKS_INBOX)
                .and_then(|mut q| q.exists([ws.to_string(), u.to_string(), inbox.to_string()]))
                .map_err(sql_err)?,
        ),
        None => None,
    };
    let team = team.map(|t| crate::directory::team(c, ws, t));
    plan::check_assignment(works_inbox, team)
}

/// Queues an agent's reply: the message, its outbox row, the conversation's new state (from
/// `before`) and the `message.created` event.
pub(crate) fn queue_reply(
    c: &Connection,
    ws: WorkspaceId,
    before: &ConversationView,
    conv: &mut ConversationView,
    out: plan::Outbound,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<MessageView> {
    let plan::Outbound {
        sender,
        actor,
        body,
        meta,
    } = out;
    let msg = MessageView::agent_reply(new_id().into(), conv, sender, actor, body, at, meta);
    insert_message(c, ws, &msg)?;
    c.prepare_cached(
        "INSERT INTO outbox (id, workspace_id, inbox_id, message_id, state, next_attempt_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5, ?5)",
    )
    .map_err(sql_err)?
    .execute(params![new_id().to_string(), ws.to_string(), conv.inbox_id.to_string(), msg.id.to_string(), at.0])
    .map_err(sql_err)?;
    // Parley's own notices (a HELP answer) and automated messages do not answer the customer.
    conv.apply(&plan::outbound_change(sender), at);
    conv.last_message = Some(plan::preview(&msg.body));
    save_conversation(c, before, conv)?;
    let data = plan::events::message_created(&msg, conv);
    let (inbox, id, kind) = (conv.inbox_id, Some(conv.id), "message.created");
    insert_event(c, events, ws, inbox, id, kind, Some(msg.id), at, data)?;
    Ok(msg)
}

/// Refuses what the command's change may not do, then applies it, saves the conversation (from
/// `before`) and writes its event; answers the note the change adds, if any.
pub(crate) fn change(
    c: &Connection,
    ws: WorkspaceId,
    before: &ConversationView,
    conv: &mut ConversationView,
    state: plan::StateChange,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<Option<NoteView>> {
    if let Some((assignee, team)) = state.assign {
        check_assignment(c, ws, conv.inbox_id, assignee, team)?;
    }
    conv.apply(&state.change, at);
    save_conversation(c, before, conv)?;
    let (kind, data) = state.event(conv);
    let (inbox, id) = (conv.inbox_id, Some(conv.id));
    insert_event(c, events, ws, inbox, id, kind, None, at, data)?;
    Ok(state.note)
}

/// The identity a new conversation writes through: the contact's on the inbox's channel, added
/// when the contact has an address for it but no identity yet.
pub(crate) fn identity_to_start(
    c: &Connection,
    ws: WorkspaceId,
    inbox: &InboxRow,
    contact: &ContactView,
    at: Timestamp,
) -> StoreResult<IdentityId> {
    Ok(match plan::reach_to_start(inbox, contact)? {
        plan::Reach::Existing(i) => i.id,
        plan::Reach::New(ident) => insert_identity(c, ws, contact.id, &ident, at)?,
    })
}

/// The contact's conversation in the inbox, created when there is none.
pub(crate) fn conversation_to_start(
    c: &Connection,
    ws: WorkspaceId,
    inbox: InboxId,
    contact: &ContactView,
    identity: IdentityId,
    at: Timestamp,
) -> StoreResult<ConversationView> {
    let cond = "c.inbox_id = ?1 AND c.contact_id = ?2";
    match load_conversation_by(c, cond, [inbox.to_string(), contact.id.to_string()]) {
        Err(StoreError::NotFound) => {
            let conv = new_conversation(inbox, contact.id, contact.name.clone(), identity, at);
            insert_conversation(c, ws, &conv)?;
            Ok(conv)
        }
        found => found,
    }
}

/// The snoozed conversations whose time has come, with their workspaces.
pub(crate) fn snoozed_due(
    c: &Connection,
    now: Timestamp,
) -> StoreResult<Vec<(ConversationId, WorkspaceId)>> {
    c.prepare_cached(sql::conversations::SNOOZED_DUE)
        .map_err(sql_err)?
        .query_map([now.0], |r| Ok((uid(r, 0)?, uid(r, 1)?)))
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)
}

/// Opens a snoozed conversation again and writes its event.
pub(crate) fn wake(
    c: &Connection,
    ws: WorkspaceId,
    id: ConversationId,
    now: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<()> {
    let mut conv = load_conversation_by(c, "c.id = ?1", [id.to_string()])?;
    let before = conv.clone();
    let change = Change::Status {
        from: Status::Snoozed,
        to: Status::Open,
        snoozed_until: None,
    };
    conv.apply(&change, now);
    save_conversation(c, &before, &conv)?;
    let change = plan::events::change_json(&change);
    let data = plan::events::conversation_updated(&change, None, &conv);
    let (inbox, id, kind) = (conv.inbox_id, Some(conv.id), "conversation.updated");
    insert_event(c, events, ws, inbox, id, kind, None, now, data)?;
    Ok(())
}
