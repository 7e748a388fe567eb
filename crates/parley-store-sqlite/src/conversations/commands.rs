//! Agents' commands on conversations and starting a conversation with an outbound message; each
//! runs in the writer's transaction, so the state it reads is the latest.

use parley_core::message::SenderKind;
use parley_core::{ConversationId, InboxId, Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection};

use crate::accounts::new_id;
use crate::contacts::insert_identity;
use crate::conversations::{
    insert_conversation, insert_event, insert_message, load_conversation_by, load_scoped,
    new_conversation, save_conversation,
};
use crate::db::sql_err;

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
struct Reply<'a> {
    before: &'a ConversationView,
    sender: SenderKind,
    /// `None`: Parley itself.
    actor: Option<UserId>,
    body: String,
    at: Timestamp,
    meta: Option<serde_json::Value>,
}

fn queue_reply(
    c: &Connection,
    ws: WorkspaceId,
    conv: &mut ConversationView,
    r: Reply<'_>,
    events: &mut Vec<Published>,
) -> StoreResult<MessageView> {
    let Reply {
        before,
        sender,
        actor,
        body,
        at,
        meta,
    } = r;
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
    insert_event(
        c,
        events,
        ws,
        conv.inbox_id,
        Some(conv.id),
        "message.created",
        Some(msg.id),
        at,
        data,
    )?;
    Ok(msg)
}

pub(crate) fn act(
    c: &Connection,
    scope: &Scope,
    id: ConversationId,
    actor: UserId,
    cmd: Command,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<ActOutcome> {
    let ws = scope.workspace;
    let mut conv = load_scoped(c, scope, id)?;
    let before = conv.clone();
    let (mut message, mut note) = (None, None);
    match plan::Act::of(&conv, cmd, actor, at)? {
        plan::Act::Send(out) => {
            let reply = Reply {
                before: &before,
                sender: out.sender,
                actor: out.actor,
                body: out.body,
                meta: out.meta,
                at,
            };
            message = Some(queue_reply(c, ws, &mut conv, reply, events)?);
        }
        plan::Act::Change(state) => {
            if let Some((assignee, team)) = state.assign {
                check_assignment(c, ws, conv.inbox_id, assignee, team)?;
            }
            conv.apply(&state.change, at);
            save_conversation(c, &before, &conv)?;
            let (kind, data) = state.event(&conv);
            let (inbox, id) = (conv.inbox_id, Some(conv.id));
            insert_event(c, events, ws, inbox, id, kind, None, at, data)?;
            note = state.note;
        }
    }
    Ok(ActOutcome {
        conversation: conv,
        message,
        note,
        events: events.clone(),
    })
}

pub(crate) fn start(
    c: &Connection,
    scope: &Scope,
    m: NewOutbound,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<ActOutcome> {
    let ws = scope.workspace;
    let (inbox, contact) = (m.inbox, m.contact);
    if !scope.can_see(inbox) {
        return Err(StoreError::NotFound);
    }
    let inbox_row = crate::directory::inbox(c, ws, inbox)?;
    let k = crate::rows::load_contact(c, &ws.to_string(), &contact.to_string())?;
    let identity_id = match plan::reach_to_start(&inbox_row, &k)? {
        plan::Reach::Existing(i) => i.id,
        plan::Reach::New(ident) => insert_identity(c, ws, contact, &ident, at)?,
    };
    let mut conv = match load_conversation_by(
        c,
        "c.inbox_id = ?1 AND c.contact_id = ?2",
        [inbox.to_string(), contact.to_string()],
    ) {
        Ok(conv) => conv,
        Err(StoreError::NotFound) => {
            let conv = new_conversation(inbox, contact, k.name.clone(), identity_id, at);
            insert_conversation(c, ws, &conv)?;
            conv
        }
        Err(e) => return Err(e),
    };
    let before = conv.clone();
    conv.identity_id = identity_id;
    let msg = queue_reply(
        c,
        ws,
        &mut conv,
        Reply {
            before: &before,
            sender: plan::start_sender(m.sender),
            actor: m.sender,
            body: m.body,
            meta: m.meta,
            at,
        },
        events,
    )?;
    Ok(ActOutcome {
        conversation: conv,
        message: Some(msg),
        note: None,
        events: events.clone(),
    })
}
