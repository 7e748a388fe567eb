//! Setup, sign-in and sessions, personal API tokens, users and roles, presence and the audit log.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_core::contact::{parse_name, Email};
use parley_core::role::Role;
use parley_core::{TokenId, UserId};
use parley_store::{AuditEntry, NewSession, NewUser, Principal, UserPatch};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::account::auth::{self, hash_token, random_token, require_admin, Auth, SESSION_COOKIE};
use crate::account::throttle::Locked;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::double_option;
use crate::http::extract::{Json, Path, Query};
use crate::state::App;
use crate::views::{Items, MeView, NewTokenView, PresenceView, SignedInView, TokenView, UserView};

pub async fn health(State(app): State<App>) -> ApiResult<Json<Value>> {
    app.store.is_empty().await?;
    let mut v = json!({ "status": "ok" });
    // Per-process state (live events, limits, presence) does not span nodes: say so where
    // operators look.
    let others = app.node.others().len();
    if others > 0 {
        v["other_nodes"] = json!(others);
        v["warning"] = json!(crate::jobs::nodes::ANOTHER_NODE);
    }
    Ok(Json(v))
}

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

pub async fn setup(
    State(app): State<App>,
    headers: HeaderMap,
    Json(req): Json<SetupRequest>,
) -> ApiResult<Response> {
    let expected = app
        .setup_token
        .lock()
        .map(|t| t.clone())
        .unwrap_or_default();
    let Some(expected) = expected else {
        return Err(ApiError::NotFound);
    };
    if hash_token(&req.token) != hash_token(&expected) {
        return Err(ApiError::forbidden("the setup token is wrong"));
    }
    let ws_name = parse_name("workspace_name", &req.workspace_name)?;
    let name = parse_name("name", &req.name)?;
    let email = Email::parse(&req.email)?;
    auth::check_password_strength(&req.password)?;
    if !app.store.is_empty().await? {
        return Err(ApiError::Conflict("this server is already set up".into()));
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
    let (ws, user) = app
        .store
        .create_workspace(&ws_name, &tz, admin, app.now())
        .await?;
    if let Ok(mut t) = app.setup_token.lock() {
        *t = None;
    }
    // The admin who just chose the password is signed in, as a sign-in would.
    let principal = app.store.principal(ws.id, user.id).await?;
    let (cookie, csrf) = start_session(&app, &principal, &headers, "auth.setup").await?;
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "workspace": ws, "user": user, "csrf_token": csrf })),
    )
        .into_response())
}

/// Opens a session for `principal` and audits it as `action`: the `Set-Cookie` value and the
/// session's CSRF token, which the app sends back on every write.
async fn start_session(
    app: &App,
    principal: &Principal,
    headers: &HeaderMap,
    action: &str,
) -> ApiResult<(String, String)> {
    let token = random_token();
    let csrf = random_token();
    let now = app.now();
    app.store
        .create_session(NewSession {
            token_hash: hash_token(&token),
            user_id: principal.user_id,
            workspace_id: principal.workspace_id,
            csrf_token: csrf.clone(),
            created_at: now,
            expires_at: now.plus_millis(app.config.session_ttl_ms),
        })
        .await?;
    audit(
        app,
        principal,
        headers,
        action,
        principal.user_id,
        json!({}),
    )
    .await;
    let secure = if app.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let max_age = app.config.session_ttl_ms / 1000;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    Ok((cookie, csrf))
}

/// The longest email address there is (RFC 5321's path limit, less its brackets).
const MAX_EMAIL_CHARS: usize = 254;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    email: String,
    password: String,
}

/// The answer to an attempt the sign-in guard holds back.
fn locked(locked: Locked) -> ApiError {
    let (who, ms) = match locked {
        Locked::Account { retry_after_ms } => ("this account", retry_after_ms),
        Locked::Address { retry_after_ms } => ("your address", retry_after_ms),
    };
    let minutes = (ms + 59_999) / 60_000;
    ApiError::TooManyRequests(format!(
        "too many failed sign-ins from {who}; try again in {minutes} minute{}",
        if minutes == 1 { "" } else { "s" }
    ))
}

