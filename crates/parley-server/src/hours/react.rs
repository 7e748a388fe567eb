//! Sends the auto-reply a customer's new message calls for: chosen from the inbox's hours, queue
//! and the message's words, rendered with its merge fields, admitted by the compliance gate, and
//! sent as an automated message at most once per conversation and period.

use parley_core::consent::Purpose;
use parley_core::{Timestamp, UserId};
use parley_store::{
    Command, ContactView, ConversationView, InboundOutcome, InboxPace, InboxRow, Scope,
};
use serde_json::json;

use super::replies::{AutoReplies, Kind};
use crate::compliance::ComplianceError;
use crate::state::App;
use crate::templates::{render_text, Target, TemplateError};

/// After a customer's new message is committed: sends the auto-reply it calls for, if any. Best
/// effort: a reply that may not go (the gate refused it, one went this period) is skipped, never
/// an error for the message. `automated`: the message itself was sent by a machine (never
/// answered, so two autoresponders cannot loop).
pub async fn after_customer_message(
    app: &App,
    inbox: &InboxRow,
    out: &InboundOutcome,
    text: &str,
    automated: bool,
) {
    // Most inboxes have none: nothing to read on the way in.
    if automated
        || inbox
            .settings
            .get("auto_replies")
            .is_none_or(|v| v.is_null())
    {
        return;
    }
    let settings = AutoReplies::of(inbox);
    if !settings.any_enabled() {
        return;
    }
    match send(app, inbox, out, text, &settings).await {
        Ok(Some(kind)) => {
            tracing::debug!(conversation = %out.conversation_id, kind = kind.key(), "auto-reply sent")
        }
        Ok(None) => {}
        Err(e) => {
            tracing::info!(conversation = %out.conversation_id, reason = %e, "auto-reply not sent")
        }
    }
}

fn system(inbox: &InboxRow) -> Scope {
    Scope::parley(inbox.workspace_id)
}

async fn send(
    app: &App,
    inbox: &InboxRow,
    out: &InboundOutcome,
    text: &str,
    settings: &AutoReplies,
) -> Result<Option<Kind>, ComplianceError> {
    let scope = system(inbox);
    let conv = app.store.conversation(&scope, out.conversation_id).await?;
    let contact = app.store.contact(&scope, conv.contact_id).await?;
    if contact.erased_at.is_some() || contact.blocked_at.is_some() {
        return Ok(None);
    }
    let now = app.now();
    let open = match super::schedule_of(app, inbox, conv.team_id).await? {
        Some(s) => s.is_open(now),
        None => true,
    };
    let pace = match open && settings.peak.enabled {
        true => busy_now(app, inbox).await?,
        false => InboxPace::default(),
    };
    let Some(kind) = settings.choose(open, text, &pace, now) else {
        return Ok(None);
    };
    let body = render(app, inbox, &conv, contact, settings.text_of(kind)).await?;
    if !deliver(app, inbox, &conv, kind, body, settings.period_ms()).await? {
        return Ok(None);
    }
    if kind == Kind::Urgent {
        hand_to_on_call(app, &scope, &conv, settings, now).await;
    }
    Ok(Some(kind))
}

/// Queues the reply as an automated message once the gate admits it and no reply of its kind
/// went in the period; false when one did.
async fn deliver(
    app: &App,
    inbox: &InboxRow,
    conv: &ConversationView,
    kind: Kind,
    body: String,
    period_ms: i64,
) -> Result<bool, ComplianceError> {
    let scope = system(inbox);
    let facts = crate::compliance::gate::facts(app, &scope, Some(conv.id)).await?;
    let admitted = crate::compliance::gate::admit(
        app,
        inbox,
        conv.contact_id,
        Purpose::Conversational,
        facts,
        body,
    )
    .await?;
    // Claimed only once the gate let it go: a refused reply does not use up the period.
    let now = app.now();
    let ws = inbox.workspace_id;
    let claimed = app
        .store
        .claim_auto_reply(ws, conv.id, kind.key(), now, period_ms)
        .await?;
    if !claimed {
        return Ok(false);
    }
    let meta = admitted.meta(Some(json!({ "auto_reply": { "kind": kind.key() } })));
    let cmd = Command::Automated {
        body: admitted.body,
        meta,
    };
    app.store.act(&scope, conv.id, nobody(), cmd, now).await?;
    app.dispatch_bell.notify_one();
    Ok(true)
}

fn nobody() -> UserId {
    UserId(uuid::Uuid::nil())
}

/// The inbox's queue now (who waits, and since when).
async fn busy_now(app: &App, inbox: &InboxRow) -> Result<InboxPace, ComplianceError> {
    // Only the waiting conversations count here: an empty window of first responses.
    let now = app.now();
    Ok(app
        .store
        .inbox_pace(inbox.workspace_id, inbox.id, now, now)
        .await?)
}

/// The urgent reply's action: the on-call agent gets the conversation when nobody has it, so it
/// shows in their own list at once.
async fn hand_to_on_call(
    app: &App,
    scope: &Scope,
    conv: &ConversationView,
    settings: &AutoReplies,
    now: Timestamp,
) {
    let Some(agent) = settings.urgent.assign_to else {
        return;
    };
    if conv.assignee_id.is_some() {
        return;
    }
    let cmd = Command::Assign {
        assignee: Some(agent),
        team: conv.team_id,
    };
    if let Err(e) = app.store.act(scope, conv.id, nobody(), cmd, now).await {
        tracing::warn!(conversation = %conv.id, reason = %e, "the on-call agent could not be assigned");
    }
}

/// Renders an auto-reply's text for a conversation with the same fields a template has (the
/// expected wait computed only when the text asks); a text that no longer parses goes as written.
async fn render(
    app: &App,
    inbox: &InboxRow,
    conv: &ConversationView,
    contact: ContactView,
    text: &str,
) -> Result<String, ComplianceError> {
    let target = Target {
        id: conv.id,
        inbox: inbox.clone(),
        contact,
        team: conv.team_id,
        sample: false,
    };
    match render_text(app, text, &target, None).await {
        Ok(r) => Ok(r.text),
        Err(TemplateError::Store(e)) => Err(e.into()),
        Err(_) => Ok(text.to_string()),
    }
}
