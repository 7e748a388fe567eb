//! The generic API channel: any system without its own adapter posts customer messages to
//! `POST /hooks/api/{inbox}` signed with HMAC-SHA256 of the raw body under the inbox's secret, and
//! receives the business's replies as signed JSON at its callback URL.

use hmac::{Hmac, Mac};
use parley_core::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{InboundError, SendOutcome};

/// The header carrying `sha256=<hex HMAC of the raw body>`, both ways.
pub const SIGNATURE_HEADER: &str = "x-parley-signature";

type HmacSha256 = Hmac<Sha256>;

/// The signature header value for a body: `sha256=` and the lower-case hex HMAC-SHA256.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail; an empty tag would never verify anyway.
    let tag = HmacSha256::new_from_slice(secret.as_bytes())
        .map(|mut mac| {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        })
        .unwrap_or_default();
    format!("sha256={tag}")
}

/// An optional header: the Unix time in seconds the sender signed the post at. With it, the
/// signature covers `{timestamp}.{raw body}` (the header's text, a dot, the body) instead of the
/// body alone, and a post signed more than [`MAX_SKEW_SECS`] from now is refused, so a captured
/// post cannot be replayed later.
pub const TIMESTAMP_HEADER: &str = "x-parley-timestamp";

/// How far from now (either way) a timestamped post may have been signed: five minutes.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a post to the API channel is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostRefusal {
    /// The signature is missing or does not match (the timestamp included, when given).
    #[error("the X-Parley-Signature header does not match the body (and X-Parley-Timestamp, when sent) under the inbox's secret")]
    BadSignature,
    #[error("X-Parley-Timestamp must be the Unix time in seconds")]
    BadTimestamp,
    #[error("X-Parley-Timestamp is more than 5 minutes from Parley's clock ({0} s old); sign each post as it is sent")]
    Stale(i64),
}

/// The signature header value for a timestamped post: `sign` over `{timestamp}.{body}`.
pub fn sign_at(secret: &str, timestamp: i64, body: &[u8]) -> String {
    sign(secret, &timestamped(&timestamp.to_string(), body))
}

fn timestamped(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    signed
}

/// Checks a post to the hook: its signature over the body, or over `{timestamp}.{body}` when a
/// timestamp header came, and then that the timestamp is within [`MAX_SKEW_SECS`] of `now_secs`.
pub fn verify_post(
    secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), PostRefusal> {
    let Some(ts) = timestamp else {
        return verify(secret, signature, body).map_err(|_| PostRefusal::BadSignature);
    };
    let ts = ts.trim();
    verify(secret, signature, &timestamped(ts, body)).map_err(|_| PostRefusal::BadSignature)?;
    let at: i64 = ts.parse().map_err(|_| PostRefusal::BadTimestamp)?;
    let skew = now_secs.saturating_sub(at);
    if skew.saturating_abs() > MAX_SKEW_SECS {
        return Err(PostRefusal::Stale(skew));
    }
    Ok(())
}

/// Checks a signature header in constant time.
pub fn verify(secret: &str, header: Option<&str>, body: &[u8]) -> Result<(), InboundError> {
    let hex_sig = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .ok_or(InboundError::BadSignature)?;
    let sig = hex::decode(hex_sig).map_err(|_| InboundError::BadSignature)?;
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| InboundError::BadSignature)?;
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| InboundError::BadSignature)
}

/// The customer as the integrating system knows them.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiContact {
    /// The integrating system's id for the person; messages with the same id are one customer.
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// One inbound message as posted to the hook.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiInbound {
    /// The integrating system's id for the message: a second delivery with the same id is stored once.
    #[serde(default)]
    pub id: Option<String>,
    pub contact: ApiContact,
    pub text: String,
    /// When the customer wrote (RFC 3339); defaults to when Parley received it.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
    /// The message comes from an automated sender (an autoresponder, a bot): Parley's
    /// automations never answer it.
    #[serde(default)]
    pub automated: bool,
}

/// Parses a hook body. Field-level checks (lengths, formats) are the caller's, through the core's parsers.
pub fn parse(body: &[u8]) -> Result<ApiInbound, InboundError> {
    serde_json::from_slice::<ApiInbound>(body)
        .map_err(|e| InboundError::Malformed(format!("invalid message: {e}")))
}

