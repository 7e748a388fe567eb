//! The `Keys` trait: what each backend implements for this aggregate (in its `keys.rs`).

use async_trait::async_trait;
use parley_core::{MessageId, Timestamp};

use crate::types::*;
use crate::{crypt, StoreResult};

/// Encryption at rest: the data keys values are sealed under, and re-sealing with newer ones.
#[async_trait]
pub trait Keys: Send + Sync + 'static {
    /// The data keys values are sealed under, when encryption at rest is on.
    fn keyring(&self) -> Option<std::sync::Arc<crypt::Keyring>>;
    /// Adds a data key wrapped under the master key; this store seals new values under it from
    /// now on, other processes once they `refresh_keys`. `Invalid` without a master key.
    async fn add_data_key(&self, at: Timestamp) -> StoreResult<u32>;
    /// Wraps every data key under `new` instead of the configured master key, in one
    /// transaction (master key rotation); answers how many. Servers keep their unwrapped keys
    /// and need `new` once they restart.
    async fn rewrap_data_keys(&self, new: &crypt::MasterKey) -> StoreResult<u32>;
    /// Marks the sealing of a database that held plaintext (`parley keys encrypt`) finished: its
    /// files are sealed too, and servers may start on it.
    async fn finish_sealing(&self) -> StoreResult<()>;
    /// Loads data keys another process added; answers whether there were any.
    async fn refresh_keys(&self) -> StoreResult<bool>;
    /// Seals again, under the current data key, the fields of up to `limit` records sealed under
    /// older keys, in one transaction; answers how many records changed (0: none left).
    async fn reseal(&self, limit: u32) -> StoreResult<u64>;
    /// Messages listing files, in id order after `after`: (message, workspace, inbox, file ids),
    /// for re-sealing the files.
    async fn message_files(
        &self,
        after: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<MessageFiles>>;
}
