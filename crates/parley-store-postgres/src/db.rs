//! Connections and transactions: a pool, one transaction per store call, and the commit path that
//! hands each transaction's events to the sink in commit order.
//!
//! Why events come out in order: every transaction that may append events first takes one
//! cluster-wide advisory lock (`EVENT_LOCK`), held until it commits. So no two such transactions
//! overlap, and `event.seq` — drawn while the lock is held — grows in commit order on every node.
//! That is what lets a reader resume with `events_since(seq)` without ever missing a row that
//! commits later with a smaller seq. Within this process, COMMIT and the sink call happen under
//! one mutex: the next transaction may take the advisory lock as soon as ours commits, but it
//! cannot publish before our sink call has returned.
//!
//! The same lock is the writer lock of conversations, contacts and identities: every write to them
//! holds it, whether or not it appends an event, so each reads the latest state and none overwrites
//! another's — as the single writer does on SQLite. Writes elsewhere (users, teams, inboxes, the
//! outbox claim) run without it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use deadpool_postgres::{Object, Pool};
use parley_store::crypt::Keyring;
use parley_store::{EventSink, Published, StoreError, StoreResult};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::rows::pg_err;

/// A transaction with the keyring that seals and opens fields in it (encryption at rest).
pub(crate) struct Tx<'a> {
    inner: deadpool_postgres::Transaction<'a>,
    keys: Option<Arc<Keyring>>,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = deadpool_postgres::Transaction<'a>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Tx<'_> {
    pub(crate) fn keys(&self) -> Option<&Keyring> {
        self.keys.as_deref()
    }
}

/// The future a transaction body returns; it borrows the transaction.
pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// Advisory-lock key held by every transaction that appends events ("parley" + "ev").
const EVENT_LOCK: i64 = 0x7061_726c_6579_6576;

pub(crate) struct Db {
    pool: Pool,
    sink: EventSink,
    publish: tokio::sync::Mutex<()>,
    keys: std::sync::RwLock<Option<Arc<Keyring>>>,
}

impl Db {
    pub(crate) fn new(pool: Pool, sink: EventSink) -> Self {
        Self {
            pool,
            sink,
            publish: tokio::sync::Mutex::new(()),
            keys: std::sync::RwLock::new(None),
        }
    }

    pub(crate) fn set_keys(&self, keys: Option<Arc<Keyring>>) {
        if let Ok(mut k) = self.keys.write() {
            *k = keys;
        }
    }

    pub(crate) fn keys(&self) -> Option<Arc<Keyring>> {
        self.keys.read().ok().and_then(|k| k.clone())
    }

    /// A transaction on `client`, with the current keyring.
    pub(crate) async fn begin<'a>(&self, client: &'a mut Object) -> StoreResult<Tx<'a>> {
        Ok(Tx {
            inner: client.transaction().await.map_err(pg_err)?,
            keys: self.keys(),
        })
    }

    pub(crate) async fn client(&self) -> StoreResult<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Other(anyhow::anyhow!("getting a PostgreSQL connection: {e}")))
    }

    /// Runs `f` in a transaction that appends no events, and commits it.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Tx<'a>) -> BoxFut<'a, T> + Send + 'static,
    {
        let db = Arc::clone(self);
        detached(async move {
            let mut client = db.client().await?;
            let tx = db.begin(&mut client).await?;
            let out = f(&tx).await?;
            tx.inner.commit().await.map_err(pg_err)?;
            Ok(out)
        })
        .await
    }

    /// Runs `f` in a transaction holding the event lock; after the commit, its events go to the sink.
    pub(crate) async fn write<T, F>(self: &Arc<Self>, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Tx<'a>, &'a mut Vec<Published>) -> BoxFut<'a, T> + Send + 'static,
    {
        let db = Arc::clone(self);
        detached(async move {
            let mut client = db.client().await?;
            let tx = db.begin(&mut client).await?;
            lock_events(&tx).await?;
            let mut events = Vec::new();
            let out = f(&tx, &mut events).await?;
            db.commit(tx, events).await?;
            Ok(out)
        })
        .await
    }

    /// Commits a transaction that holds the event lock and publishes its events.
    pub(crate) async fn commit(&self, tx: Tx<'_>, events: Vec<Published>) -> StoreResult<()> {
        let _publishing = self.publish.lock().await;
        tx.inner.commit().await.map_err(pg_err)?;
        if !events.is_empty() {
            (self.sink)(&events);
        }
        Ok(())
    }
}

/// Runs a transaction on its own task, so that a caller who stops waiting (a dropped request) cannot
/// cut it off between COMMIT and handing its events to the sink.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = StoreResult<T>> + Send + 'static,
) -> StoreResult<T> {
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("a store task failed: {e}")))?
}

/// Takes the event lock for the rest of the transaction (see the module doc).
pub(crate) async fn lock_events(tx: &Tx<'_>) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await
        .map_err(pg_err)?;
    tx.execute(&stmt, &[&EVENT_LOCK]).await.map_err(pg_err)?;
    Ok(())
}

/// Runs a cached statement and returns how many rows it changed.
pub(crate) async fn exec(
    tx: &Tx<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<u64> {
    let stmt = tx.prepare_cached(sql).await.map_err(pg_err)?;
    tx.execute(&stmt, params).await.map_err(pg_err)
}

/// Runs a cached query.
pub(crate) async fn query(
    tx: &Tx<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<Row>> {
    let stmt = tx.prepare_cached(sql).await.map_err(pg_err)?;
    tx.query(&stmt, params).await.map_err(pg_err)
}

/// Runs a cached query expected to return at most one row.
pub(crate) async fn query_opt(
    tx: &Tx<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Option<Row>> {
    let stmt = tx.prepare_cached(sql).await.map_err(pg_err)?;
    tx.query_opt(&stmt, params).await.map_err(pg_err)
}
