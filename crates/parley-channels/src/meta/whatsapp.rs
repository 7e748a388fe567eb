//! WhatsApp Cloud API: the `whatsapp_business_account` webhook (messages and statuses), message
//! bodies for `POST /{phone_number_id}/messages`, and the meaning of its errors.

use parley_core::message::DeliveryStatus;
use serde_json::{json, Value};

use super::{graph_error, messages_url};
use crate::common::{post_json, secs_to_ms, set_location, str_of};
use crate::rich::{
    numbered, split_text, Capabilities, Choice, Event, Incoming, Media, OutMedia, Part,
    StatusReport, Template,
};
use crate::{InboundError, SendOutcome};

const MAX_TEXT: usize = 4096;
/// Interactive bodies and media captions.
const MAX_BODY: usize = 1024;
const MAX_BUTTONS: usize = 3;
const MAX_BUTTON_TITLE: usize = 20;
const MAX_BUTTON_ID: usize = 256;
const MAX_LIST_ROWS: usize = 10;
const MAX_ROW_TITLE: usize = 24;
const MAX_ROW_ID: usize = 200;
/// The list message's button label (≤ 20 characters).
const LIST_BUTTON: &str = "Options";
/// Interactive messages need a body.
const CHOOSE_PROMPT: &str = "Please choose an option:";
const MB: u64 = 1_000_000;

fn malformed(what: impl std::fmt::Display) -> InboundError {
    InboundError::Malformed(format!("WhatsApp webhook: {what}"))
}

fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Parses a (verified) webhook into messages and delivery statuses, in the order they came.
pub fn parse_whatsapp(body: &[u8]) -> Result<Vec<Event>, InboundError> {
    Ok(parse_whatsapp_routed(body)?
        .into_iter()
        .map(|(_, e)| e)
        .collect())
}

/// Like [`parse_whatsapp`], with each event's `metadata.phone_number_id`: one WhatsApp Business
/// Account may hold several numbers, each its own inbox.
pub fn parse_whatsapp_routed(body: &[u8]) -> Result<Vec<(Option<String>, Event)>, InboundError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
    if str_of(&v, "object") != Some("whatsapp_business_account") {
        return Err(malformed("object is not whatsapp_business_account"));
    }
    let mut out = Vec::new();
    for change in items(&v, "entry").flat_map(|e| items(e, "changes")) {
        if str_of(change, "field") != Some("messages") {
            continue;
        }
        let value = change
            .get("value")
            .ok_or_else(|| malformed("change without value"))?;
        let number = value
            .pointer("/metadata/phone_number_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        for msg in items(value, "messages") {
            if let Some(m) = parse_message(msg, value)? {
                out.push((number.clone(), Event::Message(m)));
            }
        }
        for st in items(value, "statuses") {
            if let Some(s) = parse_status(st)? {
                out.push((number.clone(), Event::Status(s)));
            }
        }
    }
    Ok(out)
}

