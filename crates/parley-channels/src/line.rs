//! LINE Messaging API: the `X-Line-Signature` check, one-to-one chat events (messages and
//! postbacks), LINE message objects with quick replies, and reply/push sends.
//!
//! The channels reference has no LINE section; the facts here were settled as follows.
//! From the official Python SDK `line-bot-sdk` 3.27.0 (PyPI), read and run against a loopback
//! capture server: the signature (base64 HMAC-SHA256 of the raw body under the channel secret,
//! `linebot/v3/webhook.py`); the webhook shapes (`linebot/v3/webhooks/models`); reply and push
//! endpoints, Bearer auth and bodies, at most 5 messages per request, at most 13 quick-reply
//! items, `sentMessages[{id, quoteToken}]` answers and the `{message, details}` error body
//! (`linebot/v3/messaging`). From developers.line.biz (stored copies): text up to 5,000
//! characters counted in UTF-16 code units, action labels up to 20 characters, postback data
//! and display text up to 300, image URLs (JPEG/PNG, preview image at most 1 MB), 429 for rate
//! limits, and 400 "Invalid reply token" for an expired or used reply token. The 429 "You have
//! reached your monthly limit." text comes from a secondary summary of the status-code table.

use base64::Engine;
use serde_json::{json, Value};

use crate::common::{
    constant_time_eq, hmac_sha256, partial_failure, post_json, set_location, split_measured, str_of,
};
use crate::rich::{numbered, Capabilities, Event, Incoming, Media, Part};
use crate::{InboundError, SendOutcome};

mod outbound;

pub use outbound::{probe, send_part, typing};

pub const SIGNATURE_HEADER: &str = "x-line-signature";

/// LINE counts text in UTF-16 code units.
const MAX_TEXT: usize = 5000;
const MAX_QUICK_REPLIES: usize = 13;
const MAX_LABEL: usize = 20;
const MAX_POSTBACK_DATA: usize = 300;
const MAX_MESSAGES_PER_REQUEST: usize = 5;
/// The same URL serves as the preview image, which may not exceed 1 MB.
const MAX_IMAGE: u64 = 1_000_000;
/// Quick replies must ride on a message.
const CHOOSE_PROMPT: &str = "Please choose an option:";

/// `base64(HMAC-SHA256(channel_secret, raw body))`.
pub fn signature(channel_secret: &str, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(channel_secret.as_bytes(), body))
}

/// Checks the signature over the exact bytes received, in constant time.
pub fn verify(channel_secret: &str, header: Option<&str>, body: &[u8]) -> Result<(), InboundError> {
    match header {
        Some(h)
            if !channel_secret.is_empty()
                && constant_time_eq(
                    h.trim().as_bytes(),
                    signature(channel_secret, body).as_bytes(),
                ) =>
        {
            Ok(())
        }
        _ => Err(InboundError::BadSignature),
    }
}

fn malformed(what: impl std::fmt::Display) -> InboundError {
    InboundError::Malformed(format!("LINE webhook: {what}"))
}

