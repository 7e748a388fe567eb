//! Messenger and Instagram messaging: the `page`/`instagram` webhook (messages, postbacks, reads,
//! deliveries), Send API bodies for `POST /{page_id}/messages`, and the meaning of its errors.

use parley_core::message::DeliveryStatus;
use serde_json::{json, Value};

use super::{graph_error, messages_url};
use crate::common::{post_json, split_measured, str_of};
use crate::rich::{
    numbered, split_text, Capabilities, Event, Incoming, Media, Part, ReadWatermark, StatusReport,
};
use crate::{InboundError, SendOutcome};

const MAX_QUICK_REPLIES: usize = 13;
const MAX_QUICK_REPLY_TITLE: usize = 20;
const MAX_PAYLOAD: usize = 1000;
const MAX_TEXT: usize = 2000;
const MAX_INSTAGRAM_TEXT: usize = 1000;
/// Quick replies must ride on a message, and a message needs text or an attachment.
const CHOOSE_PROMPT: &str = "Please choose an option:";

fn malformed(what: impl std::fmt::Display) -> InboundError {
    InboundError::Malformed(format!("Messenger webhook: {what}"))
}

fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Parses a (verified) Messenger or Instagram webhook. Echoes of the Page's own messages,
/// reactions and deleted messages carry nothing to store and are skipped.
pub fn parse_messenger(body: &[u8]) -> Result<Vec<Event>, InboundError> {
    Ok(parse_messenger_routed(body)?
        .into_iter()
        .map(|(_, e)| e)
        .collect())
}

/// Like [`parse_messenger`], with the page (or Instagram account) each event is for: the entry's
/// `id`, else the event's `recipient.id`. One Meta app may serve several pages, each its own inbox.
pub fn parse_messenger_routed(body: &[u8]) -> Result<Vec<(Option<String>, Event)>, InboundError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
    if !matches!(str_of(&v, "object"), Some("page" | "instagram")) {
        return Err(malformed("object is neither page nor instagram"));
    }
    let mut out = Vec::new();
    for entry in items(&v, "entry") {
        let page = str_of(entry, "id").map(str::to_owned);
        for event in items(entry, "messaging") {
            let page = page.clone().or_else(|| {
                event
                    .pointer("/recipient/id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            for e in parse_event(event)? {
                out.push((page.clone(), e));
            }
        }
    }
    Ok(out)
}

fn parse_event(event: &Value) -> Result<Vec<Event>, InboundError> {
    let mut out = Vec::new();
    let sender = event
        .pointer("/sender/id")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("messaging event without sender.id"))?;
    let sent_at = event.get("timestamp").and_then(Value::as_i64);
    if let Some(msg) = event.get("message") {
        out.extend(parse_message(msg, sender, sent_at)?.map(Event::Message));
    } else if let Some(pb) = event.get("postback") {
        let payload = str_of(pb, "payload").unwrap_or_default();
        let title = str_of(pb, "title").unwrap_or(payload);
        // Older postbacks have no mid; the sender and time identify them as well.
        let mid = str_of(pb, "mid")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("postback:{sender}:{}", sent_at.unwrap_or_default()));
        out.push(Event::Message(Incoming {
            sender_id: sender.into(),
            message_id: mid,
            text: title.into(),
            choice: Some(payload.into()),
            sent_at,
            ..Incoming::default()
        }));
    } else if let Some(read) = event.get("read") {
        // Messenger's message_reads give a watermark; Instagram's messaging_seen has been
        // documented with one and with the `mid` of the message seen, so both are read.
        if let Some(watermark) = read.get("watermark").and_then(Value::as_i64) {
            out.push(Event::Read(ReadWatermark {
                sender_id: sender.into(),
                watermark,
            }));
        } else if let Some(mid) = str_of(read, "mid") {
            out.push(Event::Status(StatusReport {
                provider_id: mid.into(),
                status: DeliveryStatus::Read,
                error: None,
            }));
        }
    } else if let Some(delivery) = event.get("delivery") {
        // Only the mids name messages; the watermark alone says too little to act on.
        out.extend(
            items(delivery, "mids")
                .filter_map(Value::as_str)
                .map(|mid| {
                    Event::Status(StatusReport {
                        provider_id: mid.into(),
                        status: DeliveryStatus::Delivered,
                        error: None,
                    })
                }),
        );
    }
    Ok(out)
}

