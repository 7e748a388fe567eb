//! Automations: the rules an admin sets, evaluated (by `parley_core::automation`) when something
//! happens to a conversation, and their actions applied, attributed to the rule on the timeline.

pub mod api;
pub(crate) mod apply;
pub mod cache;
pub mod dry_run;
pub(crate) mod facts;
pub mod macros;
pub mod timed;
pub mod views;
pub mod webhook;

use std::sync::Arc;

use parley_core::automation::{self as core, Cause, Event, Happening};
use parley_core::conversation::{Change, Status};
use parley_core::ids::{ConversationId, WorkspaceId};
use parley_core::Timestamp;
use parley_store::{Attribution, Published, StoreError};

use crate::http::routes::route;
use crate::state::App;

/// Something that happened to a conversation that rules may react to.
#[derive(Debug, Clone)]
pub enum Happened {
    /// A customer's message (`created`: it started the conversation), with its text.
    Received {
        created: bool,
        text: String,
    },
    Resolved,
    Reopened,
    AssignmentChanged,
    LabelsAdded {
        labels: Vec<String>,
    },
    /// A phone system reported a call from the contact.
    Call {
        from: String,
        at: Timestamp,
        answered: bool,
    },
    /// A time-based rule's timer fell due.
    Due,
}

impl Happened {
    /// The happening as the evaluator sees it, and the message's text when there is one.
    pub(crate) fn as_core(&self) -> (Happening<'_>, Option<&str>) {
        match self {
            Happened::Received { created, text } => {
                (Happening::Received { created: *created }, Some(text))
            }
            Happened::Resolved => (Happening::Resolved, None),
            Happened::Reopened => (Happening::Reopened, None),
            Happened::AssignmentChanged => (Happening::AssignmentChanged, None),
            Happened::LabelsAdded { labels } => (Happening::LabelsAdded(labels), None),
            Happened::Call { answered, .. } => (
                Happening::Call {
                    answered: *answered,
                },
                None,
            ),
            Happened::Due => (Happening::Due, None),
        }
    }
}

/// Where an event came from: the chain of rules whose actions caused it (empty for a customer's
/// or an agent's doing), and whether its message came from an automated sender.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub cause: Cause,
    pub automated_sender: bool,
}

/// What the committed events of a command mean to the rules: a resolve, a reopen, an assignment,
/// labels added.
pub fn happenings_of(events: &[Published]) -> Vec<Happened> {
    let changes = events
        .iter()
        .filter(|e| e.kind == "conversation.updated")
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .filter_map(|v| serde_json::from_value::<Change>(v["change"].clone()).ok());
    changes
        .filter_map(|c| match c {
            Change::Status {
                to: Status::Resolved,
                ..
            } => Some(Happened::Resolved),
            Change::Status {
                from: Status::Resolved,
                to: Status::Open,
                ..
            } => Some(Happened::Reopened),
            Change::Assignment { .. } => Some(Happened::AssignmentChanged),
            Change::Labels { added, .. } if !added.is_empty() => {
                Some(Happened::LabelsAdded { labels: added })
            }
            _ => None,
        })
        .collect()
}

/// Runs the workspace's rules for what happened to `conv`, after it was committed.
pub async fn react(
    app: &App,
    ws: WorkspaceId,
    conv: ConversationId,
    what: Happened,
) -> Result<(), StoreError> {
    react_from(app, ws, conv, what, Origin::default()).await
}

/// The workspace's rules when an enabled one listens for this kind of event (`None`: nothing to
/// do, and nothing more is read).
pub async fn listening(
    app: &App,
    ws: WorkspaceId,
    happening: &Happening<'_>,
) -> Result<Option<Arc<Vec<core::Rule>>>, StoreError> {
    let rules = cache::rules(app, ws).await?;
    let any = rules
        .iter()
        .any(|r| r.enabled && core::listens(&r.trigger, happening));
    Ok(any.then_some(rules))
}

/// Runs the rules for what happened, coming from `origin`; then, for what their actions did,
/// the rules again, one link further down the chain. Reads the conversation only when an enabled
/// rule listens for this kind of event.
pub async fn react_from(
    app: &App,
    ws: WorkspaceId,
    conv: ConversationId,
    what: Happened,
    origin: Origin,
) -> Result<(), StoreError> {
    timed::on_happened(app, ws, conv, &what).await;
    match listening(app, ws, &what.as_core().0).await? {
        Some(rules) => react_with(app, ws, conv, what, origin, &rules).await,
        None => Ok(()),
    }
}

