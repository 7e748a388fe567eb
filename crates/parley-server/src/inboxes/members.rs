//! Who works an inbox: its agents, and an admin adding or taking a user off it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::{InboxId, UserId};
use parley_store::Principal;
use serde_json::json;

use crate::account::audit::audit;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::views::{Items, UserView};

pub async fn inbox_members(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<Items<UserView>>> {
    app.store.inbox(&p.scope(), id).await?;
    Ok(Json(Items::users(
        app.store.inbox_members(p.workspace_id, id).await?,
    )))
}

/// Lets a user work an inbox or takes them off it, audited; their open sockets learn at once.
async fn set_inbox_member(
    app: App,
    headers: HeaderMap,
    p: Principal,
    (inbox, user): (InboxId, UserId),
    member: bool,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    app.store
        .set_inbox_member(p.workspace_id, inbox, user, member)
        .await?;
    let action = if member {
        "inbox.member_add"
    } else {
        "inbox.member_remove"
    };
    let detail = json!({ "user_id": user });
    audit(&app, &p, &headers, action, inbox, detail).await;
    app.hub.access_changed(p.workspace_id, user);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_inbox_member(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(ids): Path<(InboxId, UserId)>,
) -> ApiResult<StatusCode> {
    set_inbox_member(app, headers, p, ids, true).await
}

pub async fn remove_inbox_member(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(ids): Path<(InboxId, UserId)>,
) -> ApiResult<StatusCode> {
    set_inbox_member(app, headers, p, ids, false).await
}
