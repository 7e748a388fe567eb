//! Signing in and out: credentials checked under the sign-in throttle and the hashing cap, the
//! session cookie and its CSRF token, and the current-password check a password change needs.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use parley_store::{AuditEntry, NewSession, Principal, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::account::audit::audit;
use crate::account::auth::{hash_token, random_token, HashSlot, PasswordError};
use crate::account::throttle::Locked;
use crate::account::views::{MeView, SignedInView};
use crate::http::caller::{cookie_value, Auth, SESSION_COOKIE};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::state::App;

/// The longest email address there is (RFC 5321's path limit, less its brackets).
const MAX_EMAIL_CHARS: usize = 254;
/// The longest password a check spends a hash on.
const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a sign-in, or the check of a current password, failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// A field no real credential has, refused before any work.
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("too many failed sign-ins")]
    Locked(Locked),
    #[error("the email or password is wrong")]
    WrongCredentials,
    #[error("the current password is wrong; the password was not changed")]
    WrongCurrentPassword,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Field { field, message } => ApiError::invalid(field, message),
            SignInError::Locked(l) => ApiError::TooManyRequests(locked_message(l)),
            SignInError::WrongCredentials => ApiError::Unprocessable {
                code: "invalid_credentials",
                message: e.to_string(),
                field: None,
            },
            SignInError::WrongCurrentPassword => ApiError::Unprocessable {
                code: "wrong_password",
                message: e.to_string(),
                field: Some("current_password"),
            },
            SignInError::Password(e) => e.into(),
            SignInError::Store(e) => e.into(),
        }
    }
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::TooShort | PasswordError::TooLong => {
                ApiError::invalid("password", e.to_string())
            }
            PasswordError::Busy => ApiError::TooManyRequests(e.to_string()),
            PasswordError::Failed(e) => ApiError::Internal(e),
        }
    }
}

/// What an attempt the sign-in guard holds back is told.
fn locked_message(locked: Locked) -> String {
    let (who, ms) = match locked {
        Locked::Account { retry_after_ms } => ("this account", retry_after_ms),
        Locked::Address { retry_after_ms } => ("your address", retry_after_ms),
    };
    let minutes = (ms + 59_999) / 60_000;
    format!(
        "too many failed sign-ins from {who}; try again in {minutes} minute{}",
        if minutes == 1 { "" } else { "s" }
    )
}

/// A session just opened: the cookie's token, and the CSRF token the app sends on every write.
pub struct Session {
    token: String,
    pub csrf: String,
}

/// Opens a session for `principal` and audits it as `action`.
pub async fn start_session(
    app: &App,
    principal: &Principal,
    headers: &HeaderMap,
    action: &str,
) -> Result<Session, StoreError> {
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
    Ok(Session { token, csrf })
}

/// The `Set-Cookie` value that hands a session to the browser.
pub fn session_cookie(app: &App, session: &Session) -> String {
    let secure = if app.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let max_age = app.config.session_ttl_ms / 1000;
    format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        session.token
    )
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    email: String,
    password: String,
}

/// `POST /api/v1/auth/sign-in`: sets the session cookie and answers the CSRF token.
pub async fn sign_in(
    State(app): State<App>,
    headers: HeaderMap,
    Json(req): Json<SignInRequest>,
) -> ApiResult<([(header::HeaderName, String); 1], Json<SignedInView>)> {
    let principal = check_credentials(&app, &req.email, req.password, &headers).await?;
    let session = start_session(&app, &principal, &headers, "auth.sign_in").await?;
    let body = SignedInView {
        csrf_token: session.csrf.clone(),
        user: MeView::from(&principal),
    };
    Ok((
        [(header::SET_COOKIE, session_cookie(&app, &session))],
        Json(body),
    ))
}

/// The account an email and password stand for. A failure is audited in the workspace of the
/// account tried; a guess at an unknown address is nobody's to see.
async fn check_credentials(
    app: &App,
    email: &str,
    password: String,
    headers: &HeaderMap,
) -> Result<Principal, SignInError> {
    // Refused before any work: no count, no lookup, no hashing.
    if email.trim().chars().count() > MAX_EMAIL_CHARS {
        return Err(SignInError::Field {
            field: "email",
            message: format!("must be at most {MAX_EMAIL_CHARS} characters"),
        });
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(SignInError::Field {
            field: "password",
            message: "must be at most 1024 bytes".into(),
        });
    }
    let email = email.trim().to_lowercase();
    let ip = client_addr(headers);
    let (slot, locks) = take_attempt(app, &email, ip).await?;
    let (principal, hash) = match app.store.credentials_by_email(&email).await? {
        Some((p, h)) => (Some(p), Some(h)),
        None => (None, None),
    };
    let ok = slot.verify(password, hash).await;
    // A bot has no password and works only through its token.
    let Some(principal) = principal.clone().filter(|p| ok && !p.bot) else {
        if let Some(p) = &principal {
            let action = if locks {
                "auth.locked"
            } else {
                "auth.sign_in_failed"
            };
            audit_failure(app, p, action, &email, headers).await;
        }
        return Err(SignInError::WrongCredentials);
    };
    if let Ok(mut g) = app.sign_ins.lock() {
        g.succeeded(&email, ip);
    }
    Ok(principal)
}

