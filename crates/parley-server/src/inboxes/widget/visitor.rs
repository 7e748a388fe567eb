//! One visitor's connection: who they are, their thread as they see it, whether anyone is
//! online to answer, and which of the hub's events are theirs to see.

use std::collections::{HashMap, HashSet};

use parley_core::contact::IdentityKind;
use parley_core::message::{DeliveryStatus, Direction};
use parley_core::{ContactId, ConversationId, UserId};
use parley_store::{DeliveryReport, InboxRow};
use serde_json::{json, Value};

use super::limits::Slot;
use super::system_scope;
use super::tokens::issue_token;
use crate::state::App;

/// How many earlier messages a returning visitor sees.
const HISTORY: u32 = 100;

/// A visitor's name, email and phone, each when given.
pub(super) type Details = (Option<String>, Option<String>, Option<String>);

/// One visitor's connection.
pub(super) struct Visitor {
    pub(super) app: App,
    pub(super) inbox: InboxRow,
    pub(super) id: String,
    pub(super) contact: Option<ContactId>,
    pub(super) conversation: Option<ConversationId>,
    /// Details from the pre-chat form, kept until the first message creates the contact.
    pub(super) details: Details,
    pub(super) agents: HashMap<UserId, String>,
    pub(super) online: bool,
    /// Replies this visitor was shown: the only ones they may mark read.
    pub(super) shown: HashSet<String>,
    /// This socket's place in the visitor's and address's limits.
    pub(super) slot: Slot,
    /// Over a limit: the error frame goes, then the socket closes.
    pub(super) closing: bool,
}

impl Visitor {
    /// A new visitor's connection, before their hello.
    pub(super) fn new(app: App, inbox: InboxRow, id: String, slot: Slot) -> Self {
        Visitor {
            app,
            inbox,
            id,
            contact: None,
            conversation: None,
            details: (None, None, None),
            agents: HashMap::new(),
            online: false,
            shown: HashSet::new(),
            slot,
            closing: false,
        }
    }
}

impl Visitor {
    /// A message as the visitor sees it: no internal ids beyond the message's, no notes.
    pub(super) fn message_view(&self, m: &Value) -> Value {
        let author = match m["sender_kind"].as_str() {
            Some("agent") => m["sender_id"]
                .as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .and_then(|u| self.agents.get(&UserId(u)).cloned()),
            _ => None,
        };
        // The visitor reaches files by signed links, as they have no account.
        let files: Vec<Value> = crate::conversations::attachments::of_meta(Some(&m["meta"]))
            .into_iter()
            .map(|a| {
                json!({
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "url": crate::conversations::attachments::signed_url(&self.app, &self.inbox, &a.id),
                })
            })
            .collect();
        json!({
            "id": m["id"],
            "direction": m["direction"],
            "sender_kind": m["sender_kind"],
            "author": author,
            "body": m["body"],
            "choices": m["meta"]["reply"]["choices"],
            "attachments": files,
            "created_at": m["created_at"],
        })
    }

    /// Whether an agent who works this inbox is online.
    pub(super) async fn available(&self) -> bool {
        let ws = self.inbox.workspace_id;
        let online = self.app.hub.online_users(ws);
        if online.is_empty() {
            return false;
        }
        let (Ok(users), Ok(members)) = (
            self.app.store.list_users(ws).await,
            self.app.store.inbox_members(ws, self.inbox.id).await,
        ) else {
            return false;
        };
        users.iter().any(|u| {
            online.contains(&u.id)
                && (u.role.sees_all_inboxes() || members.iter().any(|m| m.id == u.id))
        })
    }

