//! A visitor's WebSocket (`GET /widget/{inbox}/socket`): the upgrade, checked against the site
//! the widget is offered on and the visitors' limits, and the loop that carries frames both ways.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use parley_core::ConversationId;
use parley_store::InboxRow;
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::admission::{admit, Refused};
use super::frames::error_frame;
use super::limits::Slot;
use super::visitor::Visitor;
use crate::http::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::realtime::HubEvent;
use crate::state::App;

#[derive(Deserialize)]
pub struct SocketQuery {
    token: Option<String>,
}

impl From<Refused> for ApiError {
    fn from(e: Refused) -> Self {
        match e {
            Refused::NoWidget => ApiError::NotFound,
            Refused::OtherSite => ApiError::forbidden(e.to_string()),
            Refused::Limited(why) => ApiError::TooManyRequests(why.into()),
            Refused::Store(e) => e.into(),
        }
    }
}

/// `GET /widget/{inbox}/socket`: a visitor's WebSocket.
pub async fn visitor_socket(
    State(app): State<App>,
    Path(inbox_id): Path<parley_core::InboxId>,
    Query(q): Query<SocketQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let origin = headers.get("origin").and_then(|o| o.to_str().ok());
    let ip = crate::http::client_ip(&headers).and_then(|s| s.parse().ok());
    let a = admit(&app, inbox_id, origin, q.token.as_deref(), ip).await?;
    // Nobody signs in here: frames are kept small before anything is buffered.
    Ok(crate::realtime::small_frames(ws)
        .on_upgrade(move |s| run(app, a.inbox, a.visitor, a.slot, s)))
}

/// The hub's feeds a visitor's socket follows: committed events and ephemeral ones (typing,
/// presence).
struct Feeds {
    events: broadcast::Receiver<Arc<HubEvent>>,
    ephemeral: broadcast::Receiver<Arc<HubEvent>>,
}

/// How a visitor's socket ends.
enum End {
    /// The visitor left, or the connection broke.
    Gone,
    /// It could not keep up: freed, then closed so the widget reconnects and reloads.
    Behind,
    /// Over a limit: the error frame went, then it closes.
    Limited,
}

type Sink = SplitSink<WebSocket, Message>;

async fn run(app: App, inbox: InboxRow, id: String, slot: Slot, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    // Subscribe before reading history so nothing falls between the two.
    let mut feeds = Feeds {
        events: app.hub.subscribe(),
        ephemeral: app.hub.subscribe_ephemeral(),
    };
    let mut v = Visitor::new(app, inbox, id, slot);
    let hello = v.hello().await;
    let mut presence = Presence {
        app: v.app.clone(),
        conversation: None,
    };
    presence.set(v.conversation);
    // A visitor's socket has the agents' send budget: one that stops taking frames is closed
    // rather than holding the feed's frames for it.
    let send_within = Duration::from_millis(v.app.config.socket_send_timeout_ms);
    if !matches!(
        tokio::time::timeout(send_within, sink.send(Message::Text(hello.into()))).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let end = serve(&mut v, &mut presence, &mut feeds, &mut sink, &mut stream).await;
    // What was queued for this socket is freed before the close is tried.
    drop(feeds);
    let (code, reason, within) = match end {
        End::Gone => return,
        End::Limited => (
            axum::extract::ws::close_code::POLICY,
            "rate limited",
            send_within,
        ),
        // The widget reconnects with its token and reloads the thread.
        End::Behind => (1013, "too far behind: reconnect", Duration::from_secs(1)),
    };
    let close = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(within, sink.send(Message::Close(Some(close)))).await;
    // The closing handshake: frames the visitor had already sent are read until their close, so
    // the connection ends cleanly instead of with a reset that loses the frames we answered.
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(m)) = stream.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Carries frames both ways until the socket ends: the hub's events the visitor may see out,
/// the visitor's frames in, each answer back.
async fn serve(
    v: &mut Visitor,
    presence: &mut Presence,
    feeds: &mut Feeds,
    sink: &mut Sink,
    stream: &mut SplitStream<WebSocket>,
) -> End {
    let send_within = Duration::from_millis(v.app.config.socket_send_timeout_ms);
    let max_behind = v.app.config.socket_max_behind_bytes;
    loop {
        let out = tokio::select! {
            ev = feeds.events.recv() => match ev {
                Ok(e) if v.app.hub.behind(&e) > max_behind => return End::Behind,
                Ok(e) => v.on_hub_event(&e).await,
                // A visitor who fell behind reloads their thread.
                Err(RecvError::Lagged(_)) => Some(v.hello().await),
                Err(RecvError::Closed) => return End::Gone,
            },
            ev = feeds.ephemeral.recv() => match ev {
                Ok(e) => v.on_hub_event(&e).await,
                // Typing missed while behind is stale anyway.
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return End::Gone,
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) if t.len() <= 64 * 1024 => v.on_frame(t.as_str()).await,
                Some(Ok(Message::Text(_))) => Some(error_frame("too_large", "a frame may be at most 64 KiB")),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return End::Gone,
                Some(Ok(_)) => None,
            },
        };
        presence.set(v.conversation);
        if let Some(frame) = out {
            match tokio::time::timeout(send_within, sink.send(Message::Text(frame.into()))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return End::Gone,
                Err(_) => return End::Behind,
            }
        }
        if v.closing {
            return End::Limited;
        }
    }
}

/// Counts this socket as a visitor present in its conversation while it lives.
struct Presence {
    app: App,
    conversation: Option<ConversationId>,
}

impl Presence {
    fn set(&mut self, conversation: Option<ConversationId>) {
        if self.conversation == conversation {
            return;
        }
        if let Ok(mut v) = self.app.visitors.lock() {
            if let Some(old) = self.conversation {
                if let Some(n) = v.get_mut(&old) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        v.remove(&old);
                    }
                }
            }
            if let Some(new) = conversation {
                *v.entry(new).or_insert(0) += 1;
            }
        }
        self.conversation = conversation;
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.set(None);
    }
}
