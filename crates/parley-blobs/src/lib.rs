//! Where attachments live. `Blobs` stores and reads bytes by key; `LocalDisk` keeps them in a
//! folder (the default, beside the SQLite file), `S3` in any S3-compatible bucket.

mod local;
mod s3;

pub use local::LocalDisk;
pub use s3::{S3Config, S3};

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no such blob")]
    NotFound,
    /// A key with `..`, a leading `/` or characters outside `[A-Za-z0-9._/-]`.
    #[error("invalid blob key {0:?}")]
    BadKey(String),
    #[error("{0}")]
    Io(String),
}

/// Keys are `/`-separated paths of `[A-Za-z0-9._-]` segments chosen by the server.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    if ok {
        Ok(())
    } else {
        Err(BlobError::BadKey(key.to_string()))
    }
}

/// A store of immutable blobs.
#[async_trait::async_trait]
pub trait Blobs: Send + Sync {
    /// Stores `bytes` under `key`; once it returns, `get` finds them (also after a restart).
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError>;
    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError>;
    /// Removes the blob under `key`; removing one that is not there is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}
