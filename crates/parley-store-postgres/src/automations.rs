//! Automation rules: stored in the admin's order, with their firing statistics and log.

use async_trait::async_trait;
use parley_core::automation::{Action, Rule};
use parley_core::{ConversationId, MacroId, RuleId, Timestamp, WorkspaceId};
use parley_store::plan::automations::{self as plan_rules, RuleFields};
use parley_store::sql::automations as q;
use parley_store::*;
use tokio_postgres::Row;

use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{get, id, is_unique_violation, opt_id, opt_ts, pg_err, ts};
use crate::PostgresStore;

fn fields(r: &Row) -> StoreResult<RuleFields> {
    Ok(RuleFields {
        id: id(r, 0)?,
        position: get(r, 1)?,
        enabled: get(r, 2)?,
        inbox_id: opt_id(r, 3)?,
        name: get(r, 4)?,
        body: get(r, 5)?,
        fired: get(r, 6)?,
        last_fired_at: opt_ts(r, 7)?,
        created_at: ts(r, 8)?,
        updated_at: ts(r, 9)?,
    })
}

async fn load_all(tx: &Tx<'_>, ws: WorkspaceId) -> StoreResult<Vec<RuleRow>> {
    let sql = format!(
        "SELECT {} FROM automation_rule WHERE workspace_id = $1 ORDER BY position, id",
        q::COLS
    );
    query(tx, &sql, &[&ws.as_uuid()])
        .await?
        .iter()
        .map(|r| fields(r)?.row())
        .collect()
}

async fn load(tx: &Tx<'_>, ws: WorkspaceId, rule: RuleId) -> StoreResult<RuleRow> {
    let sql = format!(
        "SELECT {} FROM automation_rule WHERE workspace_id = $1 AND id = $2",
        q::COLS
    );
    let row = query_opt(tx, &sql, &[&ws.as_uuid(), &rule.as_uuid()])
        .await?
        .ok_or(StoreError::NotFound)?;
    fields(&row)?.row()
}

async fn check_inbox(tx: &Tx<'_>, ws: WorkspaceId, rule: &Rule) -> StoreResult<()> {
    let Some(inbox) = rule.inbox_id else {
        return Ok(());
    };
    let found = query_opt(
        tx,
        q::INBOX_OF_WORKSPACE,
        &[&inbox.as_uuid(), &ws.as_uuid()],
    )
    .await?;
    found.map(|_| ()).ok_or_else(plan_rules::foreign_inbox)
}

async fn load_macros(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    one: Option<MacroId>,
) -> StoreResult<Vec<MacroRow>> {
    let sql = format!(
        "SELECT {} FROM automation_macro WHERE workspace_id = $1 AND ($2::uuid IS NULL OR id = $2) \
         ORDER BY name COLLATE \"C\", id",
        q::MACRO_COLS
    );
    let one = one.map(|i| i.as_uuid());
    query(tx, &sql, &[&ws.as_uuid(), &one])
        .await?
        .iter()
        .map(|r| {
            let actions: String = get(r, 2)?;
            plan_rules::macro_row(id(r, 0)?, get(r, 1)?, &actions, ts(r, 3)?, ts(r, 4)?)
        })
        .collect()
}

