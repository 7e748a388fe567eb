//! Automation rules: stored in the admin's order, with their firing statistics and log.

use async_trait::async_trait;
use parley_core::automation::{Action, Rule};
use parley_core::{ConversationId, MacroId, RuleId, Timestamp, WorkspaceId};
use parley_store::plan::automations::{self as plan_rules, RuleFields};
use parley_store::sql::automations as q;
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::db::sql_err;
use crate::rows::{is_unique_violation, opt_ts, opt_uid, ts, uid};
use crate::SqliteStore;

fn fields(r: &rusqlite::Row<'_>) -> rusqlite::Result<RuleFields> {
    Ok(RuleFields {
        id: uid(r, 0)?,
        position: r.get(1)?,
        enabled: r.get(2)?,
        inbox_id: opt_uid(r, 3)?,
        name: r.get(4)?,
        body: r.get(5)?,
        fired: r.get(6)?,
        last_fired_at: opt_ts(r, 7)?,
        created_at: ts(r, 8)?,
        updated_at: ts(r, 9)?,
    })
}

fn load_all(c: &Connection, ws: WorkspaceId) -> StoreResult<Vec<RuleRow>> {
    let sql = format!(
        "SELECT {} FROM automation_rule WHERE workspace_id = ?1 ORDER BY position, id",
        q::COLS
    );
    let rows: Vec<RuleFields> = c
        .prepare_cached(&sql)
        .map_err(sql_err)?
        .query_map([ws.to_string()], fields)
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    rows.into_iter().map(RuleFields::row).collect()
}

fn load(c: &Connection, ws: WorkspaceId, id: RuleId) -> StoreResult<RuleRow> {
    let sql = format!(
        "SELECT {} FROM automation_rule WHERE workspace_id = ?1 AND id = ?2",
        q::COLS
    );
    c.prepare_cached(&sql)
        .map_err(sql_err)?
        .query_row([ws.to_string(), id.to_string()], fields)
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)?
        .row()
}

fn check_inbox(c: &Connection, ws: WorkspaceId, rule: &Rule) -> StoreResult<()> {
    let Some(inbox) = rule.inbox_id else {
        return Ok(());
    };
    let found = c
        .prepare_cached(q::INBOX_OF_WORKSPACE)
        .and_then(|mut s| s.exists([inbox.to_string(), ws.to_string()]))
        .map_err(sql_err)?;
    found.then_some(()).ok_or_else(plan_rules::foreign_inbox)
}

fn load_macros(c: &Connection, ws: WorkspaceId, id: Option<MacroId>) -> StoreResult<Vec<MacroRow>> {
    let sql = format!(
        "SELECT {} FROM automation_macro WHERE workspace_id = ?1 AND (?2 = '' OR id = ?2) ORDER BY name, id",
        q::MACRO_COLS
    );
    let id = id.map(|i| i.to_string()).unwrap_or_default();
    let rows: Vec<(MacroId, String, String, Timestamp, Timestamp)> = c
        .prepare_cached(&sql)
        .map_err(sql_err)?
        .query_map(params![ws.to_string(), id], |r| {
            Ok((uid(r, 0)?, r.get(1)?, r.get(2)?, ts(r, 3)?, ts(r, 4)?))
        })
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    rows.into_iter()
        .map(|(id, name, actions, c, u)| plan_rules::macro_row(id, name, &actions, c, u))
        .collect()
}

fn load_macro(c: &Connection, ws: WorkspaceId, id: MacroId) -> StoreResult<MacroRow> {
    load_macros(c, ws, Some(id))?
        .pop()
        .ok_or(StoreError::NotFound)
}

fn macro_conflict(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) {
        plan_rules::macro_name_taken()
    } else {
        sql_err(e)
    }
}

#[async_trait]
impl Automations for SqliteStore {
    async fn list_macros(&self, ws: WorkspaceId) -> StoreResult<Vec<MacroRow>> {
        self.db.read(move |c| load_macros(c, ws, None)).await
    }

    async fn get_macro(&self, ws: WorkspaceId, id: MacroId) -> StoreResult<MacroRow> {
        self.db.read(move |c| load_macro(c, ws, id)).await
    }

    async fn create_macro(
        &self,
        ws: WorkspaceId,
        id: MacroId,
        name: &str,
        actions: Vec<Action>,
        at: Timestamp,
    ) -> StoreResult<MacroRow> {
        let (name, actions) = (name.to_owned(), plan_rules::actions_json(&actions));
        self.db
            .write(move |c, _| {
                c.execute(
                    q::INSERT_MACRO,
                    params![id.to_string(), ws.to_string(), name, actions, at.0],
                )
                .map_err(macro_conflict)?;
                load_macro(c, ws, id)
            })
            .await
    }

