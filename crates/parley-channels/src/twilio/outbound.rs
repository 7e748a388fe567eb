//! Twilio's outbound side: sending an SMS or MMS, the credentials probe, and downloading a
//! customer's MMS media.

use crate::channel::{Download, Outgoing, Sent};
use crate::net::{provider_url, Client, RequestBuilder};
use crate::rich::{self, Media};
use crate::settings::TwilioSettings;
use crate::SendOutcome;

use super::{classify_send, is_api_url, is_media_cdn_url, send_form, SendError, API_BASE};

/// Sends an SMS through the Messages API, asking for status callbacks at `out.status_callback`.
/// Choices go as numbered lines, files as MMS media links.
pub async fn send_sms(
    http: &Client,
    s: &TwilioSettings<'_>,
    auth_token: &str,
    out: &Outgoing<'_>,
) -> Sent {
    let base = s.api_base_url.unwrap_or_default();
    let sid = s.account_sid;
    let url = format!("{base}/2010-04-01/Accounts/{sid}/Messages.json");
    let mut text = out.reply.text.clone();
    if !out.reply.choices.is_empty() {
        text.push_str(&rich::numbered(&out.reply.choices));
    }
    let media: Vec<String> = out.reply.media.iter().map(|m| m.url.clone()).collect();
    let callback = format!(
        "{}/hooks/twilio/{}",
        out.public_url.trim_end_matches('/'),
        out.inbox
    );
    let form = send_form(out.to, s.from, &text, &media, Some(&callback));
    let resp = http
        .post(url)
        .basic_auth(sid, Some(auth_token))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(form)
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = crate::net::text_capped(r, crate::net::JSON_MAX_BYTES).await;
            match classify_send(status, &text) {
                Ok(provider_id) => Sent::Outcome(SendOutcome::Accepted {
                    provider_id: Some(provider_id),
                }),
                Err(SendError::OptedOut) => Sent::OptedOut {
                    sender: s.from.to_string(),
                },
                Err(SendError::Other(o)) => Sent::Outcome(o),
            }
        }
        Err(e) if e.is_permanent() => {
            Sent::Outcome(SendOutcome::Permanent(format!("Twilio not reached: {e}")))
        }
        Err(e) => Sent::Outcome(SendOutcome::Transient(format!("Twilio unreachable: {e}"))),
    }
}

/// The account itself: a read that changes nothing.
pub fn probe(http: &Client, s: &TwilioSettings<'_>, auth_token: &str) -> RequestBuilder {
    let base = s.api_base_url.unwrap_or_default().trim_end_matches('/');
    let sid = s.account_sid;
    let url = format!("{base}/2010-04-01/Accounts/{sid}.json");
    http.get(url).basic_auth(sid, Some(auth_token))
}

/// Fetches an MMS's media with the account's credentials, only from Twilio's API (or the inbox's
/// own base URL when it was set). Twilio answers with a redirect to a short-lived link on its
/// media CDN: that one redirect is followed, without the credentials.
pub async fn fetch_media(
    http: &Client,
    s: &TwilioSettings<'_>,
    auth_token: &str,
    m: &Media,
) -> Option<Download> {
    let base = s.api_base_url.unwrap_or(API_BASE);
    let first = provider_url(&m.reference, base, API_BASE, is_api_url, "Twilio")
        .map_err(|e| tracing::warn!(reason = %e, "an MMS media link was not fetched"))
        .ok()?;
    let answer = http
        .get(first.as_str())
        .basic_auth(s.account_sid, Some(auth_token))
        .send()
        .await;
    let answer = match answer {
        Ok(r) if r.status().is_redirection() => {
            let next = r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| first.join(l).ok())?;
            let next = provider_url(
                next.as_str(),
                base,
                API_BASE,
                is_media_cdn_url,
                "Twilio's media",
            )
            .map_err(|e| tracing::warn!(reason = %e, "an MMS media redirect was not followed"))
            .ok()?;
            http.get(next.as_str()).send().await
        }
        other => other,
    };
    Some(Download {
        answer,
        filename: None,
        content_type: m.mime_type.clone(),
    })
}
