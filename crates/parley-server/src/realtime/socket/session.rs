//! One agent's socket once it is open: the loop that sends the hub's events the user may see in
//! commit order (replaying from the store after a gap), and the frames the app sends back.

use std::sync::Arc;

use axum::extract::ws::Message;
use futures_util::{FutureExt, StreamExt};
use parley_store::Principal;
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::Notify;

use super::{send_within, End, SocketLimits};
use crate::http::caller::Credential;
use crate::realtime::{announce_typing, frame, HubEvent, Viewing};
use crate::state::App;

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

/// The hub's feeds an agent's socket follows: committed events, and ephemeral ones (typing,
/// presence, viewing).
pub(super) struct Feeds {
    pub(super) events: broadcast::Receiver<Arc<HubEvent>>,
    pub(super) ephemeral: broadcast::Receiver<Arc<HubEvent>>,
}

/// One agent's socket: who holds it, with what credential, what it has sent and what the agent
/// is viewing.
pub(super) struct Session {
    pub(super) app: App,
    pub(super) principal: Principal,
    pub(super) credential: Credential,
    pub(super) socket_id: u64,
    pub(super) viewing: Option<Viewing>,
    /// The last committed event sent; a client that reconnects resumes after it.
    pub(super) last_seq: i64,
    pub(super) limits: SocketLimits,
}

impl Session {
    /// Sends `ready`, then the hub's events the user may see until the socket ends.
    pub(super) async fn live<S, R>(
        &mut self,
        feeds: &mut Feeds,
        recheck: &Notify,
        sink: &mut S,
        stream: &mut R,
    ) -> End
    where
        S: futures_util::Sink<Message> + Unpin,
        R: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        let hello = serde_json::json!({ "type": "ready", "data": { "user_id": self.principal.user_id, "last_seq": self.last_seq } });
        match send_within(sink, self.limits, Message::Text(hello.to_string().into())).await {
            Err(e) => e,
            Ok(()) => self.live_loop(feeds, recheck, sink, stream).await,
        }
    }

    /// Takes the socket off the hub: its registration, what it was viewing, its presence.
    pub(super) fn leave(&self, live: bool) {
        let hub = &self.app.hub;
        hub.unregister(&self.principal, self.socket_id);
        if self.viewing.is_some() {
            hub.view(self.socket_id, &self.principal, self.viewing.as_ref(), None);
        }
        if live {
            hub.presence(&self.principal, -1);
        }
    }

    /// Checks the socket's credential again: `Revoked` when it no longer holds, otherwise the
    /// principal is reloaded (its role and inboxes may have changed).
    async fn check_access(&mut self, recheck: &Notify) -> Option<End> {
        match self.credential.principal(&self.app).await {
            Ok(Some(p))
                if p.user_id == self.principal.user_id
                    && p.workspace_id == self.principal.workspace_id =>
            {
                self.principal = p;
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

    async fn live_loop<S, R>(
        &mut self,
        feeds: &mut Feeds,
        recheck: &Notify,
        sink: &mut S,
        stream: &mut R,
    ) -> End
    where
        S: futures_util::Sink<Message> + Unpin,
        R: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        // The rare steps (a credential check, a replay, a client's frame) are boxed: an idle
        // socket's task then holds only what waiting takes.
        loop {
            // A change of access comes before any event that follows it.
            if recheck.notified().now_or_never().is_some() {
                if let Some(end) = Box::pin(self.check_access(recheck)).await {
                    return end;
                }
            }
            // Polled in order: a change of access that arrives while waiting is applied before
            // an event that is ready at the same time.
            let step = tokio::select! {
                biased;
                _ = recheck.notified() => match Box::pin(self.check_access(recheck)).await {
                    Some(end) => Err(end),
                    None => Ok(()),
                },
                ev = feeds.events.recv() => self.on_event(ev, sink).await,
                ev = feeds.ephemeral.recv() => self.on_ephemeral(ev, sink).await,
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        Box::pin(self.client_frame(t.as_str())).await;
                        Ok(())
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Err(End::Gone),
                    Some(Ok(_)) => Ok(()),
                },
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Sends a committed event the user may see, in order; a gap is caught up from the store.
    async fn on_event<S>(
        &mut self,
        ev: Result<Arc<HubEvent>, RecvError>,
        sink: &mut S,
    ) -> Result<(), End>
    where
        S: futures_util::Sink<Message> + Unpin,
    {
        let e = match ev {
            Ok(e) => e,
            // Missed events are caught up from the store instead of dropped.
            Err(RecvError::Lagged(_)) => return Box::pin(self.replay(sink)).await,
            Err(RecvError::Closed) => return Err(End::Gone),
        };
        // Everything before this event that the socket may see has been sent, so the client
        // resumes just before it.
        let resume = e.seq.map_or(self.last_seq, |s| (s - 1).max(self.last_seq));
        if self.app.hub.behind(&e) > self.limits.behind {
            self.last_seq = resume;
            return Err(End::Behind);
        }
        if !visible(&self.principal, &e) || e.seq.is_some_and(|seq| seq <= self.last_seq) {
            return Ok(());
        }
        if let Err(end) = send_within(sink, self.limits, Message::Text(e.frame.clone())).await {
            self.last_seq = resume;
            return Err(end);
        }
        if let Some(seq) = e.seq {
            self.last_seq = seq;
        }
        Ok(())
    }

    /// Sends an ephemeral event the user may see, unless it is their own.
    async fn on_ephemeral<S>(
        &self,
        ev: Result<Arc<HubEvent>, RecvError>,
        sink: &mut S,
    ) -> Result<(), End>
    where
        S: futures_util::Sink<Message> + Unpin,
    {
        match ev {
            Ok(e) => {
                if !visible(&self.principal, &e) || e.from_user == Some(self.principal.user_id) {
                    return Ok(());
                }
                send_within(sink, self.limits, Message::Text(e.frame.clone())).await
            }
            // Typing and presence that a slow socket missed are stale anyway.
            Err(RecvError::Lagged(_)) => Ok(()),
            Err(RecvError::Closed) => Err(End::Gone),
        }
    }

    /// Sends what the store has after `last_seq` that the user may see, in pages.
    pub(super) async fn replay<S>(&mut self, sink: &mut S) -> Result<(), End>
    where
        S: futures_util::Sink<Message> + Unpin,
    {
        let scope = self.principal.scope();
        loop {
            let events = self
                .app
                .store
                .events_since(&scope, self.last_seq, 500)
                .await
                .map_err(|_| End::Gone)?;
            let done = events.len() < 500;
            for e in events {
                send_within(sink, self.limits, Message::Text(frame(&e).into())).await?;
                self.last_seq = e.seq;
            }
            if done {
                return Ok(());
            }
        }
    }

    /// What an agent's app says on its socket: `typing` in a conversation, or `viewing` one
    /// (`conversation_id: null` when it closes it).
    async fn client_frame(&mut self, text: &str) {
        let (app, p, socket) = (&self.app, &self.principal, self.socket_id);
        let Ok(f) = serde_json::from_str::<ClientFrame>(text) else {
            return;
        };
        match (f.kind.as_str(), f.conversation_id) {
            ("typing", Some(id)) => {
                let to_customer = f.to_customer.unwrap_or(true);
                let _ = announce_typing(app, p, id, to_customer).await;
            }
            ("viewing", id) => {
                if self.viewing.as_ref().map(|v| v.conversation) == id {
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
                app.hub.view(socket, p, self.viewing.as_ref(), to.as_ref());
                self.viewing = to;
            }
            _ => {}
        }
    }
}
