//! The website chat widget: the script a business pastes into its site (`/widget.js`), and the
//! visitor's WebSocket (`/widget/{inbox}/socket`). A visitor is known by a token signed with the
//! inbox's secret and kept in their browser, so their thread survives page loads; they see
//! agents' replies and typing live, and whether anyone is online to answer.

pub mod limits;

use std::collections::HashMap;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use parley_channels::api;
use parley_core::contact::{Email, IdentityKind, Phone};
use parley_core::message::{parse_body, DeliveryStatus, Direction};
use parley_core::{ContactId, ConversationId, Invalid, UserId};
use parley_store::{ContactPatch, DeliveryReport, InboundMessage, InboxRow, OutboxJob, Scope};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::http::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::state::App;

/// The inbox kind of a website widget.
pub const KIND: &str = parley_channels::ChannelKind::Widget.as_str();

/// The pre-chat form may ask for these, in this order.
const PRECHAT_FIELDS: [&str; 3] = ["name", "email", "phone"];

/// How many earlier messages a returning visitor sees.
const HISTORY: u32 = 100;

/// What an admin sets on a widget inbox; every field is optional.
#[derive(Debug, Default, Deserialize)]
pub struct WidgetFields {
    /// The site that embeds the widget (`https://shop.example`): other sites are refused.
    pub website_url: Option<String>,
    /// The first thing a visitor reads when they open the chat.
    pub greeting: Option<String>,
    /// The launcher's and header's colour, `#rrggbb`.
    pub color: Option<String>,
    /// Asked before the first message, from `name`, `email`, `phone`.
    pub prechat_fields: Option<Vec<String>>,
}

impl WidgetFields {
    pub fn is_empty(&self) -> bool {
        self.website_url.is_none()
            && self.greeting.is_none()
            && self.color.is_none()
            && self.prechat_fields.is_none()
    }
}

fn origin_of(url: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::invalid(
            "website_url",
            "must be the site's address, like https://shop.example",
        )
    };
    let u = reqwest::Url::parse(url.trim()).map_err(|_| bad())?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(bad());
    }
    Ok(u.origin().ascii_serialization())
}

/// Applies `f` to the settings of a widget inbox (new or existing), validating each field given.
pub fn apply_settings(settings: &mut Value, f: &WidgetFields) -> Result<(), ApiError> {
    if !settings.is_object() {
        *settings = json!({});
    }
    if let Some(url) = &f.website_url {
        settings["website_origin"] = if url.trim().is_empty() {
            Value::Null
        } else {
            json!(origin_of(url)?)
        };
    }
    if let Some(g) = &f.greeting {
        if g.chars().count() > 500 {
            return Err(ApiError::invalid(
                "greeting",
                "must be at most 500 characters",
            ));
        }
        settings["greeting"] = json!(g.trim());
    }
    if let Some(c) = &f.color {
        let ok =
            c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit());
        if !ok {
            return Err(ApiError::invalid("color", "must be a colour like #1f6feb"));
        }
        settings["color"] = json!(c.to_ascii_lowercase());
    }
    if let Some(fields) = &f.prechat_fields {
        if let Some(bad) = fields
            .iter()
            .find(|x| !PRECHAT_FIELDS.contains(&x.as_str()))
        {
            return Err(ApiError::invalid(
                "prechat_fields",
                format!("{bad:?} is not a field the pre-chat form has (name, email, phone)"),
            ));
        }
        let ordered: Vec<&str> = PRECHAT_FIELDS
            .into_iter()
            .filter(|p| fields.iter().any(|x| x == p))
            .collect();
        settings["prechat_fields"] = json!(ordered);
    }
    Ok(())
}

/// The `<script>` tag an admin pastes into their site.
pub fn snippet(app: &App, inbox: &InboxRow) -> String {
    format!(
        r#"<script src="{}/widget.js" data-inbox="{}" async></script>"#,
        app.config.public_url.trim_end_matches('/'),
        inbox.id
    )
}

fn visitor_message(inbox: &InboxRow, visitor: &str) -> String {
    format!("parley-widget/{}/{visitor}", inbox.id)
}

/// A visitor's token: their id and a signature under the inbox's secret.
fn issue_token(inbox: &InboxRow, visitor: &str) -> String {
    let sig = api::sign(&inbox.secret, visitor_message(inbox, visitor).as_bytes());
    format!("{visitor}.{}", sig.trim_start_matches("sha256="))
}

/// The visitor id of a token this inbox issued.
fn check_token(inbox: &InboxRow, token: &str) -> Option<String> {
    let (visitor, sig) = token.split_once('.')?;
    let visitor = uuid::Uuid::parse_str(visitor).ok()?.to_string();
    let header = format!("sha256={sig}");
    api::verify(
        &inbox.secret,
        Some(&header),
        visitor_message(inbox, &visitor).as_bytes(),
    )
    .ok()?;
    Some(visitor)
}

