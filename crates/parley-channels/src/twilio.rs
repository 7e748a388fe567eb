//! Twilio Programmable Messaging: the `X-Twilio-Signature` check, exactly as Twilio's own
//! validator computes it (channels reference, section 1.2). Form webhooks sign the URL plus the
//! sorted parameters; JSON webhooks sign the URL alone and carry `bodySHA256` in its query.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use parley_core::message::DeliveryStatus;

use crate::{InboundError, SendOutcome};

mod outbound;

pub use outbound::{fetch_media, probe, send_sms};

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// A customer's SMS or MMS as Twilio posts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    pub message_sid: String,
    pub account_sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
    /// (URL, content type) of each MMS attachment, in order.
    pub media: Vec<(String, String)>,
}

/// A status callback for a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub message_sid: String,
    /// `None` for statuses that say nothing new (`receiving`, `received`).
    pub status: Option<DeliveryStatus>,
    pub error_code: Option<String>,
}

/// What a Twilio webhook carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message(InboundSms),
    Status(StatusUpdate),
}

/// Maps Twilio's message status onto ours (callbacks may arrive out of order; the store only
/// moves status forward).
pub fn delivery_status(s: &str) -> Option<DeliveryStatus> {
    match s {
        "queued" | "accepted" | "scheduled" => Some(DeliveryStatus::Queued),
        "sending" | "sent" => Some(DeliveryStatus::Sent),
        "delivered" | "partially_delivered" => Some(DeliveryStatus::Delivered),
        "read" => Some(DeliveryStatus::Read),
        "undelivered" | "failed" | "canceled" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

/// What an agent is told about a failed delivery: Twilio's code with its documented meaning.
pub fn failure_reason(error_code: Option<&str>) -> String {
    let meaning = match error_code.unwrap_or_default() {
        "21610" => "the recipient has replied STOP",
        "21211" => "invalid 'To' phone number",
        "21635" => "the number is a landline",
        "30003" => "unreachable handset (off or out of coverage)",
        "30005" => "unknown destination number",
        "30006" => "landline or unreachable carrier",
        "30007" => "filtered by the carrier or Twilio (spam or policy)",
        "30008" => "unknown carrier error",
        "30034" => "the sending number is not registered for 10DLC",
        "63016" => "outside the messaging window; a template is required",
        "" => return "Twilio reported the message undelivered".into(),
        _ => "see Twilio's error reference",
    };
    format!("Twilio error {}: {meaning}", error_code.unwrap_or_default())
}

/// Parses a (verified) form webhook into an inbound message or a status callback.
pub fn parse_form(body: &[u8]) -> Result<Event, InboundError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let need = |k: &str| {
        get(k)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| InboundError::Malformed(format!("missing {k}")))
    };
    let message_sid = get("MessageSid")
        .or_else(|| get("SmsMessageSid"))
        .filter(|v| !v.is_empty());
    let message_sid =
        message_sid.ok_or_else(|| InboundError::Malformed("missing MessageSid".into()))?;
    if let Some(status) = get("MessageStatus") {
        return Ok(Event::Status(StatusUpdate {
            message_sid,
            status: delivery_status(&status),
            error_code: get("ErrorCode").filter(|c| !c.is_empty()),
        }));
    }
    let num_media: usize = match get("NumMedia") {
        None => 0,
        Some(n) => n
            .parse()
            .ok()
            .filter(|n| *n <= 10)
            .ok_or_else(|| InboundError::Malformed("NumMedia must be 0 to 10".into()))?,
    };
    let media = (0..num_media)
        .map(|i| {
            Ok((
                need(&format!("MediaUrl{i}"))?,
                get(&format!("MediaContentType{i}")).unwrap_or_default(),
            ))
        })
        .collect::<Result<Vec<_>, InboundError>>()?;
    Ok(Event::Message(InboundSms {
        message_sid,
        account_sid: need("AccountSid")?,
        from: need("From")?,
        to: need("To")?,
        body: get("Body").unwrap_or_default(),
        media,
    }))
}

