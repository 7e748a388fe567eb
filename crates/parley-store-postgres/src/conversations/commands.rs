//! Agents' commands on conversations, starting a conversation with an outbound message, and waking
//! snoozed conversations. Each runs under the event lock, so the state it reads is the latest.

use parley_core::{ConversationId, IdentityId, InboxId, TeamId, Timestamp, UserId, WorkspaceId};
use parley_store::*;

use crate::accounts::new_id;
use crate::conversations::{
    insert_conversation, insert_event, insert_message, load_by_id, load_for_contact,
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

/// Refuses what the command's change may not do, then applies it, saves the conversation and
/// writes its event; answers the note the change adds, if any.
pub(crate) async fn change(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    conv: &mut ConversationView,
    state: plan::StateChange,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<Option<NoteView>> {
    if let Some((assignee, team)) = state.assign {
        check_assignment(tx, ws, conv.inbox_id, assignee, team).await?;
    }
    let snoozed = conv.snoozed_until;
    conv.apply(&state.change, at);
    save_conversation(tx, conv, state.labels).await?;
    // The wake-up timer moves with the snooze, in the same transaction.
    crate::timers::follow_snooze_in(tx, ws, conv, snoozed).await?;
    let (kind, data) = state.event(conv);
    insert_event(tx, events, NewEvent::on(ws, conv, kind, None, at, data)).await?;
    Ok(state.note)
}

/// Writes an agent's outbound message and its outbox row, folds it into the conversation, saves
/// that and writes the `message.created` event.
pub(crate) async fn queue_reply(
    tx: &Tx<'_>,
    ws: WorkspaceId,
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
    save_conversation(tx, conv, false).await?;
    let data = plan::events::message_created(&msg, conv);
    let ev = NewEvent::on(ws, conv, "message.created", Some(msg.id), at, data);
    insert_event(tx, events, ev).await?;
    Ok(msg)
}

/// The identity a new conversation writes through: the contact's on the inbox's channel, added
/// when the contact has an address for it but no identity yet.
pub(crate) async fn identity_to_start(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    inbox: &InboxRow,
    contact: &ContactView,
    at: Timestamp,
) -> StoreResult<IdentityId> {
    Ok(match plan::reach_to_start(inbox, contact)? {
        plan::Reach::Existing(i) => i.id,
        plan::Reach::New(ident) => {
            crate::contacts::insert_identity(tx, ws, contact.id, &ident, at).await?
        }
    })
}

/// The contact's conversation in the inbox, created when there is none.
pub(crate) async fn conversation_to_start(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    inbox: InboxId,
    contact: &ContactView,
    identity: IdentityId,
    at: Timestamp,
) -> StoreResult<ConversationView> {
    match load_for_contact(tx, inbox, contact.id).await {
        Ok(conv) => Ok(conv),
        Err(StoreError::NotFound) => {
            let conv = new_conversation(inbox, contact.id, contact.name.clone(), identity, at);
            insert_conversation(tx, ws, &conv).await?;
            Ok(conv)
        }
        Err(e) => Err(e),
    }
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
