//! The `Automations` trait: what each backend implements for automation rules (in its
//! `automations.rs`).

use async_trait::async_trait;
use parley_core::automation::{Action, Rule};
use parley_core::{ConversationId, MacroId, RuleId, Timestamp, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

/// A workspace's automation rules, in the order an admin sets, with their firing statistics and
/// the log the storm guard counts from.
#[async_trait]
pub trait Automations: Send + Sync + 'static {
    /// The workspace's rules by position.
    async fn list_rules(&self, ws: WorkspaceId) -> StoreResult<Vec<RuleRow>>;
    async fn rule(&self, ws: WorkspaceId, id: RuleId) -> StoreResult<RuleRow>;
    /// Stores a (checked) rule under its id, after the others (its `position` is ignored). An
    /// inbox of another workspace is `Invalid` (`inbox_id`).
    async fn create_rule(&self, ws: WorkspaceId, rule: Rule, at: Timestamp)
        -> StoreResult<RuleRow>;
    /// Replaces a rule's name, switch, inbox, trigger, conditions, actions and limit; its
    /// position and statistics stay.
    async fn update_rule(&self, ws: WorkspaceId, rule: Rule, at: Timestamp)
        -> StoreResult<RuleRow>;
    async fn delete_rule(&self, ws: WorkspaceId, id: RuleId) -> StoreResult<()>;
    /// Puts the rules in the order of `ids`, which must name each of the workspace's rules once
    /// (`Invalid` on `ids` otherwise, and nothing moves).
    async fn order_rules(
        &self,
        ws: WorkspaceId,
        ids: Vec<RuleId>,
        at: Timestamp,
    ) -> StoreResult<Vec<RuleRow>>;
    /// Counts a firing of `rule` on `conv` (its statistics), and logs it when it sent messages.
    async fn record_firing(
        &self,
        ws: WorkspaceId,
        rule: RuleId,
        conv: ConversationId,
        messages: u32,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// The firings that sent messages in `conv` since `since`, oldest first.
    async fn rule_sends(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        since: Timestamp,
    ) -> StoreResult<Vec<RuleSend>>;

    /// The workspace's macros by name.
    async fn list_macros(&self, ws: WorkspaceId) -> StoreResult<Vec<MacroRow>>;
    async fn get_macro(&self, ws: WorkspaceId, id: MacroId) -> StoreResult<MacroRow>;
    /// Stores a (checked) macro; a name already taken is `Conflict`.
    async fn create_macro(
        &self,
        ws: WorkspaceId,
        id: MacroId,
        name: &str,
        actions: Vec<Action>,
        at: Timestamp,
    ) -> StoreResult<MacroRow>;
    async fn update_macro(
        &self,
        ws: WorkspaceId,
        id: MacroId,
        name: &str,
        actions: Vec<Action>,
        at: Timestamp,
    ) -> StoreResult<MacroRow>;
    async fn delete_macro(&self, ws: WorkspaceId, id: MacroId) -> StoreResult<()>;
}