    async fn update_macro(
        &self,
        ws: WorkspaceId,
        id: MacroId,
        name: &str,
        actions: Vec<Action>,
        at: Timestamp,
    ) -> StoreResult<MacroRow> {
        let (name, actions) = (name.to_owned(), plan_rules::actions_json(&actions));
        self.db
            .write(move |c, _| {
                load_macro(c, ws, id)?;
                c.execute(
                    q::UPDATE_MACRO,
                    params![name, actions, at.0, id.to_string(), ws.to_string()],
                )
                .map_err(macro_conflict)?;
                load_macro(c, ws, id)
            })
            .await
    }

    async fn delete_macro(&self, ws: WorkspaceId, id: MacroId) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                let n = c
                    .execute(q::DELETE_MACRO, [id.to_string(), ws.to_string()])
                    .map_err(sql_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn list_rules(&self, ws: WorkspaceId) -> StoreResult<Vec<RuleRow>> {
        self.db.read(move |c| load_all(c, ws)).await
    }

    async fn rule(&self, ws: WorkspaceId, id: RuleId) -> StoreResult<RuleRow> {
        self.db.read(move |c| load(c, ws, id)).await
    }

    async fn create_rule(
        &self,
        ws: WorkspaceId,
        rule: Rule,
        at: Timestamp,
    ) -> StoreResult<RuleRow> {
        self.db
            .write(move |c, _| {
                check_inbox(c, ws, &rule)?;
                let position: i32 = c
                    .query_row(q::NEXT_POSITION, [ws.to_string()], |r| r.get(0))
                    .map_err(sql_err)?;
                let inbox = rule.inbox_id.map(|i| i.to_string());
                let body = plan_rules::body(&rule);
                c.execute(
                    q::INSERT,
                    params![
                        rule.id.to_string(),
                        ws.to_string(),
                        position,
                        rule.enabled,
                        inbox,
                        rule.name,
                        body,
                        at.0
                    ],
                )
                .map_err(sql_err)?;
                load(c, ws, rule.id)
            })
            .await
    }

    async fn update_rule(
        &self,
        ws: WorkspaceId,
        rule: Rule,
        at: Timestamp,
    ) -> StoreResult<RuleRow> {
        self.db
            .write(move |c, _| {
                load(c, ws, rule.id)?;
                check_inbox(c, ws, &rule)?;
                let inbox = rule.inbox_id.map(|i| i.to_string());
                let body = plan_rules::body(&rule);
                c.execute(
                    q::UPDATE,
                    params![
                        rule.enabled,
                        inbox,
                        rule.name,
                        body,
                        at.0,
                        rule.id.to_string(),
                        ws.to_string()
                    ],
                )
                .map_err(sql_err)?;
                load(c, ws, rule.id)
            })
            .await
    }

    async fn delete_rule(&self, ws: WorkspaceId, id: RuleId) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                let n = c
                    .execute(q::DELETE, [id.to_string(), ws.to_string()])
                    .map_err(sql_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn order_rules(
        &self,
        ws: WorkspaceId,
        ids: Vec<RuleId>,
        at: Timestamp,
    ) -> StoreResult<Vec<RuleRow>> {
        self.db
            .write(move |c, _| {
                let current: Vec<RuleId> = load_all(c, ws)?.iter().map(|r| r.rule.id).collect();
                plan_rules::check_order(&current, &ids)?;
                for (position, id) in ids.iter().enumerate() {
                    let position = i32::try_from(position).unwrap_or(i32::MAX);
                    c.execute(
                        q::SET_POSITION,
                        params![position, at.0, id.to_string(), ws.to_string()],
                    )
                    .map_err(sql_err)?;
                }
                load_all(c, ws)
            })
            .await
    }

    async fn record_firing(
        &self,
        ws: WorkspaceId,
        rule: RuleId,
        conv: ConversationId,
        messages: u32,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                let n = c
                    .execute(q::FIRED, params![at.0, rule.to_string(), ws.to_string()])
                    .map_err(sql_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                if messages > 0 {
                    c.execute(
                        q::INSERT_FIRING,
                        params![rule.to_string(), conv.to_string(), at.0, messages],
                    )
                    .map_err(sql_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn rule_sends(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        since: Timestamp,
    ) -> StoreResult<Vec<RuleSend>> {
        self.db
            .read(move |c| {
                c.prepare_cached(q::SENDS)
                    .map_err(sql_err)?
                    .query_map(params![ws.to_string(), conv.to_string(), since.0], |r| {
                        Ok(RuleSend {
                            rule_id: uid(r, 0)?,
                            at: ts(r, 1)?,
                            messages: r.get(2)?,
                        })
                    })
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)
            })
            .await
    }
}
