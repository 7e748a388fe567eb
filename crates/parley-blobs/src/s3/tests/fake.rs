//! A fake S3 for the tests: it keeps objects in memory and checks every request's signature
//! with its own SigV4, written from AWS's specification rather than taken from the client.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

use super::super::*;

const FAKE_KEY: &str = "PARLEYTESTKEY";
pub(super) const FAKE_SECRET: &str = "parley/test+secret";
pub(super) const FAKE_BUCKET: &str = "attachments";

pub(super) fn md5_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// AWS's UriEncode: every byte but `A-Za-z0-9-._~` as `%XX`.
fn aws_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The SigV4 signature of a presigned request: `query` decoded (`X-Amz-Signature` is left out),
/// `headers` the signed ones as received, in `X-Amz-SignedHeaders` order. `None` when the query
/// lacks the date or the credential scope.
pub(super) fn presigned_signature(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(&str, &str)],
    secret: &str,
) -> Option<String> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (aws_encode(k), aws_encode(v)))
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| {
            let value: Vec<&str> = value.split_whitespace().collect();
            format!("{name}:{}\n", value.join(" "))
        })
        .collect();
    let signed: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
    let canonical = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{}\nUNSIGNED-PAYLOAD",
        query.join("&"),
        signed.join(";")
    );
    let date = param("X-Amz-Date")?;
    // The scope is `yyyymmdd/region/s3/aws4_request`: the signing key is derived in that order.
    let (_, scope) = param("X-Amz-Credential")?.split_once('/')?;
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in scope.split('/') {
        key = hmac(&key, part);
    }
    Some(hex::encode(hmac(&key, &to_sign)))
}

pub(super) struct Fake {
    pub objects: Mutex<HashMap<String, Vec<u8>>>,
    pub requests: AtomicUsize,
}

fn xml_error(status: StatusCode, code: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>fake S3: {code}</Message><RequestId>0</RequestId></Error>"
    );
    (status, [("content-type", "application/xml")], body).into_response()
}

/// Checks a request as S3 does: the body against `Content-MD5`, then the query's signature
/// against one recomputed with the secret over the headers it names, then its lifetime.
fn verify(parts: &Parts, body: &[u8]) -> Result<(), (StatusCode, &'static str)> {
    let denied = |code: &'static str| Err((StatusCode::FORBIDDEN, code));
    // A header sent twice would make the canonical headers ambiguous.
    let header = |name: &str| {
        let mut values = parts.headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(v), None) => v.to_str().ok(),
            _ => None,
        }
    };
    if let Some(md5) = header("content-md5") {
        if md5 != md5_base64(body) {
            return Err((StatusCode::BAD_REQUEST, "BadDigest"));
        }
    }
    let query: Vec<(String, String)> = form_pairs(parts.uri.query().unwrap_or_default());
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(signature), Some(credential), Some(signed_headers)) = (
        param("X-Amz-Signature"),
        param("X-Amz-Credential"),
        param("X-Amz-SignedHeaders"),
    ) else {
        return denied("AccessDenied");
    };
    if param("X-Amz-Algorithm") != Some("AWS4-HMAC-SHA256") {
        return denied("AuthorizationQueryParametersError");
    }
    if credential.split('/').next() != Some(FAKE_KEY) {
        return denied("InvalidAccessKeyId");
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    // An upload must sign its digest, or its body could be swapped unnoticed.
    if !names.contains(&"host") || (parts.method == Method::PUT && !names.contains(&"content-md5"))
    {
        return denied("AccessDenied");
    }
    let mut signed = Vec::new();
    for name in names {
        let Some(value) = header(name) else {
            return denied("AccessDenied");
        };
        signed.push((name, value));
    }
    let expected = presigned_signature(
        parts.method.as_str(),
        parts.uri.path(),
        &query,
        &signed,
        FAKE_SECRET,
    );
    if expected.as_deref() != Some(signature) {
        return denied("SignatureDoesNotMatch");
    }
    let expires_at = param("X-Amz-Date")
        .and_then(|d| jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", d).ok())
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .zip(param("X-Amz-Expires").and_then(|s| s.parse::<i64>().ok()))
        .and_then(|(at, secs)| {
            at.timestamp()
                .checked_add(jiff::SignedDuration::from_secs(secs))
                .ok()
        });
    match expires_at {
        Some(t) if t >= Timestamp::now() => Ok(()),
        _ => denied("AccessDenied"),
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://fake/?{query}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

async fn fake_s3(State(fake): State<Arc<Fake>>, req: Request) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 << 20).await else {
        return xml_error(StatusCode::BAD_REQUEST, "IncompleteBody");
    };
    if let Err((status, code)) = verify(&parts, &body) {
        return xml_error(status, code);
    }
    let Some((bucket, key)) = parts
        .uri
        .path()
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
    else {
        return xml_error(StatusCode::BAD_REQUEST, "InvalidRequest");
    };
    if bucket != FAKE_BUCKET {
        return xml_error(StatusCode::NOT_FOUND, "NoSuchBucket");
    }
    let mut objects = fake.objects.lock().unwrap();
    match parts.method {
        Method::PUT => {
            objects.insert(key.to_string(), body.to_vec());
            StatusCode::OK.into_response()
        }
        Method::GET => match objects.get(key) {
            Some(bytes) => bytes.clone().into_response(),
            None => xml_error(StatusCode::NOT_FOUND, "NoSuchKey"),
        },
        // S3 answers 204 whether or not the object was there.
        Method::DELETE => {
            objects.remove(key);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => xml_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    }
}

pub(super) async fn start_fake() -> (Arc<Fake>, SocketAddr) {
    let fake = Arc::new(Fake {
        objects: Mutex::new(HashMap::new()),
        requests: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(fake_s3)
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, addr)
}

pub(super) fn fake_client(
    addr: SocketAddr,
    secret: &str,
    bucket: &str,
    prefix: Option<&str>,
) -> S3 {
    S3::new(
        S3Config {
            endpoint: format!("http://{addr}"),
            region: "us-east-1".into(),
            bucket: bucket.into(),
            access_key_id: FAKE_KEY.into(),
            secret_access_key: secret.into(),
            path_style: true,
            prefix: prefix.map(Into::into),
        },
        reqwest::Client::new(),
    )
    .unwrap()
}
