//! An agent's WebSocket (`GET /api/v1/realtime`): the upgrade (a cookie's socket only from our
//! own pages), and the socket's life from registering on the hub to its close frame; `session`
//! carries the frames between.

mod session;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use super::small_frames;
use crate::http::caller::{Caller, Credential};
use crate::http::error::ApiError;
use crate::http::extract::Query;
use crate::state::App;
use session::{Feeds, Session};

#[derive(Deserialize)]
pub struct RealtimeQuery {
    /// Replay events after this sequence number before going live.
    since: Option<i64>,
    /// An API token, for clients that cannot set a header on a WebSocket (read by `Caller`).
    #[expect(
        dead_code,
        reason = "named so the query check takes it; `Caller` reads it"
    )]
    token: Option<String>,
}

/// `GET /api/v1/realtime`: upgrade to a WebSocket for the signed-in user.
pub async fn realtime(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<RealtimeQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // A cookie-authenticated socket must come from our own pages (cross-site WebSocket
    // hijacking), whatever else the request carries.
    if matches!(caller.credential, Credential::Session(_)) && cross_site(&headers) {
        return Err(ApiError::forbidden("cross-origin WebSocket refused"));
    }
    let limits = SocketLimits::of(&app.config);
    Ok(small_frames(ws).on_upgrade(move |socket| run_socket(app, caller, q.since, limits, socket)))
}

/// Whether the request names an origin other than the host it was sent to (an origin header
/// that is not text counts as another).
fn cross_site(headers: &HeaderMap) -> bool {
    let origin = headers.get("origin").map(|o| o.to_str().unwrap_or("\0"));
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let Some(origin) = origin else {
        return false;
    };
    let same = origin
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest == host);
    !same || host.is_empty()
}

/// How far an agent's socket may fall behind before it is closed.
#[derive(Clone, Copy)]
struct SocketLimits {
    /// How long one frame may take to be taken by the client.
    send: std::time::Duration,
    /// Bytes of committed frames the socket may have yet to send.
    behind: u64,
}

impl SocketLimits {
    fn of(c: &crate::Config) -> Self {
        Self {
            send: std::time::Duration::from_millis(c.socket_send_timeout_ms),
            behind: c.socket_max_behind_bytes,
        }
    }
}

/// Why a socket ends.
enum End {
    /// The client left (or the connection broke).
    Gone,
    /// The credential that opened it no longer holds.
    Revoked,
    /// It could not keep up; the client resumes from the last event it was sent.
    Behind,
}

/// How long a closing socket waits for its close frame to be taken before it drops the
/// connection anyway.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

async fn send_within<S>(sink: &mut S, limits: SocketLimits, msg: Message) -> Result<(), End>
where
    S: futures_util::Sink<Message> + Unpin,
{
    match tokio::time::timeout(limits.send, sink.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => Err(End::Behind),
    }
}

async fn run_socket(
    app: App,
    caller: Caller,
    since: Option<i64>,
    limits: SocketLimits,
    socket: WebSocket,
) {
    let (mut sink, mut stream) = socket.split();
    let socket_id = app
        .hub
        .sockets
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Registered and subscribed before replaying so that nothing falls between the replay and
    // the live feed, and a revocation during the replay is not missed.
    let recheck = app.hub.register(&caller.principal, socket_id);
    // A revocation between the handler's check and this registration woke nobody: the first
    // pass of the live loop checks the credential again.
    recheck.notify_one();
    let mut feeds = Feeds {
        events: app.hub.tx.subscribe(),
        ephemeral: app.hub.ephemeral.subscribe(),
    };
    let mut s = Session {
        app,
        principal: caller.principal,
        credential: caller.credential,
        socket_id,
        viewing: None,
        last_seq: since.unwrap_or(0),
        limits,
    };
    let mut end = None;
    if since.is_some() {
        end = Box::pin(s.replay(&mut sink)).await.err();
    }
    let live = end.is_none();
    if live {
        s.app.hub.presence(&s.principal, 1);
        end = Some(s.live(&mut feeds, &recheck, &mut sink, &mut stream).await);
    }
    // Nothing more is queued for this socket from here on.
    drop(feeds);
    s.leave(live);
    let close = match end.unwrap_or(End::Gone) {
        End::Gone => None,
        End::Revoked => Some((1008, "access revoked: sign in again".to_string())),
        End::Behind => Some((
            1013,
            format!("too far behind: reconnect with ?since={}", s.last_seq),
        )),
    };
    if let Some((code, reason)) = close {
        let frame = axum::extract::ws::CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", host.parse().unwrap());
        if let Some(o) = origin {
            h.insert("origin", o.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_an_origin_naming_another_host_is_cross_site() {
        assert!(!cross_site(&headers(None, "parley.example")));
        assert!(!cross_site(&headers(
            Some("https://parley.example"),
            "parley.example"
        )));
        assert!(cross_site(&headers(
            Some("https://evil.example"),
            "parley.example"
        )));
        assert!(cross_site(&headers(
            Some("ftp://parley.example"),
            "parley.example"
        )));
        assert!(cross_site(&headers(Some("null"), "parley.example")));
    }
}
