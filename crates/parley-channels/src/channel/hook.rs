//! A webhook delivery as every channel's hook reads it: the checks a provider signs it with, the
//! events it carries checked into what the store takes, how the provider wants it answered, and
//! which of an app's inboxes each event is for.

use parley_core::contact::{parse_external_id, parse_name, Email, Phone};
use parley_core::message::parse_body;
use parley_core::{Invalid, Timestamp};

use super::Channel;
use crate::net::Client;
use crate::rich::{self, Event, Media, ReadWatermark, StatusReport};
use crate::settings::Settings;
use crate::{api, meta, telegram, twilio, InboundError};

/// One POST to an inbox's hook, as the server received it.
pub struct Delivery<'a> {
    pub header: &'a dyn Fn(&str) -> Option<&'a str>,
    pub body: &'a [u8],
    /// Parley's public address, the path and the query the provider called (Twilio signs the
    /// URL as the provider saw it, so it holds behind a reverse proxy).
    pub public_url: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub now: Timestamp,
}

/// Why a delivery is refused: 403 (`forbidden`) or 400, with a stable code; nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub forbidden: bool,
    pub code: &'static str,
    pub message: String,
}

impl From<InboundError> for Refusal {
    fn from(e: InboundError) -> Self {
        match e {
            InboundError::BadSignature => Refusal {
                forbidden: true,
                code: "bad_signature",
                message: e.to_string(),
            },
            InboundError::Malformed(message) => Refusal {
                forbidden: false,
                code: "malformed",
                message,
            },
        }
    }
}

impl From<Invalid> for Refusal {
    fn from(e: Invalid) -> Self {
        InboundError::Malformed(e.to_string()).into()
    }
}

impl From<api::PostRefusal> for Refusal {
    fn from(e: api::PostRefusal) -> Self {
        let code = match e {
            api::PostRefusal::BadSignature => "bad_signature",
            api::PostRefusal::BadTimestamp => "bad_timestamp",
            api::PostRefusal::Stale(_) => "stale_timestamp",
        };
        Refusal {
            forbidden: true,
            code,
            message: e.to_string(),
        }
    }
}

/// How the provider wants a delivery answered once it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `{"ok": true}`.
    Ok,
    /// The empty TwiML document: replies go through the REST API, not the webhook's answer.
    Twiml,
    /// The stored message's ids (the API channel's integrator reads them).
    Stored,
}

/// One thing a delivery carries, as the provider's module parsed it, before field checks.
pub enum Delivered {
    App(Event),
    Api(api::ApiInbound),
    Twilio(twilio::Event),
}

/// A parsed delivery: its events, each with the number or page it names when the provider names
/// one (Meta), and how to answer it.
pub struct Parsed {
    pub events: Vec<(Option<String>, Delivered)>,
    pub answer: Answer,
}

/// A customer's message, checked by the core's parsers, ready for the store.
#[derive(Debug)]
pub struct Incoming {
    pub sender_id: String,
    pub sender_name: Option<String>,
    pub sender_email: Option<String>,
    pub sender_phone: Option<String>,
    /// The provider's id for the message (deduplication key).
    pub message_id: Option<String>,
    pub body: String,
    pub at: Timestamp,
    /// The id of the choice the customer tapped.
    pub choice: Option<String>,
    pub files: Vec<InboundFile>,
    /// LINE's reply token.
    pub reply_token: Option<String>,
    /// The sender says it is automated (an autoresponder, a bot): automations never answer it.
    pub automated: bool,
}

/// A file the provider holds for us, shown in the body as `placeholder` until it is fetched.
#[derive(Debug)]
pub struct InboundFile {
    pub media: Media,
    pub placeholder: String,
    /// What the body shows once fetched: `[{label}] {file name or type}`, or `[{label}] attached`.
    pub label: String,
    pub shows_name: bool,
}

impl InboundFile {
    /// The body's text for the file once fetched, given its name or content type.
    pub fn shown(&self, name: &str) -> String {
        match self.shows_name {
            true => format!("[{}] {name}", self.label),
            false => format!("[{}] attached", self.label),
        }
    }
}

/// One checked event of a delivery.
pub enum Checked {
    Message(Incoming),
    Status(StatusReport),
    Read(ReadWatermark),
}

