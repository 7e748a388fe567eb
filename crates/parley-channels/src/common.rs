//! Plumbing the chat adapters share: constant-time comparison, HMAC-SHA256, posting JSON to a
//! provider, and reporting a multi-message send that failed half-way.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use serde_json::Value;

use crate::rich::{Incoming, Location};
use crate::{InboundError, SendOutcome};

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A shared location (WhatsApp, LINE): coordinates are required, the place's name is under
/// `name_key`. The timeline shows the name, else the address.
pub(crate) fn set_location(
    m: &mut Incoming,
    v: &Value,
    name_key: &str,
    malformed: impl Fn(&'static str) -> InboundError,
) -> Result<(), InboundError> {
    let loc = Location {
        latitude: v["latitude"]
            .as_f64()
            .ok_or_else(|| malformed("location without latitude"))?,
        longitude: v["longitude"]
            .as_f64()
            .ok_or_else(|| malformed("location without longitude"))?,
        name: str_of(v, name_key).map(str::to_owned),
        address: str_of(v, "address").map(str::to_owned),
    };
    m.text = loc
        .name
        .clone()
        .or_else(|| loc.address.clone())
        .unwrap_or_else(|| "Location".into());
    m.location = Some(loc);
    Ok(())
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA256 of `body` under `key`; HMAC takes keys of any length, so this cannot fail.
pub(crate) fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    Hmac::<Sha256>::new_from_slice(key)
        .map(|mut mac| {
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default()
}

/// Posts a JSON body and returns the status and body of the answer (cut at a few MB), or the
/// outcome to report when no answer came.
pub(crate) async fn post_json(
    http: &crate::net::Client,
    url: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> Result<(u16, String), SendOutcome> {
    let mut req = http.post(url).json(body);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            Ok((
                status,
                crate::net::text_capped(resp, crate::net::JSON_MAX_BYTES).await,
            ))
        }
        // The error's text never holds the URL: Telegram's carries the bot token, and reasons
        // are stored and shown to agents.
        Err(e) if e.is_permanent() => {
            Err(SendOutcome::Permanent(format!("provider not reached: {e}")))
        }
        Err(e) => Err(SendOutcome::Transient(format!("provider unreachable: {e}"))),
    }
}

/// A reply that needed several provider calls and failed after some went out. Retrying would
/// send the customer the first ones again, so the failure is reported as permanent and the agent
/// decides.
pub(crate) fn partial_failure(sent: usize, total: usize, failure: SendOutcome) -> SendOutcome {
    match failure {
        SendOutcome::Transient(reason) | SendOutcome::Permanent(reason) if sent > 0 => {
            SendOutcome::Permanent(format!(
                "only {sent} of {total} messages were sent, then: {reason} (not retried, so the \
                 customer does not get the first ones twice)"
            ))
        }
        other => other,
    }
}

/// Seconds since the epoch (as Meta and Telegram give them, number or string) to milliseconds.
pub(crate) fn secs_to_ms(v: &serde_json::Value) -> Option<i64> {
    let secs = v
        .as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))?;
    secs.checked_mul(1000)
}

/// Splits text into chunks of at most `max` units as a provider counts them (UTF-8 bytes,
/// UTF-16 code units), at word boundaries: `split_text` works in characters, and a chunk that
/// measures over is split again at `max / widest` characters, `widest` being the most units one
/// character can take.
pub(crate) fn split_measured(
    text: &str,
    max: usize,
    measure: impl Fn(&str) -> usize,
    widest: usize,
) -> Vec<String> {
    crate::rich::split_text(text, max)
        .into_iter()
        .flat_map(|chunk| {
            if measure(&chunk) <= max {
                vec![chunk]
            } else {
                crate::rich::split_text(&chunk, (max / widest).max(1))
            }
        })
        .collect()
}

/// A stand-in provider on a local port that records each request and answers as told.
#[cfg(test)]
pub(crate) mod fake {
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use serde_json::Value;

    /// One request as the provider saw it.
    #[derive(Debug, Clone)]
    pub(crate) struct Seen {
        pub path: String,
        pub query: Option<String>,
        pub auth: Option<String>,
        pub body: Value,
    }

    type Answer = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

    #[derive(Clone)]
    struct Fake {
        seen: Arc<Mutex<Vec<Seen>>>,
        answer: Answer,
    }

    async fn handle(
        State(fake): State<Fake>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, String) {
        let seen = Seen {
            path: uri.path().to_string(),
            query: uri.query().map(str::to_owned),
            auth: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        };
        let (status, text) = (fake.answer)(&seen);
        fake.seen.lock().unwrap().push(seen);
        (StatusCode::from_u16(status).unwrap(), text)
    }

    /// Starts the provider; returns its base URL and the requests it will have seen.
    pub(crate) async fn serve(
        answer: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
    ) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().fallback(handle).with_state(Fake {
            seen: seen.clone(),
            answer: Arc::new(answer),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), seen)
    }
}
