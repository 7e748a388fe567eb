//! Parley's PostgreSQL store, for running many nodes on one database: a connection pool, one
//! transaction per store call, group commit for inbound messages, and events published in commit
//! order on every node (see `db` for how).

mod accounts;
mod automations;
mod contacts;
mod conversations;
mod db;
mod directory;
mod keys;
mod migrate;
pub use migrate::MIGRATION_COUNT;
mod outbox;
mod pipeline;
mod privacy;
mod rows;
mod templates;
pub mod testing;
mod timers;

use std::fmt;
use std::sync::Arc;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use parley_store::{sql, EventSink};

/// Connections per node. Reads and writes share them; inbound messages use one per batch.
const POOL_SIZE: usize = 16;

/// The PostgreSQL store. Cheap to clone; clones share the pool and the inbound batcher.
#[derive(Clone)]
pub struct PostgresStore {
    db: Arc<db::Db>,
    inbound: conversations::inbound::batch::Inbound,
    /// Where the store is connected, without the password.
    target: String,
    master: Option<parley_store::crypt::MasterKey>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// `user@host:port/dbname` of a connection configuration: enough to tell databases apart in logs,
/// never the password.
fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(h, port)| match h {
            tokio_postgres::config::Host::Tcp(h) => format!("{h}:{port}"),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    format!(
        "{}@{}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/dbname`), applies migrations and starts
    /// the inbound batcher. Events of every committed transaction go to `sink`, in commit order.
    pub async fn connect(url: &str, sink: EventSink) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url.parse().context("parsing the PostgreSQL URL")?;
        let target = describe(&config);
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .context("building the PostgreSQL pool")?;
        migrate::run(&pool)
            .await
            .with_context(|| format!("migrating {target}"))?;
        let db = Arc::new(db::Db::new(pool, sink));
        Ok(Self {
            inbound: conversations::inbound::batch::Inbound::start(Arc::clone(&db)),
            db,
            target,
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
        let mut stored = self.db.run(|tx| Box::pin(keys::data_keys(tx))).await?;
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
                .run(move |tx| {
                    Box::pin(async move {
                        if existing {
                            db::exec(tx, sql::keys::INSERT_SEALING_PENDING, &[&at]).await?;
                        }
                        keys::add_data_key(tx, 1, wrapped, at).await
                    })
                })
                .await?;
            stored = self.db.run(|tx| Box::pin(keys::data_keys(tx))).await?;
        }
        let keys = parley_store::crypt::keyring_for(master, &stored)?;
        if keys.is_some() && !seal_existing {
            let pending = self
                .db
                .run(|tx| {
                    Box::pin(async move {
                        let r = db::query(tx, sql::keys::SEALING_PENDING_EXISTS, &[]).await?;
                        r.first().map_or(Ok(false), |r| rows::get::<bool>(r, 0))
                    })
                })
                .await?;
            anyhow::ensure!(
                !pending,
                "`parley keys encrypt` did not finish on this database: run it again"
            );
        }
        self.db.set_keys(keys.map(Arc::new));
        self.master = master.cloned();
        if seal_existing {
            self.seal_plaintext().await?;
        }
        Ok(self)
    }

    /// Seals every table's plaintext, a batch a transaction (`parley keys encrypt`).
    async fn seal_plaintext(&self) -> anyhow::Result<()> {
        for table in 0..keys::sealing::sealed_tables() {
            let mut after: Option<String> = None;
            loop {
                let at = parley_store::plan::now_ms();
                let from = after.clone();
                let done = self
                    .db
                    .write(move |tx, _| {
                        Box::pin(keys::sealing::seal_plaintext(tx, table, from, 1000, at))
                    })
                    .await?;
                match done {
                    Some(last) => after = Some(last),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Rebuilds the keyring from the stored data keys when they differ from the loaded ones.
    pub(crate) async fn load_keys(
        &self,
        master: &parley_store::crypt::MasterKey,
    ) -> parley_store::StoreResult<bool> {
        let stored = self.db.run(|tx| Box::pin(keys::data_keys(tx))).await?;
        let loaded = self.db.keys().map(|k| k.ids()).unwrap_or_default();
        if stored.iter().map(|(id, _)| *id).collect::<Vec<_>>() == loaded {
            return Ok(false);
        }
        let keys = parley_store::crypt::Keyring::open_keys(master, &stored)
            .map_err(|e| parley_store::StoreError::Other(anyhow::anyhow!("data keys: {e}")))?;
        self.db.set_keys(Some(Arc::new(keys)));
        Ok(true)
    }

    pub(crate) fn master(&self) -> Option<&parley_store::crypt::MasterKey> {
        self.master.as_ref()
    }

    pub(crate) fn db(&self) -> &Arc<db::Db> {
        &self.db
    }
}
