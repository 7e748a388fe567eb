//! Blocking a contact: their messages are still kept (an opt-out in them still counts) but no
//! longer reopen a conversation or wait for an answer. Supervisors and admins; audited.

use axum::extract::State;
use axum::http::HeaderMap;
use parley_core::conversation::Status;
use parley_core::ContactId;
use parley_store::{ConversationQuery, Principal, Sort};
use serde_json::json;

use super::views::BlockView;
use crate::account::audit::audit;
use crate::http::caller::{require_supervisor, Auth};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::views::ContactView;

/// `POST /api/v1/contacts/{id}/block`: blocks the contact; their conversations still open in
/// inboxes the caller works are resolved.
pub async fn block_contact(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<BlockView>> {
    require_supervisor(&p)?;
    let now = app.now();
    let k = app
        .store
        .set_contact_blocked(p.workspace_id, id, Some(now), now)
        .await?;
    let resolved = resolve_open(&app, &p, id).await?;
    audit(
        &app,
        &p,
        &headers,
        "contact.block",
        id,
        json!({ "resolved": resolved }),
    )
    .await;
    Ok(Json(BlockView {
        contact: ContactView::from(k),
        resolved: Some(resolved),
    }))
}

/// Resolves the contact's open conversations in inboxes the caller works; how many.
async fn resolve_open(app: &App, p: &Principal, id: ContactId) -> ApiResult<u64> {
    let q = ConversationQuery {
        contact: Some(id),
        sort: Sort::Activity,
        limit: 100,
        ..Default::default()
    };
    let mut resolved = 0;
    for c in app.store.list_conversations(&p.scope(), &q).await?.items {
        if c.status != Status::Resolved {
            crate::conversations::commands::set_status(app, p, c.id, Status::Resolved, None)
                .await?;
            resolved += 1;
        }
    }
    Ok(resolved)
}

/// `DELETE /api/v1/contacts/{id}/block`: their messages reopen conversations again.
pub async fn unblock_contact(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<BlockView>> {
    require_supervisor(&p)?;
    let k = app
        .store
        .set_contact_blocked(p.workspace_id, id, None, app.now())
        .await?;
    audit(&app, &p, &headers, "contact.unblock", id, json!({})).await;
    Ok(Json(BlockView {
        contact: ContactView::from(k),
        resolved: None,
    }))
}