#[derive(Deserialize)]
pub struct SocketQuery {
    token: Option<String>,
}

/// `GET /widget/{inbox}/socket`: a visitor's WebSocket.
pub async fn socket(
    State(app): State<App>,
    Path(inbox_id): Path<parley_core::InboxId>,
    Query(q): Query<SocketQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let inbox = app
        .hook_inbox(inbox_id)
        .await?
        .filter(|i| i.kind == KIND)
        .ok_or(ApiError::NotFound)?;
    if let Some(allowed) = inbox.settings.get("website_origin").and_then(Value::as_str) {
        let origin = headers.get("origin").and_then(|o| o.to_str().ok());
        let own = origin_of(&app.config.public_url).ok();
        if origin != Some(allowed) && origin.map(str::to_string) != own {
            return Err(ApiError::forbidden(
                "this chat is only offered on the business's own site",
            ));
        }
    }
    // A token that does not verify (another inbox's, or tampered with) starts a new visitor.
    let visitor = q
        .token
        .as_deref()
        .and_then(|t| check_token(&inbox, t))
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let ip = crate::http::client_ip(&headers).and_then(|s| s.parse().ok());
    let slot = app
        .widget_limits
        .open(&visitor, ip)
        .map_err(|r| ApiError::TooManyRequests(r.0.into()))?;
    // Nobody signs in here: frames are kept small before anything is buffered.
    Ok(crate::realtime::small_frames(ws).on_upgrade(move |s| run(app, inbox, visitor, slot, s)))
}

#[derive(Deserialize)]
struct VisitorFrame {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    client_id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    message_id: Option<String>,
    /// The id of an offered choice the visitor clicked.
    choice_id: Option<String>,
}

/// A visitor's name, email and phone, each when given.
type Details = (Option<String>, Option<String>, Option<String>);

/// One visitor's connection.
struct Visitor {
    app: App,
    inbox: InboxRow,
    id: String,
    contact: Option<ContactId>,
    conversation: Option<ConversationId>,
    /// Details from the pre-chat form, kept until the first message creates the contact.
    details: Details,
    agents: HashMap<UserId, String>,
    online: bool,
    /// Replies this visitor was shown: the only ones they may mark read.
    shown: std::collections::HashSet<String>,
    /// This socket's place in the visitor's and address's limits.
    slot: crate::inboxes::widget::limits::Slot,
    /// Over a limit: the error frame goes, then the socket closes.
    closing: bool,
}

fn system_scope(inbox: &InboxRow) -> Scope {
    Scope::system(inbox.workspace_id, parley_core::UserId(uuid::Uuid::nil()))
}

fn error_frame(code: &str, message: &str) -> String {
    json!({ "type": "error", "error": { "code": code, "message": message } }).to_string()
}

fn invalid_frame(e: &Invalid) -> String {
    json!({ "type": "error", "error": { "code": "invalid_field", "message": format!("{} {}", e.field, e.reason), "field": e.field } }).to_string()
}

