//! Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Backblaze B2…).
//! Requests are signed by hand with AWS Signature Version 4, so the crate needs only an HTTP
//! client, not an SDK.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, HOST};
use reqwest::Method;
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset};

use crate::{check_key, BlobError, Blobs};

/// Long enough for an attachment of a few tens of MB on a slow link; change with
/// [`S3::with_timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the bucket is and how to sign for it.
#[derive(Clone)]
pub struct S3Config {
    /// Scheme, host and optional port only, e.g. `https://s3.us-east-1.amazonaws.com` or
    /// `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// `us-east-1`, …; `auto` for Cloudflare R2. Part of what is signed.
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `true`: `{endpoint}/{bucket}/{key}` (MinIO, most self-hosted servers);
    /// `false`: `{bucket}.{endpoint host}/{key}` (AWS's default).
    pub path_style: bool,
    /// Prepended to every key as `{prefix}/{key}`, to share a bucket with other data.
    pub prefix: Option<String>,
}

// Written by hand so that a config printed in a log or a panic message never shows the secret.
impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A [`Blobs`] store in one bucket of an S3-compatible service.
pub struct S3 {
    client: reqwest::Client,
    /// `scheme://host[:port]` that requests go to (the bucket's own host in virtual-host style).
    origin: String,
    /// The `Host` header, sent explicitly so that what is signed is what is sent.
    host: String,
    /// `/{bucket}` in path style, empty in virtual-host style.
    bucket_path: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    prefix: Option<String>,
    timeout: Duration,
}

impl fmt::Debug for S3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3")
            .field("origin", &self.origin)
            .field("bucket_path", &self.bucket_path)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn config_error(msg: impl fmt::Display) -> BlobError {
    BlobError::Io(format!("S3 config: {msg}"))
}

impl S3 {
    /// Checks `cfg` (so a typo fails at start-up, not on the first upload) and keeps `client` for
    /// the requests. Nothing is sent to the service here.
    pub fn new(cfg: S3Config, client: reqwest::Client) -> Result<Self, BlobError> {
        let endpoint = reqwest::Url::parse(cfg.endpoint.trim()).map_err(|e| {
            config_error(format_args!(
                "endpoint {:?} is not an absolute URL like https://s3.us-east-1.amazonaws.com ({e})",
                cfg.endpoint
            ))
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(config_error(format_args!(
                "endpoint {:?} must start with http:// or https://",
                cfg.endpoint
            )));
        }
        let Some(host) = endpoint.host_str().filter(|h| !h.is_empty()) else {
            return Err(config_error(format_args!(
                "endpoint {:?} has no host",
                cfg.endpoint
            )));
        };
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            return Err(config_error(
                "endpoint must not contain credentials; use access_key_id and secret_access_key",
            ));
        }
        if endpoint.path() != "/" || endpoint.query().is_some() || endpoint.fragment().is_some() {
            return Err(config_error(format_args!(
                "endpoint {:?} must be only scheme://host[:port], without a path or query \
                 (the bucket goes in `bucket`, a key prefix in `prefix`)",
                cfg.endpoint
            )));
        }

        let region = cfg.region.trim();
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(config_error(format_args!(
                "region {:?} must be non-empty letters, digits and '-' (e.g. us-east-1; \
                 `auto` for Cloudflare R2)",
                cfg.region
            )));
        }