/// The form body of `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.
pub fn send_form(
    to: &str,
    from: &str,
    body: &str,
    media_urls: &[String],
    status_callback: Option<&str>,
) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    f.append_pair("To", to);
    // A Messaging Service sid lets Twilio pick the sender from its pool.
    f.append_pair(
        if from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        },
        from,
    );
    if !body.is_empty() {
        f.append_pair("Body", body);
    }
    for m in media_urls {
        f.append_pair("MediaUrl", m);
    }
    if let Some(cb) = status_callback {
        f.append_pair("StatusCallback", cb);
    }
    f.finish()
}

/// Why a send failed, from Twilio's answer: 21610 means the recipient replied STOP, so the
/// contact is opted out rather than retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    OptedOut,
    Other(SendOutcome),
}

/// Classifies the answer to a send.
pub fn classify_send(status: u16, body: &str) -> Result<String, SendError> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    if (200..300).contains(&status) {
        return v["sid"].as_str().map(str::to_owned).ok_or_else(|| {
            SendError::Other(SendOutcome::Transient(
                "Twilio answered without a message sid".into(),
            ))
        });
    }
    if v["code"].as_i64() == Some(21610) {
        return Err(SendError::OptedOut);
    }
    let reason = match (v["code"].as_i64(), v["message"].as_str()) {
        (Some(code), Some(msg)) => format!("Twilio error {code}: {msg}"),
        _ => format!("HTTP {status}"),
    };
    Err(SendError::Other(match crate::classify_status(status, "") {
        SendOutcome::Transient(_) => SendOutcome::Transient(reason),
        _ => SendOutcome::Permanent(reason),
    }))
}

/// The string Twilio signs: the URL, then each parameter name (sorted, once) followed by each of
/// its values (sorted, without repeats), with no separators.
pub fn string_to_sign(url: &str, params: &[(String, String)]) -> String {
    let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut s = url.to_string();
    for name in names {
        let mut values: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        values.sort_unstable();
        values.dedup();
        for v in values {
            s.push_str(name);
            s.push_str(v);
        }
    }
    s
}

/// `base64(HMAC-SHA1(auth_token, string_to_sign))`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let tag = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes())
        .map(|mut mac| {
            mac.update(string_to_sign(url, params).as_bytes());
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(tag)
}

/// The URL as written and with its default port added or removed: Twilio's validator accepts
/// either, because Twilio itself signs either form.
fn url_variants(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_string()];
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return vec![url.to_string()],
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(host_end);
    let other = match authority.rsplit_once(':') {
        Some((host, port)) if port == default_port => format!("{scheme}://{host}{tail}"),
        Some(_) => return vec![url.to_string()],
        None => format!("{scheme}://{authority}:{default_port}{tail}"),
    };
    vec![url.to_string(), other]
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies a form-encoded webhook: `url` is the URL Twilio called (behind a proxy, the public
/// one), `body` the raw `application/x-www-form-urlencoded` body.
pub fn verify_form(
    auth_token: &str,
    url: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), InboundError> {
    let header = header.ok_or(InboundError::BadSignature)?;
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let ok = url_variants(url).iter().any(|u| {
        constant_time_eq(
            signature(auth_token, u, &params).as_bytes(),
            header.trim().as_bytes(),
        )
    });
    if ok {
        Ok(())
    } else {
        Err(InboundError::BadSignature)
    }
}

/// Verifies a JSON webhook: the body's SHA-256 must match the URL's `bodySHA256`, and the
/// signature covers the URL alone.
pub fn verify_json(
    auth_token: &str,
    url: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), InboundError> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let claimed = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "bodySHA256")
        .map(|(_, v)| v.into_owned())
        .ok_or(InboundError::BadSignature)?;
    if !constant_time_eq(
        hex::encode(Sha256::digest(body)).as_bytes(),
        claimed.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(InboundError::BadSignature);
    }
    verify_form(auth_token, url, b"", header)
}

