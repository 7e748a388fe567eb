//! Teams: named groups of users that conversations can be handed to, and who is in each.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::contact::parse_name;
use parley_core::{TeamId, Timestamp, UserId};
use parley_store::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::account::audit::audit;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::views::Items;

/// A team and its members.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TeamView {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
    pub created_at: Timestamp,
}

impl From<parley_store::TeamView> for TeamView {
    fn from(t: parley_store::TeamView) -> Self {
        Self {
            id: t.id,
            name: t.name,
            members: t.members,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    name: String,
}

pub async fn list_teams(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<TeamView>>> {
    let teams = app.store.list_teams(p.workspace_id).await?;
    Ok(Json(Items {
        items: teams.into_iter().map(TeamView::from).collect(),
    }))
}

pub async fn create_team(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<TeamRequest>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    require_admin(&p)?;
    let team = app
        .store
        .create_team(p.workspace_id, &parse_name("name", &req.name)?, app.now())
        .await?;
    let detail = json!({ "name": team.name });
    audit(&app, &p, &headers, "team.create", team.id, detail).await;
    Ok((StatusCode::CREATED, Json(TeamView::from(team))))
}

pub async fn rename_team(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<TeamId>,
    Json(req): Json<TeamRequest>,
) -> ApiResult<Json<TeamView>> {
    require_admin(&p)?;
    let team = app
        .store
        .rename_team(p.workspace_id, id, &parse_name("name", &req.name)?)
        .await?;
    let detail = json!({ "name": team.name });
    audit(&app, &p, &headers, "team.rename", id, detail).await;
    Ok(Json(TeamView::from(team)))
}

pub async fn delete_team(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<TeamId>,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    app.store.delete_team(p.workspace_id, id).await?;
    audit(&app, &p, &headers, "team.delete", id, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a user to a team or takes them off it, audited.
async fn set_team_member(
    app: App,
    headers: HeaderMap,
    p: Principal,
    (team, user): (TeamId, UserId),
    member: bool,
) -> ApiResult<Json<TeamView>> {
    require_admin(&p)?;
    let view = app
        .store
        .set_team_member(p.workspace_id, team, user, member)
        .await?;
    let action = if member {
        "team.member_add"
    } else {
        "team.member_remove"
    };
    audit(&app, &p, &headers, action, team, json!({ "user_id": user })).await;
    Ok(Json(TeamView::from(view)))
}

pub async fn add_team_member(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(ids): Path<(TeamId, UserId)>,
) -> ApiResult<Json<TeamView>> {
    set_team_member(app, headers, p, ids, true).await
}

pub async fn remove_team_member(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(ids): Path<(TeamId, UserId)>,
) -> ApiResult<Json<TeamView>> {
    set_team_member(app, headers, p, ids, false).await
}
