//! Time-based rules on durable timers: each conversation moment (the customer wrote, an agent
//! answered, a resolve, a reopen) sets or cancels one timer per (rule, conversation), as
//! `parley_core::automation::timed::arm` says; a due timer runs that one rule. A time of day is
//! one timer per rule, set again for the next day each time it fires.

use parley_core::automation::timed::{self, Arm, Moment};
use parley_core::automation::{Rule, Trigger};
use parley_core::conversation::Status;
use parley_core::ids::{ConversationId, RuleId, WorkspaceId};
use parley_store::{ConversationQuery, NewTimer, StoreError, TimerKeys, TimerRow};
use serde_json::json;

use super::{cache, facts::system_scope, Happened, Origin};
use crate::jobs::timers::RULE_KIND;
use crate::state::App;

/// How many open conversations one time-of-day firing visits.
const DAILY_MAX: usize = 5_000;

fn key(conv: ConversationId, rule: RuleId) -> String {
    format!("conv:{conv}:rule:{rule}")
}

fn daily_key(rule: RuleId) -> String {
    format!("rule:{rule}:daily")
}

/// The workspace's enabled time-based rules that follow conversations (not the times of day).
async fn clocked(app: &App, ws: WorkspaceId) -> Result<Vec<Rule>, StoreError> {
    let rules = cache::rules(app, ws).await?;
    Ok(rules
        .iter()
        .filter(|r| r.enabled && r.trigger.is_timed())
        .filter(|r| !matches!(r.trigger, Trigger::TimeOfDay { .. }))
        .cloned()
        .collect())
}

/// Sets and cancels the conversation's rule timers for a moment. Reads nothing more when the
/// workspace has no time-based rule; failures are logged (a rule's clock is not worth a retry
/// of what happened).
async fn moment(app: &App, ws: WorkspaceId, conv: ConversationId, m: Option<Moment>) {
    if let Err(e) = try_moment(app, ws, conv, m).await {
        tracing::warn!(error = %e, conversation = %conv, "could not set a rule's timer");
    }
}

async fn try_moment(
    app: &App,
    ws: WorkspaceId,
    conv: ConversationId,
    m: Option<Moment>,
) -> Result<(), StoreError> {
    let rules = clocked(app, ws).await?;
    if rules.is_empty() {
        return Ok(());
    }
    let c = app.store.conversation(&system_scope(ws), conv).await?;
    let now = app.now();
    let m = m.unwrap_or(Moment::CustomerWrote {
        waiting_since: c.waiting_since.unwrap_or(now),
    });
    for rule in rules
        .iter()
        .filter(|r| r.inbox_id.is_none_or(|i| i == c.inbox_id))
    {
        match timed::arm(&rule.trigger, m, now) {
            Arm::Set(due_at) => {
                let payload = json!({ "rule": rule.id, "conversation": conv });
                let timer = NewTimer {
                    workspace: ws,
                    key: key(conv, rule.id),
                    kind: RULE_KIND.into(),
                    due_at,
                    payload,
                };
                crate::jobs::timers::set(app, timer).await?;
            }
            Arm::Cancel => {
                let keys = TimerKeys::Exactly(key(conv, rule.id));
                crate::jobs::timers::cancel(app, ws, keys).await?;
            }
            Arm::Keep => {}
        }
    }
    Ok(())
}

/// The customer wrote: follow-ups stop, "no agent reply" starts from the oldest unanswered message.
pub async fn on_customer_message(app: &App, ws: WorkspaceId, conv: ConversationId) {
    moment(app, ws, conv, None).await;
}

/// An agent or a bot answered.
pub async fn on_business_reply(app: &App, ws: WorkspaceId, conv: ConversationId) {
    moment(app, ws, conv, Some(Moment::BusinessWrote)).await;
}