/// The client's address as the throttle counts it.
fn client_addr(headers: &HeaderMap) -> Option<IpAddr> {
    crate::http::client_ip(headers).and_then(|s| s.parse().ok())
}

/// Counts a password attempt: a locked attempt is refused without waiting for a hashing slot;
/// an attempt waiting for one is counted only once it has it. Answers the slot, and whether this
/// attempt locks the account or address should it fail.
async fn take_attempt(
    app: &App,
    email: &str,
    ip: Option<IpAddr>,
) -> Result<(HashSlot, bool), SignInError> {
    if let Ok(g) = app.sign_ins.lock() {
        g.check(email, ip, app.now().0)
            .map_err(SignInError::Locked)?;
    }
    let slot = app.passwords.slot().await?;
    let begun = app
        .sign_ins
        .lock()
        .map(|mut g| g.begin(email, ip, app.now().0))
        .unwrap_or(Ok(false));
    let locks = begun.map_err(SignInError::Locked)?;
    Ok((slot, locks))
}

/// Records a failed sign-in, by nobody, against the email tried.
async fn audit_failure(app: &App, p: &Principal, action: &str, email: &str, headers: &HeaderMap) {
    let entry = AuditEntry {
        workspace_id: p.workspace_id,
        actor_id: None,
        action: action.into(),
        target: email.to_string(),
        detail: json!({}),
        ip: crate::http::client_ip(headers),
        at: app.now(),
    };
    let _ = app.store.record_audit(entry).await;
}

/// One's own password changes only with the current one: a stolen session or token alone must
/// not be able to take the account over. Checked before anything is changed, and counted as a
/// sign-in attempt (same locks, same hashing cap), so the current password cannot be guessed
/// faster here than at sign-in.
pub async fn check_current_password(
    app: &App,
    p: &Principal,
    given: Option<String>,
    headers: &HeaderMap,
) -> Result<(), SignInError> {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Err(SignInError::Field {
            field: "current_password",
            message: "give your current password to change it".into(),
        });
    };
    if given.len() > MAX_PASSWORD_BYTES {
        return Err(SignInError::Field {
            field: "current_password",
            message: "must be at most 1024 bytes".into(),
        });
    }
    let email = p.email.trim().to_lowercase();
    let ip = client_addr(headers);
    let (slot, _) = take_attempt(app, &email, ip).await?;
    let hash = app
        .store
        .credentials_by_email(&p.email)
        .await?
        .filter(|(q, _)| q.user_id == p.user_id)
        .map(|(_, h)| h);
    if !slot.verify(given, hash).await {
        return Err(SignInError::WrongCurrentPassword);
    }
    if let Ok(mut g) = app.sign_ins.lock() {
        g.succeeded(&email, ip);
    }
    Ok(())
}

/// `POST /api/v1/auth/sign-out`: ends the session the cookie names, and clears the cookie.
pub async fn sign_out(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
) -> ApiResult<([(header::HeaderName, String); 1], StatusCode)> {
    end_session(&app, &p, &headers).await?;
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT))
}

/// Deletes the session the request's cookie names, if any (a token caller has none), and
/// audits the sign-out.
async fn end_session(app: &App, p: &Principal, headers: &HeaderMap) -> Result<(), StoreError> {
    let session = cookie_value(headers, SESSION_COOKIE);
    if let Some(s) = session {
        app.store.delete_session(&hash_token(s)).await?;
        app.hub.access_changed(p.workspace_id, p.user_id);
    }
    audit(app, p, headers, "auth.sign_out", p.user_id, json!({})).await;
    Ok(())
}

/// `GET /api/v1/me`: the signed-in user, their role and inboxes.
pub async fn me(Auth(p): Auth) -> Json<MeView> {
    Json(MeView::from(&p))
}
