//! The workspace's users and their roles: listed by anyone, added and removed by admins, renamed
//! or given a new password by themselves (with the current one) or by an admin.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::contact::{parse_name, Email};
use parley_core::role::Role;
use parley_core::UserId;
use parley_store::{NewUser, Principal, StoreError, UserPatch};
use serde::Deserialize;
use serde_json::json;

use crate::account::audit::audit;
use crate::account::auth::{check_password_strength, PasswordError};
use crate::account::sessions::{check_current_password, SignInError};
use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{double_option, Json, Path};
use crate::state::App;
use crate::views::{Items, UserView};

/// Why a user could not be added or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("must be admin, supervisor or agent")]
    NoRole,
    #[error(transparent)]
    Invalid(#[from] parley_core::Invalid),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    CurrentPassword(#[from] SignInError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::NoRole => ApiError::invalid("role", e.to_string()),
            UserError::Invalid(e) => e.into(),
            UserError::Password(e) => e.into(),
            UserError::CurrentPassword(e) => e.into(),
            UserError::Store(e) => e.into(),
        }
    }
}

/// `GET /api/v1/users`: the workspace's users with their roles.
pub async fn list_users(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<UserView>>> {
    let users = app.store.list_users(p.workspace_id).await?;
    Ok(Json(Items::users(users)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    email: String,
    name: String,
    password: String,
    role: Role,
}

/// `POST /api/v1/users` (admins): adds a user with a role.
pub async fn create_user(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    require_admin(&p)?;
    let user = add_user(&app, &p, req, &headers).await?;
    Ok((StatusCode::CREATED, Json(UserView::from(user))))
}

/// Checks and creates a user, and audits it.
async fn add_user(
    app: &App,
    p: &Principal,
    req: CreateUserRequest,
    headers: &HeaderMap,
) -> Result<parley_store::UserView, UserError> {
    let email = Email::parse(&req.email)?;
    let name = parse_name("name", &req.name)?;
    check_password_strength(&req.password)?;
    let hash = app.passwords.hash(req.password).await?;
    let user = app
        .store
        .create_user(
            p.workspace_id,
            NewUser {
                email: email.into_string(),
                name,
                password_hash: hash,
                role: req.role,
                bot: false,
            },
            app.now(),
        )
        .await?;
    audit(
        app,
        p,
        headers,
        "user.create",
        user.id,
        json!({ "email": user.email, "role": user.role }),
    )
    .await;
    Ok(user)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    password: Option<String>,
    /// Needed to change one's own password.
    #[serde(default)]
    current_password: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    role: Option<Option<Role>>,
}

/// `PATCH /api/v1/users/{id}`: one's own name and password, or (admins) anyone's, and roles.
pub async fn update_user(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<UserId>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserView>> {
    if id != p.user_id || req.role.is_some() {
        require_admin(&p)?;
    }
    let user = change_user(&app, &p, id, req, &headers).await?;
    Ok(Json(UserView::from(user)))
}

/// Applies a change to a user, audits it, and closes the user's sockets when their role or
/// password changed.
async fn change_user(
    app: &App,
    p: &Principal,
    id: UserId,
    req: UpdateUserRequest,
    headers: &HeaderMap,
) -> Result<parley_store::UserView, UserError> {
    let mut patch = UserPatch::default();
    if let Some(n) = req.name {
        patch.name = Some(parse_name("name", &n)?);
    }
    if let Some(pw) = req.password {
        check_password_strength(&pw)?;
        if id == p.user_id {
            check_current_password(app, p, req.current_password, headers).await?;
        }
        patch.password_hash = Some(app.passwords.hash(pw).await?);
    }
    if let Some(role) = req.role {
        patch.role = Some(role.ok_or(UserError::NoRole)?);
    }
    let changed_role = patch.role;
    let revokes = patch.role.is_some() || patch.password_hash.is_some();
    let user = app.store.update_user(p.workspace_id, id, patch).await?;
    audit(
        app,
        p,
        headers,
        "user.update",
        id,
        json!({ "role": changed_role }),
    )
    .await;
    if revokes {
        app.hub.access_changed(p.workspace_id, id);
    }
    Ok(user)
}

/// `DELETE /api/v1/users/{id}` (admins): removes a user; their sockets close.
pub async fn remove_user(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    app.store.remove_user(p.workspace_id, id).await?;
    audit(&app, &p, &headers, "user.remove", id, json!({})).await;
    app.hub.access_changed(p.workspace_id, id);
    Ok(StatusCode::NO_CONTENT)
}