/// What Parley posts to the callback URL for each outbound message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiOutbound {
    pub event: String,
    pub id: String,
    pub conversation_id: String,
    pub contact: ApiOutboundContact,
    pub text: String,
    /// Options offered to the customer (`id`, `title`); the integrating system shows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<crate::rich::Choice>,
    pub sender: ApiSender,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiOutboundContact {
    /// The integrating system's id for the person (the one it sent us).
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiSender {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
}

/// Sends a queued reply to the integrator's callback URL; until it gives one, the message waits.
pub async fn send_reply(
    client: &crate::net::Client,
    settings: &crate::settings::ApiSettings<'_>,
    secret: &str,
    out: &crate::channel::Outgoing<'_>,
) -> SendOutcome {
    let Some(url) = settings.callback_url else {
        return SendOutcome::Transient("the inbox has no callback URL yet".into());
    };
    let msg = ApiOutbound {
        event: "message.created".into(),
        id: out.message.id.to_string(),
        conversation_id: out.message.conversation_id.to_string(),
        contact: ApiOutboundContact {
            id: out.to.to_string(),
        },
        text: out.reply.text.clone(),
        choices: out.reply.choices.clone(),
        sender: ApiSender {
            kind: out.message.sender_kind.as_str().into(),
            id: out.message.sender_id.map(|s| s.to_string()),
        },
        created_at: out.message.created_at,
    };
    send(client, url, secret, &msg).await
}

/// Posts a signed outbound message to the callback URL and classifies the answer (read up to a
/// few MB).
pub async fn send(
    client: &crate::net::Client,
    callback_url: &str,
    secret: &str,
    msg: &ApiOutbound,
) -> SendOutcome {
    let body = match serde_json::to_vec(msg) {
        Ok(b) => b,
        Err(e) => return SendOutcome::Permanent(format!("could not encode the message: {e}")),
    };
    let sig = sign(secret, &body);
    let resp = client
        .post(callback_url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sig)
        .body(body)
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = crate::net::text_capped(r, crate::net::JSON_MAX_BYTES).await;
            match crate::classify_status(status, &text) {
                SendOutcome::Accepted { .. } => {
                    let provider_id = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v.get("id").and_then(|i| i.as_str().map(str::to_owned)));
                    SendOutcome::Accepted { provider_id }
                }
                // The integrating system may be mid-deploy: every refusal is retried until the limit.
                SendOutcome::Permanent(reason) | SendOutcome::Transient(reason) => {
                    SendOutcome::Transient(reason)
                }
            }
        }
        Err(e) if e.is_permanent() => SendOutcome::Permanent(format!("callback not sent: {e}")),
        Err(e) => SendOutcome::Transient(format!("callback unreachable: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_signed_with_the_body_and_must_be_fresh() {
        let body = br#"{"a":1}"#;
        let now = 1_800_000_000;
        let sig = sign_at("secret", now - 10, body);
        let ts = (now - 10).to_string();
        assert_eq!(
            verify_post("secret", Some(&sig), Some(&ts), body, now),
            Ok(())
        );
        // The body's signature alone does not cover a timestamp, and a changed one breaks it.
        let plain = sign("secret", body);
        assert_eq!(
            verify_post("secret", Some(&plain), Some(&ts), body, now),
            Err(PostRefusal::BadSignature)
        );
        let moved = (now - 5).to_string();
        assert_eq!(
            verify_post("secret", Some(&sig), Some(&moved), body, now),
            Err(PostRefusal::BadSignature)
        );
        assert_eq!(verify_post("secret", Some(&plain), None, body, now), Ok(()));
        let old = sign_at("secret", now - 301, body);
        assert_eq!(
            verify_post(
                "secret",
                Some(&old),
                Some(&(now - 301).to_string()),
                body,
                now
            ),
            Err(PostRefusal::Stale(301))
        );
        let ahead = sign_at("secret", now + 301, body);
        assert_eq!(
            verify_post(
                "secret",
                Some(&ahead),
                Some(&(now + 301).to_string()),
                body,
                now
            ),
            Err(PostRefusal::Stale(-301))
        );
        let words = sign("secret", b"soon.{\"a\":1}");
        assert_eq!(
            verify_post("secret", Some(&words), Some("soon"), body, now),
            Err(PostRefusal::BadTimestamp)
        );
    }

    /// Computed independently: `printf '{"a":1}' | openssl dgst -sha256 -hmac secret`.
    #[test]
    fn signature_matches_openssl() {
        let sig = sign("secret", br#"{"a":1}"#);
        assert_eq!(
            sig,
            "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
        );
        assert!(verify("secret", Some(&sig), br#"{"a":1}"#).is_ok());
        assert_eq!(
            verify("secret", Some(&sig), br#"{"a":2}"#),
            Err(InboundError::BadSignature)
        );
        assert_eq!(
            verify("other", Some(&sig), br#"{"a":1}"#),
            Err(InboundError::BadSignature)
        );
        assert_eq!(
            verify("secret", None, br#"{"a":1}"#),
            Err(InboundError::BadSignature)
        );
        assert_eq!(
            verify("secret", Some("sha256=zz"), br#"{"a":1}"#),
            Err(InboundError::BadSignature)
        );
    }

    #[test]
    fn parses_and_rejects() {
        let m = parse(br#"{"id":"m1","contact":{"id":"c1","name":"Ann"},"text":"Hi"}"#)
            .expect("parses");
        assert_eq!(
            (m.id.as_deref(), m.contact.id.as_str(), m.text.as_str()),
            (Some("m1"), "c1", "Hi")
        );
        for bad in [
            &b"not json"[..],
            br#"{"contact":{"id":"c1"}}"#,
            br#"{"contact":{"id":1},"text":"x"}"#,
            br#"{"contact":{"id":"c"},"text":"x","extra":1}"#,
        ] {
            assert!(matches!(parse(bad), Err(InboundError::Malformed(_))));
        }
    }
}
