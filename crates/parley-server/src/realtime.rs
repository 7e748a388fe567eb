//! Realtime: the hub that fans committed events out to agents' WebSockets
//! (`GET /api/v1/realtime`), plus typing, presence and who is viewing which conversation (for the
//! app's collision warning). A socket receives exactly the events of the
//! inboxes its user may see, in commit order; a reconnecting client passes `?since=<seq>` and first
//! gets what it missed from the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use parley_core::{ConversationId, InboxId, UserId, WorkspaceId};
use parley_store::{Principal, Published};
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::auth::Auth;
use crate::error::{ApiError, Query};
use crate::state::App;

/// One event on the hub, already rendered as the frame sockets send.
#[derive(Debug, Clone)]
pub struct HubEvent {
    pub seq: Option<i64>,
    pub workspace: WorkspaceId,
    /// `None` for workspace-wide events (presence).
    pub inbox: Option<InboxId>,
    /// Typing events are not echoed to the user who typed.
    pub from_user: Option<UserId>,
    /// Internal: access of this user changed; their sockets reload what they may see.
    pub access_changed: Option<UserId>,
    pub frame: Utf8Bytes,
}

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<HubEvent>>,
    online: Arc<Mutex<HashMap<(WorkspaceId, UserId), usize>>>,
    /// Which socket has which conversation open, so every agent there learns who else is.
    viewers: Arc<Mutex<HashMap<ConversationId, Vec<Viewer>>>>,
    sockets: Arc<std::sync::atomic::AtomicU64>,
    /// When each conversation's customer was last shown that an agent is typing.
    typing_shown: Arc<Mutex<HashMap<ConversationId, std::time::Instant>>>,
}

#[derive(Clone)]
struct Viewer {
    socket: u64,
    user: UserId,
    name: String,
}

/// The conversation a socket has open.
struct Viewing {
    workspace: WorkspaceId,
    inbox: InboxId,
    conversation: ConversationId,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(16_384);
        Self {
            tx,
            online: Arc::new(Mutex::new(HashMap::new())),
            viewers: Arc::new(Mutex::new(HashMap::new())),
            sockets: Arc::new(std::sync::atomic::AtomicU64::new(1)),
            typing_shown: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Publishes committed store events (the store's sink calls this in commit order).
    pub fn publish_committed(&self, events: &[Published]) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        for e in events {
            let _ = self.tx.send(Arc::new(HubEvent {
                seq: Some(e.seq),
                workspace: e.workspace_id,
                inbox: Some(e.inbox_id),
                from_user: None,
                access_changed: None,
                frame: frame(e).into(),
            }));
        }
    }

    pub fn publish_ephemeral(
        &self,
        workspace: WorkspaceId,
        inbox: Option<InboxId>,
        from_user: Option<UserId>,
        kind: &str,
        data: serde_json::Value,
    ) {
        let frame = serde_json::json!({ "type": kind, "data": data }).to_string();
        let _ = self.tx.send(Arc::new(HubEvent {
            seq: None,
            workspace,
            inbox,
            from_user,
            access_changed: None,
            frame: frame.into(),
        }));
    }

    /// Tells a user's open sockets to reload which inboxes they may see.
    pub fn access_changed(&self, workspace: WorkspaceId, user: UserId) {
        let _ = self.tx.send(Arc::new(HubEvent {
            seq: None,
            workspace,
            inbox: None,
            from_user: None,
            access_changed: Some(user),
            frame: Utf8Bytes::from_static(""),
        }));
    }

    /// A receiver of every event from now on (the widget's visitor sockets filter their own).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HubEvent>> {
        self.tx.subscribe()
    }

    pub fn online_users(&self, workspace: WorkspaceId) -> Vec<UserId> {
        let online = self.online.lock().map(|m| m.clone()).unwrap_or_default();
        let mut users: Vec<UserId> = online
            .into_iter()
            .filter(|((w, _), n)| *w == workspace && *n > 0)
            .map(|((_, u), _)| u)
            .collect();
        users.sort();
        users
    }

    /// Moves a socket's open conversation (`to: None` when it closes one or goes away) and tells
    /// the agents of both conversations who is now viewing each.
    fn view(&self, socket: u64, p: &Principal, from: Option<&Viewing>, to: Option<&Viewing>) {
        let lists = {
            let Ok(mut viewers) = self.viewers.lock() else {
                return;
            };
            let mut lists = Vec::new();
            if let Some(f) = from {
                let left = viewers.entry(f.conversation).or_default();
                left.retain(|v| v.socket != socket);
                let list = left.clone();
                if list.is_empty() {
                    viewers.remove(&f.conversation);
                }
                lists.push((f, list));
            }
            if let Some(t) = to {
                let here = viewers.entry(t.conversation).or_default();
                here.retain(|v| v.socket != socket);
                here.push(Viewer {
                    socket,
                    user: p.user_id,
                    name: p.name.clone(),
                });
                lists.push((t, here.clone()));
            }
            lists
        };
        for (at, list) in lists {
            let mut seen = std::collections::HashSet::new();
            let people: Vec<serde_json::Value> = list
                .iter()
                .filter(|v| seen.insert(v.user))
                .map(|v| serde_json::json!({ "user_id": v.user, "name": v.name }))
                .collect();
            let data = serde_json::json!({ "conversation_id": at.conversation, "viewers": people });
            self.publish_ephemeral(at.workspace, Some(at.inbox), None, "viewers", data);
        }
    }

