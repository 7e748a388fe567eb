//! First start and liveness: the one-time setup that creates the workspace and its admin, and the
//! health check operators and load balancers poll.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use parley_core::contact::{parse_name, Email};
use parley_core::role::Role;
use parley_store::{NewUser, StoreError, UserView, WorkspaceRow};
use serde::Deserialize;

use crate::account::auth::{check_password_strength, hash_token, PasswordError};
use crate::account::sessions::{session_cookie, start_session};
use crate::account::views::{HealthView, SetupView};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::state::App;

/// `GET /api/v1/health`: answers when the server and its database answer.
pub async fn health(State(app): State<App>) -> ApiResult<Json<HealthView>> {
    app.store.is_empty().await?;
    // Per-process state (live events, limits, presence) does not span nodes: say so where
    // operators look.
    let others = app.node.others().len();
    let shared = others > 0;
    Ok(Json(HealthView {
        other_nodes: shared.then_some(others),
        status: "ok",
        warning: shared.then_some(crate::jobs::nodes::ANOTHER_NODE),
    }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    token: String,
    workspace_name: String,
    name: String,
    email: String,
    password: String,
    #[serde(default)]
    timezone: Option<String>,
}

/// Why setup refused.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No setup link is armed (the server was set up, or started with an admin).
    #[error("not found")]
    NotArmed,
    #[error("the setup token is wrong")]
    WrongToken,
    #[error("this server is already set up")]
    AlreadySetUp,
    #[error(transparent)]
    Invalid(#[from] parley_core::Invalid),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SetupError> for ApiError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::NotArmed => ApiError::NotFound,
            SetupError::WrongToken => ApiError::forbidden(e.to_string()),
            SetupError::AlreadySetUp => ApiError::Conflict(e.to_string()),
            SetupError::Invalid(e) => e.into(),
            SetupError::Password(e) => e.into(),
            SetupError::Store(e) => e.into(),
        }
    }
}

/// `POST /api/v1/setup`: creates the first workspace and admin with the one-time setup token, and
/// signs the admin in as sign-in does.
pub async fn setup(
    State(app): State<App>,
    headers: HeaderMap,
    Json(req): Json<SetupRequest>,
) -> ApiResult<(
    StatusCode,
    [(header::HeaderName, String); 1],
    Json<SetupView>,
)> {
    let (ws, user) = create_first_workspace(&app, req).await?;
    // The admin who just chose the password is signed in, as a sign-in would.
    let principal = app.store.principal(ws.id, user.id).await?;
    let session = start_session(&app, &principal, &headers, "auth.setup").await?;
    let body = SetupView {
        csrf_token: session.csrf.clone(),
        user: user.into(),
        workspace: ws.into(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, session_cookie(&app, &session))],
        Json(body),
    ))
}

/// Checks the setup token and the admin's details, creates the workspace and its admin, and
/// disarms the token.
async fn create_first_workspace(
    app: &App,
    req: SetupRequest,
) -> Result<(WorkspaceRow, UserView), SetupError> {
    let expected = app
        .setup_token
        .lock()
        .map(|t| t.clone())
        .unwrap_or_default();
    let Some(expected) = expected else {
        return Err(SetupError::NotArmed);
    };
    if hash_token(&req.token) != hash_token(&expected) {
        return Err(SetupError::WrongToken);
    }
    let ws_name = parse_name("workspace_name", &req.workspace_name)?;
    let name = parse_name("name", &req.name)?;
    let email = Email::parse(&req.email)?;
    check_password_strength(&req.password)?;
    if !app.store.is_empty().await? {
        return Err(SetupError::AlreadySetUp);
    }
    let hash = app.passwords.hash(req.password).await?;
    let admin = NewUser {
        email: email.into_string(),
        name,
        password_hash: hash,
        role: Role::Admin,
        bot: false,
    };
    let tz = req.timezone.unwrap_or_else(|| "UTC".into());
    let created = app
        .store
        .create_workspace(&ws_name, &tz, admin, app.now())
        .await?;
    if let Ok(mut t) = app.setup_token.lock() {
        *t = None;
    }
    Ok(created)
}
