//! Who is calling: a personal API token (`Authorization: Bearer pat_…`) or a session cookie, the
//! latter with a CSRF token on every write; and the role checks, in handlers and as the route
//! table's gate.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use parley_core::role::Role;
use parley_store::Principal;

use crate::account::auth::{constant_time_eq, hash_token};
use crate::http::error::ApiError;
use crate::state::App;

pub const SESSION_COOKIE: &str = "parley_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of the cookie `name` the request carries.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The authenticated caller. Rejects with 401 when there are no valid credentials, and with 403
/// when a cookie-authenticated write lacks its CSRF token.
pub struct Auth(pub Principal);

/// Which credential authenticated a request, by the hash it is stored under, so a long-lived
/// connection can check later that it still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A personal API token (header, or `?token=` on the realtime socket).
    Token(String),
    /// A session cookie: the request may come from a browser, with the checks that implies.
    Session(String),
}

impl Credential {
    /// The principal the credential stands for now, or `None` when it no longer holds.
    pub async fn principal(&self, app: &App) -> Result<Option<Principal>, ApiError> {
        Ok(match self {
            Credential::Token(hash) => app.store.token_principal(hash).await?,
            Credential::Session(hash) => app
                .store
                .session_principal(hash, app.now())
                .await?
                .map(|(p, _)| p),
        })
    }
}

/// The authenticated caller and the credential that authenticated them.
pub struct Caller {
    pub principal: Principal,
    pub credential: Credential,
}

/// The `token` query parameter of a realtime socket request, however its name is encoded; an
/// empty value is still a token (and an invalid one).
fn query_token(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = h
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(ApiError::Unauthorized)?
                .trim();
            let hash = hash_token(token);
            let p = app
                .store
                .token_principal(&hash)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            return Ok(Caller {
                principal: p,
                credential: Credential::Token(hash),
            });
        }
        // Browsers cannot set headers on a WebSocket, so the socket may carry its token in the
        // query. A token that is there must be valid: it never falls back to the cookie.
        if parts.uri.path() == "/api/v1/realtime" {
            if let Some(token) = query_token(parts) {
                let hash = hash_token(&token);
                let p = app
                    .store
                    .token_principal(&hash)
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
                return Ok(Caller {
                    principal: p,
                    credential: Credential::Token(hash),
                });
            }
        }
        let session = cookie_value(&parts.headers, SESSION_COOKIE).ok_or(ApiError::Unauthorized)?;
        let hash = hash_token(session);
        let (p, csrf) = app
            .store
            .session_principal(&hash, app.now())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
                return Err(ApiError::CsrfFailed(
                    "this write needs the X-CSRF-Token header from sign-in".into(),
                ));
            }
        }
        Ok(Caller {
            principal: p,
            credential: Credential::Session(hash),
        })
    }
}

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, app)
            .await
            .map(|c| Auth(c.principal))
    }
}

pub fn require_admin(p: &Principal) -> Result<(), ApiError> {
    if p.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("only an admin may do this"))
    }
}

/// Middleware for routes the table marks Admin or Supervisor: the caller's role is checked before
/// the handler reads the body, so a refused caller learns nothing about what the route accepts.
pub async fn role_gate(
    axum::extract::State((app, min)): axum::extract::State<(App, Role)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (mut parts, body) = req.into_parts();
    let allowed = match Auth::from_request_parts(&mut parts, &app).await {
        Err(e) => return e.into_response(),
        Ok(Auth(p)) => match min {
            Role::Admin => require_admin(&p),
            _ => require_supervisor(&p),
        },
    };
    match allowed {
        Ok(()) => {
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
        Err(e) => e.into_response(),
    }
}

pub fn require_supervisor(p: &Principal) -> Result<(), ApiError> {
    if is_supervisor_or_admin(p) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only a supervisor or an admin may do this",
        ))
    }
}

pub fn is_supervisor_or_admin(p: &Principal) -> bool {
    matches!(p.role, Role::Admin | Role::Supervisor)
}