/// Twilio's API, the default base URL of a Twilio inbox.
pub const API_BASE: &str = "https://api.twilio.com";

/// Where an inbound MMS's `MediaUrl*` point: Twilio's REST API (api.twilio.com, or a regional
/// api.*.twilio.com).
pub fn is_api_url(u: &reqwest::Url) -> bool {
    u.host_str().is_some_and(|h| {
        h == "api.twilio.com" || (h.starts_with("api.") && crate::net::host_under(h, "twilio.com"))
    })
}

/// Where Twilio's answer to a media request redirects: its media CDN (mms.twiliocdn.com, under
/// twiliocdn.com), or media stored before media authentication, in the media.twiliocdn.com
/// bucket on s3-external-1.amazonaws.com.
pub fn is_media_cdn_url(u: &reqwest::Url) -> bool {
    u.host_str().is_some_and(|h| {
        crate::net::host_under(h, "twiliocdn.com")
            || (h == "s3-external-1.amazonaws.com" && u.path().starts_with("/media.twiliocdn.com/"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors produced with Twilio's official `RequestValidator` (channels reference, 1.2).
    #[test]
    fn matches_the_official_validator() {
        let body = b"MessageSid=SM00000000000000000000000000000001&AccountSid=AC00000000000000000000000000000000&From=%2B15558675310&To=%2B15017122661&Body=STOP&NumMedia=0";
        let sig = "cKs5+F1SYyH1TCfpq804nzZg7H8=";
        assert_eq!(
            verify_form(
                "12345",
                "https://example.com/twilio/sms?foo=bar",
                body,
                Some(sig)
            ),
            Ok(())
        );
        assert_eq!(
            verify_form(
                "12345",
                "https://example.com:443/twilio/sms?foo=bar",
                body,
                Some(sig)
            ),
            Ok(())
        );
        let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        assert_eq!(
            string_to_sign("https://example.com/twilio/sms?foo=bar", &params),
            "https://example.com/twilio/sms?foo=barAccountSidAC00000000000000000000000000000000BodySTOPFrom+15558675310MessageSidSM00000000000000000000000000000001NumMedia0To+15017122661"
        );
        let json = br#"{"MessageSid":"SM1","MessageStatus":"delivered"}"#;
        let url = "https://example.com/twilio/json?bodySHA256=ce8c3c8da52a17f7dd3e526b3b67d41402b438513f6b2faf55189573f2873f02";
        assert_eq!(
            verify_json("12345", url, json, Some("DWlj2A7Y5EqGdwPXfjlMmF1hRx4=")),
            Ok(())
        );
    }

    #[test]
    fn refuses_what_twilio_did_not_sign() {
        let body = b"Body=STOP&From=%2B15558675310";
        let url = "https://example.com/twilio/sms";
        let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        let good = signature("12345", url, &params);
        assert_eq!(verify_form("12345", url, body, Some(&good)), Ok(()));
        assert_eq!(
            verify_form("12345", url, b"Body=START&From=%2B15558675310", Some(&good)),
            Err(InboundError::BadSignature)
        );
        assert_eq!(
            verify_form("54321", url, body, Some(&good)),
            Err(InboundError::BadSignature)
        );
        assert_eq!(
            verify_form(
                "12345",
                "https://evil.example.com/twilio/sms",
                body,
                Some(&good)
            ),
            Err(InboundError::BadSignature)
        );
        assert_eq!(
            verify_form("12345", url, body, None),
            Err(InboundError::BadSignature)
        );
        let json_url = "https://example.com/twilio/json?bodySHA256=00";
        assert_eq!(
            verify_json("12345", json_url, b"{}", Some("x")),
            Err(InboundError::BadSignature)
        );
    }

    #[test]
    fn parses_messages_media_and_statuses() {
        let sms = b"ToCountry=US&SmsMessageSid=SM3b&NumMedia=0&SmsSid=SM3b&SmsStatus=received&Body=Hi+there&To=%2B13479604874&MessageSid=SM3b&AccountSid=ACb6&From=%2B19177674492&ApiVersion=2010-04-01";
        let Ok(Event::Message(m)) = parse_form(sms) else {
            panic!("a message")
        };
        assert_eq!(
            (
                m.message_sid.as_str(),
                m.from.as_str(),
                m.to.as_str(),
                m.body.as_str()
            ),
            ("SM3b", "+19177674492", "+13479604874", "Hi there")
        );
        let mms = b"MessageSid=MM1&AccountSid=AC1&From=%2B1&To=%2B2&Body=&NumMedia=2&MediaUrl0=https%3A%2F%2Fx%2F0&MediaContentType0=image%2Fjpeg&MediaUrl1=https%3A%2F%2Fx%2F1&MediaContentType1=image%2Fpng";
        let Ok(Event::Message(m)) = parse_form(mms) else {
            panic!("an MMS")
        };
        assert_eq!(
            m.media,
            vec![
                ("https://x/0".into(), "image/jpeg".into()),
                ("https://x/1".into(), "image/png".into())
            ]
        );
        let st = b"SmsSid=SM9&SmsStatus=undelivered&MessageStatus=undelivered&To=%2B1&MessageSid=SM9&AccountSid=AC1&From=%2B2&ErrorCode=30003";
        assert_eq!(
            parse_form(st),
            Ok(Event::Status(StatusUpdate {
                message_sid: "SM9".into(),
                status: Some(DeliveryStatus::Failed),
                error_code: Some("30003".into())
            }))
        );
        for bad in [
            &b"From=%2B1&To=%2B2&Body=x"[..],
            b"MessageSid=SM1&From=%2B1&Body=x&AccountSid=AC1",
            b"MessageSid=SM1&AccountSid=AC1&From=%2B1&To=%2B2&NumMedia=1",
            b"MessageSid=SM1&AccountSid=AC1&From=%2B1&To=%2B2&NumMedia=x",
        ] {
            assert!(
                matches!(parse_form(bad), Err(InboundError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn builds_sends_and_reads_answers() {
        let f = send_form(
            "+15558675310",
            "+15017122661",
            "Hello 😀 world",
            &["https://a/1.jpg".into()],
            Some("https://example.com/status"),
        );
        assert_eq!(f, "To=%2B15558675310&From=%2B15017122661&Body=Hello+%F0%9F%98%80+world&MediaUrl=https%3A%2F%2Fa%2F1.jpg&StatusCallback=https%3A%2F%2Fexample.com%2Fstatus");
        assert!(send_form("+1", "MG123", "x", &[], None).contains("MessagingServiceSid=MG123"));
        assert_eq!(
            classify_send(201, r#"{"sid":"SM1","status":"queued"}"#),
            Ok("SM1".into())
        );
        assert_eq!(
            classify_send(400, r#"{"code":21610,"message":"unsubscribed"}"#),
            Err(SendError::OptedOut)
        );
        assert!(matches!(
            classify_send(429, r#"{"code":20429,"message":"Too Many Requests"}"#),
            Err(SendError::Other(SendOutcome::Transient(_)))
        ));
        assert!(
            matches!(classify_send(400, r#"{"code":21211,"message":"Invalid 'To'"}"#), Err(SendError::Other(SendOutcome::Permanent(r))) if r.contains("21211"))
        );
        assert_eq!(delivery_status("received"), None);
    }

    #[test]
    fn repeated_parameters_are_sorted_and_deduplicated() {
        let p = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            string_to_sign("u", &p(&[("b", "2"), ("a", "y"), ("a", "x"), ("a", "y")])),
            "uaxayb2"
        );
        assert_eq!(url_variants("http://h:8080/p"), vec!["http://h:8080/p"]);
        assert_eq!(
            url_variants("http://h/p?q=1"),
            vec!["http://h/p?q=1", "http://h:80/p?q=1"]
        );
    }
}
