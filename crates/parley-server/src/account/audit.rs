//! The audit log (who did what, from where, recorded by every part of Parley) and presence (who
//! has a realtime connection open).

use axum::extract::State;
use axum::http::HeaderMap;
use parley_store::{AuditEntry, Principal};
use serde::Deserialize;
use serde_json::Value;

use crate::account::views::{AuditEntryView, PresenceView};
use crate::http::caller::{require_admin, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};
use crate::state::App;
use crate::views::Items;

/// Records that `p` did `action` to `target`; a failure to write is logged, never the caller's.
pub(crate) async fn audit(
    app: &App,
    p: &Principal,
    headers: &HeaderMap,
    action: &str,
    target: impl ToString,
    detail: Value,
) {
    let entry = AuditEntry {
        workspace_id: p.workspace_id,
        actor_id: Some(p.user_id),
        action: action.to_string(),
        target: target.to_string(),
        detail,
        ip: crate::http::client_ip(headers),
        at: app.now(),
    };
    if let Err(e) = app.store.record_audit(entry).await {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/audit` (admins): the audit log, newest first.
pub async fn list_audit(
    State(app): State<App>,
    Auth(p): Auth,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Items<AuditEntryView>>> {
    require_admin(&p)?;
    let limit = crate::http::query::limit(q.limit, 100, 1000)?;
    let entries = app.store.list_audit(p.workspace_id, limit).await?;
    Ok(Json(Items {
        items: entries.into_iter().map(AuditEntryView::from).collect(),
    }))
}

/// `GET /api/v1/presence`: the users with an open realtime connection.
pub async fn presence(State(app): State<App>, Auth(p): Auth) -> Json<PresenceView> {
    Json(PresenceView {
        online: app.hub.online_users(p.workspace_id),
    })
}
