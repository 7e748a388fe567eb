//! Parley's embedded store on SQLite (WAL): one writer thread that group-commits every write, and a
//! pool of read-only connections. The default backend: `parley serve` needs nothing else.

mod accounts;
mod automations;
mod contacts;
mod conversations;
mod db;
mod directory;
mod keys;
mod migrate;
mod outbox;
mod privacy;
mod rows;
mod templates;
mod timers;

use std::path::Path;
use std::sync::Arc;

use parley_store::*;

pub use db::Durability;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<db::Db>,
    master: Option<parley_store::crypt::MasterKey>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: &Path, durability: Durability, sink: EventSink) -> anyhow::Result<Self> {
        Ok(Self {
            db: db::Db::open(path, durability, sink)?,
            master: None,
        })
    }

    /// Turns encryption at rest on with `master` (creating the first data key of a database that
    /// has none), or checks that the database needs no key. A database that already holds data
    /// is sealed only when `seal_existing` says so (`parley keys encrypt`).
    pub async fn with_master_key(
        mut self,
        master: Option<&parley_store::crypt::MasterKey>,
        seal_existing: bool,
    ) -> anyhow::Result<Self> {
        let mut stored = self.db.read(keys::data_keys).await?;
        if let (Some(m), true) = (master, stored.is_empty()) {
            // Values already stored in plaintext must be sealed (and their blind indexes made)
            // before a server uses the key, or lookups would miss them.
            let existing = !parley_store::Accounts::is_empty(&self).await?;
            anyhow::ensure!(
                !existing || seal_existing,
                "this database holds data in plaintext: stop Parley and run `parley keys encrypt` once with the master key configured"
            );
            let wrapped = m.new_data_key(1);
            let at = parley_store::plan::now_ms();
            self.db
                .write(move |c, _| {
                    if existing {
                        keys::sealing::begin_sealing(c, at)?;
                    }
                    keys::add_data_key(c, 1, &wrapped, at)
                })
                .await?;
            stored = self.db.read(keys::data_keys).await?;
        }
        let keys = parley_store::crypt::keyring_for(master, &stored)?;
        if keys.is_some() && !seal_existing {
            anyhow::ensure!(
                !self.db.read(keys::sealing::sealing_pending).await?,
                "`parley keys encrypt` did not finish on this database: run it again"
            );
        }
        self.db.set_keys(keys.map(Arc::new)).await?;
        self.master = master.cloned();
        if seal_existing {
            self.seal_plaintext().await?;
        }
        Ok(self)
    }

    /// Seals every table's plaintext, a batch a transaction (`parley keys encrypt`).
    async fn seal_plaintext(&self) -> anyhow::Result<()> {
        for table in 0..keys::sealing::sealed_tables() {
            let mut after = 0;
            loop {
                let at = parley_store::plan::now_ms();
                let done = self
                    .db
                    .write(move |c, _| keys::sealing::seal_plaintext(c, table, after, 1000, at))
                    .await?;
                match done {
                    Some(last) => after = last,
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Rebuilds the keyring from the stored data keys when they differ from the loaded ones.
    async fn load_keys(&self, master: &parley_store::crypt::MasterKey) -> StoreResult<bool> {
        let stored = self.db.read(keys::data_keys).await?;
        let loaded = self.db.keys().map(|k| k.ids()).unwrap_or_default();
        if stored.iter().map(|(id, _)| *id).collect::<Vec<_>>() == loaded {
            return Ok(false);
        }
        let keys = parley_store::crypt::Keyring::open_keys(master, &stored)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("data keys: {e}")))?;
        self.db.set_keys(Some(Arc::new(keys))).await?;
        Ok(true)
    }
}
