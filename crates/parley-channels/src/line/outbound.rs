//! LINE's outbound side through an inbox's settings: sending a part (free with a fresh reply
//! token, else by push), the bot-info probe and the loading animation.

use crate::net::{Client, RequestBuilder};
use crate::rich::Part;
use crate::settings::LineSettings;
use crate::SendOutcome;

/// Sends one part of a reply, with the customer's reply token when there is one; an expired or
/// used token sends the same message as a push instead.
pub async fn send_part(
    http: &Client,
    s: &LineSettings<'_>,
    to: &str,
    reply_token: Option<String>,
    part: &Part,
) -> SendOutcome {
    let (base, access) = (s.api_base_url, s.credentials.access_token);
    if let Some(token) = reply_token {
        match super::send(http, base, access, to, Some(&token), super::render(part)).await {
            SendOutcome::Permanent(_) => {}
            other => return other,
        }
    }
    super::send(http, base, access, to, None, super::render(part)).await
}

/// The bot's info: a read that changes nothing.
pub fn probe(http: &Client, s: &LineSettings<'_>) -> RequestBuilder {
    let base = s.api_base_url.trim_end_matches('/');
    http.get(format!("{base}/v2/bot/info"))
        .bearer_auth(s.credentials.access_token)
}

/// The loading animation in the customer's chat.
pub fn typing(http: &Client, s: &LineSettings<'_>, to: &str) -> RequestBuilder {
    let base = s.api_base_url.trim_end_matches('/');
    http.post(format!("{base}/v2/bot/chat/loading/start"))
        .bearer_auth(s.credentials.access_token)
        .json(&super::loading_body(to))
}
