//! The dry-run: a rule (saved or not) evaluated on the workspace's most recently active
//! conversations as if its trigger happened there now, with the guards as they stand; nothing is
//! applied. The same evaluator as the live path, so what it shows is what would happen.

use axum::extract::State;
use parley_core::automation::{self as core, Event, Happening, Rule, Trigger};
use parley_core::message::Direction;
use parley_core::{RuleId, WorkspaceId};
use parley_store::{ConversationQuery, ConversationView, Sort, StoreError};
use serde::Deserialize;

use super::facts::{guard, system_scope, Needs, Snapshot};
use super::views::{DryRunMatch, DryRunView, HeldBackView, RuleRequest};
use crate::http::caller::{require_admin, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::state::App;

#[derive(Deserialize)]
pub struct DryRunQuery {
    /// How many of the most recently active conversations to look at (default 50, at most 500).
    last: Option<u32>,
}

pub async fn dry_run_saved(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<RuleId>,
    Query(q): Query<DryRunQuery>,
) -> ApiResult<Json<DryRunView>> {
    require_admin(&p)?;
    let last = crate::http::query::limit(q.last, 50, 500)?;
    let rule = app.store.rule(p.workspace_id, id).await?.rule;
    Ok(Json(dry_run(&app, p.workspace_id, rule, last).await?))
}

pub async fn dry_run_unsaved(
    State(app): State<App>,
    Auth(p): Auth,
    Query(q): Query<DryRunQuery>,
    Json(req): Json<RuleRequest>,
) -> ApiResult<Json<DryRunView>> {
    require_admin(&p)?;
    let last = crate::http::query::limit(q.last, 50, 500)?;
    let rule = req.rule(RuleId::from(uuid::Uuid::nil()))?;
    Ok(Json(dry_run(&app, p.workspace_id, rule, last).await?))
}

async fn dry_run(app: &App, ws: WorkspaceId, mut rule: Rule, last: u32) -> ApiResult<DryRunView> {
    // A rule switched off is tried as if it were on: that is what the admin wants to know.
    rule.enabled = true;
    let convs = recent(app, ws, last).await?;
    let mut matches = Vec::new();
    for conv in &convs {
        if let Some(m) = try_on(app, ws, &rule, conv).await? {
            matches.push(m);
        }
    }
    Ok(DryRunView {
        checked: convs.len(),
        matches,
    })
}

/// The workspace's `last` most recently active conversations.
async fn recent(
    app: &App,
    ws: WorkspaceId,
    last: u32,
) -> Result<Vec<ConversationView>, StoreError> {
    let mut out: Vec<ConversationView> = Vec::new();
    let mut cursor = None;
    loop {
        let q = ConversationQuery {
            sort: Sort::Activity,
            cursor,
            limit: (last - out.len() as u32).min(100),
            ..Default::default()
        };
        let page = app.store.list_conversations(&system_scope(ws), &q).await?;
        out.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() || out.len() >= last as usize {
            return Ok(out);
        }
    }
}

/// What the rule would do on `conv` if its trigger happened there now.
async fn try_on(
    app: &App,
    ws: WorkspaceId,
    rule: &Rule,
    conv: &ConversationView,
) -> Result<Option<DryRunMatch>, StoreError> {
    let text = last_customer_text(app, ws, conv).await?;
    let happening = match &rule.trigger {
        Trigger::ConversationCreated => Happening::Received { created: true },
        Trigger::Resolved => Happening::Resolved,
        Trigger::Reopened => Happening::Reopened,
        Trigger::AssignmentChanged => Happening::AssignmentChanged,
        Trigger::LabelAdded { .. } => Happening::LabelsAdded(&conv.labels),
        Trigger::Call { answered } => Happening::Call {
            answered: answered.unwrap_or(false),
        },
        // A time-based rule is tried as if its timer fell due now, on the conversations where it
        // could be waiting (resolved ones for "after resolve", the others for the rest).
        t if t.is_timed() => {
            let resolved = conv.status == parley_core::conversation::Status::Resolved;
            if !parley_core::automation::timed::still_due(t, resolved) {
                return Ok(None);
            }
            Happening::Due
        }
        _ => Happening::Received { created: false },
    };
    let message = matches!(happening, Happening::Received { .. });
    if message && text.is_none() {
        return Ok(None);
    }
    let rules = std::slice::from_ref(rule);
    let snap = Snapshot::of(app, ws, conv.id, Needs::of(rules)).await?;
    let guard = guard(app, ws, conv.id, rules, app.now()).await?;
    let event = Event {
        happening,
        cause: Default::default(),
        automated_sender: false,
    };
    let facts = snap.facts(if message { text.as_deref() } else { None });
    Ok(core::evaluate(rules, &event, &facts, &guard)
        .pop()
        .map(|f| DryRunMatch {
            conversation_id: conv.id,
            contact_name: conv.contact_name.clone(),
            actions: f.actions,
            held_back: f
                .held_back
                .into_iter()
                .map(|h| HeldBackView {
                    action: h.action,
                    reason: h.reason,
                })
                .collect(),
        }))
}

/// The text of the customer's latest message in the conversation (of its last 50 entries).
async fn last_customer_text(
    app: &App,
    ws: WorkspaceId,
    conv: &ConversationView,
) -> Result<Option<String>, StoreError> {
    let entries = app
        .store
        .timeline(&system_scope(ws), conv.id, None, 50)
        .await?;
    Ok(entries
        .iter()
        .rev()
        .filter(|e| e.event.kind == "message.created")
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.event.data).ok())
        .find(|v| v["message"]["direction"] == Direction::Inbound.as_str())
        .and_then(|v| v["message"]["body"].as_str().map(str::to_string)))
}
