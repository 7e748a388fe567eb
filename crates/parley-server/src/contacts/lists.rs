//! Contact lists: named groups of contacts (VIPs, a newsletter's subscribers, a campaign's
//! audience). Supervisors make and remove lists; any member puts contacts on and takes them off.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::contact::parse_name;
use parley_core::{ContactId, ListId};
use serde::Deserialize;
use serde_json::json;

use crate::account::audit::audit;
use crate::http::caller::{require_supervisor, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::state::App;
use crate::views::{ContactPage, ContactView, Items, ListView};

pub async fn list_lists(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<ListView>>> {
    Ok(Json(Items::lists(
        app.store.list_lists(p.workspace_id).await?,
    )))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    name: String,
}

pub async fn create_list(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<ListRequest>,
) -> ApiResult<(StatusCode, Json<ListView>)> {
    require_supervisor(&p)?;
    let list = app
        .store
        .create_list(p.workspace_id, &parse_name("name", &req.name)?, app.now())
        .await?;
    audit(
        &app,
        &p,
        &headers,
        "list.create",
        list.id,
        json!({ "name": list.name }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(ListView::from(list))))
}

pub async fn rename_list(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ListId>,
    Json(req): Json<ListRequest>,
) -> ApiResult<Json<ListView>> {
    require_supervisor(&p)?;
    let list = app
        .store
        .rename_list(p.workspace_id, id, &parse_name("name", &req.name)?)
        .await?;
    audit(
        &app,
        &p,
        &headers,
        "list.rename",
        id,
        json!({ "name": list.name }),
    )
    .await;
    Ok(Json(ListView::from(list)))
}

pub async fn delete_list(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ListId>,
) -> ApiResult<StatusCode> {
    require_supervisor(&p)?;
    app.store.delete_list(p.workspace_id, id).await?;
    audit(&app, &p, &headers, "list.delete", id, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct MembersQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

pub async fn list_members(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ListId>,
    Query(q): Query<MembersQuery>,
) -> ApiResult<Json<ContactPage>> {
    let limit = crate::http::query::limit(q.limit, 25, 100)?;
    let cursor = crate::http::query::cursor(q.cursor.as_deref())?;
    let scope = crate::contacts::api::contact_scope(&app, &p).await?;
    let page = app.store.list_members(&scope, id, cursor, limit).await?;
    Ok(Json(ContactPage {
        items: page.items.into_iter().map(ContactView::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

pub async fn add_member(
    State(app): State<App>,
    Auth(p): Auth,
    Path((list, contact)): Path<(ListId, ContactId)>,
) -> ApiResult<Json<ListView>> {
    hidden_from(&app, &p, list, contact).await?;
    let view = app
        .store
        .set_list_member(p.workspace_id, list, contact, true, app.now())
        .await?;
    Ok(Json(ListView::from(view)))
}

pub async fn remove_member(
    State(app): State<App>,
    Auth(p): Auth,
    Path((list, contact)): Path<(ListId, ContactId)>,
) -> ApiResult<Json<ListView>> {
    hidden_from(&app, &p, list, contact).await?;
    let view = app
        .store
        .set_list_member(p.workspace_id, list, contact, false, app.now())
        .await?;
    Ok(Json(ListView::from(view)))
}

/// A contact outside the caller's reach is answered as one that does not exist (after the
/// list, as the change itself would).
async fn hidden_from(
    app: &App,
    p: &parley_store::Principal,
    list: ListId,
    contact: ContactId,
) -> ApiResult<()> {
    let scope = crate::contacts::api::contact_scope(app, p).await?;
    if !scope.sees_all_contacts() {
        match app.store.contact(&scope, contact).await {
            Err(parley_store::StoreError::NotFound) => {
                let lists = app.store.list_lists(p.workspace_id).await?;
                if !lists.iter().any(|l| l.id == list) {
                    return Err(crate::http::error::ApiError::NotFound);
                }
                return Err(crate::http::error::ApiError::invalid(
                    "contact_id",
                    "no such contact in this workspace",
                ));
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

pub async fn contact_lists(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<Items<ListView>>> {
    let scope = crate::contacts::api::contact_scope(&app, &p).await?;
    Ok(Json(Items::lists(
        app.store.contact_lists(&scope, id).await?,
    )))
}
