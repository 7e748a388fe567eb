//! The rules' API: admins write them, every member reads them. Changes are audited.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::RuleId;
use serde_json::json;

use super::views::{OrderRequest, RuleRequest, RuleView, SwitchRequest};
use crate::account::audit::audit;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::views::Items;

fn items(rows: Vec<parley_store::RuleRow>) -> Items<RuleView> {
    Items {
        items: rows.into_iter().map(RuleView::from).collect(),
    }
}

pub async fn list_rules(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<RuleView>>> {
    Ok(Json(items(app.store.list_rules(p.workspace_id).await?)))
}

pub async fn get_rule(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<RuleId>,
) -> ApiResult<Json<RuleView>> {
    Ok(Json(app.store.rule(p.workspace_id, id).await?.into()))
}

pub async fn create_rule(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<RuleRequest>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    require_admin(&p)?;
    let rule = req.rule(RuleId::from(uuid::Uuid::now_v7()))?;
    let row = app
        .store
        .create_rule(p.workspace_id, rule, app.now())
        .await?;
    app.rules.forget(p.workspace_id);
    super::timed::rule_saved(&app, p.workspace_id, &row.rule).await?;
    let data = json!({ "name": row.rule.name });
    audit(&app, &p, &headers, "automation.create", row.rule.id, data).await;
    Ok((StatusCode::CREATED, Json(row.into())))
}

pub async fn update_rule(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<RuleId>,
    Json(req): Json<RuleRequest>,
) -> ApiResult<Json<RuleView>> {
    require_admin(&p)?;
    let rule = req.rule(id)?;
    let row = app
        .store
        .update_rule(p.workspace_id, rule, app.now())
        .await?;
    app.rules.forget(p.workspace_id);
    super::timed::rule_saved(&app, p.workspace_id, &row.rule).await?;
    let data = json!({ "name": row.rule.name, "enabled": row.rule.enabled });
    audit(&app, &p, &headers, "automation.update", id, data).await;
    Ok(Json(row.into()))
}

pub async fn switch_rule(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<RuleId>,
    Json(req): Json<SwitchRequest>,
) -> ApiResult<Json<RuleView>> {
    require_admin(&p)?;
    let mut rule = app.store.rule(p.workspace_id, id).await?.rule;
    rule.enabled = req.enabled;
    let row = app
        .store
        .update_rule(p.workspace_id, rule, app.now())
        .await?;
    app.rules.forget(p.workspace_id);
    super::timed::rule_saved(&app, p.workspace_id, &row.rule).await?;
    let data = json!({ "enabled": req.enabled });
    audit(&app, &p, &headers, "automation.update", id, data).await;
    Ok(Json(row.into()))
}

pub async fn delete_rule(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<RuleId>,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    app.store.delete_rule(p.workspace_id, id).await?;
    app.rules.forget(p.workspace_id);
    super::timed::rule_deleted(&app, p.workspace_id, id).await?;
    audit(&app, &p, &headers, "automation.delete", id, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn order_rules(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<OrderRequest>,
) -> ApiResult<Json<Items<RuleView>>> {
    require_admin(&p)?;
    let rows = app
        .store
        .order_rules(p.workspace_id, req.ids, app.now())
        .await?;
    app.rules.forget(p.workspace_id);
    let data = json!({ "ids": rows.iter().map(|r| r.rule.id).collect::<Vec<_>>() });
    audit(&app, &p, &headers, "automation.order", p.workspace_id, data).await;
    Ok(Json(items(rows)))
}
