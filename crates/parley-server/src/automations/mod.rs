//! Automations: the rules an admin sets, evaluated (by `parley_core::automation`) when something
//! happens to a conversation, and their actions applied, attributed to the rule on the timeline.

pub mod api;
pub(crate) mod apply;
pub mod dry_run;
pub(crate) mod facts;
pub mod macros;
pub mod views;

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
    let (happening, text) = what.as_core();
    let rules: Vec<core::Rule> = app
        .store
        .list_rules(ws)
        .await?
        .into_iter()
        .map(|r| r.rule)
        .filter(|r| r.enabled && core::listens(&r.trigger, &happening))
        .collect();
    if rules.is_empty() {
        return Ok(());
    }
    let snap = facts::Snapshot::of(app, ws, conv).await?;
    let now = app.now();
    let guard = facts::guard(app, ws, conv, &rules, now).await?;
    let event = Event {
        happening,
        cause: origin.cause.clone(),
        automated_sender: origin.automated_sender,
    };
    let firings = core::evaluate(&rules, &event, &snap.facts(text), &guard);
    let mut next = Vec::new();
    for f in firings {
        let Some(rule) = rules.iter().find(|r| r.id == f.rule) else {
            continue;
        };
        let ctx = apply::Ctx {
            ws,
            scope: facts::system_scope(ws),
            actor: parley_core::UserId(uuid::Uuid::nil()),
            conv,
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
            continue;
        }
        let ran = apply::run(app, &ctx, &f.actions).await?;
        app.store
            .record_firing(ws, rule.id, conv, ran.sent, now)
            .await?;
        let cause = origin.cause.then(rule.id);
        next.extend(ran.happened.into_iter().map(|h| (h, cause.clone())));
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

/// Runs the rules and logs (never returns) their failure: what triggered them is committed
/// already, and its caller's answer must not depend on the rules.
pub async fn react_logged(
    app: &App,
    ws: WorkspaceId,
    conv: ConversationId,
    what: Happened,
    origin: Origin,
) {
    if let Err(e) = react_from(app, ws, conv, what, origin).await {
        tracing::warn!(conversation = %conv, error = %e, "automation rules failed");
    }
}

/// The automations' routes.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::http::routes::Answer;
    use views as v;
    let mut all = vec![
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
