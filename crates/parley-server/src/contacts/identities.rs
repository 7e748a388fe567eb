//! A contact's addresses on each channel: adding and removing them, and merging a duplicate
//! contact (its identities and conversations) into another.

use axum::extract::State;
use axum::http::StatusCode;
use parley_core::contact::{parse_external_id, Email, IdentityKind, Phone};
use parley_core::{ContactId, IdentityId, InboxId};
use parley_store::NewIdentity;
use serde::Deserialize;

use super::api::visible;
use crate::http::caller::Auth;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::views::ContactView;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityRequest {
    kind: IdentityKind,
    external_id: String,
    #[serde(default)]
    inbox_id: Option<InboxId>,
}

/// Validates an identity: phones and emails are normalised so the same person resolves to one contact.
pub(super) fn parse_identity(req: IdentityRequest) -> Result<NewIdentity, parley_core::Invalid> {
    let external_id = match req.kind {
        IdentityKind::Phone | IdentityKind::Whatsapp => Phone::parse(&req.external_id)
            .map(Phone::into_string)
            .or_else(|e| {
                if req.kind == IdentityKind::Whatsapp {
                    parse_external_id("external_id", &req.external_id)
                } else {
                    Err(e)
                }
            })?,
        IdentityKind::Email => Email::parse(&req.external_id)?.into_string(),
        _ => parse_external_id("external_id", &req.external_id)?,
    };
    Ok(NewIdentity {
        kind: req.kind,
        inbox_id: req.inbox_id,
        external_id,
    })
}

/// `POST /api/v1/contacts/{id}/identities`: a new address for the contact.
pub async fn add_identity(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<IdentityRequest>,
) -> ApiResult<(StatusCode, Json<ContactView>)> {
    let identity = parse_identity(req)?;
    visible(&app, &p, id).await?;
    let view = app
        .store
        .add_identity(p.workspace_id, id, identity, app.now())
        .await?;
    Ok((StatusCode::CREATED, Json(ContactView::from(view))))
}

/// `DELETE /api/v1/contacts/{id}/identities/{identity_id}`.
pub async fn remove_identity(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, identity)): Path<(ContactId, IdentityId)>,
) -> ApiResult<Json<ContactView>> {
    visible(&app, &p, id).await?;
    let view = app
        .store
        .remove_identity(p.workspace_id, id, identity)
        .await?;
    Ok(Json(ContactView::from(view)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    contact_id: ContactId,
}

/// `POST /api/v1/contacts/{id}/merge`: the other contact's identities and conversations move
/// to this one.
pub async fn merge_contact(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<MergeRequest>,
) -> ApiResult<Json<ContactView>> {
    visible(&app, &p, id).await?;
    visible(&app, &p, req.contact_id).await?;
    let view = app
        .store
        .merge_contacts(p.workspace_id, id, req.contact_id, p.user_id, app.now())
        .await?;
    Ok(Json(ContactView::from(view)))
}