fn parse_message(msg: &Value, value: &Value) -> Result<Option<Incoming>, InboundError> {
    let id = str_of(msg, "id").ok_or_else(|| malformed("message without id"))?;
    let kind = str_of(msg, "type").unwrap_or("unknown");
    // `system` (the customer changed number) and reactions are not messages to answer.
    if matches!(kind, "system" | "reaction" | "request_welcome") {
        return Ok(None);
    }
    let contact =
        |key: &str, wanted: &str| items(value, "contacts").find(|c| str_of(c, key) == Some(wanted));
    // With WhatsApp usernames (2026), `from` may be missing; the business-scoped user id stands in.
    let (sender_id, sender_phone, contact) = match str_of(msg, "from") {
        Some(from) => {
            let phone = (!from.is_empty() && from.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("+{from}"));
            (from.to_string(), phone, contact("wa_id", from))
        }
        None => {
            let c = items(value, "contacts").next();
            let user = c.and_then(|c| str_of(c, "user_id"));
            let user = user.ok_or_else(|| malformed("message without from"))?;
            (user.to_string(), None, c)
        }
    };
    let mut m = Incoming {
        sender_id,
        sender_name: contact
            .and_then(|c| c.pointer("/profile/name"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        sender_phone,
        message_id: id.to_string(),
        sent_at: msg.get("timestamp").and_then(secs_to_ms),
        ..Incoming::default()
    };
    let body = msg.get(kind).unwrap_or(&Value::Null);
    match kind {
        "text" => m.text = str_of(body, "body").unwrap_or_default().to_string(),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let caption = str_of(body, "caption").map(str::to_owned);
            m.text = caption.clone().unwrap_or_default();
            m.media.push(Media {
                kind: kind.into(),
                reference: str_of(body, "id")
                    .ok_or_else(|| malformed(format!("{kind} without id")))?
                    .to_string(),
                mime_type: str_of(body, "mime_type").map(str::to_owned),
                caption,
            });
        }
        "interactive" => {
            let reply = body.get("button_reply").or_else(|| body.get("list_reply"));
            match reply {
                Some(r) => {
                    m.choice = str_of(r, "id").map(str::to_owned);
                    m.text = str_of(r, "title").unwrap_or_default().to_string();
                }
                None => m.text = "[WhatsApp form response]".into(),
            }
        }
        // A tap on a template's quick-reply button.
        "button" => {
            m.choice = str_of(body, "payload").map(str::to_owned);
            m.text = str_of(body, "text").unwrap_or_default().to_string();
        }
        "location" => {
            set_location(&mut m, body, "name", malformed)?;
        }
        "contacts" => {
            let cards: Vec<String> = items(msg, "contacts")
                .map(|c| {
                    let name = c
                        .pointer("/name/formatted_name")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    let phones: Vec<&str> = items(c, "phones")
                        .filter_map(|p| str_of(p, "phone"))
                        .collect();
                    format!("[Contact] {name} {}", phones.join(", "))
                        .trim_end()
                        .to_string()
                })
                .collect();
            m.text = cards.join("\n");
        }
        // `unsupported` and types this adapter does not know (orders, ...): the agent should
        // still see that the customer wrote.
        other => m.text = format!("[WhatsApp {other} message: not shown in Parley]"),
    }
    Ok(Some(m))
}

fn parse_status(st: &Value) -> Result<Option<StatusReport>, InboundError> {
    let id = str_of(st, "id").ok_or_else(|| malformed("status without id"))?;
    let status = match str_of(st, "status") {
        Some("sent") => DeliveryStatus::Sent,
        Some("delivered") => DeliveryStatus::Delivered,
        // `played`: a voice message was listened to, which is more than read.
        Some("read" | "played") => DeliveryStatus::Read,
        Some("failed") => DeliveryStatus::Failed,
        _ => return Ok(None),
    };
    let error = (status == DeliveryStatus::Failed).then(|| {
        let e = st.pointer("/errors/0").unwrap_or(&Value::Null);
        let code = e["code"]
            .as_i64()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "?".into());
        let title = str_of(e, "title")
            .or_else(|| str_of(e, "message"))
            .unwrap_or("no reason given");
        let mut reason = format!("WhatsApp error {code}: {title}");
        if let Some(details) = e.pointer("/error_data/details").and_then(Value::as_str) {
            reason.push_str(&format!(" ({details})"));
        }
        reason
    });
    Ok(Some(StatusReport {
        provider_id: id.to_string(),
        status,
        error,
    }))
}

/// What WhatsApp can show. Media follow Meta's supported-media table (as mirrored by AWS End
/// User Messaging and others): images JPEG/PNG ≤ 5 MB, video MP4/3GPP ≤ 16 MB, audio ≤ 16 MB,
/// documents ≤ 100 MB. `max_media_bytes` is the largest of these; `whatsapp_render` sends a
/// file over its own type's limit as a link.
pub fn whatsapp_capabilities() -> Capabilities {
    Capabilities {
        max_choices: MAX_BUTTONS,
        max_choice_title: MAX_BUTTON_TITLE,
        max_list_rows: MAX_LIST_ROWS,
        max_text: MAX_TEXT,
        media_types: &[
            "image/jpeg",
            "image/png",
            "video/mp4",
            "video/3gpp",
            "audio/aac",
            "audio/amr",
            "audio/mpeg",
            "audio/mp4",
            "audio/ogg",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-",
            "application/vnd.openxmlformats-officedocument.",
            "text/plain",
        ],
        max_media_bytes: 100 * MB,
        read_receipts: true,
        typing: false,
        window_hours: Some(24),
        templates: true,
    }
}

