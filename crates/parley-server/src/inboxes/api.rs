//! The inboxes' administration over HTTP: list, read, add and edit inboxes; and where the
//! inboxes' errors become the API's.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_channels::settings::SettingsError;
use parley_core::InboxId;
use parley_store::Principal;
use serde_json::json;

use crate::account::audit::audit;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::inboxes::channels::{NoTemplates, WindowError};
use crate::inboxes::requests::{CreateInboxRequest, UpdateInboxRequest};
use crate::inboxes::views::{BacklogView, InboxView};
use crate::state::App;
use crate::views::Items;

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> Self {
        ApiError::invalid(e.field, e.message)
    }
}

impl From<WindowError> for ApiError {
    fn from(e: WindowError) -> Self {
        match e {
            WindowError::Outside(reason) => ApiError::Unprocessable {
                code: "outside_window",
                message: reason,
                field: None,
            },
            WindowError::Store(e) => e.into(),
        }
    }
}

impl From<NoTemplates> for ApiError {
    fn from(e: NoTemplates) -> Self {
        ApiError::Unprocessable {
            code: "templates_unavailable",
            message: e.0,
            field: None,
        }
    }
}

pub async fn list_inboxes(
    State(app): State<App>,
    Auth(p): Auth,
) -> ApiResult<Json<Items<InboxView>>> {
    let inboxes = app.store.list_inboxes(&p.scope()).await?;
    let mut items: Vec<InboxView> = inboxes.iter().map(|i| InboxView::of(&app, &p, i)).collect();
    with_backlog(&app, &p, &mut items).await?;
    Ok(Json(Items { items }))
}

pub async fn get_inbox(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<InboxView>> {
    let inbox = app.store.inbox(&p.scope(), id).await?;
    let mut items = [InboxView::of(&app, &p, &inbox)];
    with_backlog(&app, &p, &mut items).await?;
    let [view] = items;
    Ok(Json(view))
}

/// Shows admins each inbox's outbox: `queued` (waiting), `in_flight` (being sent) and
/// `oldest_due`, so a provider that holds its inbox's replies back is seen.
async fn with_backlog(
    app: &App,
    p: &Principal,
    views: &mut [InboxView],
) -> Result<(), parley_store::StoreError> {
    if !p.role.is_admin() {
        return Ok(());
    }
    let backlog = app.store.outbox_backlog(p.workspace_id, app.now()).await?;
    for v in views {
        let b = backlog.iter().find(|b| b.inbox_id == v.id);
        v.backlog = Some(BacklogView {
            in_flight: b.map_or(0, |b| b.in_flight),
            oldest_due: b.and_then(|b| b.oldest_due),
            queued: b.map_or(0, |b| b.queued),
        });
    }
    Ok(())
}

pub async fn create_inbox(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<CreateInboxRequest>,
) -> ApiResult<(StatusCode, Json<InboxView>)> {
    require_admin(&p)?;
    let inbox = crate::inboxes::settings::new_inbox(req)?;
    let row = app
        .store
        .create_inbox(p.workspace_id, inbox, app.now())
        .await?;
    let detail = json!({ "name": row.name, "kind": row.kind });
    audit(&app, &p, &headers, "inbox.create", row.id, detail).await;
    Ok((StatusCode::CREATED, Json(InboxView::of(&app, &p, &row))))
}

pub async fn update_inbox(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
    Json(req): Json<UpdateInboxRequest>,
) -> ApiResult<Json<InboxView>> {
    require_admin(&p)?;
    let current = app.store.inbox(&p.scope(), id).await?;
    let detail = req.audit_detail();
    let patch = crate::inboxes::settings::edit(&current, req)?;
    let row = app.store.update_inbox(p.workspace_id, id, patch).await?;
    app.forget_inbox(id);
    audit(&app, &p, &headers, "inbox.update", id, detail).await;
    Ok(Json(InboxView::of(&app, &p, &row)))
}
