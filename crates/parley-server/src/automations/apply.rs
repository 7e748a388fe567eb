//! Applying a rule's (or a macro's) actions to a conversation, in order, each attributed to what
//! gave it. Each step answers its outcome; a step that cannot be done (the gate denied a message,
//! the assignee is not a member) is recorded on the timeline and the next one runs.

use parley_core::automation::Action;
use parley_core::consent::Purpose;
use parley_core::conversation::Status;
use parley_core::{ContactId, ConversationId, Timestamp, UserId, WorkspaceId};
use parley_store::{ActOutcome, Attribution, Command, InboxRow, Scope, StoreError};
use serde::Serialize;
use serde_json::{json, Value};

use super::Happened;
use crate::compliance::ComplianceError;
use crate::state::App;

/// Where and as whom actions run.
pub(crate) struct Ctx {
    pub ws: WorkspaceId,
    pub scope: Scope,
    /// The agent running a macro; nil for a rule.
    pub actor: UserId,
    pub conv: ConversationId,
    pub contact: ContactId,
    pub inbox: InboxRow,
    pub by: Attribution,
    /// Messages go as the actor's replies (a macro) rather than as Parley's own (a rule).
    pub as_agent: bool,
}

/// What one action did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StepView {
    pub action: Action,
    /// `done`, `unchanged` (it was so already), `denied` (the compliance gate or the channel
    /// refused the message), `skipped`, `held_back` (a guard), `recorded` (a webhook, queued
    /// for delivery) or `failed`.
    pub outcome: &'static str,
    pub detail: Option<String>,
}

impl StepView {
    pub fn new(action: &Action, outcome: &'static str, detail: Option<String>) -> Self {
        Self {
            action: action.clone(),
            outcome,
            detail,
        }
    }
}

/// What running actions did: each step, what happened to the conversation because of them (for
/// the rules downstream) and how many messages went.
#[derive(Default)]
pub(crate) struct Ran {
    pub steps: Vec<StepView>,
    pub happened: Vec<Happened>,
    pub sent: u32,
}

/// Runs `actions` in order. A step that changes nothing, or is refused, is recorded on the
/// timeline with its reason; a store failure stops the rest.
pub(crate) async fn run(app: &App, ctx: &Ctx, actions: &[Action]) -> Result<Ran, StoreError> {
    let mut ran = Ran::default();
    for a in actions {
        let step = match step(app, ctx, a, &mut ran).await {
            Ok(s) => s,
            Err(StoreError::Rejected { code, message }) => {
                let outcome = if code == "no_change" || code == "conversation_status_unchanged" {
                    "unchanged"
                } else {
                    "failed"
                };
                StepView::new(a, outcome, Some(message))
            }
            Err(e @ StoreError::Invalid { .. }) | Err(e @ StoreError::NotFound) => {
                StepView::new(a, "failed", Some(e.to_string()))
            }
            Err(e) => return Err(e),
        };
        if step.outcome != "done" {
            record(app, ctx, &step).await?;
        }
        ran.steps.push(step);
    }
    Ok(ran)
}

/// Records a step that left no event of its own on the timeline.
pub(crate) async fn record(app: &App, ctx: &Ctx, step: &StepView) -> Result<(), StoreError> {
    let mut data = json!({
        "action": step.action,
        "outcome": step.outcome,
        "detail": step.detail,
    });
    ctx.by.mark(&mut data);
    if ctx.actor.as_uuid() != uuid::Uuid::nil() {
        data["actor_id"] = json!(ctx.actor);
    }
    app.store
        .record_conversation_event(ctx.ws, ctx.conv, "automation.recorded", data, app.now())
        .await
}

async fn act(app: &App, ctx: &Ctx, cmd: Command) -> Result<ActOutcome, StoreError> {
    let cmd = Command::Attributed {
        by: ctx.by.clone(),
        cmd: Box::new(cmd),
    };
    app.store
        .act(&ctx.scope, ctx.conv, ctx.actor, cmd, app.now())
        .await
}

