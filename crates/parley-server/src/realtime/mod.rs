//! Realtime: the hub that fans committed events out to agents' WebSockets
//! (`GET /api/v1/realtime`), plus typing, presence and who is viewing which conversation (for the
//! app's collision warning). A socket receives exactly the events of the
//! inboxes its user may see, in commit order; a reconnecting client passes `?since=<seq>` and first
//! gets what it missed from the store. Typing, presence and viewers travel on a channel of their
//! own that drops what a slow socket misses; a socket that falls too far behind the committed feed
//! is closed and told where to resume; a socket whose credential is revoked is closed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Utf8Bytes, WebSocketUpgrade};
use parley_core::{ConversationId, InboxId, UserId, WorkspaceId};
use parley_store::{Principal, Published};
use tokio::sync::{broadcast, Notify};

use crate::state::App;

mod socket;

use crate::http::routes::route;
pub use socket::{realtime, RealtimeQuery};

/// One event on the hub, already rendered as the frame sockets send.
#[derive(Debug, Clone)]
pub struct HubEvent {
    pub seq: Option<i64>,
    pub workspace: WorkspaceId,
    /// `None` for workspace-wide events (presence).
    pub inbox: Option<InboxId>,
    /// Typing events are not echoed to the user who typed.
    pub from_user: Option<UserId>,
    pub frame: Utf8Bytes,
    /// Bytes published on this event's channel up to and including it: how far behind a socket
    /// is, in bytes, is the channel's total minus this of the last event it took.
    pub end: u64,
}

/// One user's open sockets on this server, by socket id.
type UserSockets = HashMap<u64, Arc<Notify>>;

