//! An agent's WebSocket (`GET /api/v1/realtime`): the upgrade, the loop that sends the hub's
//! events the user may see in commit order (replaying from the store after a gap), and the frames
//! the app sends back (typing, viewing).

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{FutureExt, SinkExt, StreamExt};
use parley_store::Principal;
use serde::Deserialize;
use tokio::sync::{broadcast, Notify};

use super::{announce_typing, frame, small_frames, HubEvent, Viewing};
use crate::http::caller::{Caller, Credential};
use crate::http::error::ApiError;
use crate::http::extract::Query;
use crate::state::App;

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
    if matches!(caller.credential, Credential::Session(_)) {
        let origin = headers.get("origin").map(|o| o.to_str().unwrap_or("\0"));
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if let Some(origin) = origin {
            let same = origin
                .split_once("://")
                .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest == host);
            if !same || host.is_empty() {
                return Err(ApiError::forbidden("cross-origin WebSocket refused"));
            }
        }
    }
    let limits = SocketLimits::of(&app.config);
    Ok(small_frames(ws).on_upgrade(move |socket| run_socket(app, caller, q.since, limits, socket)))
}

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    conversation_id: Option<parley_core::ConversationId>,
    /// On `typing`: false while the agent writes a note (the customer is not told).
    #[serde(default)]
    to_customer: Option<bool>,
}

