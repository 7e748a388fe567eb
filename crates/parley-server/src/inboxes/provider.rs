//! Asking an inbox's provider: whether its credentials work, and a WhatsApp inbox's approved
//! message templates.

use axum::extract::State;
use parley_core::InboxId;

use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::inboxes::views::{ConnectionTestView, TemplatesView};
use crate::state::App;

/// `GET /api/v1/inboxes/{id}/templates`: a WhatsApp inbox's approved message templates, read
/// from Meta, for the composer to offer outside the 24-hour window.
pub async fn inbox_templates(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<TemplatesView>> {
    let inbox = app.store.inbox(&p.scope(), id).await?;
    let items = crate::inboxes::channels::whatsapp_templates(&app, &inbox).await?;
    Ok(Json(TemplatesView { items }))
}

/// `POST /api/v1/inboxes/{id}/test`: whether the provider accepts the inbox's credentials. A
/// refusal is an answer (`ok: false` and the provider's reason), not an error of this request.
pub async fn test_inbox(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<ConnectionTestView>> {
    require_admin(&p)?;
    let inbox = app.store.inbox(&p.scope(), id).await?;
    match crate::inboxes::channels::test_connection(&app, &inbox).await {
        Some(Ok(detail)) => Ok(Json(ConnectionTestView { ok: true, detail })),
        Some(Err(detail)) => Ok(Json(ConnectionTestView { ok: false, detail })),
        None => Err(ApiError::Unprocessable {
            code: "not_testable",
            message: format!("{} inboxes have no provider account to test", inbox.kind),
            field: None,
        }),
    }
}