    /// The first frame, and the one a visitor who fell behind gets again: their token, the
    /// widget's look, whether anyone is online, what they told us and their thread so far.
    pub(super) async fn hello(&mut self) -> String {
        if let Ok(users) = self.app.store.list_users(self.inbox.workspace_id).await {
            self.agents = users.into_iter().map(|u| (u.id, u.name)).collect();
        }
        if let Ok(Some((contact, conv))) = self
            .app
            .store
            .identity_conversation(self.inbox.id, IdentityKind::Widget, &self.id)
            .await
        {
            self.contact = Some(contact);
            self.conversation = conv;
        }
        let messages = self.history().await;
        let contact = self.contact_details().await;
        self.online = self.available().await;
        let s = &self.inbox.settings;
        json!({
            "type": "hello",
            "token": issue_token(&self.inbox, &self.id),
            "config": {
                "title": self.inbox.name,
                "greeting": s.get("greeting"),
                "color": s.get("color"),
                "prechat_fields": s.get("prechat_fields").cloned().unwrap_or(json!([])),
            },
            "online": self.online,
            "contact": contact,
            "messages": messages,
        })
        .to_string()
    }

    /// The visitor's thread as they see it; the replies in it they had not been shown are
    /// marked delivered.
    async fn history(&mut self) -> Vec<Value> {
        let mut messages = Vec::new();
        let mut unseen = Vec::new();
        if let Some(conv) = self.conversation {
            let scope = system_scope(&self.inbox);
            if let Ok(entries) = self.app.store.timeline(&scope, conv, None, HISTORY).await {
                for e in entries.iter().filter(|e| e.event.kind == "message.created") {
                    let Ok(v) = serde_json::from_str::<Value>(&e.event.data) else {
                        continue;
                    };
                    let m = &v["message"];
                    if m["direction"] == Direction::Outbound.as_str() {
                        self.shown.extend(m["id"].as_str().map(str::to_string));
                        if matches!(e.delivery, Some((DeliveryStatus::Sent, _))) {
                            unseen.extend(m["id"].as_str().map(str::to_string));
                        }
                    }
                    messages.push(self.message_view(m));
                }
            }
        }
        for id in unseen {
            self.report(&id, DeliveryStatus::Delivered).await;
        }
        messages
    }

    /// The name, email and phone the visitor's contact has.
    async fn contact_details(&self) -> Option<Value> {
        let c = self.contact?;
        let scope = system_scope(&self.inbox);
        let c = self.app.store.contact(&scope, c).await.ok()?;
        Some(json!({ "name": c.name, "email": c.email, "phone": c.phone }))
    }

    pub(super) async fn report(&self, message_id: &str, status: DeliveryStatus) {
        let report = DeliveryReport {
            inbox: self.inbox.id,
            provider_id: message_id.to_string(),
            status,
            error: None,
            at: self.app.now(),
        };
        if let Err(e) = self.app.store.record_delivery(report).await {
            tracing::warn!(error = %e, "could not record a widget delivery");
        }
    }

    /// A frame for this visitor from the hub, if the event concerns them.
    pub(super) async fn on_hub_event(&mut self, e: &crate::realtime::HubEvent) -> Option<String> {
        if e.workspace != self.inbox.workspace_id {
            return None;
        }
        if e.inbox.is_none() {
            // Presence changed somewhere in the workspace: tell the visitor if availability did.
            if e.frame.as_str().contains(r#""type":"presence""#) {
                let now = self.available().await;
                if now != self.online {
                    self.online = now;
                    return Some(json!({ "type": "availability", "online": now }).to_string());
                }
            }
            return None;
        }
        if e.inbox != Some(self.inbox.id) {
            return None;
        }
        let conv = self.conversation?.to_string();
        let v: Value = serde_json::from_str(e.frame.as_str()).ok()?;
        match v["type"].as_str()? {
            "message.created" if v["data"]["message"]["conversation_id"] == conv.as_str() => {
                let m = &v["data"]["message"];
                if m["direction"] == Direction::Outbound.as_str() {
                    if let Some(id) = m["id"].as_str() {
                        self.shown.insert(id.to_string());
                        self.report(id, DeliveryStatus::Delivered).await;
                    }
                }
                Some(json!({ "type": "message", "message": self.message_view(m) }).to_string())
            }
            // An agent writing a reply, not a note.
            "typing"
                if e.from_user.is_some()
                    && v["data"]["conversation_id"] == conv.as_str()
                    && v["data"]["to_customer"] != false =>
            {
                Some(json!({ "type": "typing", "name": v["data"]["name"] }).to_string())
            }
            _ => None,
        }
    }
}
