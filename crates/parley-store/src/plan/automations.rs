//! Automation rules as both backends store them: the rule's trigger, conditions, actions and
//! limit in one JSON `body` column, and the check of a new order.

use parley_core::automation::{Action, Conditions, Limit, Rule, Trigger};
use parley_core::{InboxId, RuleId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{MacroRow, RuleRow, StoreError};

#[derive(Serialize, Deserialize)]
struct Body {
    trigger: Trigger,
    conditions: Conditions,
    actions: Vec<Action>,
    limit: Option<Limit>,
}

/// The `body` column of a rule.
pub fn body(rule: &Rule) -> String {
    serde_json::to_string(&Body {
        trigger: rule.trigger.clone(),
        conditions: rule.conditions.clone(),
        actions: rule.actions.clone(),
        limit: rule.limit,
    })
    .unwrap_or_default()
}

/// A stored rule's columns (`sql::automations::COLS`, in order).
pub struct RuleFields {
    pub id: RuleId,
    pub position: i32,
    pub enabled: bool,
    pub inbox_id: Option<InboxId>,
    pub name: String,
    pub body: String,
    pub fired: i64,
    pub last_fired_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl RuleFields {
    pub fn row(self) -> Result<RuleRow, StoreError> {
        let b: Body = serde_json::from_str(&self.body)
            .map_err(|e| anyhow::anyhow!("rule {} has an unreadable body: {e}", self.id))?;
        Ok(RuleRow {
            rule: Rule {
                id: self.id,
                name: self.name,
                enabled: self.enabled,
                position: self.position,
                inbox_id: self.inbox_id,
                trigger: b.trigger,
                conditions: b.conditions,
                actions: b.actions,
                limit: b.limit,
            },
            fired: self.fired,
            last_fired_at: self.last_fired_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Refuses a new order that does not name each of the `current` rules exactly once.
pub fn check_order(current: &[RuleId], given: &[RuleId]) -> Result<(), StoreError> {
    let mut a = current.to_vec();
    let mut b = given.to_vec();
    a.sort();
    b.sort();
    b.dedup();
    if a != b || given.len() != current.len() {
        return Err(StoreError::Invalid {
            field: "ids",
            reason: "give each of the workspace's rules exactly once".into(),
        });
    }
    Ok(())
}

/// An inbox of another workspace (or none) named by a rule.
pub fn foreign_inbox() -> StoreError {
    StoreError::Invalid {
        field: "inbox_id",
        reason: "no such inbox in this workspace".into(),
    }
}

/// The `actions` column of a macro.
pub fn actions_json(actions: &[Action]) -> String {
    serde_json::to_string(actions).unwrap_or_default()
}

/// A stored macro from its columns (`sql::automations::MACRO_COLS`, in order).
pub fn macro_row(
    id: parley_core::MacroId,
    name: String,
    actions: &str,
    created_at: Timestamp,
    updated_at: Timestamp,
) -> Result<MacroRow, StoreError> {
    let actions = serde_json::from_str(actions)
        .map_err(|e| anyhow::anyhow!("macro {id} has unreadable actions: {e}"))?;
    Ok(MacroRow {
        id,
        name,
        actions,
        created_at,
        updated_at,
    })
}

/// A macro name already taken in the workspace.
pub fn macro_name_taken() -> StoreError {
    StoreError::Conflict("a macro with this name exists".into())
}