/// Whether a customer's WhatsApp id is a phone number (`wa_id`, digits with an optional `+`);
/// otherwise it is a business-scoped user id (`US.13491208655302741918`, or a parent id
/// `US.ENT.…`), which customers who hide their number behind a username are known by.
fn is_phone_id(id: &str) -> bool {
    let digits = id.strip_prefix('+').unwrap_or(id);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The Cloud API takes a phone number in `to` and a business-scoped user id only in `recipient`
/// (a BSUID in `to` is refused); `recipient_type` stays `individual` either way.
fn envelope(to: &str, kind: &str, content: Value) -> Value {
    let field = if is_phone_id(to) { "to" } else { "recipient" };
    let mut v = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": kind,
    });
    v[field] = Value::from(to);
    v[kind] = content;
    v
}

/// The message type a file goes as, or `None` when it is too big for its type.
fn media_kind(m: &OutMedia) -> Option<&'static str> {
    let (kind, limit) = match m.mime_type.split('/').next() {
        Some("image") => ("image", 5 * MB),
        Some("video") => ("video", 16 * MB),
        Some("audio") => ("audio", 16 * MB),
        _ => ("document", 100 * MB),
    };
    (m.size <= limit).then_some(kind)
}

fn media_message(to: &str, m: &OutMedia, kind: &str, caption: Option<&str>) -> Value {
    let mut content = json!({ "link": m.url });
    // Audio takes no caption.
    if let Some(c) = caption.filter(|c| !c.is_empty() && kind != "audio") {
        content["caption"] = Value::from(c);
    }
    if kind == "document" {
        if let Some(name) = &m.name {
            content["filename"] = Value::from(name.as_str());
        }
    }
    envelope(to, kind, content)
}

fn text_message(to: &str, text: &str) -> Value {
    let preview = text.contains("https://") || text.contains("http://");
    envelope(to, "text", json!({ "body": text, "preview_url": preview }))
}

fn fits(choices: &[Choice], max: usize, title: usize, id: usize) -> bool {
    !choices.is_empty()
        && choices.len() <= max
        && choices.iter().all(|c| {
            !c.id.is_empty()
                && c.id.len() <= id
                && !c.title.is_empty()
                && c.title.chars().count() <= title
        })
}

fn interactive(to: &str, body: &str, part: &Part) -> Option<Value> {
    let as_buttons =
        !part.as_list && fits(&part.choices, MAX_BUTTONS, MAX_BUTTON_TITLE, MAX_BUTTON_ID);
    let as_list = !as_buttons && fits(&part.choices, MAX_LIST_ROWS, MAX_ROW_TITLE, MAX_ROW_ID);
    let action = if as_buttons {
        let buttons: Vec<Value> = part
            .choices
            .iter()
            .map(|c| json!({"type": "reply", "reply": {"id": c.id, "title": c.title}}))
            .collect();
        json!({ "type": "button", "body": {"text": body}, "action": {"buttons": buttons} })
    } else if as_list {
        let rows: Vec<Value> = part
            .choices
            .iter()
            .map(|c| json!({"id": c.id, "title": c.title}))
            .collect();
        json!({ "type": "list", "body": {"text": body},
                "action": {"button": LIST_BUTTON, "sections": [{"title": LIST_BUTTON, "rows": rows}]} })
    } else {
        return None;
    };
    Some(envelope(to, "interactive", action))
}

/// The message bodies that deliver one part, in order. Choices become reply buttons (up to 3)
/// or, when the part asks for a list, one list section (up to 10 rows), carrying the last 1024
/// characters of text as their body; media go by `link`, a single one captioned with the text
/// when it fits.
pub fn whatsapp_render(to: &str, part: &Part) -> Vec<Value> {
    let mut text = part.text.clone();
    let mut files = Vec::new();
    for m in &part.media {
        match media_kind(m) {
            Some(kind) => files.push((m, kind)),
            None => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&m.url);
            }
        }
    }
    let probe = interactive(to, "", part);
    if probe.is_none() && !part.choices.is_empty() {
        text.push_str(&numbered(&part.choices));
    }
    let mut out = Vec::new();
    if probe.is_some() {
        for (m, kind) in &files {
            out.push(media_message(to, m, kind, None));
        }
        let mut chunks = split_text(&text, MAX_BODY);
        let body = chunks
            .pop()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| CHOOSE_PROMPT.into());
        // Earlier chunks go as plain text; they are at most 1024 characters each.
        out.extend(chunks.iter().map(|c| text_message(to, c)));
        out.extend(interactive(to, &body, part));
        return out;
    }
    if let [(m, kind)] = files.as_slice() {
        if *kind != "audio" && text.chars().count() <= MAX_BODY {
            return vec![media_message(to, m, kind, Some(&text))];
        }
    }
    if !text.is_empty() {
        out.extend(
            split_text(&text, MAX_TEXT)
                .iter()
                .map(|c| text_message(to, c)),
        );
    }
    out.extend(
        files
            .iter()
            .map(|(m, kind)| media_message(to, m, kind, None)),
    );
    out
}

