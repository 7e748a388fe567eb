//! The business hours API: the workspace's hours and the inbox and team overrides (admins write,
//! each change audited), and which inboxes are open now.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::{InboxId, TeamId, Timestamp};
use parley_store::{InboxPatch, Principal, StoreError};
use serde::Serialize;
use serde_json::{json, Value};

use super::spec::{self, HoursSpec, Source};
use crate::account::audit::audit;
use crate::account::workspace::set_settings_part;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::views::Items;

/// Business hours as set at one level: `null` when none are.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct HoursView {
    pub hours: Option<HoursSpec>,
}

/// Whether an inbox is open now, and when it next opens.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct InboxHoursStatus {
    pub inbox_id: InboxId,
    pub name: String,
    pub open: bool,
    /// When it next opens; `null` while open, or when it never does within a year.
    pub next_open: Option<Timestamp>,
    /// The zone of the hours in force; `null` without hours.
    pub time_zone: Option<String>,
    /// `inbox` (its own hours), `workspace`, or `none` (no hours: always open).
    pub source: Source,
}

fn to_value(spec: &HoursSpec) -> Result<Value, ApiError> {
    serde_json::to_value(spec).map_err(|e| ApiError::Internal(e.into()))
}

/// `GET /api/v1/business-hours`.
pub async fn get_workspace(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<HoursView>> {
    let ws = app.workspace(p.workspace_id).await?;
    Ok(Json(HoursView {
        hours: spec::workspace_spec(&ws.row),
    }))
}

/// `PUT /api/v1/business-hours`: checked, then stored whole.
pub async fn put_workspace(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<HoursSpec>,
) -> ApiResult<Json<HoursView>> {
    require_admin(&p)?;
    req.schedule()?;
    let zone = req.time_zone.clone();
    let ws = set_settings_part(
        &app,
        &p,
        &headers,
        spec::WORKSPACE_PART,
        to_value(&req)?,
        |_| json!({ "time_zone": zone }),
    )
    .await?;
    Ok(Json(HoursView {
        hours: spec::workspace_spec(&ws),
    }))
}

/// `DELETE /api/v1/business-hours`.
pub async fn delete_workspace(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    set_settings_part(
        &app,
        &p,
        &headers,
        spec::WORKSPACE_PART,
        Value::Null,
        |_| json!({ "removed": true }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/inboxes/{id}/business-hours`.
pub async fn get_inbox(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<HoursView>> {
    let inbox = app.store.inbox(&p.scope(), id).await?;
    Ok(Json(HoursView {
        hours: spec::inbox_spec(&inbox),
    }))
}

/// Sets (`Some`) or removes an inbox's own hours, audited.
async fn set_inbox(
    app: &App,
    p: &Principal,
    headers: &HeaderMap,
    id: InboxId,
    hours: Option<HoursSpec>,
) -> ApiResult<Option<HoursSpec>> {
    let inbox = app.store.inbox(&p.scope(), id).await?;
    let mut settings = inbox.settings.clone();
    settings[spec::INBOX_KEY] = match &hours {
        Some(h) => to_value(h)?,
        None => Value::Null,
    };
    let patch = InboxPatch {
        settings: Some(settings),
        ..InboxPatch::default()
    };
    let row = app.store.update_inbox(p.workspace_id, id, patch).await?;
    app.forget_inbox(id);
    let detail = json!({ "time_zone": hours.as_ref().map(|h| h.time_zone.clone()) });
    audit(app, p, headers, "inbox.business_hours", id, detail).await;
    Ok(spec::inbox_spec(&row))
}

/// `PUT /api/v1/inboxes/{id}/business-hours`.
pub async fn put_inbox(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
    Json(req): Json<HoursSpec>,
) -> ApiResult<Json<HoursView>> {
    require_admin(&p)?;
    req.schedule()?;
    let hours = set_inbox(&app, &p, &headers, id, Some(req)).await?;
    Ok(Json(HoursView { hours }))
}

/// `DELETE /api/v1/inboxes/{id}/business-hours`.
pub async fn delete_inbox(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    set_inbox(&app, &p, &headers, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn known_team(app: &App, p: &Principal, id: TeamId) -> Result<(), StoreError> {
    let teams = app.store.list_teams(p.workspace_id).await?;
    match teams.iter().any(|t| t.id == id) {
        true => Ok(()),
        false => Err(StoreError::NotFound),
    }
}

/// `GET /api/v1/teams/{id}/business-hours`.
pub async fn get_team(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<TeamId>,
) -> ApiResult<Json<HoursView>> {
    known_team(&app, &p, id).await?;
    let ws = app.store.workspace(p.workspace_id).await?;
    Ok(Json(HoursView {
        hours: spec::team_spec(&ws, id),
    }))
}

/// Sets (`Some`) or removes a team's own hours, leaving the other teams' as they are.
async fn set_team(
    app: &App,
    p: &Principal,
    headers: &HeaderMap,
    id: TeamId,
    hours: Option<HoursSpec>,
) -> ApiResult<Option<HoursSpec>> {
    known_team(app, p, id).await?;
    let ws = app.store.workspace(p.workspace_id).await?;
    let mut teams = match &ws.settings[spec::TEAMS_PART] {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    match &hours {
        Some(h) => teams.insert(id.to_string(), to_value(h)?),
        None => teams.remove(&id.to_string()),
    };
    let detail = json!({ "team_id": id, "time_zone": hours.as_ref().map(|h| h.time_zone.clone()) });
    let ws = set_settings_part(
        app,
        p,
        headers,
        spec::TEAMS_PART,
        Value::Object(teams),
        |_| detail,
    )
    .await?;
    Ok(spec::team_spec(&ws, id))
}

/// `PUT /api/v1/teams/{id}/business-hours`.
pub async fn put_team(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<TeamId>,
    Json(req): Json<HoursSpec>,
) -> ApiResult<Json<HoursView>> {
    require_admin(&p)?;
    req.schedule()?;
    let hours = set_team(&app, &p, &headers, id, Some(req)).await?;
    Ok(Json(HoursView { hours }))
}

/// `DELETE /api/v1/teams/{id}/business-hours`.
pub async fn delete_team(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<TeamId>,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    set_team(&app, &p, &headers, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/business-hours/status`: each inbox the caller works, open or not at the clock's now.
pub async fn status(
    State(app): State<App>,
    Auth(p): Auth,
) -> ApiResult<Json<Items<InboxHoursStatus>>> {
    let now = app.now();
    let mut items = Vec::new();
    for inbox in app.store.list_inboxes(&p.scope()).await? {
        let e = super::effective(&app, &inbox, None).await?;
        let open = e.as_ref().is_none_or(|e| e.schedule.is_open(now));
        items.push(InboxHoursStatus {
            inbox_id: inbox.id,
            name: inbox.name.clone(),
            open,
            next_open: match &e {
                Some(e) if !open => e.schedule.next_open(now),
                _ => None,
            },
            time_zone: e.as_ref().map(|e| e.spec.time_zone.clone()),
            source: e.map_or(Source::None, |e| e.source),
        });
    }
    Ok(Json(Items { items }))
}
