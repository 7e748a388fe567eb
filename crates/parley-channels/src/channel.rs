//! The one interface the server reaches every channel through: an inbox's kind, typed settings
//! and secret, with verify, parse, capabilities, send, test-connection, typing, media and
//! templates. Each provider's part lives in its own module; this one only dispatches.

use parley_core::message::SenderKind;
use parley_core::{ConversationId, InboxId, MessageId, Timestamp};
use serde_json::Value;

use crate::email::OutboundFile;
use crate::meta::WindowVerdict;
use crate::net::Client;
use crate::rich::{self, Capabilities, Event, Reply};
use crate::settings::Settings;
use crate::{api, email, line, meta, telegram, twilio, ChannelKind, InboundError, SendOutcome};

mod hook;

pub use hook::{
    Answer, Checked, Delivered, Delivery, InboundFile, Incoming, Parsed, Refusal, TapAnswer,
};

/// An inbox as its channel sees it. Borrowed from the inbox row, so making one per send is free.
#[derive(Debug)]
pub struct Channel<'a> {
    pub settings: Settings<'a>,
    /// The inbox's secret: the provider's auth token or app secret, or ours for the API channel.
    pub secret: &'a str,
}

/// What the server looks up in the store before a send, since channels never touch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// LINE: the reply token of the customer's message this reply first answers.
    ReplyToken,
    /// Messenger, Instagram: the customer-service window now.
    Window,
    /// Email: the customer's last mail (to thread under) and the message's files.
    Mail,
    /// The widget: nothing goes to a provider; the server delivers in-process.
    InProcess,
}

/// What the server looked up, as `Channel::needs` asked.
#[derive(Debug, Default)]
pub struct Lookups {
    pub reply_token: Option<String>,
    pub window: Option<WindowVerdict>,
    /// The `meta.email` of the customer's last mail in the conversation.
    pub parent_email: Option<Value>,
    pub files: Vec<OutboundFile>,
}

/// The message a queued delivery carries, as the API channel's callback shows it.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender_kind: SenderKind,
    pub sender_id: Option<uuid::Uuid>,
    pub created_at: Timestamp,
}

/// One queued message to send.
pub struct Outgoing<'a> {
    /// The provider's id of the customer (number, chat, PSID, address, the integrator's id).
    pub to: &'a str,
    pub reply: &'a Reply,
    pub message: Message,
    /// Parley's public address and the inbox, for the status callbacks a provider is asked to
    /// make per message (Twilio): `{public_url}/hooks/{kind}/{inbox}`.
    pub public_url: &'a str,
    pub inbox: InboxId,
    /// How long an SMTP delivery may take.
    pub timeout: std::time::Duration,
    pub lookups: Lookups,
}

/// What became of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Outcome(SendOutcome),
    /// The carrier says the recipient texted STOP (to `sender`, our number): record it, so
    /// nothing else is sent.
    OptedOut {
        sender: String,
    },
    /// Not a provider's: the server delivers it itself (the widget's socket).
    InProcess,
}

impl From<SendOutcome> for Sent {
    fn from(o: SendOutcome) -> Self {
        Sent::Outcome(o)
    }
}

/// A customer's file, as the provider answered its download.
pub struct Download {
    pub answer: Result<reqwest::Response, crate::net::Error>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

impl<'a> Channel<'a> {
    /// Reads an inbox's stored settings as its kind says.
    pub fn read(
        kind: ChannelKind,
        settings: &'a Value,
        secret: &'a str,
    ) -> Result<Self, serde_json::Error> {
        Ok(Channel {
            settings: Settings::read(kind, settings)?,
            secret,
        })
    }

    pub fn kind(&self) -> ChannelKind {
        self.settings.kind()
    }

    /// What the channel shows natively; `None` for plain-text channels.
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.kind().capabilities()
    }

