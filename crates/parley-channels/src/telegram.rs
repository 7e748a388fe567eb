//! Telegram Bot API: checks the webhook's secret-token header, parses private-chat updates
//! (messages and inline-keyboard taps) and renders and sends replies by URL (channels reference,
//! section 6). Group chats, edits and bots are ignored: Parley talks to one customer per chat.

use serde_json::{json, Value};

use crate::common::{constant_time_eq, partial_failure, post_json, secs_to_ms, str_of};
use crate::rich::{
    numbered, split_text, Capabilities, Choice, Event, Incoming, Location, Media, OutMedia, Part,
};
use crate::{InboundError, SendOutcome};

/// Carries the `secret_token` given to `setWebhook` on every webhook call.
mod outbound;

pub use outbound::{fetch_media, probe, send_part, typing};

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// `callback_data` is 1-64 bytes; a choice with a longer id is offered as numbered text.
const MAX_CALLBACK_DATA: usize = 64;
const MAX_TEXT: usize = 4096;
const MAX_CAPTION: usize = 1024;
/// Limits for files Telegram fetches by URL (as we send them), lower than for uploads
/// (10 MB photos, 50 MB other files): 5 MB for photos, 20 MB for the rest.
const MAX_PHOTO_BY_URL: u64 = 5_000_000;
const MAX_FILE_BY_URL: u64 = 20_000_000;
/// Used when a reply is only choices: `sendMessage` refuses empty text.
const CHOOSE_PROMPT: &str = "Please choose an option:";