        let bucket = cfg.bucket.trim();
        if bucket.is_empty() {
            return Err(config_error("bucket is empty"));
        }
        if !bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(config_error(format_args!(
                "bucket {bucket:?} may only contain letters, digits, '.', '-' and '_'"
            )));
        }

        // The access key sits between `Credential=` and the first `/` of the Authorization header.
        let access_key_id = cfg.access_key_id.trim();
        if access_key_id.is_empty() {
            return Err(config_error("access_key_id is empty"));
        }
        if !access_key_id
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | ','))
        {
            return Err(config_error(
                "access_key_id may only contain printable ASCII without spaces, '/' or ','",
            ));
        }
        // Not trimmed: a secret with blanks around it is a copy-paste slip, better reported
        // than silently "fixed" into a different secret.
        let secret = cfg.secret_access_key.as_str();
        if secret.is_empty() {
            return Err(config_error("secret_access_key is empty"));
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(config_error(
                "secret_access_key contains whitespace or control characters \
                 (copied with a trailing newline?)",
            ));
        }

        let prefix = match cfg.prefix.as_deref().map(|p| p.trim().trim_matches('/')) {
            None | Some("") => None,
            Some(p) => {
                check_key(p).map_err(|_| {
                    config_error(format_args!(
                        "prefix {p:?} must be '/'-separated segments of letters, digits, \
                         '.', '_' and '-'"
                    ))
                })?;
                Some(p.to_string())
            }
        };

        let (host, bucket_path) = if cfg.path_style {
            (host.to_string(), format!("/{}", uri_encode(bucket)))
        } else {
            if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
                return Err(config_error(format_args!(
                    "endpoint {:?} is an IP address, which has no {bucket}.<host> name: \
                     set path_style = true",
                    cfg.endpoint
                )));
            }
            let dns_label = bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
                && !bucket.starts_with(['.', '-'])
                && !bucket.ends_with(['.', '-']);
            if !dns_label {
                return Err(config_error(format_args!(
                    "bucket {bucket:?} cannot be part of a host name (lower-case letters, \
                     digits, '.' and '-' only): set path_style = true"
                )));
            }
            (format!("{bucket}.{host}"), String::new())
        };
        // `Url` drops a port that is the scheme's default, exactly as the `Host` header must.
        let host = match endpoint.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };

        Ok(Self {
            client,
            origin: format!("{}://{host}", endpoint.scheme()),
            host,
            bucket_path,
            region: region.to_string(),
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret.to_string(),
            prefix,
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
    fn request(
        &self,
        method: Method,
        key: &str,
        body: Option<Vec<u8>>,
        at: OffsetDateTime,
    ) -> Result<reqwest::RequestBuilder, BlobError> {
        let path = format!(
            "{}/{}",
            self.bucket_path,
            uri_encode(&self.object_name(key))
        );
        let url = reqwest::Url::parse(&format!("{}{path}", self.origin))
            .map_err(|e| BlobError::Io(format!("S3: bad object URL for {key:?}: {e}")))?;
        // The URL parser may normalise a path; the signature must cover the path actually sent.
        if url.path() != path {
            return Err(BlobError::Io(format!(
                "S3: object path {path:?} would be sent as {:?}",
                url.path()
            )));
        }

        let payload_sha256 = hex::encode(Sha256::digest(body.as_deref().unwrap_or_default()));
        let length = body.as_ref().map(|b| b.len().to_string());
        let mut headers = vec![
            ("host", self.host.as_str()),
            ("x-amz-content-sha256", payload_sha256.as_str()),
        ];
        if let Some(length) = &length {
            headers.push(("content-length", length));
        }
        let signed = sign(
            &Canonical {
                method: method.as_str(),
                path: &path,
                headers: &headers,
                payload_sha256: &payload_sha256,
            },
            &self.access_key_id,
            &self.secret_access_key,
            &self.region,
            at,
        )?;

        let mut req = self
            .client
            .request(method, url)
            .timeout(self.timeout)
            .header(HOST, &self.host)
            .header("x-amz-content-sha256", &payload_sha256)
            .header("x-amz-date", &signed.amz_date)
            .header(AUTHORIZATION, &signed.authorization);
        if let (Some(body), Some(length)) = (body, length) {
            req = req.header(CONTENT_LENGTH, length).body(body);
        }
        Ok(req)
    }

    async fn send(
        &self,
        method: Method,
        key: &str,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, BlobError> {
        let what = format!("{method} {}", self.object_name(key));
        let req = self.request(method, key, body, OffsetDateTime::now_utc())?;
        req.send()
            .await
            .map_err(|e| self.transport_error(&what, &e))
    }

    fn transport_error(&self, what: &str, e: &reqwest::Error) -> BlobError {
        if e.is_timeout() {
            BlobError::Io(format!(
                "S3 {what}: no complete answer from {} within {:?}",
                self.origin, self.timeout
            ))
        } else {
            BlobError::Io(format!("S3 {what}: {}", error_chain(e)))
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
        let resp = self.send(Method::PUT, key, Some(bytes)).await?;
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
        let resp = self.send(Method::DELETE, key, None).await?;
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
        let resp = self.send(Method::GET, key, None).await?;
        if resp.status().is_success() {
            return resp
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| self.transport_error(&what, &e));
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

// --- AWS Signature Version 4 -------------------------------------------------------------------

/// What SigV4 covers of one request without a query string.
pub(crate) struct Canonical<'a> {
    pub method: &'a str,
    /// The canonical URI: the path as sent, each segment already [`uri_encode`]d.
    pub path: &'a str,
    /// Headers to sign besides `x-amz-date`, which [`sign`] adds from its time. Names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body, also sent as `x-amz-content-sha256`.
    pub payload_sha256: &'a str,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Signed {
    /// `x-amz-date` to send: `at` as `YYYYMMDDTHHMMSSZ`.
    pub amz_date: String,
    pub signature: String,
    /// The `Authorization` header to send.
    pub authorization: String,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Result<[u8; 32], BlobError> {
    // HMAC takes keys of any length, so this error cannot happen; it is mapped, not unwrapped.
    let mut mac = HmacSha256::new_from_slice(key)
        .map_err(|e| BlobError::Io(format!("S3 signing: HMAC key: {e}")))?;
    mac.update(data.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

fn amz_date(at: OffsetDateTime) -> String {
    let t = at.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Lower-cased names, sorted; values trimmed with inner runs of blanks collapsed; a header
/// given twice has its values joined by commas. Returns (canonical headers, signed headers).
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        by_name
            .entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(value);
    }
    let mut canonical = String::new();
    for (name, values) in &by_name {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&values.join(","));
        canonical.push('\n');
    }
    let signed = by_name
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

fn canonical_request(req: &Canonical<'_>, amz_date: &str) -> (String, String) {
    let mut headers = req.headers.to_vec();
    headers.push(("x-amz-date", amz_date));
    let (canonical_headers, signed_headers) = canonical_headers(&headers);
    let request = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        req.method, req.path, req.payload_sha256
    );
    (request, signed_headers)
}

/// Signs `req` as of `at`: a pure function, so it is tested against AWS's published examples
/// and reused by the tests' fake server to check what the client sent.
pub(crate) fn sign(
    req: &Canonical<'_>,
    access_key_id: &str,
    secret_access_key: &str,
    region: &str,
    at: OffsetDateTime,
) -> Result<Signed, BlobError> {
    let amz_date = amz_date(at);
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/s3/aws4_request");
    let (canonical, signed_headers) = canonical_request(req, &amz_date);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(format!("AWS4{secret_access_key}").as_bytes(), date)?;
    let key = hmac(&key, region)?;
    let key = hmac(&key, "s3")?;
    let key = hmac(&key, "aws4_request")?;
    let signature = hex::encode(hmac(&key, &string_to_sign)?);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope},SignedHeaders={signed_headers},Signature={signature}"
    );
    Ok(Signed {
        amz_date,
        signature,
        authorization,
    })
}

/// AWS's UriEncode for an object path: every byte but `A-Za-z0-9-._~` as `%XX` (upper-case hex),
/// `/` kept between segments.
pub(crate) fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use axum::extract::{Request, State};
    use axum::http::request::Parts;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use time::macros::{datetime, format_description};

    use super::*;

    // The example credentials of AWS's SigV4 documentation.
    const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn sha256_hex(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    // Expected values below are copied from AWS's page "Signature Calculations for the
    // Authorization Header: Transferring Payload in a Single Chunk (AWS Signature Version 4)",
    // section "Examples", computed by AWS and not by this code.
    #[test]
    fn signs_the_aws_get_object_example() {
        let headers = [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ];
        let req = Canonical {
            method: "GET",
            path: "/test.txt",
            headers: &headers,
            payload_sha256: EMPTY_SHA256,
        };
        let at = datetime!(2013-05-24 00:00:00 UTC);
        // The last line of the page's StringToSign: the hash of its canonical request.
        let (canonical, _) = canonical_request(&req, &amz_date(at));
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
            "{canonical}"
        );
        let signed = sign(&req, AWS_KEY, AWS_SECRET, "us-east-1", at).unwrap();
        assert_eq!(signed.amz_date, "20130524T000000Z");
        assert_eq!(
            signed.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        // The same instant given in another offset signs the same: SigV4 time is UTC.
        let elsewhere = datetime!(2013-05-24 02:00:00 +02:00);
        assert_eq!(
            sign(&req, AWS_KEY, AWS_SECRET, "us-east-1", elsewhere).unwrap(),
            signed
        );
    }

    #[test]
    fn signs_the_aws_put_object_example() {
        let payload = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(
            payload,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let path = format!("/{}", uri_encode("test$file.text"));
        assert_eq!(path, "/test%24file.text");
        let headers = [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", payload.as_str()),
        ];
        let req = Canonical {
            method: "PUT",
            path: &path,
            headers: &headers,
            payload_sha256: &payload,
        };
        let at = datetime!(2013-05-24 00:00:00 UTC);
        let (canonical, _) = canonical_request(&req, &amz_date(at));
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
            "{canonical}"
        );
        let signed = sign(&req, AWS_KEY, AWS_SECRET, "us-east-1", at).unwrap();
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,\
             Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn encodes_paths_the_aws_way() {
        assert_eq!(uri_encode("ws/conv/a1.png"), "ws/conv/a1.png");
        assert_eq!(uri_encode("A-z_0.9~"), "A-z_0.9~");
        assert_eq!(uri_encode("a b+c/ü"), "a%20b%2Bc/%C3%BC");
        assert_eq!(uri_encode("=&?#%"), "%3D%26%3F%23%25");
    }

    #[test]
    fn reads_the_code_of_an_s3_error_body() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
                    <Message>The key &lt;x&gt; does not exist</Message></Error>";
        assert_eq!(
            s3_error(body),
            (
                Some("NoSuchKey".into()),
                Some("The key <x> does not exist".into())
            )
        );
        assert_eq!(s3_error("<html>Bad Gateway</html>"), (None, None));
        let err = status_error("GET k", reqwest::StatusCode::BAD_GATEWAY, None, None);
        assert_eq!(err.to_string(), "S3 GET k: HTTP 502 (no S3 error code)");
    }

    fn config(endpoint: &str, bucket: &str, path_style: bool) -> S3Config {
        S3Config {
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            bucket: bucket.into(),
            access_key_id: AWS_KEY.into(),
            secret_access_key: AWS_SECRET.into(),
            path_style,
            prefix: None,
        }
    }

    #[test]
    fn builds_virtual_host_and_path_style_requests() {
        let at = datetime!(2013-05-24 00:00:00 UTC);
        let s3 = S3::new(
            config("https://s3.amazonaws.com", "examplebucket", false),
            reqwest::Client::new(),
        )
        .unwrap();
        let req = s3
            .request(Method::GET, "test.txt", None, at)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            req.url().as_str(),
            "https://examplebucket.s3.amazonaws.com/test.txt"
        );
        let h = req.headers();
        assert_eq!(h["host"], "examplebucket.s3.amazonaws.com");
        assert_eq!(h["x-amz-date"], "20130524T000000Z");
        assert_eq!(h["x-amz-content-sha256"], EMPTY_SHA256);
        assert!(h.get("content-length").is_none());
        // The AWS GET example without its Range header.
        let expected = sign(
            &Canonical {
                method: "GET",
                path: "/test.txt",
                headers: &[
                    ("host", "examplebucket.s3.amazonaws.com"),
                    ("x-amz-content-sha256", EMPTY_SHA256),
                ],
                payload_sha256: EMPTY_SHA256,
            },
            AWS_KEY,
            AWS_SECRET,
            "us-east-1",
            at,
        )
        .unwrap();
        assert_eq!(h["authorization"], expected.authorization.as_str());
        assert!(expected
            .authorization
            .contains(",SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));

        let s3 = S3::new(
            S3Config {
                prefix: Some("/parley/files/".into()),
                ..config("http://127.0.0.1:9000", "attachments", true)
            },
            reqwest::Client::new(),
        )
        .unwrap();
        let req = s3
            .request(Method::PUT, "ws/a.png", Some(b"png".to_vec()), at)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            req.url().as_str(),
            "http://127.0.0.1:9000/attachments/parley/files/ws/a.png"
        );
        let h = req.headers();
        assert_eq!(h["host"], "127.0.0.1:9000");
        assert_eq!(h["content-length"], "3");
        assert_eq!(h["x-amz-content-sha256"], sha256_hex(b"png").as_str());
        assert!(h["authorization"]
            .to_str()
            .unwrap()
            .contains(",SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date,"));

        // A scheme's default port is left out of the Host header, as HTTP clients send it.
        let s3 = S3::new(
            config("https://s3.example.com:443/", "b1", false),
            reqwest::Client::new(),
        )
        .unwrap();
        let req = s3
            .request(Method::GET, "k", None, at)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(req.headers()["host"], "b1.s3.example.com");
        assert_eq!(req.url().as_str(), "https://b1.s3.example.com/k");
    }

    #[test]
    fn refuses_bad_configs_with_clear_messages() {
        let ok = || config("https://s3.us-east-1.amazonaws.com", "attachments", false);
        let cases = [
            (config("s3.amazonaws.com", "b", true), "not an absolute URL"),
            (
                config("ftp://s3.example.com", "b", true),
                "http:// or https://",
            ),
            (
                config("https://u:p@s3.example.com", "b", true),
                "credentials",
            ),
            (
                config("https://s3.example.com/b", "b", true),
                "without a path",
            ),
            (
                config("https://s3.example.com/?x=1", "b", true),
                "without a path",
            ),
            (
                config("http://127.0.0.1:9000", "b", false),
                "set path_style = true",
            ),
            (
                config("https://s3.example.com", "My_Bucket", false),
                "set path_style = true",
            ),
            (
                S3Config {
                    region: "".into(),
                    ..ok()
                },
                "region",
            ),
            (
                S3Config {
                    region: "us east".into(),
                    ..ok()
                },
                "region",
            ),
            (
                S3Config {
                    bucket: " ".into(),
                    ..ok()
                },
                "bucket is empty",
            ),
            (
                S3Config {
                    bucket: "a/b".into(),
                    ..ok()
                },
                "bucket \"a/b\"",
            ),
            (
                S3Config {
                    access_key_id: "".into(),
                    ..ok()
                },
                "access_key_id is empty",
            ),
            (
                S3Config {
                    access_key_id: "AK/X".into(),
                    ..ok()
                },
                "access_key_id may only",
            ),
            (
                S3Config {
                    secret_access_key: "".into(),
                    ..ok()
                },
                "secret_access_key is empty",
            ),
            (
                S3Config {
                    secret_access_key: "abc\n".into(),
                    ..ok()
                },
                "whitespace",
            ),
            (
                S3Config {
                    prefix: Some("a/../b".into()),
                    ..ok()
                },
                "prefix",
            ),
        ];
        for (cfg, want) in cases {
            let shown = format!("{cfg:?}");
            let msg = S3::new(cfg, reqwest::Client::new())
                .unwrap_err()
                .to_string();
            assert!(
                msg.starts_with("S3 config: ") && msg.contains(want),
                "{shown}: {msg}"
            );
        }

        assert!(S3::new(ok(), reqwest::Client::new()).is_ok());
        let r2 = S3Config {
            region: "auto".into(),
            prefix: Some("/".into()),
            ..config(
                "https://0123abcd.r2.cloudflarestorage.com",
                "Parley_Files",
                true,
            )
        };
        let s3 = S3::new(r2, reqwest::Client::new()).unwrap();
        assert_eq!(s3.prefix, None);
        // Neither the config nor the store shows the secret when printed.
        let shown = format!("{:?} {s3:?}", ok());
        assert!(!shown.contains(AWS_SECRET), "{shown}");
    }

    // --- A fake S3 that checks signatures --------------------------------------------------------

    const FAKE_KEY: &str = "PARLEYTESTKEY";
    const FAKE_SECRET: &str = "parley/test+secret";
    const FAKE_BUCKET: &str = "attachments";

    struct Fake {
        objects: Mutex<HashMap<String, Vec<u8>>>,
        requests: AtomicUsize,
    }

    fn xml_error(status: StatusCode, code: &str) -> Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>fake S3: {code}</Message><RequestId>0</RequestId></Error>"
        );
        (status, [("content-type", "application/xml")], body).into_response()
    }

    /// Checks a request as S3 does: the body against `x-amz-content-sha256`, then the
    /// `Authorization` header against one recomputed with the secret over the headers it names.
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
        let Some(auth) = header("authorization") else {
            return denied("AccessDenied");
        };
        let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
            return denied("AuthorizationHeaderMalformed");
        };
        let (mut credential, mut signed_headers) = (None, None);
        for field in fields.split(',') {
            match field.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v),
                Some(("SignedHeaders", v)) => signed_headers = Some(v),
                _ => {}
            }
        }
        let (Some(credential), Some(signed_headers)) = (credential, signed_headers) else {
            return denied("AuthorizationHeaderMalformed");
        };
        if credential.split('/').next() != Some(FAKE_KEY) {
            return denied("InvalidAccessKeyId");
        }
        let names: Vec<&str> = signed_headers.split(';').collect();
        if !["host", "x-amz-content-sha256", "x-amz-date"]
            .iter()
            .all(|n| names.contains(n))
        {
            return denied("AccessDenied");
        }
        let Some(payload) = header("x-amz-content-sha256") else {
            return denied("AccessDenied");
        };
        if payload != sha256_hex(body) {
            return Err((StatusCode::BAD_REQUEST, "XAmzContentSHA256Mismatch"));
        }
        let format = format_description!("[year][month][day]T[hour][minute][second]Z");
        let Some(at) = header("x-amz-date")
            .and_then(|d| time::PrimitiveDateTime::parse(d, format).ok())
            .map(|t| t.assume_utc())
        else {
            return denied("AccessDenied");
        };
        let mut signed = Vec::new();
        for name in names.iter().filter(|n| **n != "x-amz-date") {
            let Some(value) = header(name) else {
                return denied("AccessDenied");
            };
            signed.push((*name, value));
        }
        let canonical = Canonical {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            headers: &signed,
            payload_sha256: payload,
        };
        match sign(&canonical, FAKE_KEY, FAKE_SECRET, "us-east-1", at) {
            Ok(expected) if expected.authorization == auth => Ok(()),
            _ => denied("SignatureDoesNotMatch"),
        }
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

    async fn start_fake() -> (Arc<Fake>, SocketAddr) {
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

    fn fake_client(addr: SocketAddr, secret: &str, bucket: &str, prefix: Option<&str>) -> S3 {
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

    fn io_message(r: Result<impl fmt::Debug, BlobError>) -> String {
        match r {
            Err(BlobError::Io(msg)) => msg,
            other => panic!("expected BlobError::Io, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn stores_and_reads_through_a_fake_s3() {
        let (fake, addr) = start_fake().await;
        let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, Some("parley"));
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        s3.put("ws/conv/a1.png", bytes.clone()).await.unwrap();
        assert_eq!(s3.get("ws/conv/a1.png").await.unwrap(), bytes);
        assert_eq!(fake.objects.lock().unwrap()["parley/ws/conv/a1.png"], bytes);

        s3.put("ws/conv/empty", Vec::new()).await.unwrap();
        assert_eq!(s3.get("ws/conv/empty").await.unwrap(), b"");
        assert!(matches!(
            s3.get("ws/conv/none").await,
            Err(BlobError::NotFound)
        ));

        // Another store on the same bucket (a restart) finds what was written.
        let again = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, Some("parley"));
        assert_eq!(again.get("ws/conv/a1.png").await.unwrap(), bytes);

        s3.delete("ws/conv/empty").await.unwrap();
        assert!(!fake
            .objects
            .lock()
            .unwrap()
            .contains_key("parley/ws/conv/empty"));
        assert!(matches!(
            s3.get("ws/conv/empty").await,
            Err(BlobError::NotFound)
        ));
        s3.delete("ws/conv/empty").await.unwrap();
    }

    #[tokio::test]
    async fn a_wrong_secret_is_an_io_error_naming_the_s3_code() {
        let (fake, addr) = start_fake().await;
        let s3 = fake_client(addr, "not-the-secret", FAKE_BUCKET, None);
        let msg = io_message(s3.put("ws/a", b"x".to_vec()).await);
        assert!(
            msg.contains("SignatureDoesNotMatch") && msg.contains("403"),
            "{msg}"
        );
        assert!(msg.starts_with("S3 PUT ws/a: "), "{msg}");
        // Refused, not "not found": a missing key and a bad credential must not look alike.
        let msg = io_message(s3.get("ws/a").await);
        assert!(msg.contains("SignatureDoesNotMatch"), "{msg}");
        assert!(fake.objects.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_missing_bucket_is_an_io_error_not_a_missing_blob() {
        let (_fake, addr) = start_fake().await;
        let s3 = fake_client(addr, FAKE_SECRET, "other-bucket", None);
        let msg = io_message(s3.get("ws/a").await);
        assert!(msg.contains("404 NoSuchBucket"), "{msg}");
    }

    async fn execute(req: reqwest::Request) -> (StatusCode, String) {
        let resp = reqwest::Client::new().execute(req).await.unwrap();
        let status = resp.status();
        (status, resp.text().await.unwrap())
    }

    #[tokio::test]
    async fn the_fake_refuses_tampered_requests() {
        let (fake, addr) = start_fake().await;
        let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, None);
        let signed = || {
            s3.request(
                Method::PUT,
                "ws/t",
                Some(b"original".to_vec()),
                OffsetDateTime::now_utc(),
            )
            .unwrap()
            .build()
            .unwrap()
        };

        // Another body of the same length: it no longer matches the signed hash.
        let mut req = signed();
        *req.body_mut() = Some(b"tampered".to_vec().into());
        let (status, body) = execute(req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body.contains("<Code>XAmzContentSHA256Mismatch</Code>"),
            "{body}"
        );

        // The hash header changed with it: the signature no longer matches the headers.
        let mut req = signed();
        *req.body_mut() = Some(b"tampered".to_vec().into());
        let hash = sha256_hex(b"tampered").parse().unwrap();
        req.headers_mut().insert("x-amz-content-sha256", hash);
        let (status, body) = execute(req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{body}"
        );

        // Sent to another key: the signature covers the path.
        let mut req = signed();
        *req.url_mut() = format!("http://{addr}/{FAKE_BUCKET}/ws/u").parse().unwrap();
        let (status, body) = execute(req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{body}"
        );

        // Unsigned.
        let mut req = signed();
        req.headers_mut().remove("authorization");
        let (status, body) = execute(req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(fake.objects.lock().unwrap().is_empty());

        // The same request untouched is taken, so the refusals above came from the tampering.
        let (status, body) = execute(signed()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(fake.objects.lock().unwrap()["ws/t"], b"original");
    }

    #[tokio::test]
    async fn bad_keys_are_refused_before_any_request() {
        let (fake, addr) = start_fake().await;
        let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, None);
        for bad in [
            "../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a b",
            "",
            "a?b",
            "a%2Fb",
        ] {
            assert!(
                matches!(s3.put(bad, vec![1]).await, Err(BlobError::BadKey(_))),
                "{bad}"
            );
            assert!(
                matches!(s3.get(bad).await, Err(BlobError::BadKey(_))),
                "{bad}"
            );
        }
        assert_eq!(fake.requests.load(Ordering::SeqCst), 0);
        // A good key does reach the server, so the count above can move.
        assert!(matches!(s3.get("ok").await, Err(BlobError::NotFound)));
        assert_eq!(fake.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn timeouts_and_refused_connections_are_io_errors() {
        // A server that accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, None)
            .with_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let msg = io_message(s3.get("ws/a").await);
        assert!(msg.contains("within 300ms"), "{msg}");
        assert!(started.elapsed() < Duration::from_secs(10));
        silent.abort();

        // Nobody listens on a port just released.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, None);
        let msg = io_message(s3.put("ws/a", b"x".to_vec()).await);
        assert!(
            msg.starts_with("S3 PUT ws/a: ") && msg.contains("refused"),
            "{msg}"
        );
    }
}
