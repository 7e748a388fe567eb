//! Blobs as files under one folder: written to a temporary name, synced, then renamed, so a
//! crash never leaves half a file under a key.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;

use crate::{check_key, BlobError, Blobs};

pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

fn io(e: std::io::Error) -> BlobError {
    BlobError::Io(e.to_string())
}

#[async_trait::async_trait]
impl Blobs for LocalDisk {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        check_key(key)?;
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut f = tokio::fs::File::create(&tmp).await.map_err(io)?;
        f.write_all(&bytes).await.map_err(io)?;
        f.sync_all().await.map_err(io)?;
        drop(f);
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        check_key(key)?;
        match tokio::fs::read(self.root.join(key)).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound),
            Err(e) => Err(io(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        match tokio::fs::remove_file(self.root.join(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn stores_reads_and_refuses_escaping_keys() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalDisk::new(dir.path());
        b.put("ws/conv/a1.png", b"png".to_vec()).await.unwrap();
        assert_eq!(b.get("ws/conv/a1.png").await.unwrap(), b"png");
        b.put("ws/conv/gone", b"x".to_vec()).await.unwrap();
        b.delete("ws/conv/gone").await.unwrap();
        assert!(matches!(
            b.get("ws/conv/gone").await,
            Err(BlobError::NotFound)
        ));
        b.delete("ws/conv/gone").await.unwrap();
        assert!(!dir.path().join("ws/conv/gone").exists());
        assert!(matches!(
            b.get("ws/conv/none").await,
            Err(BlobError::NotFound)
        ));
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "a b", ""] {
            assert!(
                matches!(b.put(bad, vec![]).await, Err(BlobError::BadKey(_))),
                "{bad}"
            );
        }
        // A new store on the same folder (a restart) finds what was written.
        assert_eq!(
            LocalDisk::new(dir.path())
                .get("ws/conv/a1.png")
                .await
                .unwrap(),
            b"png"
        );
    }
}