/// Answers a tapped button so its spinner stops (Telegram's `answerCallbackQuery`).
pub struct TapAnswer {
    api_base: String,
    bot_token: String,
    id: String,
}

impl TapAnswer {
    pub async fn send(self, http: &Client) -> Result<(), String> {
        telegram::answer_callback(http, &self.api_base, &self.bot_token, &self.id).await
    }
}

impl Channel<'_> {
    /// Checks a delivery's signature: over the body (Meta, LINE, the API channel, which also
    /// checks its timestamp's freshness), over the URL and form (Twilio), or a secret header
    /// (Telegram).
    pub fn verify_delivery(&self, d: &Delivery<'_>) -> Result<(), Refusal> {
        match &self.settings {
            Settings::Api(_) => Ok(api::verify_post(
                self.secret,
                (d.header)(api::SIGNATURE_HEADER),
                (d.header)(api::TIMESTAMP_HEADER),
                d.body,
                d.now.0.div_euclid(1000),
            )?),
            Settings::Twilio(_) => {
                let query = d.query.map(|q| format!("?{q}")).unwrap_or_default();
                let url = format!("{}{}{query}", d.public_url.trim_end_matches('/'), d.path);
                let sig = (d.header)(twilio::SIGNATURE_HEADER);
                Ok(twilio::verify_form(self.secret, &url, d.body, sig)?)
            }
            _ => Ok(self.verify(d.header, d.body)?),
        }
    }

    /// Parses a verified delivery.
    pub fn parse_delivery(&self, body: &[u8]) -> Result<Parsed, Refusal> {
        let one = |d: Delivered| vec![(None, d)];
        let (events, answer) = match &self.settings {
            Settings::Api(_) => (one(Delivered::Api(api::parse(body)?)), Answer::Stored),
            Settings::Twilio(_) => (
                one(Delivered::Twilio(twilio::parse_form(body)?)),
                Answer::Twiml,
            ),
            _ => {
                let events = self.parse(body)?;
                let events = events.into_iter().map(|(n, e)| (n, Delivered::App(e)));
                (events.collect(), Answer::Ok)
            }
        };
        Ok(Parsed { events, answer })
    }

    /// Checks an event's fields with the core's parsers; `None` when there is nothing to store
    /// (an empty message, a status that says nothing new).
    pub fn check(&self, d: Delivered, now: Timestamp) -> Result<Option<Checked>, Invalid> {
        match d {
            Delivered::App(Event::Message(m)) => Ok(check_app(m, now)?.map(Checked::Message)),
            Delivered::App(Event::Status(s)) => Ok(Some(Checked::Status(s))),
            Delivered::App(Event::Read(w)) => Ok(Some(Checked::Read(w))),
            Delivered::Api(m) => check_api(m, now).map(|m| Some(Checked::Message(m))),
            Delivered::Twilio(twilio::Event::Status(st)) => Ok(st.status.map(|status| {
                let error = (status == parley_core::message::DeliveryStatus::Failed)
                    .then(|| twilio::failure_reason(st.error_code.as_deref()));
                Checked::Status(StatusReport {
                    provider_id: st.message_sid,
                    status,
                    error,
                })
            })),
            Delivered::Twilio(twilio::Event::Message(sms)) => check_twilio(sms, now),
        }
    }

    /// What a delivery asks of the provider beside storing it: the answer to a tapped Telegram
    /// button (every tap needs one, whatever `parse` made of it).
    pub fn tap_answer(&self, body: &[u8]) -> Option<TapAnswer> {
        let Settings::Telegram(s) = &self.settings else {
            return None;
        };
        Some(TapAnswer {
            id: telegram::callback_query_id(body)?,
            api_base: s.api_base_url.to_string(),
            bot_token: s.credentials.bot_token.to_string(),
        })
    }

    /// The number or page a Meta event names to be routed to this inbox: WhatsApp's
    /// `phone_number_id`, Messenger's and Instagram's `page_id`; `None` where events name nothing.
    pub fn address(&self) -> Option<&str> {
        match &self.settings {
            Settings::Whatsapp(s) => Some(s.phone_number_id),
            Settings::Messenger(s) | Settings::Instagram(s) => Some(s.page_id),
            _ => None,
        }
    }

    /// Whether an event naming no inbox's address stays with the inbox the provider called.
    /// Instagram's entries name the Instagram account, which an inbox does not record (its
    /// `page_id` is the Facebook Page that sends); elsewhere such an event is dropped.
    pub fn keeps_unaddressed(&self) -> bool {
        matches!(self.settings, Settings::Instagram(_))
    }

    /// Whether a customer's message may answer choices Parley offered (numbered ones over SMS,
    /// buttons in the apps); the API channel's integrator offers its own.
    pub fn answers_choices(&self) -> bool {
        !matches!(self.settings, Settings::Api(_))
    }

    /// Meta's subscription handshake: the challenge to answer when the token matches; `None`
    /// for channels without one.
    pub fn handshake(&self, query: &str) -> Option<Result<String, InboundError>> {
        match &self.settings {
            Settings::Whatsapp(s) | Settings::Messenger(s) | Settings::Instagram(s) => {
                Some(meta::handshake(query, s.credentials.verify_token))
            }
            _ => None,
        }
    }
}