    /// Whether the customer should be shown the agent typing again: providers' indicators last
    /// about five seconds, so once every four is enough, however fast the agent types.
    pub fn typing_due(&self, conversation: ConversationId) -> bool {
        let Ok(mut shown) = self.typing_shown.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        if shown.len() > 10_000 {
            shown.retain(|_, at| now.duration_since(*at) < TYPING_EVERY);
        }
        match shown.get(&conversation) {
            Some(at) if now.duration_since(*at) < TYPING_EVERY => false,
            _ => {
                shown.insert(conversation, now);
                true
            }
        }
    }

    fn presence(&self, p: &Principal, delta: i64) {
        let key = (p.workspace_id, p.user_id);
        let changed = {
            let Ok(mut online) = self.online.lock() else {
                return;
            };
            let n = online.entry(key).or_insert(0);
            let before = *n;
            *n = (*n as i64 + delta).max(0) as usize;
            let after = *n;
            if after == 0 {
                online.remove(&key);
            }
            (before == 0) != (after == 0)
        };
        if changed {
            let status = if delta > 0 { "online" } else { "offline" };
            let data =
                serde_json::json!({ "user_id": p.user_id, "name": p.name, "status": status });
            self.publish_ephemeral(p.workspace_id, None, None, "presence", data);
        }
    }
}

const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(4);

/// The frame of a committed event: `{"seq","type","at","data"}` with the payload as stored.
pub fn frame(e: &Published) -> String {
    format!(
        r#"{{"seq":{},"type":"{}","at":"{}","data":{}}}"#,
        e.seq,
        e.kind,
        e.at.to_rfc3339(),
        e.data
    )
}

#[derive(Deserialize)]
pub struct RealtimeQuery {
    /// Replay events after this sequence number before going live.
    since: Option<i64>,
    /// A personal API token, for clients that cannot set headers on a WebSocket (read by `Auth`).
    token: Option<String>,
}

/// `GET /api/v1/realtime`: upgrade to a WebSocket for the signed-in user.
pub async fn realtime(
    State(app): State<App>,
    Auth(principal): Auth,
    headers: HeaderMap,
    Query(q): Query<RealtimeQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // A cookie-authenticated socket must come from our own pages (cross-site WebSocket hijacking).
    if q.token.is_none() && !headers.contains_key("authorization") {
        let origin = headers.get("origin").and_then(|o| o.to_str().ok());
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if let Some(origin) = origin {
            if !origin.ends_with(&format!("://{host}")) {
                return Err(ApiError::forbidden("cross-origin WebSocket refused"));
            }
        }
    }
    Ok(ws.on_upgrade(move |socket| run_socket(app, principal, q.since, socket)))
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

async fn run_socket(app: App, mut principal: Principal, since: Option<i64>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    // Subscribe before replaying so nothing falls between the replay and the live feed.
    let mut rx = app.hub.tx.subscribe();
    let mut last_seq = since.unwrap_or(0);
    if since.is_some()
        && replay(&app, &principal, &mut last_seq, &mut sink)
            .await
            .is_err()
    {
        return;
    }
    app.hub.presence(&principal, 1);
    let socket_id = app
        .hub
        .sockets
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut viewing: Option<Viewing> = None;
    let hello = serde_json::json!({ "type": "ready", "data": { "user_id": principal.user_id, "last_seq": last_seq } });
    if sink
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        app.hub.presence(&principal, -1);
        return;
    }
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(e) => {
                    if e.access_changed == Some(principal.user_id) && e.workspace == principal.workspace_id {
                        match app.store.principal(principal.workspace_id, principal.user_id).await {
                            Ok(p) => principal = p,
                            Err(_) => break,
                        }
                        continue;
                    }
                    if e.access_changed.is_some() || !visible(&principal, &e) || e.from_user == Some(principal.user_id) {
                        continue;
                    }
                    if let Some(seq) = e.seq {
                        if seq <= last_seq {
                            continue;
                        }
                        last_seq = seq;
                    }
                    if sink.send(Message::Text(e.frame.clone())).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Too slow to keep up live: catch up from the store instead of dropping events.
                    if replay(&app, &principal, &mut last_seq, &mut sink).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    client_frame(&app, &principal, socket_id, &mut viewing, t.as_str()).await
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    if viewing.is_some() {
        app.hub.view(socket_id, &principal, viewing.as_ref(), None);
    }
    app.hub.presence(&principal, -1);
}

async fn replay<S>(app: &App, p: &Principal, last_seq: &mut i64, sink: &mut S) -> Result<(), ()>
where
    S: futures_util::Sink<Message> + Unpin,
{
    let scope = p.scope();
    loop {
        let events = app
            .store
            .events_since(&scope, *last_seq, 500)
            .await
            .map_err(|_| ())?;
        let done = events.len() < 500;
        for e in events {
            *last_seq = e.seq;
            sink.send(Message::Text(frame(&e).into()))
                .await
                .map_err(|_| ())?;
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
            let _ = crate::routes::conversations::announce_typing(app, p, id, to_customer).await;
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