pub async fn sign_in(
    State(app): State<App>,
    headers: HeaderMap,
    Json(req): Json<SignInRequest>,
) -> ApiResult<Response> {
    // Refused before any work: no count, no lookup, no hashing.
    if req.email.trim().chars().count() > MAX_EMAIL_CHARS {
        return Err(ApiError::invalid(
            "email",
            format!("must be at most {MAX_EMAIL_CHARS} characters"),
        ));
    }
    if req.password.len() > 1024 {
        return Err(ApiError::invalid("password", "must be at most 1024 bytes"));
    }
    let email = req.email.trim().to_lowercase();
    let ip = crate::http::client_ip(&headers).and_then(|s| s.parse().ok());
    // A locked attempt is refused without waiting for a hashing slot; an attempt waiting for
    // one is counted only once it has it.
    if let Ok(g) = app.sign_ins.lock() {
        g.check(&email, ip, app.now().0).map_err(locked)?;
    }
    let slot = app.passwords.slot().await?;
    let begun = app
        .sign_ins
        .lock()
        .map(|mut g| g.begin(&email, ip, app.now().0))
        .unwrap_or(Ok(false));
    let locks = begun.map_err(locked)?;
    let found = app.store.credentials_by_email(&email).await?;
    let (principal, hash) = match found {
        Some((p, h)) => (Some(p), Some(h)),
        None => (None, None),
    };
    let ok = slot.verify(req.password, hash).await;
    // A bot has no password and works only through its token.
    let Some(principal) = principal.clone().filter(|p| ok && !p.bot) else {
        // Audited in the workspace of the account tried; a guess at an unknown address is
        // nobody's to see.
        if let Some(p) = &principal {
            let entry = AuditEntry {
                workspace_id: p.workspace_id,
                actor_id: None,
                action: if locks {
                    "auth.locked".into()
                } else {
                    "auth.sign_in_failed".into()
                },
                target: email.clone(),
                detail: json!({}),
                ip: crate::http::client_ip(&headers),
                at: app.now(),
            };
            let _ = app.store.record_audit(entry).await;
        }
        return Err(ApiError::Unprocessable {
            code: "invalid_credentials",
            message: "the email or password is wrong".into(),
            field: None,
        });
    };
    if let Ok(mut g) = app.sign_ins.lock() {
        g.succeeded(&email, ip);
    }
    let (cookie, csrf) = start_session(&app, &principal, &headers, "auth.sign_in").await?;
    let body = SignedInView {
        csrf_token: csrf,
        user: MeView::from(&principal),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

pub async fn sign_out(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
) -> ApiResult<Response> {
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string());
    if let Some(s) = session {
        app.store.delete_session(&hash_token(&s)).await?;
        app.hub.access_changed(p.workspace_id, p.user_id);
    }
    audit(&app, &p, &headers, "auth.sign_out", p.user_id, json!({})).await;
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

pub async fn me(Auth(p): Auth) -> Json<MeView> {
    Json(MeView::from(&p))
}

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
) -> ApiResult<(parley_store::TokenView, String)> {
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

pub async fn create_token(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<CreateTokenRequest>,
) -> ApiResult<Response> {
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
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

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

pub async fn create_user(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<Response> {
    require_admin(&p)?;
    let email = Email::parse(&req.email)?;
    let name = parse_name("name", &req.name)?;
    auth::check_password_strength(&req.password)?;
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
        &app,
        &p,
        &headers,
        "user.create",
        user.id,
        json!({ "email": user.email, "role": user.role }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(UserView::from(user))).into_response())
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

/// One's own password changes only with the current one: a stolen session or token alone must
/// not be able to take the account over. Checked before anything is changed, and counted as a
/// sign-in attempt (same locks, same hashing cap), so the current password cannot be guessed
/// faster here than at sign-in.
async fn check_current_password(
    app: &App,
    p: &Principal,
    given: Option<String>,
    ip: Option<std::net::IpAddr>,
) -> ApiResult<()> {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Err(ApiError::invalid(
            "current_password",
            "give your current password to change it",
        ));
    };
    if given.len() > 1024 {
        return Err(ApiError::invalid(
            "current_password",
            "must be at most 1024 bytes",
        ));
    }
    let email = p.email.trim().to_lowercase();
    if let Ok(g) = app.sign_ins.lock() {
        g.check(&email, ip, app.now().0).map_err(locked)?;
    }
    let slot = app.passwords.slot().await?;
    app.sign_ins
        .lock()
        .map(|mut g| g.begin(&email, ip, app.now().0))
        .unwrap_or(Ok(false))
        .map_err(locked)?;
    let hash = app
        .store
        .credentials_by_email(&p.email)
        .await?
        .filter(|(q, _)| q.user_id == p.user_id)
        .map(|(_, h)| h);
    if !slot.verify(given, hash).await {
        return Err(ApiError::Unprocessable {
            code: "wrong_password",
            message: "the current password is wrong; the password was not changed".into(),
            field: Some("current_password"),
        });
    }
    if let Ok(mut g) = app.sign_ins.lock() {
        g.succeeded(&email, ip);
    }
    Ok(())
}

pub async fn update_user(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<UserId>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserView>> {
    let myself = id == p.user_id;
    if !myself || req.role.is_some() {
        require_admin(&p)?;
    }
    let mut patch = UserPatch::default();
    if let Some(n) = req.name {
        patch.name = Some(parse_name("name", &n)?);
    }
    if let Some(pw) = req.password {
        auth::check_password_strength(&pw)?;
        if myself {
            let ip = crate::http::client_ip(&headers).and_then(|s| s.parse().ok());
            check_current_password(&app, &p, req.current_password, ip).await?;
        }
        patch.password_hash = Some(app.passwords.hash(pw).await?);
    }
    if let Some(role) = req.role {
        patch.role = Some(
            role.ok_or_else(|| ApiError::invalid("role", "must be admin, supervisor or agent"))?,
        );
    }
    let changed_role = patch.role;
    let revokes = patch.role.is_some() || patch.password_hash.is_some();
    let user = app.store.update_user(p.workspace_id, id, patch).await?;
    audit(
        &app,
        &p,
        &headers,
        "user.update",
        id,
        json!({ "role": changed_role }),
    )
    .await;
    if revokes {
        app.hub.access_changed(p.workspace_id, id);
    }
    Ok(Json(UserView::from(user)))
}

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

#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<u32>,
}

pub async fn list_audit(
    State(app): State<App>,
    Auth(p): Auth,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    require_admin(&p)?;
    let limit = crate::http::query::limit(q.limit, 100, 1000)?;
    Ok(Json(
        json!({ "items": app.store.list_audit(p.workspace_id, limit).await? }),
    ))
}

pub async fn presence(State(app): State<App>, Auth(p): Auth) -> Json<PresenceView> {
    Json(PresenceView {
        online: app.hub.online_users(p.workspace_id),
    })
}
