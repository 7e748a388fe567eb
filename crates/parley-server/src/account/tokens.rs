//! Personal API tokens: listed, created (the secret shown once) and revoked by their owner.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::contact::parse_name;
use parley_core::TokenId;
use parley_store::{Principal, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::account::audit::audit;
use crate::account::auth::{hash_token, random_token};
use crate::account::views::{NewTokenView, TokenView};
use crate::http::caller::Auth;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::views::Items;

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Invalid(#[from] parley_core::Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TokenError> for crate::http::error::ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(e) => e.into(),
            TokenError::Store(e) => e.into(),
        }
    }
}

/// `GET /api/v1/tokens`: the caller's tokens, never their secrets.
pub async fn list_tokens(
    State(app): State<App>,
    Auth(p): Auth,
) -> ApiResult<Json<Items<TokenView>>> {
    let tokens = app.store.list_tokens(p.workspace_id, p.user_id).await?;
    Ok(Json(Items {
        items: tokens.into_iter().map(TokenView::from).collect(),
    }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    name: String,
}

/// Creates a token for a user and returns its secret text (`pat_…`), which is never shown again.
pub async fn issue_token(
    app: &App,
    p: &Principal,
    name: &str,
) -> Result<(parley_store::TokenView, String), TokenError> {
    let name = parse_name("name", name)?;
    let secret = format!("pat_{}", random_token());
    let view = app
        .store
        .create_token(
            p.workspace_id,
            p.user_id,
            &name,
            &hash_token(&secret),
            app.now(),
        )
        .await?;
    Ok((view, secret))
}

/// `POST /api/v1/tokens`: a new token for the caller, its secret shown this once.
pub async fn create_token(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<NewTokenView>)> {
    let (view, secret) = issue_token(&app, &p, &req.name).await?;
    audit(
        &app,
        &p,
        &headers,
        "token.create",
        view.id,
        json!({ "name": view.name }),
    )
    .await;
    let created = NewTokenView {
        created_at: view.created_at,
        id: view.id,
        name: view.name,
        token: secret,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// `DELETE /api/v1/tokens/{id}`: revokes one of the caller's tokens; sockets it opened close.
pub async fn revoke_token(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<TokenId>,
) -> ApiResult<StatusCode> {
    app.store
        .revoke_token(p.workspace_id, p.user_id, id, app.now())
        .await?;
    app.hub.access_changed(p.workspace_id, p.user_id);
    audit(&app, &p, &headers, "token.revoke", id, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}
