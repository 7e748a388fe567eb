//! The Graph API's outbound side through an inbox's settings: sending (a WhatsApp template, or
//! a part to WhatsApp, Messenger or Instagram), the credentials probes, typing indicators and
//! downloading a WhatsApp customer's media.

use crate::channel::Download;
use crate::net::{Client, RequestBuilder};
use crate::rich::{Media, Part, Template};
use crate::settings::MetaSettings;
use crate::SendOutcome;

use super::{MessengerTag, WindowVerdict};

/// Sends an approved WhatsApp template.
pub async fn send_template(
    http: &Client,
    s: &MetaSettings<'_>,
    to: &str,
    t: &Template,
) -> SendOutcome {
    let body = super::whatsapp_template(to, t);
    let token = s.credentials.access_token;
    super::send_whatsapp(
        http,
        s.api_base_url,
        s.graph_version,
        s.phone_number_id,
        token,
        &body,
    )
    .await
}

/// Sends one part of a reply to WhatsApp, as one or more messages.
pub async fn send_whatsapp_part(
    http: &Client,
    s: &MetaSettings<'_>,
    to: &str,
    part: &Part,
) -> SendOutcome {
    let token = s.credentials.access_token;
    let mut last = SendOutcome::Permanent("the message is empty".into());
    for body in super::whatsapp_render(to, part) {
        let (base, version, id) = (s.api_base_url, s.graph_version, s.phone_number_id);
        last = super::send_whatsapp(http, base, version, id, token, &body).await;
        if !matches!(last, SendOutcome::Accepted { .. }) {
            return last;
        }
    }
    last
}

/// Sends one part of a reply to Messenger or Instagram, tagged as the window allows: a
/// response inside it, a person's reply with `HUMAN_AGENT` past it, nothing once it closed.
pub async fn send_messenger_part(
    http: &Client,
    s: &MetaSettings<'_>,
    instagram: bool,
    window: Option<&WindowVerdict>,
    to: &str,
    part: &Part,
) -> SendOutcome {
    let tag = match window {
        Some(WindowVerdict::HumanAgentTag) => MessengerTag::HumanAgent,
        Some(WindowVerdict::Closed { reason }) => return SendOutcome::Permanent(reason.clone()),
        _ => MessengerTag::Response,
    };
    let bodies = if instagram {
        super::instagram_render(to, part, tag)
    } else {
        super::messenger_render(to, part, tag)
    };
    let token = s.credentials.access_token;
    let mut last = SendOutcome::Permanent("the message is empty".into());
    for body in bodies {
        let (base, version, page) = (s.api_base_url, s.graph_version, s.page_id);
        last = super::send_messenger(http, base, version, page, token, &body).await;
        if !matches!(last, SendOutcome::Accepted { .. }) {
            return last;
        }
    }
    last
}

fn graph<'a>(s: &MetaSettings<'a>) -> (&'a str, &'a str) {
    (
        s.api_base_url.trim_end_matches('/'),
        s.graph_version.trim_matches('/'),
    )
}

/// The WhatsApp number itself: a read that changes nothing.
pub fn probe_whatsapp(http: &Client, s: &MetaSettings<'_>) -> RequestBuilder {
    let (base, version) = graph(s);
    http.get(format!("{base}/{version}/{}", s.phone_number_id))
        .bearer_auth(s.credentials.access_token)
}

/// The page the token is for: a read that changes nothing.
pub fn probe_page(http: &Client, s: &MetaSettings<'_>) -> RequestBuilder {
    let (base, version) = graph(s);
    http.get(format!("{base}/{version}/me"))
        .bearer_auth(s.credentials.access_token)
}

/// WhatsApp's typing indicator, shown against the customer's message being answered (which it
/// also marks read).
pub fn whatsapp_typing(http: &Client, s: &MetaSettings<'_>, message_id: &str) -> RequestBuilder {
    let (base, version) = graph(s);
    http.post(format!("{base}/{version}/{}/messages", s.phone_number_id))
        .bearer_auth(s.credentials.access_token)
        .json(&super::whatsapp_typing_body(message_id))
}

/// Messenger's and Instagram's typing bubble.
pub fn messenger_typing(http: &Client, s: &MetaSettings<'_>, to: &str) -> RequestBuilder {
    let (base, version) = graph(s);
    http.post(format!("{base}/{version}/{}/messages", s.page_id))
        .bearer_auth(s.credentials.access_token)
        .json(&super::messenger_typing_body(to))
}

/// Downloads a WhatsApp media id: it resolves to a short-lived URL, fetched with the same token
/// only on Meta's CDN (or the inbox's own base URL when it was set), so the token goes nowhere
/// else.
pub async fn fetch_media(http: &Client, s: &MetaSettings<'_>, m: &Media) -> Option<Download> {
    let (base, token) = (s.api_base_url, s.credentials.access_token);
    let resp = http
        .get(format!("{base}/{}/{}", s.graph_version, m.reference))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?;
    let info = crate::net::json_capped(resp).await;
    let url = info["url"].as_str()?;
    let url = crate::net::provider_url(
        url,
        base,
        super::GRAPH_BASE,
        super::is_media_url,
        "Meta's media",
    )
    .map_err(|e| tracing::warn!(reason = %e, "a WhatsApp media link was not fetched"))
    .ok()?;
    Some(Download {
        answer: http.get(url.as_str()).bearer_auth(token).send().await,
        filename: m.caption.clone().filter(|_| m.kind == "document"),
        content_type: m.mime_type.clone(),
    })
}
