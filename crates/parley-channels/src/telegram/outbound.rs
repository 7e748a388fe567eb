//! Telegram's outbound side through an inbox's settings: sending a part, the `getMe` probe, the
//! typing action, and downloading a customer's file.

use crate::channel::Download;
use crate::net::{Client, RequestBuilder};
use crate::rich::{Media, Part};
use crate::settings::TelegramSettings;
use crate::SendOutcome;

/// Sends one part of a reply to a chat.
pub async fn send_part(
    http: &Client,
    s: &TelegramSettings<'_>,
    chat_id: &str,
    part: &Part,
) -> SendOutcome {
    super::send(http, s.api_base_url, s.credentials.bot_token, chat_id, part).await
}

/// `getMe`: who the bot is, a read that changes nothing.
pub fn probe(http: &Client, s: &TelegramSettings<'_>) -> RequestBuilder {
    let base = s.api_base_url.trim_end_matches('/');
    http.get(format!("{base}/bot{}/getMe", s.credentials.bot_token))
}

/// "typing…" in the chat.
pub fn typing(http: &Client, s: &TelegramSettings<'_>, chat_id: &str) -> RequestBuilder {
    let base = s.api_base_url.trim_end_matches('/');
    let (method, body) = super::typing_body(chat_id);
    let url = format!("{base}/bot{}/{method}", s.credentials.bot_token);
    http.post(url).json(&body)
}

/// Resolves a file id with `getFile`, then downloads it from the inbox's own file API: a path
/// cannot name another host or climb out.
pub async fn fetch_media(http: &Client, s: &TelegramSettings<'_>, m: &Media) -> Option<Download> {
    let (base, token) = (s.api_base_url, s.credentials.bot_token);
    let resp = http
        .get(format!("{base}/bot{token}/getFile"))
        .query(&[("file_id", m.reference.as_str())])
        .send()
        .await
        .ok()?;
    let info = crate::net::json_capped(resp).await;
    let path = info["result"]["file_path"].as_str()?;
    let Some(url) = super::file_url(base, token, path) else {
        tracing::warn!("a Telegram file path outside the file API was not fetched");
        return None;
    };
    Some(Download {
        answer: http.get(url).send().await,
        filename: path.rsplit('/').next().map(str::to_string),
        content_type: m.mime_type.clone(),
    })
}