/// Parses a (verified) webhook: messages and postbacks from one-to-one chats. Group and room
/// events and the rest (follow, unsend, ...) are skipped; an empty `events` is LINE's
/// connection check.
pub fn parse(body: &[u8]) -> Result<Vec<Event>, InboundError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
    let events = v
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no events array"))?;
    let mut out = Vec::new();
    for e in events {
        let source = e.get("source").unwrap_or(&Value::Null);
        let Some(user) =
            str_of(source, "userId").filter(|_| str_of(source, "type") == Some("user"))
        else {
            continue;
        };
        let base = Incoming {
            sender_id: user.into(),
            sent_at: e.get("timestamp").and_then(Value::as_i64),
            reply_token: str_of(e, "replyToken").map(str::to_owned),
            ..Incoming::default()
        };
        match str_of(e, "type") {
            Some("message") => {
                let msg = e
                    .get("message")
                    .ok_or_else(|| malformed("message event without message"))?;
                out.push(Event::Message(parse_message(msg, base)?));
            }
            Some("postback") => {
                let data = e
                    .pointer("/postback/data")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed("postback without data"))?;
                let id = str_of(e, "webhookEventId")
                    .ok_or_else(|| malformed("postback without webhookEventId"))?;
                // LINE does not send the button's label back; the server knows the title of the
                // choice it offered with this id.
                out.push(Event::Message(Incoming {
                    message_id: id.into(),
                    text: data.into(),
                    choice: Some(data.into()),
                    ..base
                }));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn parse_message(msg: &Value, base: Incoming) -> Result<Incoming, InboundError> {
    let id = str_of(msg, "id").ok_or_else(|| malformed("message without id"))?;
    let mut m = Incoming {
        message_id: id.into(),
        ..base
    };
    // Content is fetched by message id from api-data.line.me/v2/bot/message/{id}/content.
    let media = |kind: &str, caption: Option<&str>| Media {
        kind: kind.into(),
        reference: id.into(),
        mime_type: None,
        caption: caption.map(str::to_owned),
    };
    match str_of(msg, "type") {
        Some("text") => m.text = str_of(msg, "text").unwrap_or_default().into(),
        Some(kind @ ("image" | "video" | "audio")) => m.media.push(media(kind, None)),
        Some("file") => {
            let name = str_of(msg, "fileName");
            m.text = name.unwrap_or_default().into();
            m.media.push(media("file", name));
        }
        Some("location") => {
            set_location(&mut m, msg, "title", malformed)?;
        }
        Some("sticker") => {
            m.text = str_of(msg, "text").unwrap_or_default().into();
            m.media.push(Media {
                kind: "sticker".into(),
                reference: format!(
                    "line-sticker:{}:{}",
                    str_of(msg, "packageId").unwrap_or_default(),
                    str_of(msg, "stickerId").unwrap_or_default()
                ),
                mime_type: None,
                caption: None,
            });
        }
        other => {
            m.text = format!(
                "[LINE {} message: not shown in Parley]",
                other.unwrap_or("unknown")
            )
        }
    }
    Ok(m)
}

/// What a LINE chat can show. Video and audio messages need a preview image or a duration that
/// a reply does not carry, so only images go natively.
pub fn capabilities() -> Capabilities {
    Capabilities {
        max_choices: MAX_QUICK_REPLIES,
        max_choice_title: MAX_LABEL,
        max_list_rows: 0,
        max_text: MAX_TEXT,
        media_types: &["image/jpeg", "image/png"],
        max_media_bytes: MAX_IMAGE,
        read_receipts: false,
        typing: false,
        window_hours: None,
        templates: false,
    }
}

/// LINE message objects for one part: the text (split so no piece passes 5,000 UTF-16 units),
/// then each image; choices become postback quick replies on the last message, where LINE shows
/// them.
pub fn render(part: &Part) -> Vec<Value> {
    let mut text = part.text.clone();
    let native = !part.choices.is_empty()
        && part.choices.len() <= MAX_QUICK_REPLIES
        && part.choices.iter().all(|c| {
            !c.id.is_empty()
                && c.id.chars().count() <= MAX_POSTBACK_DATA
                && !c.title.is_empty()
                && c.title.chars().count() <= MAX_LABEL
        });
    if !native && !part.choices.is_empty() {
        text.push_str(&numbered(&part.choices));
    }
    let mut images = Vec::new();
    for m in &part.media {
        let is_image = matches!(m.mime_type.as_str(), "image/jpeg" | "image/png");
        if is_image && m.size <= MAX_IMAGE {
            images.push(
                json!({"type": "image", "originalContentUrl": m.url, "previewImageUrl": m.url}),
            );
        } else {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&m.url);
        }
    }
    if text.is_empty() && images.is_empty() && native {
        text = CHOOSE_PROMPT.into();
    }
    let mut out: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        split_measured(&text, MAX_TEXT, |t| t.encode_utf16().count(), 2)
            .into_iter()
            .map(|t| json!({"type": "text", "text": t}))
            .collect()
    };
    out.extend(images);
    if native {
        let items: Vec<Value> = part
            .choices
            .iter()
            .map(|c| {
                // displayText is required on quick-reply postbacks: it is what the chat shows
                // as the customer's answer.
                json!({"type": "action", "action": {"type": "postback", "label": c.title,
                        "data": c.id, "displayText": c.title}})
            })
            .collect();
        if let Some(last) = out.last_mut() {
            last["quickReply"] = json!({ "items": items });
        }
    }
    out
}