#[derive(Clone)]
pub struct Hub {
    /// Committed events, in commit order; a socket that misses some replays them from the store.
    tx: broadcast::Sender<Arc<HubEvent>>,
    /// Typing, presence and viewers: a socket that falls behind here just misses some.
    ephemeral: broadcast::Sender<Arc<HubEvent>>,
    /// Bytes of frames published on `tx` so far.
    published: Arc<std::sync::atomic::AtomicU64>,
    ephemeral_published: Arc<std::sync::atomic::AtomicU64>,
    /// Each user's open sockets, woken to check their credential and scope again.
    users: Arc<Mutex<HashMap<(WorkspaceId, UserId), UserSockets>>>,
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
        let (ephemeral, _) = broadcast::channel(1_024);
        Self {
            tx,
            ephemeral,
            published: Arc::default(),
            ephemeral_published: Arc::default(),
            users: Arc::default(),
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
            let frame = frame(e);
            let end = self
                .published
                .fetch_add(frame.len() as u64, std::sync::atomic::Ordering::Relaxed)
                + frame.len() as u64;
            let _ = self.tx.send(Arc::new(HubEvent {
                seq: Some(e.seq),
                workspace: e.workspace_id,
                inbox: Some(e.inbox_id),
                from_user: None,
                frame: frame.into(),
                end,
            }));
        }
    }

    /// How many bytes of committed frames were published after `e`: how far behind the live
    /// feed a receiver that has just taken `e` is.
    pub fn behind(&self, e: &HubEvent) -> u64 {
        self.published
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(e.end)
    }

    pub fn publish_ephemeral(
        &self,
        workspace: WorkspaceId,
        inbox: Option<InboxId>,
        from_user: Option<UserId>,
        kind: &str,
        data: serde_json::Value,
    ) {
        if self.ephemeral.receiver_count() == 0 {
            return;
        }
        let frame = serde_json::json!({ "type": kind, "data": data }).to_string();
        let end = self
            .ephemeral_published
            .fetch_add(frame.len() as u64, std::sync::atomic::Ordering::Relaxed)
            + frame.len() as u64;
        let _ = self.ephemeral.send(Arc::new(HubEvent {
            seq: None,
            workspace,
            inbox,
            from_user,
            frame: frame.into(),
            end,
        }));
    }

    /// Tells a user's open sockets on this server to check their credential and reload which
    /// inboxes they may see (closing when the credential no longer holds).
    pub fn access_changed(&self, workspace: WorkspaceId, user: UserId) {
        let Ok(users) = self.users.lock() else {
            return;
        };
        for n in users
            .get(&(workspace, user))
            .into_iter()
            .flat_map(|m| m.values())
        {
            n.notify_one();
        }
    }

    /// Tells every open socket to check its credential again (when changes may have been missed).
    pub fn recheck_all(&self) {
        let Ok(users) = self.users.lock() else {
            return;
        };
        for n in users.values().flat_map(|m| m.values()) {
            n.notify_one();
        }
    }

    fn register(&self, p: &Principal, socket: u64) -> Arc<Notify> {
        let n = Arc::new(Notify::new());
        if let Ok(mut users) = self.users.lock() {
            users
                .entry((p.workspace_id, p.user_id))
                .or_default()
                .insert(socket, Arc::clone(&n));
        }
        n
    }

    fn unregister(&self, p: &Principal, socket: u64) {
        if let Ok(mut users) = self.users.lock() {
            let key = (p.workspace_id, p.user_id);
            if let Some(m) = users.get_mut(&key) {
                m.remove(&socket);
                if m.is_empty() {
                    users.remove(&key);
                }
            }
        }
    }

    /// A receiver of every committed event from now on (the widget's visitor sockets filter
    /// their own).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HubEvent>> {
        self.tx.subscribe()
    }

    /// A receiver of typing, presence and viewers frames from now on; what a slow receiver
    /// misses is dropped.
    pub fn subscribe_ephemeral(&self) -> broadcast::Receiver<Arc<HubEvent>> {
        self.ephemeral.subscribe()
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

/// Announces that `p` is typing in a conversation they can see (ephemeral: not stored). A reply
/// (`to_customer`), not a note, also shows on the customer's side where the channel can show it.
pub async fn announce_typing(
    app: &App,
    p: &Principal,
    id: ConversationId,
    to_customer: bool,
) -> Result<(), parley_store::StoreError> {
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    let data = serde_json::json!({ "conversation_id": id, "user_id": p.user_id, "name": p.name, "to_customer": to_customer });
    app.hub.publish_ephemeral(
        p.workspace_id,
        Some(conv.inbox_id),
        Some(p.user_id),
        "typing",
        data,
    );
    if to_customer && app.hub.typing_due(id) {
        let app = app.clone();
        tokio::spawn(async move {
            crate::inboxes::channels::typing_to_customer(&app, &scope, &conv).await
        });
    }
    Ok(())
}

const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(4);

/// How often each server reads the access-change log.
const ACCESS_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Follows the access-change log from after `seen`: one query per server every 250 ms, and the
/// open sockets of each user named there check their credential and scope again, whichever
/// server made the change.
pub async fn follow_access_changes(app: App, mut seen: i64) {
    let mut tick = tokio::time::interval(ACCESS_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        match app.store.access_changes(seen, 1_000).await {
            Ok(changes) => {
                failing = false;
                for c in changes {
                    seen = c.id;
                    app.hub.access_changed(c.workspace_id, c.user_id);
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "reading the access-change log");
                }
                failing = true;
            }
        }
    }
}

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

/// A socket's buffers sized for the small frames clients send here (typing, viewing, a widget's
/// message). The library's defaults give every socket a 128 KiB read buffer, zero-filled on each
/// read, so idle sockets cost 128 KiB each; a frame that needs more room still gets it, up to the
/// cap.
pub(crate) fn small_frames(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    const READ_BUFFER: usize = 1024;
    const MAX_FRAME: usize = 64 * 1024;
    ws.read_buffer_size(READ_BUFFER)
        // Each frame is written out as it is sent (every send flushes anyway).
        .write_buffer_size(0)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
}

/// The agents' realtime socket.
pub fn routes() -> Vec<crate::http::routes::Route> {
    vec![
        route!(get "/api/v1/realtime" => crate::realtime::realtime, "realtime", Member, "WebSocket of events for your inboxes; `?since=<seq>` replays what you missed", query = crate::realtime::RealtimeQuery, answer = crate::http::routes::Answer::Other("websocket")),
    ]
}