impl Visitor {
    /// A message as the visitor sees it: no internal ids beyond the message's, no notes.
    fn message_view(&self, m: &Value) -> Value {
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

    async fn available(&self) -> bool {
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

    async fn hello(&mut self) -> String {
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
        let contact = match self.contact {
            Some(c) => self
                .app
                .store
                .contact(&system_scope(&self.inbox), c)
                .await
                .ok()
                .map(|c| json!({ "name": c.name, "email": c.email, "phone": c.phone })),
            None => None,
        };
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

    async fn report(&self, message_id: &str, status: DeliveryStatus) {
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
    async fn on_hub_event(&mut self, e: &crate::realtime::HubEvent) -> Option<String> {
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

    async fn on_frame(&mut self, text: &str) -> Option<String> {
        let parsed: Result<VisitorFrame, _> = serde_json::from_str(text);
        let cost = match parsed.as_ref().map(|f| f.kind.as_str()) {
            Ok("message" | "contact") => crate::inboxes::widget::limits::Frame::Message,
            _ => crate::inboxes::widget::limits::Frame::Small,
        };
        // Checked before anything is stored or published: what is over the limit is dropped.
        if let Err(why) = self.app.widget_limits.allow(&self.slot, cost) {
            self.closing = true;
            return Some(error_frame("rate_limited", why.0));
        }
        let f = match parsed {
            Ok(f) => f,
            Err(_) => {
                return Some(error_frame(
                    "bad_frame",
                    "frames are JSON objects with a type",
                ))
            }
        };
        match f.kind.as_str() {
            "message" => Some(self.message(&f).await),
            "contact" => Some(self.details(&f).await),
            "typing" => {
                if let (Some(conv), Some(contact)) = (self.conversation, self.contact) {
                    let data = json!({ "conversation_id": conv, "contact_id": contact, "name": self.details.0.clone().unwrap_or_else(|| "Visitor".into()) });
                    self.app.hub.publish_ephemeral(
                        self.inbox.workspace_id,
                        Some(self.inbox.id),
                        None,
                        "typing",
                        data,
                    );
                }
                None
            }
            "read" => {
                if let Some(id) = f.message_id.as_deref().filter(|i| self.shown.contains(*i)) {
                    self.report(id, DeliveryStatus::Read).await;
                }
                None
            }
            _ => Some(error_frame("bad_frame", "unknown frame type")),
        }
    }

    fn parse_details(f: &VisitorFrame) -> Result<Details, Invalid> {
        let name = f
            .name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(|n| parley_core::contact::parse_name("name", n))
            .transpose()?;
        let email = f
            .email
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(|e| Email::parse(e).map(Email::into_string))
            .transpose()?;
        let phone = f
            .phone
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(|p| Phone::parse(p).map(Phone::into_string))
            .transpose()?;
        Ok((name, email, phone))
    }

    /// The visitor gave their name, email or phone (the pre-chat form, or "get replies by email").
    async fn details(&mut self, f: &VisitorFrame) -> String {
        let (name, email, phone) = match Self::parse_details(f) {
            Ok(d) => d,
            Err(e) => return invalid_frame(&e),
        };
        if name.is_none() && email.is_none() && phone.is_none() {
            return error_frame(
                "invalid_field",
                "give a name, an email address or a phone number",
            );
        }
        match self.contact {
            Some(contact) => {
                let patch = ContactPatch {
                    name: name.clone().map(Some),
                    email: email.clone().map(Some),
                    phone: phone.clone().map(Some),
                    custom_fields: None,
                };
                match self
                    .app
                    .store
                    .update_contact(self.inbox.workspace_id, contact, patch, self.app.now())
                    .await
                {
                    Ok(c) => json!({ "type": "contact", "contact": { "name": c.name, "email": c.email, "phone": c.phone } }).to_string(),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not save a visitor's details");
                        error_frame("unavailable", "your details could not be saved; try again")
                    }
                }
            }
            None => {
                let d = &mut self.details;
                d.0 = name.or(d.0.take());
                d.1 = email.or(d.1.take());
                d.2 = phone.or(d.2.take());
                json!({ "type": "contact", "contact": { "name": d.0, "email": d.1, "phone": d.2 } })
                    .to_string()
            }
        }
    }

    async fn message(&mut self, f: &VisitorFrame) -> String {
        let body = match parse_body("text", f.text.as_deref().unwrap_or_default()) {
            Ok(b) => b,
            Err(e) => return invalid_frame(&e),
        };
        // The client's id for the message makes a resend after a dropped connection a no-op.
        let external_id = match f.client_id.as_deref() {
            Some(c) => match parley_core::contact::parse_external_id("client_id", c) {
                Ok(c) => Some(format!("{}:{c}", self.id)),
                Err(e) => return invalid_frame(&e),
            },
            None => None,
        };
        let mut msg = InboundMessage {
            meta: None,
            inbox_id: self.inbox.id,
            identity_kind: IdentityKind::Widget,
            sender_external_id: self.id.clone(),
            sender_name: self.details.0.clone(),
            // What a visitor types about themselves is unverified: it never joins them to a
            // contact the workspace already has (that would show them its details).
            sender_email: None,
            sender_phone: None,
            external_id,
            body,
            at: self.app.now(),
            thread: None,
            keyword: None,
        };
        msg.meta = crate::conversations::compose::answered_choice(
            &self.app,
            &self.inbox,
            IdentityKind::Widget,
            &self.id,
            &msg.body,
            f.choice_id.as_deref(),
        )
        .await;
        // As on every channel: a failure asks the visitor to try again, and a resend with the same
        // `client_id` is a redelivery (stored once, its keywords answered at most once).
        match crate::inbound::ingest(&self.app, &self.inbox, msg).await {
            Ok(out) => {
                let first = self.contact.is_none();
                self.contact = Some(out.contact_id);
                self.conversation = Some(out.conversation_id);
                let (email, phone) = (self.details.1.clone(), self.details.2.clone());
                if first && (email.is_some() || phone.is_some()) {
                    let patch = ContactPatch {
                        name: None,
                        email: email.map(Some),
                        phone: phone.map(Some),
                        custom_fields: None,
                    };
                    let ws = self.inbox.workspace_id;
                    if let Err(e) = self
                        .app
                        .store
                        .update_contact(ws, out.contact_id, patch, self.app.now())
                        .await
                    {
                        tracing::warn!(error = %e, "could not save a visitor's details");
                    }
                }
                json!({ "type": "ack", "client_id": f.client_id, "message_id": out.message_id })
                    .to_string()
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not store a visitor's message");
                error_frame("unavailable", "the message could not be sent; try again")
            }
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

/// Delivers an agent's reply to a visitor: their open socket shows it; when they have left and
/// gave an email address, it also goes by email.
pub async fn deliver(app: &App, job: &OutboxJob) -> parley_channels::SendOutcome {
    let here = app
        .visitors
        .lock()
        .map(|v| v.contains_key(&job.message.conversation_id))
        .unwrap_or(true);
    if !here {
        let email = app
            .store
            .contact(&system_scope(&job.inbox), job.contact_id)
            .await
            .ok()
            .and_then(|c| c.email);
        // By email, an opt-out from email applies too.
        // When the ledger cannot be read, no email goes.
        let may_email = app
            .store
            .consent_history(&system_scope(&job.inbox), job.contact_id)
            .await
            .map(|l| {
                let entries: Vec<_> = l.iter().map(|e| e.entry()).collect();
                parley_core::consent::may_reply(&entries, "email")
            })
            .unwrap_or(false);
        if let Some(to) = email.filter(|_| may_email) {
            let sent = crate::inboxes::email::send_to_visitor(app, job, &to).await;
            if !matches!(sent, parley_channels::SendOutcome::Accepted { .. }) {
                // Not the relay's words: a refusal quotes the visitor's address.
                let permanent = matches!(sent, parley_channels::SendOutcome::Permanent(_));
                tracing::warn!(permanent, "could not email a reply to a visitor who left");
            }
        }
    }
    parley_channels::SendOutcome::Accepted {
        provider_id: Some(job.message.id.to_string()),
    }
}

async fn run(
    app: App,
    inbox: InboxRow,
    id: String,
    slot: crate::inboxes::widget::limits::Slot,
    socket: WebSocket,
) {
    let (mut sink, mut stream) = socket.split();
    // Subscribe before reading history so nothing falls between the two.
    let mut rx = app.hub.subscribe();
    let mut ephemeral = app.hub.subscribe_ephemeral();
    let mut v = Visitor {
        app,
        inbox,
        id,
        contact: None,
        conversation: None,
        details: (None, None, None),
        agents: HashMap::new(),
        online: false,
        shown: std::collections::HashSet::new(),
        slot,
        closing: false,
    };
    let hello = v.hello().await;
    let mut presence = Presence {
        app: v.app.clone(),
        conversation: None,
    };
    presence.set(v.conversation);
    // A visitor's socket has the agents' send budget: one that stops taking frames is closed
    // rather than holding the feed's frames for it.
    let (send_within, max_behind) = (
        std::time::Duration::from_millis(v.app.config.socket_send_timeout_ms),
        v.app.config.socket_max_behind_bytes,
    );
    if !matches!(
        tokio::time::timeout(send_within, sink.send(Message::Text(hello.into()))).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let mut behind = false;
    loop {
        let out = tokio::select! {
            ev = rx.recv() => match ev {
                Ok(e) if v.app.hub.behind(&e) > max_behind => {
                    behind = true;
                    break;
                }
                Ok(e) => v.on_hub_event(&e).await,
                // A visitor who fell behind reloads their thread.
                Err(broadcast::error::RecvError::Lagged(_)) => Some(v.hello().await),
                Err(broadcast::error::RecvError::Closed) => break,
            },
            ev = ephemeral.recv() => match ev {
                Ok(e) => v.on_hub_event(&e).await,
                // Typing missed while behind is stale anyway.
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) if t.len() <= 64 * 1024 => v.on_frame(t.as_str()).await,
                Some(Ok(Message::Text(_))) => Some(error_frame("too_large", "a frame may be at most 64 KiB")),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => None,
            },
        };
        presence.set(v.conversation);
        if let Some(frame) = out {
            match tokio::time::timeout(send_within, sink.send(Message::Text(frame.into()))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    behind = true;
                    break;
                }
            }
        }
        if v.closing {
            let close = axum::extract::ws::CloseFrame {
                code: axum::extract::ws::close_code::POLICY,
                reason: "rate limited".into(),
            };
            drop(rx);
            drop(ephemeral);
            let _ = tokio::time::timeout(send_within, sink.send(Message::Close(Some(close)))).await;
            return;
        }
    }
    if behind {
        // What was queued for this socket is freed before the close is tried; the widget
        // reconnects with its token and reloads the thread.
        drop(rx);
        drop(ephemeral);
        let close = axum::extract::ws::CloseFrame {
            code: 1013,
            reason: "too far behind: reconnect".into(),
        };
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            sink.send(Message::Close(Some(close))),
        )
        .await;
    }
}
