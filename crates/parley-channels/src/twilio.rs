//! Twilio Programmable Messaging: the `X-Twilio-Signature` check, exactly as Twilio's own
//! validator computes it (channels reference, section 1.2). Form webhooks sign the URL plus the
//! sorted parameters; JSON webhooks sign the URL alone and carry `bodySHA256` in its query.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::InboundError;

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

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