async fn load_macro(tx: &Tx<'_>, ws: WorkspaceId, one: MacroId) -> StoreResult<MacroRow> {
    load_macros(tx, ws, Some(one))
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

async fn write_macro(
    tx: &Tx<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<()> {
    let stmt = tx.prepare_cached(sql).await.map_err(pg_err)?;
    tx.execute(&stmt, params).await.map_err(|e| {
        if is_unique_violation(&e) {
            plan_rules::macro_name_taken()
        } else {
            pg_err(e)
        }
    })?;
    Ok(())
}

#[async_trait]
impl Automations for PostgresStore {
    async fn list_macros(&self, ws: WorkspaceId) -> StoreResult<Vec<MacroRow>> {
        self.db
            .run(move |tx| Box::pin(async move { load_macros(tx, ws, None).await }))
            .await
    }

    async fn get_macro(&self, ws: WorkspaceId, one: MacroId) -> StoreResult<MacroRow> {
        self.db
            .run(move |tx| Box::pin(async move { load_macro(tx, ws, one).await }))
            .await
    }

    async fn create_macro(
        &self,
        ws: WorkspaceId,
        one: MacroId,
        name: &str,
        actions: Vec<Action>,
        at: Timestamp,
    ) -> StoreResult<MacroRow> {
        let (name, actions) = (name.to_owned(), plan_rules::actions_json(&actions));
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                        [&one.as_uuid(), &ws.as_uuid(), &name, &actions, &at.0];
                    write_macro(tx, q::INSERT_MACRO, &params).await?;
                    load_macro(tx, ws, one).await
                })
            })
            .await
    }

    async fn update_macro(
        &self,
        ws: WorkspaceId,
        one: MacroId,
        name: &str,
        actions: Vec<Action>,
        at: Timestamp,
    ) -> StoreResult<MacroRow> {
        let (name, actions) = (name.to_owned(), plan_rules::actions_json(&actions));
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    load_macro(tx, ws, one).await?;
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                        [&name, &actions, &at.0, &one.as_uuid(), &ws.as_uuid()];
                    write_macro(tx, q::UPDATE_MACRO, &params).await?;
                    load_macro(tx, ws, one).await
                })
            })
            .await
    }

    async fn delete_macro(&self, ws: WorkspaceId, one: MacroId) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let n = exec(tx, q::DELETE_MACRO, &[&one.as_uuid(), &ws.as_uuid()]).await?;
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn list_rules(&self, ws: WorkspaceId) -> StoreResult<Vec<RuleRow>> {
        self.db
            .run(move |tx| Box::pin(async move { load_all(tx, ws).await }))
            .await
    }

    async fn rule(&self, ws: WorkspaceId, rule: RuleId) -> StoreResult<RuleRow> {
        self.db
            .run(move |tx| Box::pin(async move { load(tx, ws, rule).await }))
            .await
    }

    async fn create_rule(
        &self,
        ws: WorkspaceId,
        rule: Rule,
        at: Timestamp,
    ) -> StoreResult<RuleRow> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    check_inbox(tx, ws, &rule).await?;
                    let next = query(tx, q::NEXT_POSITION, &[&ws.as_uuid()]).await?;
                    let position: i32 = match next.first() {
                        Some(r) => get(r, 0)?,
                        None => 0,
                    };
                    let inbox = rule.inbox_id.map(|i| i.as_uuid());
                    let body = plan_rules::body(&rule);
                    exec(
                        tx,
                        q::INSERT,
                        &[
                            &rule.id.as_uuid(),
                            &ws.as_uuid(),
                            &position,
                            &rule.enabled,
                            &inbox,
                            &rule.name,
                            &body,
                            &at.0,
                        ],
                    )
                    .await?;
                    load(tx, ws, rule.id).await
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    load(tx, ws, rule.id).await?;
                    check_inbox(tx, ws, &rule).await?;
                    let inbox = rule.inbox_id.map(|i| i.as_uuid());
                    let body = plan_rules::body(&rule);
                    exec(
                        tx,
                        q::UPDATE,
                        &[
                            &rule.enabled,
                            &inbox,
                            &rule.name,
                            &body,
                            &at.0,
                            &rule.id.as_uuid(),
                            &ws.as_uuid(),
                        ],
                    )
                    .await?;
                    load(tx, ws, rule.id).await
                })
            })
            .await
    }

    async fn delete_rule(&self, ws: WorkspaceId, rule: RuleId) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let n = exec(tx, q::DELETE, &[&rule.as_uuid(), &ws.as_uuid()]).await?;
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    // Two reorders at once take turns, so each sees the rules the other left.
                    exec(
                        tx,
                        "SELECT 1 FROM automation_rule WHERE workspace_id = $1 FOR UPDATE",
                        &[&ws.as_uuid()],
                    )
                    .await?;
                    let current: Vec<RuleId> =
                        load_all(tx, ws).await?.iter().map(|r| r.rule.id).collect();
                    plan_rules::check_order(&current, &ids)?;
                    for (position, rule) in ids.iter().enumerate() {
                        let position = i32::try_from(position).unwrap_or(i32::MAX);
                        exec(
                            tx,
                            q::SET_POSITION,
                            &[&position, &at.0, &rule.as_uuid(), &ws.as_uuid()],
                        )
                        .await?;
                    }
                    load_all(tx, ws).await
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    let n = exec(tx, q::FIRED, &[&at.0, &rule.as_uuid(), &ws.as_uuid()]).await?;
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    if messages > 0 {
                        let m = i32::try_from(messages).unwrap_or(i32::MAX);
                        exec(
                            tx,
                            q::INSERT_FIRING,
                            &[&rule.as_uuid(), &conv.as_uuid(), &at.0, &m],
                        )
                        .await?;
                    }
                    Ok(())
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    query(tx, q::SENDS, &[&ws.as_uuid(), &conv.as_uuid(), &since.0])
                        .await?
                        .iter()
                        .map(|r| {
                            let m: i32 = get(r, 2)?;
                            Ok(RuleSend {
                                rule_id: id(r, 0)?,
                                at: ts(r, 1)?,
                                messages: u32::try_from(m).unwrap_or(0),
                            })
                        })
                        .collect()
                })
            })
            .await
    }
}
