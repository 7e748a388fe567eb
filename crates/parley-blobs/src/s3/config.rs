//! Where the bucket is and how to sign for it, checked once at start-up so that a typo fails
//! there, with a message naming the setting, and not on the first upload.

use std::fmt;

use rusty_s3::{Bucket, Credentials, UrlStyle};

use crate::{check_key, BlobError};

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

/// A configuration that passed [`S3Config::check`].
pub(super) struct Checked {
    pub bucket: Bucket,
    pub credentials: Credentials,
    pub prefix: Option<String>,
}

fn config_error(msg: impl fmt::Display) -> BlobError {
    BlobError::Io(format!("S3 config: {msg}"))
}

impl S3Config {
    pub(super) fn check(&self) -> Result<Checked, BlobError> {
        let endpoint = self.endpoint_url()?;
        let region = self.checked_region()?;
        let bucket = self.checked_bucket()?;
        let credentials = self.credentials()?;
        let prefix = self.checked_prefix()?;
        let style = self.url_style(&endpoint, bucket)?;
        let bucket =
            Bucket::new(endpoint, style, bucket.to_string(), region.to_string()).map_err(|e| {
                config_error(format_args!(
                    "bucket {bucket:?} at {:?}: {e}",
                    self.endpoint
                ))
            })?;
        Ok(Checked {
            bucket,
            credentials,
            prefix,
        })
    }

    fn endpoint_url(&self) -> Result<reqwest::Url, BlobError> {
        let endpoint = reqwest::Url::parse(self.endpoint.trim()).map_err(|e| {
            config_error(format_args!(
                "endpoint {:?} is not an absolute URL like https://s3.us-east-1.amazonaws.com ({e})",
                self.endpoint
            ))
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(config_error(format_args!(
                "endpoint {:?} must start with http:// or https://",
                self.endpoint
            )));
        }
        if endpoint.host_str().is_none_or(str::is_empty) {
            return Err(config_error(format_args!(
                "endpoint {:?} has no host",
                self.endpoint
            )));
        }
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            return Err(config_error(
                "endpoint must not contain credentials; use access_key_id and secret_access_key",
            ));
        }
        if endpoint.path() != "/" || endpoint.query().is_some() || endpoint.fragment().is_some() {
            return Err(config_error(format_args!(
                "endpoint {:?} must be only scheme://host[:port], without a path or query \
                 (the bucket goes in `bucket`, a key prefix in `prefix`)",
                self.endpoint
            )));
        }
        Ok(endpoint)
    }

    fn checked_region(&self) -> Result<&str, BlobError> {
        let region = self.region.trim();
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(config_error(format_args!(
                "region {:?} must be non-empty letters, digits and '-' (e.g. us-east-1; \
                 `auto` for Cloudflare R2)",
                self.region
            )));
        }
        Ok(region)
    }

    fn checked_bucket(&self) -> Result<&str, BlobError> {
        let bucket = self.bucket.trim();
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
        Ok(bucket)
    }

    fn credentials(&self) -> Result<Credentials, BlobError> {
        // The access key is the first `/`-separated part of the signed credential.
        let access_key_id = self.access_key_id.trim();
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
        let secret = self.secret_access_key.as_str();
        if secret.is_empty() {
            return Err(config_error("secret_access_key is empty"));
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(config_error(
                "secret_access_key contains whitespace or control characters \
                 (copied with a trailing newline?)",
            ));
        }
        Ok(Credentials::new(access_key_id, secret))
    }

    fn checked_prefix(&self) -> Result<Option<String>, BlobError> {
        match self.prefix.as_deref().map(|p| p.trim().trim_matches('/')) {
            None | Some("") => Ok(None),
            Some(p) => {
                check_key(p).map_err(|_| {
                    config_error(format_args!(
                        "prefix {p:?} must be '/'-separated segments of letters, digits, \
                         '.', '_' and '-'"
                    ))
                })?;
                Ok(Some(p.to_string()))
            }
        }
    }

    /// Virtual-host style puts the bucket in the host name, which an address or a bucket name
    /// that is not a DNS label cannot be.
    fn url_style(&self, endpoint: &reqwest::Url, bucket: &str) -> Result<UrlStyle, BlobError> {
        if self.path_style {
            return Ok(UrlStyle::Path);
        }
        let host = endpoint.host_str().unwrap_or_default();
        if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
            return Err(config_error(format_args!(
                "endpoint {:?} is an IP address, which has no {bucket}.<host> name: \
                 set path_style = true",
                self.endpoint
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
        Ok(UrlStyle::VirtualHost)
    }
}
