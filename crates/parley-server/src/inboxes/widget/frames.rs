//! What a visitor's widget sends on its socket — a message, their details, typing, a read —
//! and what each is answered with.

use parley_core::contact::{Email, IdentityKind, Phone};
use parley_core::message::{parse_body, DeliveryStatus};
use parley_core::{ContactId, Invalid};
use parley_store::{ContactPatch, InboundMessage};
use serde::Deserialize;
use serde_json::json;

use super::limits::Frame;
use super::visitor::{Details, Visitor};

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

/// An error frame: its code and message.
pub(super) fn error_frame(code: &str, message: &str) -> String {
    json!({ "type": "error", "error": { "code": code, "message": message } }).to_string()
}

/// The error frame of a field the visitor gave that is not valid.
fn invalid_frame(e: &Invalid) -> String {
    json!({ "type": "error", "error": { "code": "invalid_field", "message": format!("{} {}", e.field, e.reason), "field": e.field } }).to_string()
}

impl Visitor {
    /// Answers one frame the visitor sent, if it calls for an answer.
    pub(super) async fn on_frame(&mut self, text: &str) -> Option<String> {
        let parsed: Result<VisitorFrame, _> = serde_json::from_str(text);
        let cost = match parsed.as_ref().map(|f| f.kind.as_str()) {
            Ok("message" | "contact") => Frame::Message,
            _ => Frame::Small,
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

    /// The visitor sent a message: it is stored as any customer's, and acknowledged.
    async fn message(&mut self, f: &VisitorFrame) -> String {
        let mut msg = match self.inbound(f) {
            Ok(m) => m,
            Err(e) => return invalid_frame(&e),
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
                if first {
                    self.save_details(out.contact_id).await;
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

    /// The customer message a visitor's frame is.
    fn inbound(&self, f: &VisitorFrame) -> Result<InboundMessage, Invalid> {
        let body = parse_body("text", f.text.as_deref().unwrap_or_default())?;
        // The client's id for the message makes a resend after a dropped connection a no-op.
        let external_id = f
            .client_id
            .as_deref()
            .map(|c| parley_core::contact::parse_external_id("client_id", c))
            .transpose()?
            .map(|c| format!("{}:{c}", self.id));
        Ok(InboundMessage {
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
            survey: None,
        })
    }

    /// Gives the contact a first message created the email and phone the visitor gave before it.
    async fn save_details(&self, contact: ContactId) {
        let (email, phone) = (self.details.1.clone(), self.details.2.clone());
        if email.is_none() && phone.is_none() {
            return;
        }
        let patch = ContactPatch {
            name: None,
            email: email.map(Some),
            phone: phone.map(Some),
            custom_fields: None,
        };
        let ws = self.inbox.workspace_id;
        let saved = (self.app.store)
            .update_contact(ws, contact, patch, self.app.now())
            .await;
        if let Err(e) = saved {
            tracing::warn!(error = %e, "could not save a visitor's details");
        }
    }
}