/// Checks the secret-token header in constant time.
pub fn verify(expected_secret: &str, header: Option<&str>) -> Result<(), InboundError> {
    match header {
        Some(h)
            if !expected_secret.is_empty()
                && constant_time_eq(h.as_bytes(), expected_secret.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(InboundError::BadSignature),
    }
}

fn malformed(what: &str) -> InboundError {
    InboundError::Malformed(format!("Telegram update: {what}"))
}

/// Parses one webhook update into what it carries for Parley: nothing for edits, group chats,
/// membership changes and bots.
pub fn parse(body: &[u8]) -> Result<Vec<Event>, InboundError> {
    let update: Value =
        serde_json::from_slice(body).map_err(|e| malformed(&format!("invalid JSON: {e}")))?;
    if !update.is_object() {
        return Err(malformed("not an object"));
    }
    if let Some(msg) = update.get("message") {
        return parse_message(msg);
    }
    if let Some(cb) = update.get("callback_query") {
        return parse_callback(cb);
    }
    Ok(Vec::new())
}

fn full_name(user: &Value) -> Option<String> {
    let parts: Vec<&str> = ["first_name", "last_name"]
        .iter()
        .filter_map(|k| user.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The private chat a message belongs to, or `None` for groups and channels.
fn private_chat_id(msg: &Value) -> Result<Option<i64>, InboundError> {
    let chat = msg
        .get("chat")
        .ok_or_else(|| malformed("message without chat"))?;
    let id = chat
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| malformed("chat without id"))?;
    Ok((chat.get("type").and_then(Value::as_str) == Some("private")).then_some(id))
}

fn parse_message(msg: &Value) -> Result<Vec<Event>, InboundError> {
    let Some(chat_id) = private_chat_id(msg)? else {
        return Ok(Vec::new());
    };
    let message_id = msg
        .get("message_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| malformed("message without message_id"))?;
    let from = msg.get("from").unwrap_or(&Value::Null);
    if from.get("is_bot").and_then(Value::as_bool) == Some(true) {
        return Ok(Vec::new());
    }
    let caption = str_of(msg, "caption").map(str::to_owned);
    let mut text = str_of(msg, "text")
        .map(str::to_owned)
        .or_else(|| caption.clone())
        .unwrap_or_default();
    let media = message_media(msg, caption.as_deref());
    let location = message_location(msg);
    if let Some(loc) = &location {
        if text.is_empty() {
            text = loc
                .name
                .clone()
                .or_else(|| loc.address.clone())
                .unwrap_or_else(|| "Location".into());
        }
    }
    // A contact the customer shares of themselves is how Telegram reveals a phone number.
    let mut sender_phone = None;
    if let Some(contact) = msg.get("contact") {
        let phone = str_of(contact, "phone_number").unwrap_or_default();
        let own = contact.get("user_id").is_some() && contact.get("user_id") == from.get("id");
        if own && !phone.is_empty() {
            sender_phone = Some(format!("+{}", phone.trim_start_matches('+')));
        }
        if text.is_empty() {
            let name = full_name(contact).unwrap_or_default();
            text = format!("[Contact] {name} {phone}").trim_end().to_string();
        }
    }
    if text.is_empty() && media.is_empty() && location.is_none() {
        // Polls, dice and the like: the agent should know something arrived. Anything else
        // without content is a service message (pins, payments, ...), not the customer talking.
        match ["poll", "dice", "game", "story", "invoice"]
            .iter()
            .find(|k| msg.get(**k).is_some())
        {
            Some(kind) => text = format!("[Telegram {kind}: not shown in Parley]"),
            None => return Ok(Vec::new()),
        }
    }
    Ok(vec![Event::Message(Incoming {
        sender_id: chat_id.to_string(),
        sender_name: full_name(from).or_else(|| msg.get("chat").and_then(full_name)),
        sender_phone,
        message_id: format!("{chat_id}:{message_id}"),
        text,
        media,
        choice: None,
        location,
        sent_at: msg.get("date").and_then(secs_to_ms),
        reply_token: None,
    })])
}

fn message_media(msg: &Value, caption: Option<&str>) -> Vec<Media> {
    let file = |v: &Value, kind: &str| {
        str_of(v, "file_id").map(|id| Media {
            kind: kind.into(),
            reference: id.into(),
            mime_type: str_of(v, "mime_type").map(str::to_owned),
            caption: caption.map(str::to_owned),
        })
    };
    // The largest size comes last.
    if let Some(largest) = msg
        .get("photo")
        .and_then(Value::as_array)
        .and_then(|s| s.last())
    {
        return file(largest, "image").into_iter().collect();
    }
    // An animation also carries `document` for old clients, so it is looked at first.
    let kinds = [
        ("animation", "video"),
        ("video", "video"),
        ("video_note", "video"),
        ("voice", "audio"),
        ("audio", "audio"),
        ("sticker", "sticker"),
        ("document", "document"),
    ];
    kinds
        .iter()
        .find_map(|(field, kind)| msg.get(*field).and_then(|v| file(v, kind)))
        .into_iter()
        .collect()
}

fn message_location(msg: &Value) -> Option<Location> {
    let venue = msg.get("venue");
    let loc = venue
        .and_then(|v| v.get("location"))
        .or_else(|| msg.get("location"))?;
    Some(Location {
        latitude: loc.get("latitude")?.as_f64()?,
        longitude: loc.get("longitude")?.as_f64()?,
        name: venue.and_then(|v| str_of(v, "title")).map(str::to_owned),
        address: venue.and_then(|v| str_of(v, "address")).map(str::to_owned),
    })
}

fn parse_callback(cb: &Value) -> Result<Vec<Event>, InboundError> {
    let id = str_of(cb, "id").ok_or_else(|| malformed("callback_query without id"))?;
    // Game buttons carry no data, and are none of ours.
    let Some(data) = str_of(cb, "data") else {
        return Ok(Vec::new());
    };
    let from = cb
        .get("from")
        .ok_or_else(|| malformed("callback_query without from"))?;
    let chat_id = match cb.get("message") {
        Some(msg) => match private_chat_id(msg)? {
            Some(id) => id,
            None => return Ok(Vec::new()),
        },
        // In a private chat the chat id is the user's id.
        None => from
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| malformed("callback_query without from.id"))?,
    };
    let title = cb
        .pointer("/message/reply_markup/inline_keyboard")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .find(|b| str_of(b, "callback_data") == Some(data))
        .and_then(|b| str_of(b, "text"));
    Ok(vec![Event::Message(Incoming {
        sender_id: chat_id.to_string(),
        sender_name: full_name(from),
        message_id: format!("cb:{id}"),
        text: title.unwrap_or(data).to_string(),
        choice: Some(data.to_string()),
        ..Incoming::default()
    })])
}

/// What a Telegram chat can show.
pub fn capabilities() -> Capabilities {
    Capabilities {
        // One button per row; ten rows still fit a phone screen.
        max_choices: 10,
        // Telegram sets no limit on button text, but clips long ones on narrow screens.
        max_choice_title: 40,
        max_list_rows: 0,
        max_text: MAX_TEXT,
        // What Telegram accepts by URL: sendDocument by URL works only for PDF, ZIP and GIF.
        media_types: &[
            "image/jpeg",
            "image/png",
            "image/gif",
            "video/mp4",
            "audio/mpeg",
            "audio/mp4",
            "application/pdf",
            "application/zip",
        ],
        max_media_bytes: MAX_FILE_BY_URL,
        read_receipts: false,
        typing: true,
        window_hours: None,
        templates: false,
    }
}

/// The method and field that send a file by URL, or `None` when it must go as a link.
fn media_method(m: &OutMedia) -> Option<(&'static str, &'static str)> {
    let mime = m.mime_type.as_str();
    if m.size > MAX_FILE_BY_URL {
        return None;
    }
    match mime {
        "image/gif" => Some(("sendAnimation", "animation")),
        "image/jpeg" | "image/png" if m.size <= MAX_PHOTO_BY_URL => Some(("sendPhoto", "photo")),
        "video/mp4" => Some(("sendVideo", "video")),
        "audio/mpeg" | "audio/mp4" => Some(("sendAudio", "audio")),
        "application/pdf" | "application/zip" => Some(("sendDocument", "document")),
        _ => None,
    }
}

/// Telegram takes a numeric chat id as a number; anything else (`@channel`) as a string.
fn chat_id_value(chat_id: &str) -> Value {
    chat_id
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(chat_id))
}

fn fits_keyboard(choices: &[Choice]) -> bool {
    !choices.is_empty()
        && choices
            .iter()
            .all(|c| !c.id.is_empty() && c.id.len() <= MAX_CALLBACK_DATA && !c.title.is_empty())
}

/// The Bot API calls (method, JSON body) that deliver one part, in order. Choices become an
/// inline keyboard (one button per row) on the last text message; media go by URL, and a single
/// attachment carries the text as its caption when it fits.
pub fn render(chat_id: &str, part: &Part) -> Vec<(&'static str, Value)> {
    let chat = chat_id_value(chat_id);
    let mut text = part.text.clone();
    let keyboard = fits_keyboard(&part.choices).then(|| {
        let rows: Vec<Value> = part
            .choices
            .iter()
            .map(|c| json!([{"text": c.title, "callback_data": c.id}]))
            .collect();
        json!({ "inline_keyboard": rows })
    });
    if keyboard.is_none() && !part.choices.is_empty() {
        text.push_str(&numbered(&part.choices));
    }
    let mut media_calls = Vec::new();
    for m in &part.media {
        match media_method(m) {
            Some((method, field)) => {
                media_calls.push((method, json!({ "chat_id": chat, field: m.url })))
            }
            None => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&m.url);
            }
        }
    }
    if media_calls.len() == 1 && keyboard.is_none() && text.chars().count() <= MAX_CAPTION {
        if !text.is_empty() {
            media_calls[0].1["caption"] = Value::from(text);
        }
        return media_calls;
    }
    if text.is_empty() && keyboard.is_some() {
        text = CHOOSE_PROMPT.into();
    }
    let mut text_calls: Vec<(&'static str, Value)> = if text.is_empty() {
        Vec::new()
    } else {
        split_text(&text, MAX_TEXT)
            .into_iter()
            .map(|t| ("sendMessage", json!({ "chat_id": chat, "text": t })))
            .collect()
    };
    match keyboard {
        // Buttons go last, right above the customer's input.
        Some(kb) => {
            if let Some(last) = text_calls.last_mut() {
                last.1["reply_markup"] = kb;
            }
            media_calls.extend(text_calls);
            media_calls
        }
        None => {
            text_calls.extend(media_calls);
            text_calls
        }
    }
}