/// A resolve or a reopen, whoever did it.
pub async fn on_happened(app: &App, ws: WorkspaceId, conv: ConversationId, what: &Happened) {
    let m = match what {
        Happened::Resolved => Moment::Resolved,
        Happened::Reopened => Moment::Reopened,
        _ => return,
    };
    moment(app, ws, conv, Some(m)).await;
}

/// Sets (or, for a rule that is gone, off or no longer a time of day, removes) a rule's daily
/// timer; called whenever a rule is saved.
pub async fn rule_saved(app: &App, ws: WorkspaceId, rule: &Rule) -> Result<(), StoreError> {
    let daily = match (&rule.trigger, rule.enabled) {
        (Trigger::TimeOfDay { at }, true) => Some(at.clone()),
        _ => None,
    };
    let Some(at) = daily else {
        let keys = TimerKeys::Exactly(daily_key(rule.id));
        return crate::jobs::timers::cancel(app, ws, keys).await.map(drop);
    };
    let zone = app.workspace(ws).await?.row.timezone.clone();
    let Some(due_at) = timed::next_time_of_day(&zone, &at, app.now()) else {
        return Ok(());
    };
    let payload = json!({ "rule": rule.id });
    let timer = NewTimer {
        workspace: ws,
        key: daily_key(rule.id),
        kind: RULE_KIND.into(),
        due_at,
        payload,
    };
    crate::jobs::timers::set(app, timer).await.map(drop)
}

/// A deleted rule's daily timer goes with it; its conversations' timers find no rule and end.
pub async fn rule_deleted(app: &App, ws: WorkspaceId, rule: RuleId) -> Result<(), StoreError> {
    let keys = TimerKeys::Exactly(daily_key(rule));
    crate::jobs::timers::cancel(app, ws, keys).await.map(drop)
}

/// A rule's timer fell due: runs that rule on its conversation (or, for a time of day, on every
/// open conversation it covers, then sets tomorrow's). A rule deleted, switched off or changed
/// to another trigger since is not run.
pub async fn on_timer(app: &App, timer: &TimerRow) -> Result<(), StoreError> {
    let ws = timer.workspace_id;
    let rule_id = serde_json::from_value::<RuleId>(timer.payload["rule"].clone()).ok();
    let rules = cache::rules(app, ws).await?;
    let Some(rule) = rules.iter().find(|r| Some(r.id) == rule_id && r.enabled) else {
        return Ok(());
    };
    if !rule.trigger.is_timed() {
        return Ok(());
    }
    if let Trigger::TimeOfDay { .. } = rule.trigger {
        daily(app, ws, rule).await?;
        return rule_saved(app, ws, rule).await;
    }
    let Ok(conv) = serde_json::from_value::<ConversationId>(timer.payload["conversation"].clone())
    else {
        return Ok(());
    };
    let c = match app.store.conversation(&system_scope(ws), conv).await {
        Err(StoreError::NotFound) => return Ok(()),
        other => other?,
    };
    if !timed::still_due(&rule.trigger, c.status == Status::Resolved) {
        return Ok(());
    }
    let one = std::slice::from_ref(rule);
    super::react_with(app, ws, conv, Happened::Due, Origin::default(), one).await
}

/// A time of day: the rule on each open conversation of its inbox (or workspace).
async fn daily(app: &App, ws: WorkspaceId, rule: &Rule) -> Result<(), StoreError> {
    let mut cursor = None;
    let mut seen = 0;
    loop {
        let q = ConversationQuery {
            statuses: vec![Status::Open, Status::Pending],
            inbox: rule.inbox_id,
            cursor,
            limit: 100,
            ..Default::default()
        };
        let page = app.store.list_conversations(&system_scope(ws), &q).await?;
        for c in &page.items {
            let one = std::slice::from_ref(rule);
            let r = super::react_with(app, ws, c.id, Happened::Due, Origin::default(), one).await;
            super::log_failure(c.id, r);
        }
        seen += page.items.len();
        cursor = page.next_cursor;
        if cursor.is_none() || seen >= DAILY_MAX {
            return Ok(());
        }
    }
}