/// A template message with the body parameters as text, in order, each with its name when the
/// template names them.
pub fn whatsapp_template(to: &str, template: &Template) -> Value {
    let mut content = json!({
        "name": template.name,
        "language": {"code": template.language},
    });
    if !template.params.is_empty() {
        let params: Vec<Value> = template
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| match template.names.get(i) {
                Some(name) => json!({"type": "text", "parameter_name": name, "text": p}),
                None => json!({"type": "text", "text": p}),
            })
            .collect();
        content["components"] = json!([{"type": "BODY", "parameters": params}]);
    }
    envelope(to, "template", content)
}

/// Marks a customer's message (and those before it) as read: blue ticks on their phone. It is
/// addressed by the message's id alone, so it is the same for phone numbers and BSUIDs.
pub fn mark_read_body(message_id: &str) -> Value {
    json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id})
}

/// Marks the customer's message read and shows "typing…" against it, until the reply arrives or
/// 25 seconds pass.
pub fn typing_body(message_id: &str) -> Value {
    let mut body = mark_read_body(message_id);
    body["typing_indicator"] = json!({ "type": "text" });
    body
}

/// Classifies the answer to `POST /{phone_number_id}/messages`; the provider id is
/// `messages[0].id` (the `wamid` statuses refer to).
pub fn classify_whatsapp(status: u16, body: &str) -> SendOutcome {
    if (200..300).contains(&status) {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        return SendOutcome::Accepted {
            provider_id: v
                .pointer("/messages/0/id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
    }
    let e = graph_error(body);
    let code = e
        .code
        .map(|c| c.to_string())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let mut said = e.message.clone();
    if let Some(d) = &e.details {
        said.push_str(&format!(" ({d})"));
    }
    match e.code {
        Some(131047) => SendOutcome::Permanent(format!(
            "Outside WhatsApp's 24-hour customer-service window: the customer has not written \
             in the last 24 hours, so only an approved template can be sent (WhatsApp error \
             131047: {said})"
        )),
        // Throughput, per-user pair rate, app and account rate limits; 1, 2 and 131000 are
        // Meta's "try again later".
        Some(130429 | 131056 | 131048 | 4 | 80007 | 1 | 2 | 131000 | 131016 | 133004) => {
            SendOutcome::Transient(format!("WhatsApp error {code}: {said}"))
        }
        Some(190) => SendOutcome::Permanent(format!(
            "The WhatsApp access token has expired or was revoked; renew it in the inbox \
             settings (WhatsApp error 190: {said})"
        )),
        _ if status >= 500 || status == 429 || status == 408 => {
            SendOutcome::Transient(format!("WhatsApp error {code}: {said}"))
        }
        _ => SendOutcome::Permanent(format!("WhatsApp error {code}: {said}")),
    }
}

/// Sends one body to `POST {graph_base}/{version}/{phone_number_id}/messages` with the access
/// token as a Bearer header (as Meta's Cloud API documents it).
pub async fn send_whatsapp(
    http: &crate::net::Client,
    graph_base: &str,
    version: &str,
    phone_number_id: &str,
    access_token: &str,
    body: &Value,
) -> SendOutcome {
    let url = messages_url(graph_base, version, phone_number_id);
    match post_json(http, &url, Some(access_token), body).await {
        Ok((status, text)) => classify_whatsapp(status, &text),
        Err(outcome) => outcome,
    }
}

#[cfg(test)]
mod tests;