/// Classifies a Bot API answer; on success the provider id is `"{chat_id}:{message_id}"`, the
/// same form `parse` gives inbound messages.
pub fn classify(chat_id: &str, status: u16, body: &str) -> SendOutcome {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if (200..300).contains(&status) && v["ok"].as_bool() == Some(true) {
        let provider_id = v
            .pointer("/result/message_id")
            .and_then(Value::as_i64)
            .map(|id| format!("{chat_id}:{id}"));
        return SendOutcome::Accepted { provider_id };
    }
    let code = v["error_code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(status);
    let description = v["description"].as_str().unwrap_or("no description");
    if let Some(after) = v.pointer("/parameters/retry_after").and_then(Value::as_i64) {
        return SendOutcome::Transient(format!(
            "Telegram rate limit: retry after {after} s ({description})"
        ));
    }
    let reason = format!("Telegram error {code}: {description}");
    match code {
        408 | 429 | 500..=599 => SendOutcome::Transient(reason),
        _ => SendOutcome::Permanent(reason),
    }
}

/// Sends one part: each rendered call is `POST {api_base}/bot{token}/{method}` with a JSON body.
/// The provider id is the first message's.
pub async fn send(
    http: &crate::net::Client,
    api_base: &str,
    bot_token: &str,
    chat_id: &str,
    part: &Part,
) -> SendOutcome {
    let calls = render(chat_id, part);
    if calls.is_empty() {
        return SendOutcome::Permanent("the message is empty".into());
    }
    let total = calls.len();
    let mut first_id = None;
    for (sent, (method, body)) in calls.into_iter().enumerate() {
        let url = format!("{}/bot{bot_token}/{method}", api_base.trim_end_matches('/'));
        let outcome = match post_json(http, &url, None, &body).await {
            Ok((status, text)) => classify(chat_id, status, &text),
            Err(outcome) => outcome,
        };
        match outcome {
            SendOutcome::Accepted { provider_id } => {
                first_id = first_id.or(provider_id);
            }
            failure => return partial_failure(sent, total, failure),
        }
    }
    SendOutcome::Accepted {
        provider_id: first_id,
    }
}

/// Where a file `getFile` named is downloaded: `{api_base}/file/bot{token}/{file_path}`, on the
/// inbox's own base URL. `None` when the path could lead elsewhere (absolute, a URL, `..`, or
/// characters Telegram's paths never hold).
pub fn file_url(api_base: &str, bot_token: &str, file_path: &str) -> Option<String> {
    let safe = !file_path.is_empty()
        && file_path.len() <= 512
        && file_path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'))
        && file_path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    safe.then(|| {
        format!(
            "{}/file/bot{bot_token}/{file_path}",
            api_base.trim_end_matches('/')
        )
    })
}

/// The `setWebhook` body: only the updates `parse` reads are asked for.
pub fn set_webhook_body(url: &str, secret_token: &str) -> Value {
    json!({
        "url": url,
        "secret_token": secret_token,
        "allowed_updates": ["message", "callback_query"],
    })
}

/// The `answerCallbackQuery` body that stops the tapped button's spinner; send it for every
/// callback (its id is the part of `message_id` after `cb:`).
pub fn answer_callback_body(callback_id: &str) -> Value {
    json!({ "callback_query_id": callback_id })
}

/// The id of the inline-keyboard tap an update carries, if it is one. Every tap needs an answer,
/// whatever `parse` makes of it (a group's, a game button's), or the customer's app shows a
/// spinner on the button until Telegram gives up.
pub fn callback_query_id(update: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(update).ok()?;
    let id = v.pointer("/callback_query/id")?.as_str()?;
    (!id.is_empty()).then(|| id.to_string())
}

/// Answers a tap with `answerCallbackQuery`, which stops its spinner; the provider's refusal is
/// returned as its classified reason.
pub async fn answer_callback(
    http: &crate::net::Client,
    api_base: &str,
    bot_token: &str,
    callback_id: &str,
) -> Result<(), String> {
    let url = format!(
        "{}/bot{bot_token}/answerCallbackQuery",
        api_base.trim_end_matches('/')
    );
    let outcome = match post_json(http, &url, None, &answer_callback_body(callback_id)).await {
        Ok((status, text)) => classify(callback_id, status, &text),
        Err(outcome) => outcome,
    };
    match outcome {
        SendOutcome::Accepted { .. } => Ok(()),
        SendOutcome::Transient(e) | SendOutcome::Permanent(e) => Err(e),
    }
}

/// The `sendChatAction` call that shows "typing…" for a few seconds.
pub fn typing_body(chat_id: &str) -> (&'static str, Value) {
    (
        "sendChatAction",
        json!({ "chat_id": chat_id_value(chat_id), "action": "typing" }),
    )
}

#[cfg(test)]
mod tests;
