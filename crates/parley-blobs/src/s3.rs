//! Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Backblaze B2…).
//! rusty-s3 signs each request (AWS Signature Version 4, as a presigned URL) and the caller's
//! reqwest client sends it, so the outbound policy applies to the bucket as to every provider.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use jiff::Timestamp;
use md5::{Digest as _, Md5};
use reqwest::header::CONTENT_LENGTH;
use rusty_s3::{Bucket, Credentials, S3Action as _};

use crate::{check_key, BlobError, Blobs};

mod config;
#[cfg(test)]
mod tests;

pub use config::S3Config;

/// Long enough for an attachment of a few tens of MB on a slow link; change with
/// [`S3::with_timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a signed request stays valid: SigV4's allowance for clock skew, so a clock that is
/// a few minutes off still works, and a request seen in transit cannot be replayed for long.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// A [`Blobs`] store in one bucket of an S3-compatible service.
pub struct S3 {
    client: reqwest::Client,
    bucket: Bucket,
    credentials: Credentials,
    prefix: Option<String>,
    timeout: Duration,
}

impl fmt::Debug for S3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3")
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.credentials.key())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What is done to one object.
enum Op {
    Put(Vec<u8>),
    Get,
    Delete,
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Put(_) => "PUT",
            Op::Get => "GET",
            Op::Delete => "DELETE",
        }
    }
}

impl S3 {
    /// Checks `cfg` (so a typo fails at start-up, not on the first upload) and keeps `client` for
    /// the requests. Nothing is sent to the service here.
    pub fn new(cfg: S3Config, client: reqwest::Client) -> Result<Self, BlobError> {
        let checked = cfg.check()?;
        Ok(Self {
            client,
            bucket: checked.bucket,
            credentials: checked.credentials,
            prefix: checked.prefix,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets how long one request may take, from connecting to the last byte of the answer
    /// (30 s unless set).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The object's name in the bucket, as shown in error messages.
    fn object_name(&self, key: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}/{key}"),
            None => key.to_string(),
        }
    }

    /// A signed request for `key`, ready to send. Takes the time so tests can pin it.
    fn request(&self, key: &str, op: Op, at: &Timestamp) -> reqwest::RequestBuilder {
        let object = self.object_name(key);
        let credentials = Some(&self.credentials);
        let req = match op {
            Op::Get => {
                let action = self.bucket.get_object(credentials, &object);
                self.client
                    .get(action.sign_with_time(SIGNATURE_LIFETIME, at))
            }
            Op::Delete => {
                let action = self.bucket.delete_object(credentials, &object);
                self.client
                    .delete(action.sign_with_time(SIGNATURE_LIFETIME, at))
            }
            Op::Put(body) => {
                // A presigned request does not sign its body; a signed Content-MD5 makes the
                // bucket refuse a body that changed on the way.
                let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
                let mut action = self.bucket.put_object(credentials, &object);
                action.headers_mut().insert("content-md5", md5.clone());
                self.client
                    .put(action.sign_with_time(SIGNATURE_LIFETIME, at))
                    .header("content-md5", md5)
                    // reqwest leaves the length out of an empty body, which S3 refuses.
                    .header(CONTENT_LENGTH, body.len())
                    .body(body)
            }
        };
        req.timeout(self.timeout)
    }

    async fn send(&self, key: &str, op: Op) -> Result<reqwest::Response, BlobError> {
        let what = format!("{} {}", op.name(), self.object_name(key));
        let req = self.request(key, op, &Timestamp::now());
        req.send().await.map_err(|e| self.transport_error(&what, e))
    }

    fn transport_error(&self, what: &str, e: reqwest::Error) -> BlobError {
        if e.is_timeout() {
            BlobError::Io(format!(
                "S3 {what}: no complete answer from {} within {:?}",
                self.bucket.base_url().origin().ascii_serialization(),
                self.timeout
            ))
        } else {
            // The URL carries the signature, which a log must not show.
            BlobError::Io(format!("S3 {what}: {}", error_chain(&e.without_url())))
        }
    }
}

/// reqwest's own message is only the outermost layer ("error sending request"); the reason
/// (refused, DNS, TLS) is in the sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The `<Code>` and `<Message>` of an S3 XML error body, when there is one.
fn s3_error(body: &str) -> (Option<String>, Option<String>) {
    fn tag(body: &str, name: &str) -> Option<String> {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let len = body[start..].find(&format!("</{name}>"))?;
        let text = body[start..start + len]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        (!text.is_empty()).then_some(text)
    }
    (tag(body, "Code"), tag(body, "Message"))
}

fn status_error(
    what: &str,
    status: reqwest::StatusCode,
    code: Option<&str>,
    message: Option<&str>,
) -> BlobError {
    let mut msg = format!("S3 {what}: HTTP {}", status.as_u16());
    match code {
        Some(code) => {
            msg.push(' ');
            msg.push_str(code);
        }
        None => msg.push_str(" (no S3 error code)"),
    }
    if let Some(m) = message {
        msg.push_str(": ");
        msg.extend(m.chars().take(300));
    }
    BlobError::Io(msg)
}

async fn read_error(
    resp: reqwest::Response,
) -> (reqwest::StatusCode, Option<String>, Option<String>) {
    let status = resp.status();
    // An unreadable error body still leaves the status to report.
    let body = resp.text().await.unwrap_or_default();
    let (code, message) = s3_error(&body);
    (status, code, message)
}

#[async_trait::async_trait]
impl Blobs for S3 {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        check_key(key)?;
        let what = format!("PUT {}", self.object_name(key));
        let resp = self.send(key, Op::Put(bytes)).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let (status, code, message) = read_error(resp).await;
        Err(status_error(
            &what,
            status,
            code.as_deref(),
            message.as_deref(),
        ))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        let what = format!("DELETE {}", self.object_name(key));
        let resp = self.send(key, Op::Delete).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let (status, code, message) = read_error(resp).await;
        match code.as_deref() {
            Some("NoSuchKey") => Ok(()),
            _ => Err(status_error(
                &what,
                status,
                code.as_deref(),
                message.as_deref(),
            )),
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        check_key(key)?;
        let what = format!("GET {}", self.object_name(key));
        let resp = self.send(key, Op::Get).await?;
        if resp.status().is_success() {
            return resp
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| self.transport_error(&what, e));
        }
        let (status, code, message) = read_error(resp).await;
        // A 404 naming another code (NoSuchBucket) is a misconfiguration, not a missing blob,
        // and must not be hidden as one.
        match code.as_deref() {
            Some("NoSuchKey") => Err(BlobError::NotFound),
            None if status == reqwest::StatusCode::NOT_FOUND => Err(BlobError::NotFound),
            _ => Err(status_error(
                &what,
                status,
                code.as_deref(),
                message.as_deref(),
            )),
        }
    }
}
