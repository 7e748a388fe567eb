//! Meta's Graph API channels: WhatsApp Business Cloud API, Facebook Messenger and Instagram. They
//! share the webhook handshake, the `X-Hub-Signature-256` check, the Graph error shape and the
//! rules on when a business may write (channels reference, sections 4 and 5).

use serde_json::Value;

use crate::common::{constant_time_eq, hmac_sha256};
use crate::InboundError;

mod messenger;
mod outbound;
mod templates;
mod whatsapp;

pub use messenger::{
    classify_messenger, instagram_capabilities, instagram_render, messenger_capabilities,
    messenger_render, messenger_typing_body, parse_messenger, parse_messenger_routed,
    send_messenger, MessengerTag,
};
pub use outbound::{
    fetch_media, messenger_typing, probe_page, probe_whatsapp, send_messenger_part, send_template,
    send_whatsapp_part, whatsapp_typing,
};
pub use templates::templates;
pub use whatsapp::{
    classify_whatsapp, mark_read_body, parse_whatsapp, parse_whatsapp_routed, send_whatsapp,
    typing_body as whatsapp_typing_body, whatsapp_capabilities, whatsapp_render, whatsapp_template,
};

/// `sha256=<lower-case hex HMAC-SHA256 of the raw body under the App Secret>`.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Checks the signature over the exact bytes received, in constant time.
pub fn verify(app_secret: &str, header: Option<&str>, body: &[u8]) -> Result<(), InboundError> {
    let sig = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or(InboundError::BadSignature)?;
    if !app_secret.is_empty() && constant_time_eq(&hmac_sha256(app_secret.as_bytes(), body), &sig) {
        Ok(())
    } else {
        Err(InboundError::BadSignature)
    }
}

/// Answers the `GET` Meta sends when a webhook is set up: the raw `hub.challenge` is the body of
/// a 200 when `hub.mode` is `subscribe` and `hub.verify_token` is ours; anything else is a 403.
pub fn handshake(query: &str, verify_token: &str) -> Result<String, InboundError> {
    let get = |key: &str| {
        form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let token_ok = get("hub.verify_token").is_some_and(|t| {
        !verify_token.is_empty() && constant_time_eq(t.as_bytes(), verify_token.as_bytes())
    });
    if get("hub.mode").as_deref() != Some("subscribe") || !token_ok {
        return Err(InboundError::BadSignature);
    }
    get("hub.challenge").ok_or_else(|| InboundError::Malformed("missing hub.challenge".into()))
}

/// Which of Meta's channels a conversation is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    WhatsApp,
    Messenger,
    Instagram,
}

impl Channel {
    fn name(self) -> &'static str {
        match self {
            Channel::WhatsApp => "WhatsApp",
            Channel::Messenger => "Messenger",
            Channel::Instagram => "Instagram",
        }
    }
}

/// What the business may send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowVerdict {
    /// Any message, as a plain response.
    Open,
    /// Messenger/Instagram, 24 hours to 7 days after the customer's last message: only a human
    /// agent may reply, with the `HUMAN_AGENT` tag.
    HumanAgentTag,
    /// WhatsApp outside the window: only an approved template.
    TemplateOnly { reason: String },
    /// Nothing may be sent until the customer writes again.
    Closed { reason: String },
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Decides what may be sent, from when the customer last wrote. A window is open while less than
/// its length has passed: at exactly 24 hours (or 7 days) it is closed, as Meta may already
/// refuse. `human` says a person, not automation, wrote the reply.
pub fn window(
    kind: Channel,
    last_customer_message_ms: Option<i64>,
    now_ms: i64,
    human: bool,
) -> WindowVerdict {
    let name = kind.name();
    let Some(last) = last_customer_message_ms else {
        return match kind {
            Channel::WhatsApp => WindowVerdict::TemplateOnly {
                reason: "The customer has not written on WhatsApp yet: only an approved template \
                         can start the conversation."
                    .into(),
            },
            _ => WindowVerdict::Closed {
                reason: format!(
                    "The customer has not written on {name} yet, and {name} only lets a \
                     business reply to people who wrote first."
                ),
            },
        };
    };
    // A clock running behind the provider's must not close a window that just opened.
    let elapsed = now_ms.saturating_sub(last).max(0);
    if elapsed < DAY_MS {
        return WindowVerdict::Open;
    }
    let ago = human_duration(elapsed);
    match kind {
        Channel::WhatsApp => WindowVerdict::TemplateOnly {
            reason: format!(
                "Outside WhatsApp's 24-hour customer-service window: the customer last wrote \
                 {ago} ago; send an approved template."
            ),
        },
        _ if elapsed < 7 * DAY_MS && human => WindowVerdict::HumanAgentTag,
        _ if elapsed < 7 * DAY_MS => WindowVerdict::Closed {
            reason: format!(
                "Outside {name}'s 24-hour window: the customer last wrote {ago} ago. Only a \
                 human agent can still reply, until 7 days after their last message."
            ),
        },
        _ => WindowVerdict::Closed {
            reason: format!(
                "{name} allows no reply now: the customer last wrote {ago} ago, more than 7 days, \
                 so even a human agent must wait until they write again."
            ),
        },
    }
}

/// "25 hours", "3 days 4 hours": precise enough for an agent deciding what to do.
fn human_duration(ms: i64) -> String {
    let hours = ms / HOUR_MS;
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if hours < 48 {
        return plural(hours, "hour");
    }
    match (hours / 24, hours % 24) {
        (days, 0) => plural(days, "day"),
        (days, rest) => format!("{} {}", plural(days, "day"), plural(rest, "hour")),
    }
}

/// The `error` object of a Graph API answer.
#[derive(Debug, Default)]
struct GraphError {
    code: Option<i64>,
    subcode: Option<i64>,
    message: String,
    /// WhatsApp's `error_data.details`, usually the clearest sentence.
    details: Option<String>,
}

fn graph_error(body: &str) -> GraphError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let e = &v["error"];
    GraphError {
        code: e["code"].as_i64(),
        subcode: e["error_subcode"].as_i64(),
        message: e["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| body.chars().take(200).collect()),
        details: e
            .pointer("/error_data/details")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// The Graph API, the default base URL of WhatsApp, Messenger and Instagram inboxes.
pub const GRAPH_BASE: &str = "https://graph.facebook.com";

/// Where a Graph API media answer's `url` may point: Meta's CDN (lookaside.fbsbx.com and other
/// hosts under fbsbx.com, hosts under fbcdn.net).
pub fn is_media_url(u: &reqwest::Url) -> bool {
    u.host_str().is_some_and(|h| {
        crate::net::host_under(h, "fbsbx.com") || crate::net::host_under(h, "fbcdn.net")
    })
}

/// `{graph_base}/{version}/{node}/messages`, tolerant of stray slashes in configuration.
fn messages_url(graph_base: &str, version: &str, node: &str) -> String {
    format!(
        "{}/{}/{node}/messages",
        graph_base.trim_end_matches('/'),
        version.trim_matches('/')
    )
}

#[cfg(test)]
mod tests;