async fn step(app: &App, ctx: &Ctx, a: &Action, ran: &mut Ran) -> Result<StepView, StoreError> {
    match a {
        Action::SendTemplate { template_id } => {
            let agent = ctx.as_agent.then_some(ctx.actor);
            let r = crate::templates::render_for(app, ctx.ws, *template_id, ctx.conv, agent).await;
            match r {
                Ok(t) => {
                    send(
                        app,
                        ctx,
                        a,
                        t.text,
                        json!({ "template_id": template_id }),
                        ran,
                    )
                    .await
                }
                Err(e) => Ok(StepView::new(a, "failed", Some(e.to_string()))),
            }
        }
        Action::SendSurvey => survey(app, ctx, a, ran).await,
        Action::AddToList { list_id } | Action::RemoveFromList { list_id } => {
            let on = matches!(a, Action::AddToList { .. });
            let at = app.now();
            let list = app
                .store
                .set_list_member(ctx.ws, *list_id, ctx.contact, on, at)
                .await?;
            // A list is the contact's, not the conversation's: the step is recorded to show it.
            let step = StepView::new(a, "done", Some(list.name));
            record(app, ctx, &step).await?;
            Ok(step)
        }
        Action::Webhook { url } => {
            let mut event = json!({
                "event": "automation.webhook",
                "conversation_id": ctx.conv,
                "contact_id": ctx.contact,
                "inbox_id": ctx.inbox.id,
                "at": app.now(),
            });
            ctx.by.mark(&mut event);
            super::webhook::queue(app, ctx.ws, url, event).await?;
            // `run` records every step that is not `done`: the timeline shows the call queued.
            Ok(StepView::new(a, "queued", Some(format!("POST {url}"))))
        }
        other => {
            let Some(cmd) = command_of(other, app.now()) else {
                return Ok(StepView::new(a, "skipped", None));
            };
            let out = act(app, ctx, cmd).await?;
            ran.happened.extend(super::happenings_of(&out.events));
            Ok(StepView::new(a, "done", None))
        }
    }
}

/// The conversation command an action gives, for the actions that are one.
fn command_of(a: &Action, now: Timestamp) -> Option<Command> {
    let status = |to, snoozed_until| Command::SetStatus { to, snoozed_until };
    Some(match a {
        Action::AddLabels { labels } => Command::Labels {
            add: labels.clone(),
            remove: Vec::new(),
        },
        Action::RemoveLabels { labels } => Command::Labels {
            add: Vec::new(),
            remove: labels.clone(),
        },
        Action::SetPriority { priority } => Command::SetPriority(*priority),
        Action::Assign { user_id, team_id } => Command::Assign {
            assignee: *user_id,
            team: *team_id,
        },
        Action::Note { body } => Command::Note {
            body: body.clone(),
            mentions: Vec::new(),
        },
        Action::Snooze { for_secs } => {
            let until = Timestamp(now.0 + i64::from(*for_secs) * 1000);
            status(Status::Snoozed, Some(until))
        }
        Action::Resolve => status(Status::Resolved, None),
        Action::Reopen => status(Status::Open, None),
        _ => return None,
    })
}

/// Sends an automatic message through the channel's window and the compliance gate; a refusal is
/// the step's outcome, not an error.
async fn send(
    app: &App,
    ctx: &Ctx,
    a: &Action,
    body: String,
    meta: Value,
    ran: &mut Ran,
) -> Result<StepView, StoreError> {
    let window = crate::inboxes::channels::check_reply(
        app,
        &ctx.scope,
        &ctx.inbox,
        ctx.conv,
        false,
        ctx.as_agent,
    );
    match window.await {
        Err(crate::inboxes::channels::WindowError::Outside(reason)) => {
            return Ok(StepView::new(a, "denied", Some(reason)))
        }
        Err(crate::inboxes::channels::WindowError::Store(e)) => return Err(e),
        Ok(()) => {}
    }
    let facts = crate::compliance::gate::facts(app, &ctx.scope, Some(ctx.conv)).await?;
    let purpose = Purpose::Conversational;
    let admitted =
        crate::compliance::gate::admit(app, &ctx.inbox, ctx.contact, purpose, facts, body).await;
    let admitted = match admitted {
        Ok(x) => x,
        Err(ComplianceError::Denied { code, reason }) => {
            return Ok(StepView::new(
                a,
                "denied",
                Some(format!("{code}: {reason}")),
            ))
        }
        Err(ComplianceError::Store(e)) => return Err(e),
        Err(e) => return Ok(StepView::new(a, "failed", Some(e.to_string()))),
    };
    let meta = admitted.meta(Some(meta));
    act(
        app,
        ctx,
        Command::Automated {
            body: admitted.body,
            meta,
        },
    )
    .await?;
    app.dispatch_bell.notify_one();
    ran.sent += 1;
    Ok(StepView::new(a, "done", None))
}

async fn survey(app: &App, ctx: &Ctx, a: &Action, ran: &mut Ran) -> Result<StepView, StoreError> {
    let conv = app.store.conversation(&ctx.scope, ctx.conv).await?;
    let send =
        crate::conversations::survey::send_as(app, &ctx.scope, ctx.actor, &conv, Some(&ctx.by));
    Ok(match send.await {
        Ok(None) => {
            ran.sent += 1;
            StepView::new(a, "done", None)
        }
        Ok(Some(why)) => StepView::new(a, "skipped", Some(why.into())),
        Err(e) => match e.downcast_ref::<ComplianceError>() {
            Some(ComplianceError::Denied { code, reason }) => {
                StepView::new(a, "denied", Some(format!("{code}: {reason}")))
            }
            _ => match e.downcast_ref::<crate::inboxes::channels::WindowError>() {
                Some(w) => StepView::new(a, "denied", Some(w.to_string())),
                None => StepView::new(a, "failed", Some(e.to_string())),
            },
        },
    })
}