/// Classifies a reply or push answer; the provider id is the first `sentMessages[].id`.
/// `POST /v2/bot/chat/loading/start`: the loading animation in a one-to-one chat, for five
/// seconds (the shortest LINE allows) or until the next message from the account.
pub fn loading_body(user_id: &str) -> Value {
    json!({ "chatId": user_id, "loadingSeconds": 5 })
}

pub fn classify(status: u16, body: &str) -> SendOutcome {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return SendOutcome::Accepted {
            provider_id: v
                .pointer("/sentMessages/0/id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
    }
    let message = str_of(&v, "message")
        .map(str::to_owned)
        .unwrap_or_else(|| body.chars().take(200).collect());
    let details: Vec<String> = v["details"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            format!(
                "{}: {}",
                str_of(d, "property").unwrap_or("?"),
                str_of(d, "message").unwrap_or("?")
            )
        })
        .collect();
    let mut said = format!("LINE error {status}: {message}");
    if !details.is_empty() {
        said.push_str(&format!(" ({})", details.join("; ")));
    }
    match status {
        400 if message == "Invalid reply token" => SendOutcome::Permanent(format!(
            "{said}: the reply token expired or was used already; send with push instead"
        )),
        // Not a burst limit: nothing more goes out until the month's quota resets.
        429 if message.contains("monthly limit") => SendOutcome::Permanent(format!(
            "{said}: the LINE account's monthly message quota is used up"
        )),
        401 => SendOutcome::Permanent(format!(
            "{said}: the channel access token is invalid or expired"
        )),
        408 | 429 | 500..=599 => SendOutcome::Transient(said),
        _ => SendOutcome::Permanent(said),
    }
}

/// Sends messages to a user: the first five with the reply token when there is one (free, but
/// single-use and short-lived), the rest by push, five per request. An expired reply token is
/// reported as permanent ("Invalid reply token"); callers should then send again without it.
pub async fn send(
    http: &crate::net::Client,
    api_base: &str,
    access_token: &str,
    to: &str,
    reply_token: Option<&str>,
    messages: Vec<Value>,
) -> SendOutcome {
    if messages.is_empty() {
        return SendOutcome::Permanent("the message is empty".into());
    }
    let base = api_base.trim_end_matches('/');
    let batches: Vec<&[Value]> = messages.chunks(MAX_MESSAGES_PER_REQUEST).collect();
    let total = messages.len();
    let mut first_id = None;
    let mut sent = 0;
    for (i, batch) in batches.into_iter().enumerate() {
        let (url, body) = match reply_token.filter(|_| i == 0) {
            Some(token) => (
                format!("{base}/v2/bot/message/reply"),
                json!({"replyToken": token, "messages": batch}),
            ),
            None => (
                format!("{base}/v2/bot/message/push"),
                json!({"to": to, "messages": batch}),
            ),
        };
        let outcome = match post_json(http, &url, Some(access_token), &body).await {
            Ok((status, text)) => classify(status, &text),
            Err(outcome) => outcome,
        };
        match outcome {
            SendOutcome::Accepted { provider_id } => first_id = first_id.or(provider_id),
            failure => return partial_failure(sent, total, failure),
        }
        sent += batch.len();
    }
    SendOutcome::Accepted {
        provider_id: first_id,
    }
}

#[cfg(test)]
mod tests;