fn parse_message(
    msg: &Value,
    sender: &str,
    sent_at: Option<i64>,
) -> Result<Option<Incoming>, InboundError> {
    let flag = |k: &str| msg.get(k).and_then(Value::as_bool) == Some(true);
    if flag("is_echo") || flag("is_deleted") {
        return Ok(None);
    }
    let mid = str_of(msg, "mid").ok_or_else(|| malformed("message without mid"))?;
    let mut text = str_of(msg, "text").unwrap_or_default().to_string();
    let mut media = Vec::new();
    let mut shared = Vec::new();
    for a in items(msg, "attachments") {
        let kind = str_of(a, "type").unwrap_or("unknown");
        let url = a.pointer("/payload/url").and_then(Value::as_str);
        match (kind, url) {
            ("image" | "video" | "audio" | "file" | "sticker", Some(url)) => media.push(Media {
                kind: kind.into(),
                reference: url.into(),
                mime_type: None,
                caption: None,
            }),
            // Shared posts, reels, story mentions and fallbacks: a link the agent can open.
            (_, Some(url)) => shared.push(format!("[Shared {kind}] {url}")),
            (_, None) => shared.push(format!("[{kind} attachment: not shown in Parley]")),
        }
    }
    if flag("is_unsupported") {
        shared.push("[Message type not supported by Instagram's API]".into());
    }
    for line in shared {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&line);
    }
    Ok(Some(Incoming {
        sender_id: sender.into(),
        message_id: mid.into(),
        text,
        media,
        choice: msg
            .pointer("/quick_reply/payload")
            .and_then(Value::as_str)
            .map(str::to_owned),
        sent_at,
        ..Incoming::default()
    }))
}

/// What Messenger can show: quick replies (13, titles of 20 characters), 2,000-character texts
/// and attachments by URL up to 25 MB.
pub fn messenger_capabilities() -> Capabilities {
    Capabilities {
        max_choices: MAX_QUICK_REPLIES,
        max_choice_title: MAX_QUICK_REPLY_TITLE,
        max_list_rows: 0,
        max_text: MAX_TEXT,
        media_types: &["image/", "video/", "audio/", "application/", "text/"],
        max_media_bytes: 25_000_000,
        read_receipts: true,
        typing: true,
        window_hours: Some(24),
        templates: false,
    }
}

/// What Instagram can show: the same quick replies, texts of 1,000 bytes and PNG or JPEG images
/// up to 8 MB (Meta's Instagram send-message page; it also lists audio and video up to 25 MB,
/// left out here to keep one size limit).
pub fn instagram_capabilities() -> Capabilities {
    Capabilities {
        max_text: MAX_INSTAGRAM_TEXT,
        media_types: &["image/jpeg", "image/png"],
        max_media_bytes: 8_000_000,
        ..messenger_capabilities()
    }
}

/// How a Messenger or Instagram message is sent, from [`super::window`]'s verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessengerTag {
    /// `messaging_type: RESPONSE`, inside the 24-hour window.
    Response,
    /// `messaging_type: MESSAGE_TAG` with `tag: HUMAN_AGENT`: a person replying 24 hours to
    /// 7 days after the customer's last message.
    HumanAgent,
}

fn envelope(psid: &str, tag: MessengerTag, message: Value) -> Value {
    match tag {
        MessengerTag::Response => json!({
            "recipient": {"id": psid},
            "messaging_type": "RESPONSE",
            "message": message,
        }),
        MessengerTag::HumanAgent => json!({
            "recipient": {"id": psid},
            "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT",
            "message": message,
        }),
    }
}

/// The Send API bodies that deliver one part: the text (in 2,000-character pieces) and each
/// attachment by URL. With quick replies the attachments come first and the replies ride on the
/// last text, so they show under it.
pub fn messenger_render(psid: &str, part: &Part, tag: MessengerTag) -> Vec<Value> {
    render(psid, part, tag, |t| split_text(t, MAX_TEXT))
}

/// As [`messenger_render`], for Instagram, whose texts are limited to 1,000 bytes of UTF-8
/// rather than characters.
pub fn instagram_render(igsid: &str, part: &Part, tag: MessengerTag) -> Vec<Value> {
    render(igsid, part, tag, |t| {
        split_measured(t, MAX_INSTAGRAM_TEXT, str::len, 4)
    })
}