/// Runs `rules` (those that listen, read once by the caller) for what happened.
pub async fn react_with(
    app: &App,
    ws: WorkspaceId,
    conv: ConversationId,
    what: Happened,
    origin: Origin,
    rules: &[core::Rule],
) -> Result<(), StoreError> {
    let (happening, text) = what.as_core();
    let snap = facts::Snapshot::of(app, ws, conv, facts::Needs::of(rules)).await?;
    let now = app.now();
    let guard = facts::guard(app, ws, conv, rules, now).await?;
    let event = Event {
        happening,
        cause: origin.cause.clone(),
        automated_sender: origin.automated_sender,
    };
    let firings = core::evaluate(rules, &event, &snap.facts(text), &guard);
    let mut next = Vec::new();
    for f in firings {
        if let Some(rule) = rules.iter().find(|r| r.id == f.rule) {
            let cause = origin.cause.then(rule.id);
            let happened = fire(app, &snap, rule, &f, now).await?;
            next.extend(happened.into_iter().map(|h| (h, cause.clone())));
        }
    }
    for (what, cause) in next {
        let origin = Origin {
            cause,
            automated_sender: false,
        };
        Box::pin(react_from(app, ws, conv, what, origin)).await?;
    }
    Ok(())
}

/// Applies one rule's firing: records what the guards held back, runs its actions, counts it;
/// answers what its actions did to the conversation.
async fn fire(
    app: &App,
    snap: &facts::Snapshot,
    rule: &core::Rule,
    f: &core::Firing,
    now: Timestamp,
) -> Result<Vec<Happened>, StoreError> {
    let ws = snap.inbox.workspace_id;
    let ctx = apply::Ctx {
        ws,
        scope: facts::system_scope(ws),
        actor: parley_core::UserId(uuid::Uuid::nil()),
        conv: snap.conv.id,
        contact: snap.conv.contact_id,
        inbox: snap.inbox.clone(),
        as_agent: false,
        by: Attribution::Rule {
            id: rule.id,
            name: rule.name.clone(),
        },
    };
    for h in &f.held_back {
        let why = format!("held back: {}", h.reason);
        let step = apply::StepView::new(&h.action, "held_back", Some(why));
        apply::record(app, &ctx, &step).await?;
    }
    if f.actions.is_empty() {
        return Ok(Vec::new());
    }
    let ran = apply::run(app, &ctx, &f.actions).await?;
    let conv = snap.conv.id;
    app.store
        .record_firing(ws, rule.id, conv, ran.sent, now)
        .await?;
    Ok(ran.happened)
}

/// Runs the rules and logs (never returns) their failure: what triggered them is committed
/// already, and its caller's answer must not depend on the rules.
pub async fn react_logged(
    app: &App,
    ws: WorkspaceId,
    conv: ConversationId,
    what: Happened,
    origin: Origin,
) {
    log_failure(conv, react_from(app, ws, conv, what, origin).await);
}

/// Logs a failure of the rules (see `react_logged`).
pub fn log_failure(conv: ConversationId, r: Result<(), StoreError>) {
    if let Err(e) = r {
        tracing::warn!(conversation = %conv, error = %e, "automation rules failed");
    }
}

/// The automations' routes.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::http::routes::Answer;
    use views as v;
    let mut all = vec![
        route!(get "/api/v1/automations/webhook-secret" => webhook::get_secret, "automations", Admin, "The secret rules' webhook calls are signed with (X-Parley-Signature over X-Parley-Timestamp and the body, as the API channel signs)", response = webhook::SecretView),
        route!(get "/api/v1/automations" => api::list_rules, "automations", Member, "The workspace's automation rules in the order they run, each with `fired` and `last_fired_at`", response = crate::views::Items<v::RuleView>),
        route!(post "/api/v1/automations" => api::create_rule, "automations", Admin, "Create a rule (trigger, conditions, actions, limit); it runs after the others; a bad rule is refused naming the field", body = v::RuleRequest, created = v::RuleView),
        route!(post "/api/v1/automations/order" => api::order_rules, "automations", Admin, "Set the order the rules run in: `ids` names each rule once", body = v::OrderRequest, response = crate::views::Items<v::RuleView>),
        route!(post "/api/v1/automations/dry-run" => dry_run::dry_run_unsaved, "automations", Admin, "Which of the last `last` conversations (default 50, at most 500) an unsaved rule would fire on, and what it would do; applies nothing", query = dry_run::DryRunQuery, body = v::RuleRequest, response = v::DryRunView),
        route!(get "/api/v1/automations/{id}" => api::get_rule, "automations", Member, "One rule, with its statistics", response = v::RuleView),
        route!(put "/api/v1/automations/{id}" => api::update_rule, "automations", Admin, "Replace a rule (its position and statistics stay); `enabled` switches it on and off", body = v::RuleRequest, response = v::RuleView),
        route!(patch "/api/v1/automations/{id}" => api::switch_rule, "automations", Admin, "Switch a rule on or off", body = v::SwitchRequest, response = v::RuleView),
        route!(delete "/api/v1/automations/{id}" => api::delete_rule, "automations", Admin, "Delete a rule", answer = Answer::NoContent),
        route!(post "/api/v1/automations/{id}/dry-run" => dry_run::dry_run_saved, "automations", Admin, "Which of the last `last` conversations (default 50, at most 500) the rule would fire on, and what it would do; applies nothing", query = dry_run::DryRunQuery, response = v::DryRunView),
    ];
    all.extend(macros::routes());
    all
}