    /// Checks a messaging app's delivery: its signature over the raw body (Meta, LINE) or its
    /// secret header (Telegram). `verify_delivery` checks every channel's, the API channel's
    /// timestamp and Twilio's URL included.
    pub fn verify<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
    ) -> Result<(), InboundError> {
        match &self.settings {
            Settings::Telegram(_) => telegram::verify(self.secret, header(telegram::SECRET_HEADER)),
            Settings::Line(_) => line::verify(self.secret, header(line::SIGNATURE_HEADER), body),
            Settings::Whatsapp(_) | Settings::Messenger(_) | Settings::Instagram(_) => {
                meta::verify(self.secret, header(meta::SIGNATURE_HEADER), body)
            }
            _ => Err(InboundError::BadSignature),
        }
    }

    /// Parses a messaging app's delivery into events, each with the number or page it names
    /// when the provider names one (Meta).
    pub fn parse(&self, body: &[u8]) -> Result<Vec<(Option<String>, Event)>, InboundError> {
        let unnamed = |events: Vec<Event>| events.into_iter().map(|e| (None, e)).collect();
        match &self.settings {
            Settings::Telegram(_) => telegram::parse(body).map(unnamed),
            Settings::Line(_) => line::parse(body).map(unnamed),
            Settings::Whatsapp(_) => meta::parse_whatsapp_routed(body),
            Settings::Messenger(_) | Settings::Instagram(_) => meta::parse_messenger_routed(body),
            _ => Err(InboundError::Malformed(format!(
                "{} deliveries have their own hook",
                self.kind()
            ))),
        }
    }

    /// What the server must look up before `send`.
    pub fn needs(&self) -> Needs {
        match &self.settings {
            Settings::Line(_) => Needs::ReplyToken,
            Settings::Messenger(_) | Settings::Instagram(_) => Needs::Window,
            Settings::Email(_) => Needs::Mail,
            Settings::Widget => Needs::InProcess,
            _ => Needs::Nothing,
        }
    }

    /// Sends a queued message, split and degraded to what the channel can carry.
    pub async fn send(&self, http: &Client, out: Outgoing<'_>) -> Sent {
        match &self.settings {
            Settings::Api(s) => api::send_reply(http, s, self.secret, &out).await.into(),
            Settings::Twilio(s) => twilio::send_sms(http, s, self.secret, &out).await,
            Settings::Email(s) => email::send_reply(http, s, out).await.into(),
            Settings::Widget => Sent::InProcess,
            _ => self.send_rich(http, out).await.into(),
        }
    }

    /// The messaging apps: a WhatsApp template goes as is; anything else is degraded to the
    /// channel's capabilities and sent part by part.
    async fn send_rich(&self, http: &Client, mut out: Outgoing<'_>) -> SendOutcome {
        let Some(caps) = self.capabilities() else {
            return SendOutcome::Permanent(format!(
                "no adapter for channel kind {:?}",
                self.kind()
            ));
        };
        if let (Some(t), Settings::Whatsapp(s)) = (&out.reply.template, &self.settings) {
            return meta::send_template(http, s, out.to, t).await;
        }
        let parts = rich::degrade(out.reply, &caps);
        let mut last_id = None;
        let mut reply_token = out.lookups.reply_token.take();
        for (i, part) in parts.iter().enumerate() {
            let outcome = match (&self.settings, reply_token.take()) {
                (Settings::Line(s), token) => line::send_part(http, s, out.to, token, part).await,
                (Settings::Telegram(s), _) => telegram::send_part(http, s, out.to, part).await,
                (Settings::Whatsapp(s), _) => meta::send_whatsapp_part(http, s, out.to, part).await,
                (Settings::Messenger(s) | Settings::Instagram(s), _) => {
                    let instagram = self.kind() == ChannelKind::Instagram;
                    let window = out.lookups.window.as_ref();
                    meta::send_messenger_part(http, s, instagram, window, out.to, part).await
                }
                _ => {
                    SendOutcome::Permanent(format!("no adapter for channel kind {:?}", self.kind()))
                }
            };
            match outcome {
                SendOutcome::Accepted { provider_id } => last_id = provider_id.or(last_id),
                // Parts already delivered must not be sent twice: a later failure is final.
                SendOutcome::Transient(e) if i > 0 => {
                    return SendOutcome::Permanent(format!(
                        "only {i} of {} parts were sent, then: {e}",
                        parts.len()
                    ))
                }
                other => return other,
            }
        }
        SendOutcome::Accepted {
            provider_id: last_id,
        }
    }

    /// Continues a widget chat by email to a visitor who has left, from this email inbox;
    /// refused on other channels.
    pub async fn send_to_visitor(
        &self,
        http: &Client,
        visitor: email::Visitor<'_>,
        timeout: std::time::Duration,
    ) -> SendOutcome {
        match &self.settings {
            Settings::Email(s) => email::send_to_visitor(http, s, visitor, timeout).await,
            _ => SendOutcome::Permanent(format!("{} inboxes send no email", self.kind())),
        }
    }

    /// Asks the provider whether the credentials work, with a read that changes nothing;
    /// `None` for kinds with nothing to ask (the API channel, the widget).
    pub async fn test_connection(&self, http: &Client) -> Option<Result<String, String>> {
        let (provider, req) = match &self.settings {
            Settings::Twilio(s) => ("Twilio", twilio::probe(http, s, self.secret)),
            Settings::Telegram(s) => ("Telegram", telegram::probe(http, s)),
            Settings::Whatsapp(s) => ("WhatsApp", meta::probe_whatsapp(http, s)),
            Settings::Messenger(s) | Settings::Instagram(s) => ("Meta", meta::probe_page(http, s)),
            Settings::Line(s) => ("LINE", line::probe(http, s)),
            Settings::Email(s) => return Some(email::check_inbox(http, s).await),
            _ => return None,
        };
        Some(crate::probe::ask(provider, req).await)
    }

    /// Shows the customer that someone is writing, where the channel can. `last_message` is the
    /// provider's id of the customer's last message (WhatsApp shows it only against one).
    /// `None` when there is nothing to send.
    pub fn typing(
        &self,
        http: &Client,
        to: &str,
        last_message: Option<&str>,
    ) -> Option<crate::net::RequestBuilder> {
        match &self.settings {
            Settings::Telegram(s) => Some(telegram::typing(http, s, to)),
            Settings::Line(s) => Some(line::typing(http, s, to)),
            Settings::Whatsapp(s) => last_message.map(|m| meta::whatsapp_typing(http, s, m)),
            Settings::Messenger(s) | Settings::Instagram(s) => {
                Some(meta::messenger_typing(http, s, to))
            }
            _ => None,
        }
    }

    /// Whether `typing` does anything on this channel (so the server looks nothing up when not).
    pub fn shows_typing(&self) -> bool {
        self.capabilities().is_some()
    }

    /// Whether `typing` needs the customer's last message id.
    pub fn typing_needs_last_message(&self) -> bool {
        matches!(self.settings, Settings::Whatsapp(_))
    }

    /// Downloads a customer's file the provider holds for us (a WhatsApp media id, a Telegram
    /// file id, an MMS link), with the inbox's credentials and only from the provider. `None`
    /// keeps the reference.
    pub async fn fetch_media(&self, http: &Client, m: &rich::Media) -> Option<Download> {
        match &self.settings {
            Settings::Whatsapp(s) => meta::fetch_media(http, s, m).await,
            Settings::Telegram(s) => telegram::fetch_media(http, s, m).await,
            Settings::Twilio(s) => twilio::fetch_media(http, s, self.secret, m).await,
            _ => None,
        }
    }

    /// A WhatsApp inbox's approved templates, as the composer offers them.
    pub async fn templates(&self, http: &Client) -> Result<Vec<Value>, String> {
        match &self.settings {
            Settings::Whatsapp(s) => meta::templates(http, s).await,
            _ => Err(format!(
                "{} inboxes have no message templates; WhatsApp inboxes do",
                self.kind()
            )),
        }
    }
}

#[cfg(test)]
mod tests;