fn render(
    psid: &str,
    part: &Part,
    tag: MessengerTag,
    split: impl Fn(&str) -> Vec<String>,
) -> Vec<Value> {
    let mut text = part.text.clone();
    let native = !part.choices.is_empty()
        && part.choices.len() <= MAX_QUICK_REPLIES
        && part.choices.iter().all(|c| {
            !c.id.is_empty()
                && c.id.len() <= MAX_PAYLOAD
                && !c.title.is_empty()
                && c.title.chars().count() <= MAX_QUICK_REPLY_TITLE
        });
    if !native && !part.choices.is_empty() {
        text.push_str(&numbered(&part.choices));
    }
    if text.is_empty() && native {
        text = CHOOSE_PROMPT.into();
    }
    let texts: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        split(&text)
            .into_iter()
            .map(|t| json!({ "text": t }))
            .collect()
    };
    let attachments = part.media.iter().map(|m| {
        let kind = m
            .mime_type
            .split('/')
            .next()
            .filter(|k| matches!(*k, "image" | "video" | "audio"))
            .unwrap_or("file");
        json!({"attachment": {"type": kind, "payload": {"url": m.url, "is_reusable": false}}})
    });
    let messages: Vec<Value> = if native {
        // Quick replies go on the last text, after the attachments: a later message would hide
        // them, and Instagram documents them on text only.
        let replies: Vec<Value> = part
            .choices
            .iter()
            .map(|c| json!({"content_type": "text", "title": c.title, "payload": c.id}))
            .collect();
        let mut messages: Vec<Value> = attachments.chain(texts).collect();
        if let Some(last) = messages.last_mut() {
            last["quick_replies"] = Value::from(replies);
        }
        messages
    } else {
        texts.into_iter().chain(attachments).collect()
    };
    messages
        .into_iter()
        .map(|m| envelope(psid, tag, m))
        .collect()
}

/// The Send API body that shows "typing…" to the customer (Messenger and Instagram).
pub fn messenger_typing_body(psid: &str) -> Value {
    json!({"recipient": {"id": psid}, "sender_action": "typing_on"})
}

/// Classifies the answer to `POST /{page_id}/messages`; the provider id is `message_id`.
pub fn classify_messenger(status: u16, body: &str) -> SendOutcome {
    if (200..300).contains(&status) {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        return SendOutcome::Accepted {
            provider_id: str_of(&v, "message_id").map(str::to_owned),
        };
    }
    let e = graph_error(body);
    let code = match (e.code, e.subcode) {
        (Some(c), Some(s)) => format!("{c}/{s}"),
        (Some(c), None) => c.to_string(),
        _ => format!("HTTP {status}"),
    };
    let said = &e.message;
    match (e.code, e.subcode) {
        // 2018278 on Messenger, 2534022 on Instagram.
        (_, Some(2018278 | 2534022)) => SendOutcome::Permanent(format!(
            "Outside the 24-hour messaging window: the customer has not written in the last 24 \
             hours, and only a human agent may reply (with the HUMAN_AGENT tag) until 7 days \
             after their last message (Messenger error {code}: {said})"
        )),
        (Some(551), _) => SendOutcome::Permanent(format!(
            "The customer cannot be reached: they may have blocked the Page or turned off its \
             messages (Messenger error {code}: {said})"
        )),
        (Some(190), _) => SendOutcome::Permanent(format!(
            "The Page access token has expired or was revoked; reconnect the Page (Messenger \
             error {code}: {said})"
        )),
        // Rate limits (app, user, page, hourly calls) and Meta's "try again later".
        (Some(4 | 17 | 32 | 613 | 1 | 2), _) => {
            SendOutcome::Transient(format!("Messenger error {code}: {said}"))
        }
        _ if status >= 500 || status == 429 || status == 408 => {
            SendOutcome::Transient(format!("Messenger error {code}: {said}"))
        }
        _ => SendOutcome::Permanent(format!("Messenger error {code}: {said}")),
    }
}

/// Sends one body to `POST {graph_base}/{version}/{page_id}/messages`. Meta's Send API examples
/// pass the Page token as the `access_token` parameter; the Graph API accepts it as a Bearer
/// header too, which keeps it out of URLs that proxies and error messages record.
pub async fn send_messenger(
    http: &crate::net::Client,
    graph_base: &str,
    version: &str,
    page_id: &str,
    page_token: &str,
    body: &Value,
) -> SendOutcome {
    let url = messages_url(graph_base, version, page_id);
    match post_json(http, &url, Some(page_token), body).await {
        Ok((status, text)) => classify_messenger(status, &text),
        Err(outcome) => outcome,
    }
}

#[cfg(test)]
mod tests;