fn visible(p: &Principal, e: &HubEvent) -> bool {
    e.workspace == p.workspace_id
        && e.inbox
            .is_none_or(|i| p.role.sees_all_inboxes() || p.inboxes.contains(&i))
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
    let Caller {
        mut principal,
        credential,
    } = caller;
    let (mut sink, mut stream) = socket.split();
    let socket_id = app
        .hub
        .sockets
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Registered and subscribed before replaying so that nothing falls between the replay and
    // the live feed, and a revocation during the replay is not missed.
    let recheck = app.hub.register(&principal, socket_id);
    // A revocation between the handler's check and this registration woke nobody: the first
    // pass of the live loop checks the credential again.
    recheck.notify_one();
    let mut rx = app.hub.tx.subscribe();
    let mut ephemeral = app.hub.ephemeral.subscribe();
    let mut last_seq = since.unwrap_or(0);
    let mut viewing: Option<Viewing> = None;
    let mut end = None;
    if since.is_some() {
        end = Box::pin(replay(&app, &principal, &mut last_seq, &mut sink, limits))
            .await
            .err();
    }
    let live = end.is_none();
    if live {
        app.hub.presence(&principal, 1);
        let hello = serde_json::json!({ "type": "ready", "data": { "user_id": principal.user_id, "last_seq": last_seq } });
        end = Some(
            match send_within(&mut sink, limits, Message::Text(hello.to_string().into())).await {
                Err(e) => e,
                Ok(()) => {
                    live_loop(
                        &app,
                        &mut principal,
                        &credential,
                        socket_id,
                        &mut viewing,
                        &mut last_seq,
                        limits,
                        (&mut rx, &mut ephemeral, &recheck),
                        (&mut sink, &mut stream),
                    )
                    .await
                }
            },
        );
    }
    // Nothing more is queued for this socket from here on.
    drop(rx);
    drop(ephemeral);
    app.hub.unregister(&principal, socket_id);
    if viewing.is_some() {
        app.hub.view(socket_id, &principal, viewing.as_ref(), None);
    }
    if live {
        app.hub.presence(&principal, -1);
    }
    let close = match end.unwrap_or(End::Gone) {
        End::Gone => None,
        End::Revoked => Some((1008, "access revoked: sign in again".to_string())),
        End::Behind => Some((
            1013,
            format!("too far behind: reconnect with ?since={last_seq}"),
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

/// Checks the socket's credential again: `Revoked` when it no longer holds, otherwise the
/// principal is reloaded (its role and inboxes may have changed).
async fn check_access(
    app: &App,
    principal: &mut Principal,
    credential: &Credential,
    recheck: &Notify,
) -> Option<End> {
    match credential.principal(app).await {
        Ok(Some(p))
            if p.user_id == principal.user_id && p.workspace_id == principal.workspace_id =>
        {
            *principal = p;
            None
        }
        Ok(_) => Some(End::Revoked),
        // The store could not answer: ask again shortly rather than guess.
        Err(_) => {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            recheck.notify_one();
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn live_loop<S, R>(
    app: &App,
    principal: &mut Principal,
    credential: &Credential,
    socket_id: u64,
    viewing: &mut Option<Viewing>,
    last_seq: &mut i64,
    limits: SocketLimits,
    (rx, ephemeral, recheck): (
        &mut broadcast::Receiver<Arc<HubEvent>>,
        &mut broadcast::Receiver<Arc<HubEvent>>,
        &Notify,
    ),
    (sink, stream): (&mut S, &mut R),
) -> End
where
    S: futures_util::Sink<Message> + Unpin,
    R: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    // The rare steps (a credential check, a replay, a client's frame) are boxed: an idle socket's
    // task then holds only what waiting takes.
    loop {
        // A change of access comes before any event that follows it.
        if recheck.notified().now_or_never().is_some() {
            if let Some(end) = Box::pin(check_access(app, principal, credential, recheck)).await {
                return end;
            }
        }
        // Polled in order: a change of access that arrives while waiting is applied before an
        // event that is ready at the same time.
        tokio::select! {
            biased;
            _ = recheck.notified() => {
                if let Some(end) = Box::pin(check_access(app, principal, credential, recheck)).await {
                    return end;
                }
            }
            ev = rx.recv() => match ev {
                Ok(e) => {
                    // Everything before this event that the socket may see has been sent, so the
                    // client resumes just before it.
                    let resume = e.seq.map_or(*last_seq, |s| (s - 1).max(*last_seq));
                    if app.hub.behind(&e) > limits.behind {
                        *last_seq = resume;
                        return End::Behind;
                    }
                    if !visible(principal, &e) {
                        continue;
                    }
                    if let Some(seq) = e.seq {
                        if seq <= *last_seq {
                            continue;
                        }
                    }
                    if let Err(end) = send_within(sink, limits, Message::Text(e.frame.clone())).await {
                        *last_seq = resume;
                        return end;
                    }
                    if let Some(seq) = e.seq {
                        *last_seq = seq;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Missed events are caught up from the store instead of dropped.
                    if let Err(end) = Box::pin(replay(app, principal, last_seq, sink, limits)).await {
                        return end;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return End::Gone,
            },
            ev = ephemeral.recv() => match ev {
                Ok(e) => {
                    if !visible(principal, &e) || e.from_user == Some(principal.user_id) {
                        continue;
                    }
                    if let Err(end) = send_within(sink, limits, Message::Text(e.frame.clone())).await {
                        return end;
                    }
                }
                // Typing and presence that a slow socket missed are stale anyway.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return End::Gone,
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    Box::pin(client_frame(app, principal, socket_id, viewing, t.as_str())).await
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return End::Gone,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn replay<S>(
    app: &App,
    p: &Principal,
    last_seq: &mut i64,
    sink: &mut S,
    limits: SocketLimits,
) -> Result<(), End>
where
    S: futures_util::Sink<Message> + Unpin,
{
    let scope = p.scope();
    loop {
        let events = app
            .store
            .events_since(&scope, *last_seq, 500)
            .await
            .map_err(|_| End::Gone)?;
        let done = events.len() < 500;
        for e in events {
            send_within(sink, limits, Message::Text(frame(&e).into())).await?;
            *last_seq = e.seq;
        }
        if done {
            return Ok(());
        }
    }
}

/// What an agent's app says on its socket: `typing` in a conversation, or `viewing` one
/// (`conversation_id: null` when it closes it).
async fn client_frame(
    app: &App,
    p: &Principal,
    socket: u64,
    viewing: &mut Option<Viewing>,
    text: &str,
) {
    let Ok(f) = serde_json::from_str::<ClientFrame>(text) else {
        return;
    };
    match (f.kind.as_str(), f.conversation_id) {
        ("typing", Some(id)) => {
            let to_customer = f.to_customer.unwrap_or(true);
            let _ = announce_typing(app, p, id, to_customer).await;
        }
        ("viewing", id) => {
            if viewing.as_ref().map(|v| v.conversation) == id {
                return;
            }
            // Only a conversation the agent may see: the list goes to that inbox's agents.
            let to = match id {
                Some(id) => match app.store.conversation(&p.scope(), id).await {
                    Ok(c) => Some(Viewing {
                        workspace: p.workspace_id,
                        inbox: c.inbox_id,
                        conversation: id,
                    }),
                    Err(_) => return,
                },
                None => None,
            };
            app.hub.view(socket, p, viewing.as_ref(), to.as_ref());
            *viewing = to;
        }
        _ => {}
    }
}
