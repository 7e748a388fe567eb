//! Agents' commands on conversations, starting a conversation with an outbound message, and waking
//! snoozed conversations. Each runs under the event lock, so the state it reads is the latest.

use parley_core::message::SenderKind;
use parley_core::{ConversationId, InboxId, TeamId, Timestamp, UserId, WorkspaceId};
use parley_store::*;

use crate::accounts::new_id;
use crate::conversations::{
    insert_conversation, insert_event, insert_message, load_by_id, load_for_contact, load_scoped,
    new_conversation, save_conversation, NewEvent,
};
use crate::db::{exec, query_opt, Tx};
use crate::rows::{self};

/// Refuses an assignee who does not work the inbox and a team of another workspace.
async fn check_assignment(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    inbox: InboxId,
    assignee: Option<UserId>,
    team: Option<TeamId>,
) -> StoreResult<()> {
    let works_inbox = match assignee {
        Some(u) => Some(
            query_opt(
                tx,
                sql::ASSIGNEE_WORKS_INBOX,
                &[&ws.as_uuid(), &u.as_uuid(), &inbox.as_uuid()],
            )
            .await?
            .is_some(),
        ),
        None => None,
    };
    let team = match team {
        Some(t) => Some(crate::directory::team(tx, ws, t).await),
        None => None,
    };
    plan::check_assignment(works_inbox, team)
}

/// Writes an agent's outbound message and its outbox row, and folds it into the conversation.
async fn queue_reply(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    conv: &mut ConversationView,
    (sender, actor): (SenderKind, Option<UserId>),
    body: String,
    at: Timestamp,
    meta: Option<serde_json::Value>,
) -> StoreResult<MessageView> {
    let msg = MessageView::agent_reply(new_id().into(), conv, sender, actor, body, at, meta);
    insert_message(tx, ws, &msg).await?;
    exec(
        tx,
        "INSERT INTO outbox (id, workspace_id, inbox_id, message_id, state, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $5, $5)",
        &[
            &new_id(),
            &ws.as_uuid(),
            &conv.inbox_id.as_uuid(),
            &msg.id.as_uuid(),
            &at.0,
        ],
    )
    .await?;
    // Parley's own notices (a HELP answer) and automated messages do not answer the customer.
    conv.apply(&plan::outbound_change(sender), at);
    conv.last_message = Some(plan::preview(&msg.body));
    Ok(msg)
}

pub(crate) async fn act(
    tx: &Tx<'_>,
    scope: &Scope,
    conv_id: ConversationId,
    actor: UserId,
    cmd: Command,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<ActOutcome> {
    let ws = scope.workspace;
    let mut conv = load_scoped(tx, scope, conv_id).await?;
    let (mut message, mut note) = (None, None);
    match plan::Act::of(&conv, cmd, actor, at)? {
        plan::Act::Send(out) => {
            let by = (out.sender, out.actor);
            let msg = queue_reply(tx, ws, &mut conv, by, out.body, at, out.meta).await?;
            save_conversation(tx, &conv, false).await?;
            let data = plan::events::message_created(&msg, &conv);
            let ev = NewEvent::on(ws, &conv, "message.created", Some(msg.id), at, data);
            insert_event(tx, events, ev).await?;
            message = Some(msg);
        }
        plan::Act::Change(state) => {
            if let Some((assignee, team)) = state.assign {
                check_assignment(tx, ws, conv.inbox_id, assignee, team).await?;
            }
            conv.apply(&state.change, at);
            save_conversation(tx, &conv, state.labels).await?;
            let (kind, data) = state.event(&conv);
            insert_event(tx, events, NewEvent::on(ws, &conv, kind, None, at, data)).await?;
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

/// What `start_conversation` is asked to do.
pub(crate) struct Start {
    pub msg: NewOutbound,
    pub at: Timestamp,
}

pub(crate) async fn start(
    tx: &Tx<'_>,
    scope: &Scope,
    s: Start,
    events: &mut Vec<Published>,
) -> StoreResult<ActOutcome> {
    let ws = scope.workspace;
    let Start { msg: m, at } = s;
    if !scope.can_see(m.inbox) {
        return Err(StoreError::NotFound);
    }
    let inbox_row = crate::directory::inbox(tx, ws, m.inbox).await?;
    let k = rows::load_contact(tx, ws.as_uuid(), m.contact.as_uuid()).await?;
    let identity_id = match plan::reach_to_start(&inbox_row, &k)? {
        plan::Reach::Existing(i) => i.id,
        plan::Reach::New(ident) => {
            crate::contacts::insert_identity(tx, ws, m.contact, &ident, at).await?
        }
    };
    let mut conv = match load_for_contact(tx, m.inbox, m.contact).await {
        Ok(conv) => conv,
        Err(StoreError::NotFound) => {
            let conv = new_conversation(m.inbox, m.contact, k.name.clone(), identity_id, at);
            insert_conversation(tx, ws, &conv).await?;
            conv
        }
        Err(e) => return Err(e),
    };
    conv.identity_id = identity_id;
    let sender = plan::start_sender(m.sender);
    let msg = queue_reply(tx, ws, &mut conv, (sender, m.sender), m.body, at, m.meta).await?;
    save_conversation(tx, &conv, false).await?;
    let data = plan::events::message_created(&msg, &conv);
    let ev = NewEvent::on(ws, &conv, "message.created", Some(msg.id), at, data);
    insert_event(tx, events, ev).await?;
    Ok(ActOutcome {
        conversation: conv,
        message: Some(msg),
        note: None,
        events: events.clone(),
    })
}

pub(crate) async fn record_conversation_event(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    conv_id: ConversationId,
    kind: &'static str,
    data: serde_json::Value,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<()> {
    let conv = load_by_id(tx, conv_id).await?;
    let ours = query_opt(
        tx,
        "SELECT 1 FROM conversation WHERE id = $1 AND workspace_id = $2",
        &[&conv_id.as_uuid(), &ws.as_uuid()],
    )
    .await?;
    if ours.is_none() {
        return Err(StoreError::NotFound);
    }
    let data = plan::events::conversation_event(data, &conv);
    insert_event(tx, events, NewEvent::on(ws, &conv, kind, None, at, data)).await?;
    Ok(())
}

/// The workspace's survey key, when it has one.
pub(crate) async fn stored_survey_key(tx: &Tx<'_>, ws: WorkspaceId) -> StoreResult<Option<String>> {
    use parley_store::crypt;
    let Some(row) = query_opt(
        tx,
        "SELECT secret FROM survey_key WHERE id = $1",
        &[&ws.as_uuid()],
    )
    .await?
    else {
        return Ok(None);
    };
    let secret: String = rows::get(&row, 0)?;
    crypt::open_text(tx.keys(), &crypt::aad("survey_key", ws, "secret"), &secret)
        .map(Some)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("survey key: {e}")))
}

pub(crate) async fn survey_key(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    candidate: String,
    at: Timestamp,
) -> StoreResult<String> {
    use parley_store::crypt;
    let place = crypt::aad("survey_key", ws, "secret");
    let sealed = crypt::seal_text(tx.keys(), &place, &candidate);
    exec(
        tx,
        "INSERT INTO survey_key (id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        &[&ws.as_uuid(), &sealed, &at.0],
    )
    .await?;
    stored_survey_key(tx, ws).await?.ok_or(StoreError::NotFound)
}
