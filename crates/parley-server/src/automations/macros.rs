//! Macros: a named, ordered list of actions (send a template, labels, priority, assign, note,
//! snooze, resolve) an agent runs on a conversation in one call. Each step answers its result and
//! lands on the thread attributed to the macro and the agent; the rules react to what it changed.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::automation::{check_macro, Action};
use parley_core::{ConversationId, MacroId};
use parley_store::{Attribution, MacroRow, Principal, StoreError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::apply::{self, Ctx, StepView};
use crate::account::audit::audit;
use crate::http::caller::{is_supervisor_or_admin, require_admin, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::routes::route;
use crate::state::App;
use crate::views::{ConversationView, Items};

#[derive(Debug, Serialize, JsonSchema)]
pub struct MacroView {
    pub id: MacroId,
    pub name: String,
    pub actions: Vec<Action>,
    pub created_at: parley_core::Timestamp,
    pub updated_at: parley_core::Timestamp,
}

impl From<MacroRow> for MacroView {
    fn from(m: MacroRow) -> Self {
        Self {
            id: m.id,
            name: m.name,
            actions: m.actions,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MacroRequest {
    pub name: String,
    /// In the order they run: `send_template`, `add_labels`, `remove_labels`, `set_priority`,
    /// `assign`, `note`, `snooze`, `resolve`.
    pub actions: Vec<Action>,
}

/// What running a macro did, step by step, and the conversation as it left it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MacroRunView {
    pub steps: Vec<StepView>,
    pub conversation: ConversationView,
}

pub async fn list_macros(
    State(app): State<App>,
    Auth(p): Auth,
) -> ApiResult<Json<Items<MacroView>>> {
    let rows = app.store.list_macros(p.workspace_id).await?;
    Ok(Json(Items {
        items: rows.into_iter().map(MacroView::from).collect(),
    }))
}

pub async fn get_macro(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<MacroId>,
) -> ApiResult<Json<MacroView>> {
    Ok(Json(app.store.get_macro(p.workspace_id, id).await?.into()))
}

pub async fn create_macro(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<MacroRequest>,
) -> ApiResult<(StatusCode, Json<MacroView>)> {
    require_admin(&p)?;
    let (name, actions) = check_macro(&req.name, req.actions)?;
    let id = MacroId::from(uuid::Uuid::now_v7());
    let (ws, now) = (p.workspace_id, app.now());
    let row = app.store.create_macro(ws, id, &name, actions, now).await?;
    audit(
        &app,
        &p,
        &headers,
        "macro.create",
        id,
        json!({ "name": name }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(row.into())))
}

pub async fn update_macro(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<MacroId>,
    Json(req): Json<MacroRequest>,
) -> ApiResult<Json<MacroView>> {
    require_admin(&p)?;
    let (name, actions) = check_macro(&req.name, req.actions)?;
    let (ws, now) = (p.workspace_id, app.now());
    let row = app.store.update_macro(ws, id, &name, actions, now).await?;
    audit(
        &app,
        &p,
        &headers,
        "macro.update",
        id,
        json!({ "name": name }),
    )
    .await;
    Ok(Json(row.into()))
}

pub async fn delete_macro(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<MacroId>,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    app.store.delete_macro(p.workspace_id, id).await?;
    audit(&app, &p, &headers, "macro.delete", id, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/conversations/{id}/macros/{macro_id}`.
pub async fn run_macro(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, macro_id)): Path<(ConversationId, MacroId)>,
) -> ApiResult<Json<MacroRunView>> {
    Ok(Json(run(&app, &p, id, macro_id).await?))
}

/// Runs the macro's steps as the caller, in the conversations the caller sees; a step the caller
/// may not take (an agent assigning someone else) fails and the next runs.
async fn run(
    app: &App,
    p: &Principal,
    id: ConversationId,
    macro_id: MacroId,
) -> Result<MacroRunView, StoreError> {
    let m = app.store.get_macro(p.workspace_id, macro_id).await?;
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    let ctx = Ctx {
        ws: p.workspace_id,
        inbox: app.store.inbox(&scope, conv.inbox_id).await?,
        scope,
        actor: p.user_id,
        conv: id,
        contact: conv.contact_id,
        by: Attribution::Macro {
            id: m.id,
            name: m.name.clone(),
        },
        as_agent: true,
    };
    let mut steps = Vec::new();
    let mut happened = Vec::new();
    for a in &m.actions {
        let others = matches!(a, Action::Assign { user_id: Some(u), .. } if *u != p.user_id);
        if others && !is_supervisor_or_admin(p) {
            let why = "agents may assign conversations only to themselves".to_string();
            let step = StepView::new(a, "failed", Some(why));
            apply::record(app, &ctx, &step).await?;
            steps.push(step);
            continue;
        }
        let ran = apply::run(app, &ctx, std::slice::from_ref(a)).await?;
        steps.extend(ran.steps);
        happened.extend(ran.happened);
    }
    for what in happened {
        let origin = super::Origin::default();
        super::react_logged(app, p.workspace_id, id, what, origin).await;
    }
    let conversation = app.store.conversation(&ctx.scope, id).await?.into();
    Ok(MacroRunView {
        steps,
        conversation,
    })
}

/// The macros' routes.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::http::routes::Answer;
    vec![
        route!(get "/api/v1/macros" => list_macros, "macros", Member, "The workspace's macros by name", response = Items<MacroView>),
        route!(post "/api/v1/macros" => create_macro, "macros", Admin, "Create a macro: a name and its actions in order (send a template, labels, priority, assign, note, snooze, resolve)", body = MacroRequest, created = MacroView),
        route!(get "/api/v1/macros/{id}" => get_macro, "macros", Member, "One macro", response = MacroView),
        route!(put "/api/v1/macros/{id}" => update_macro, "macros", Admin, "Replace a macro's name and actions", body = MacroRequest, response = MacroView),
        route!(delete "/api/v1/macros/{id}" => delete_macro, "macros", Admin, "Delete a macro", answer = Answer::NoContent),
        route!(post "/api/v1/conversations/{id}/macros/{macro_id}" => run_macro, "macros", Member, "Run a macro on the conversation: each step's result, in order, and the conversation as it left it; every step shows on the thread attributed to the macro and the caller", response = MacroRunView),
    ]
}