/// A messaging app's message; media stay links in the text until they are fetched.
fn check_app(m: rich::Incoming, now: Timestamp) -> Result<Option<Incoming>, Invalid> {
    let mut text = m.text;
    let mut files = Vec::with_capacity(m.media.len());
    for media in m.media {
        if !text.is_empty() {
            text.push('\n');
        }
        let placeholder = format!("[{}] {}", media.kind, media.reference);
        text.push_str(&placeholder);
        files.push(InboundFile {
            label: media.kind.clone(),
            media,
            placeholder,
            shows_name: true,
        });
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(Incoming {
        sender_id: parse_external_id("sender", &m.sender_id)?,
        sender_name: m.sender_name.filter(|n| !n.trim().is_empty()),
        sender_email: None,
        sender_phone: m
            .sender_phone
            .and_then(|p| Phone::parse(&p).ok())
            .map(Phone::into_string),
        message_id: Some(parse_external_id("message_id", &m.message_id)?),
        body: parse_body("text", &text)?,
        // A provider's clock may run ahead of ours; the timeline never shows the future.
        at: m.sent_at.map_or(now, |t| Timestamp(t.min(now.0))),
        choice: m.choice,
        files,
        reply_token: m.reply_token,
        automated: false,
    }))
}

/// The API channel's message: every field the integrator sent must pass the core's parsers.
fn check_api(m: api::ApiInbound, now: Timestamp) -> Result<Incoming, Invalid> {
    let c = m.contact;
    Ok(Incoming {
        sender_id: parse_external_id("contact.id", &c.id)?,
        sender_name: c
            .name
            .as_deref()
            .map(|n| parse_name("contact.name", n))
            .transpose()?,
        sender_email: c
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()?
            .map(Email::into_string),
        sender_phone: c
            .phone
            .as_deref()
            .map(Phone::parse)
            .transpose()?
            .map(Phone::into_string),
        message_id: m
            .id
            .as_deref()
            .map(|i| parse_external_id("id", i))
            .transpose()?,
        body: parse_body("text", &m.text)?,
        // A provider's clock may run ahead of ours; the timeline never shows the future.
        at: m.timestamp.map_or(now, |t| t.min(now)),
        choice: None,
        files: Vec::new(),
        reply_token: None,
        automated: m.automated,
    })
}

/// An SMS or MMS; MMS media stay links in the text until they are fetched with the account's
/// credentials.
fn check_twilio(sms: twilio::InboundSms, now: Timestamp) -> Result<Option<Checked>, Invalid> {
    let from = Phone::parse(&sms.from)?.into_string();
    let mut text = sms.body;
    let mut files = Vec::with_capacity(sms.media.len());
    for (url, kind) in sms.media {
        let placeholder = format!("[{kind}] {url}");
        text.push('\n');
        text.push_str(&placeholder);
        files.push(InboundFile {
            media: Media {
                kind: "file".into(),
                reference: url,
                mime_type: Some(kind.clone()),
                caption: None,
            },
            placeholder,
            label: kind,
            shows_name: false,
        });
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(Checked::Message(Incoming {
        sender_id: from.clone(),
        sender_name: None,
        sender_email: None,
        sender_phone: Some(from),
        message_id: Some(sms.message_sid),
        body: parse_body("Body", &text)?,
        at: now,
        choice: None,
        files,
        reply_token: None,
        automated: false,
    })))
}

#[cfg(test)]
mod tests;
