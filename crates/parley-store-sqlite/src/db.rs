//! Connections: one writer thread that group-commits every write, and a small pool of readers.
//!
//! Writes are closures sent to the writer thread. It takes every closure waiting, runs each in its
//! own savepoint inside one transaction, commits once (one fsync for the batch), hands the batch's
//! events to the sink in commit order, and only then answers each caller — so an acknowledged write
//! is durable and concurrent webhooks share a commit.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::Context;
use parley_store::crypt::Keyring;
use parley_store::{EventSink, Published, StoreError, StoreResult};
use rusqlite::Connection;

const MAX_BATCH: usize = 512;
const CHECKPOINT_EVERY_MS: u64 = 1000;
/// 256 MiB of 4 KiB pages.
const WAL_RESTART_FRAMES: i64 = 65_536;
const MAX_IDLE_READERS: usize = 8;

type Completion = Box<dyn FnOnce(bool) + Send>;
type Job = Box<dyn FnOnce(&Connection, &mut Vec<Published>) -> (bool, Completion) + Send>;

/// How hard SQLite works to make a commit survive a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`: a commit is on disk before it is acknowledged (the default).
    Full,
    /// `synchronous = NORMAL`: survives a crash of Parley, may lose the last commits on power loss.
    Normal,
}

pub(crate) struct Db {
    writer: mpsc::Sender<Job>,
    /// Idle readers, each with the keyring generation its sealing functions were made with.
    readers: Mutex<Vec<(Connection, u64)>>,
    path: PathBuf,
    keys: std::sync::RwLock<(Option<Arc<Keyring>>, u64)>,
}

fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(match durability {
        Durability::Full => {
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
        }
        Durability::Normal => {
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
        }
    })?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

/// The writer keeps more of the database in memory than readers do: it touches every index.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

impl Db {
    pub(crate) fn open(
        path: &Path,
        durability: Durability,
        sink: EventSink,
    ) -> anyhow::Result<Arc<Self>> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut conn =
            Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        configure(&conn, durability).context("configuring SQLite")?;
        crate::migrate::run(&mut conn).context("applying migrations")?;
        conn.execute_batch(&format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}"))
            .context("sizing the cache")?;
        // What retention and erasure remove is overwritten with zeros, not left in free space.
        conn.execute_batch("PRAGMA secure_delete = ON")
            .context("configuring secure delete")?;
        // Checkpoints run on their own thread, so a commit never waits for one.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .context("configuring checkpoints")?;
        crate::keys::register(&conn, None).context("registering the sealing functions")?;
        spawn_checkpointer(path.to_path_buf(), durability)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("parley-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, sink))
            .context("starting the SQLite writer")?;
        Ok(Arc::new(Self {
            writer: tx,
            readers: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
            keys: std::sync::RwLock::new((None, 0)),
        }))
    }

    /// Runs `f` on the writer in its own savepoint; resolves after the batch holding it committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<Published>) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn, events| {
            let result = f(conn, events);
            let ok = result.is_ok();
            let done: Completion = Box::new(move |committed| {
                let result = if committed {
                    result
                } else {
                    Err(StoreError::Other(anyhow::anyhow!(
                        "the transaction could not be committed"
                    )))
                };
                let _ = tx.send(result);
            });
            (ok, done)
        });
        self.writer
            .send(job)
            .map_err(|_| StoreError::Other(anyhow::anyhow!("the SQLite writer has stopped")))?;
        rx.await
            .map_err(|_| StoreError::Other(anyhow::anyhow!("the SQLite writer dropped a write")))?
    }

    /// Runs `f` on a reader connection off the async threads.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = db.take_reader()?;
            let result = f(&conn.0);
            db.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("reader task failed: {e}")))?
    }

    /// Copies the WAL back into the database and empties it, so pages as they were before the
    /// last commits are in neither file. Waits for readers; answers whether it completed.
    pub(crate) async fn empty_wal(self: &Arc<Self>) -> StoreResult<bool> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&path).map_err(sql_err)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .map_err(sql_err)?;
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(sql_err)?;
            Ok(busy == 0)
        })
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("checkpoint task failed: {e}")))?
    }

    /// Seals and opens with `keys` from now on, on the writer and on every reader.
    pub(crate) async fn set_keys(&self, keys: Option<Arc<Keyring>>) -> StoreResult<()> {
        let for_writer = keys.clone();
        self.write(move |c, _| crate::keys::register(c, for_writer).map_err(sql_err))
            .await?;
        if let Ok(mut k) = self.keys.write() {
            *k = (keys, k.1 + 1);
        }
        if let Ok(mut r) = self.readers.lock() {
            r.clear();
        }
        Ok(())
    }

    pub(crate) fn keys(&self) -> Option<Arc<Keyring>> {
        self.keys.read().ok().and_then(|k| k.0.clone())
    }

    fn generation(&self) -> (Option<Arc<Keyring>>, u64) {
        self.keys
            .read()
            .map(|k| (k.0.clone(), k.1))
            .unwrap_or((None, u64::MAX))
    }

    fn take_reader(&self) -> StoreResult<(Connection, u64)> {
        if let Some(c) = self.readers.lock().ok().and_then(|mut r| r.pop()) {
            return Ok(c);
        }
        let (keys, generation) = self.generation();
        let conn = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Other(anyhow::anyhow!("opening a reader: {e}")))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql_err)?;
        conn.set_prepared_statement_cache_capacity(128);
        crate::keys::register(&conn, keys).map_err(sql_err)?;
        Ok((conn, generation))
    }

    fn give_back(&self, conn: (Connection, u64)) {
        // A reader made before the keyring changed is dropped, not reused.
        if conn.1 != self.generation().1 {
            return;
        }
        if let Ok(mut r) = self.readers.lock() {
            if r.len() < MAX_IDLE_READERS {
                r.push(conn);
            }
        }
    }
}

/// Copies the WAL back into the database once a second from its own connection (PASSIVE: never
/// blocks the writer or readers), so a commit never pays for a checkpoint. Once a second, not
/// continuously: each checkpoint ends in an fsync of the database file, and the writer's own
/// fsyncs queue behind it. Under a burst too long for the WAL to ever restart, a RESTART
/// checkpoint past `WAL_RESTART_FRAMES` bounds its size at the cost of one short pause.
fn spawn_checkpointer(path: PathBuf, durability: Durability) -> anyhow::Result<()> {
    let conn = Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
    configure(&conn, durability).context("configuring the checkpointer")?;
    std::thread::Builder::new()
        .name("parley-sqlite-checkpoint".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(CHECKPOINT_EVERY_MS));
            // Answers (busy, frames in the WAL, frames copied back).
            let frames =
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
            match frames {
                Ok(n) if n > WAL_RESTART_FRAMES => {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL restart failed");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        })
        .context("starting the checkpointer")?;
    Ok(())
}

/// Runs a fixed statement (transaction control) through the statement cache.
fn exec(conn: &Connection, sql: &str) -> bool {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .is_ok()
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>, sink: EventSink) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        // A lone write needs no savepoint: its failure rolls back the whole transaction.
        let alone = batch.len() == 1;
        let mut completions = Vec::with_capacity(batch.len());
        let mut published = Vec::new();
        let began = exec(&conn, "BEGIN IMMEDIATE");
        let mut failed_alone = false;
        for job in batch {
            if !began {
                let (_, done) = job_failed();
                completions.push(done);
                continue;
            }
            let savepoint = alone || exec(&conn, "SAVEPOINT job");
            let mut events = Vec::new();
            let (ok, done) = if savepoint {
                job(&conn, &mut events)
            } else {
                job_failed()
            };
            if ok {
                if !alone {
                    exec(&conn, "RELEASE job");
                }
                published.append(&mut events);
            } else if alone {
                failed_alone = true;
            } else if savepoint {
                exec(&conn, "ROLLBACK TO job");
                exec(&conn, "RELEASE job");
            }
            completions.push(done);
        }
        let committed = began && !failed_alone && exec(&conn, "COMMIT");
        if began && !committed {
            if !failed_alone {
                tracing::error!("SQLite commit failed; the batch was rolled back");
            }
            exec(&conn, "ROLLBACK");
        }
        if committed && !published.is_empty() {
            sink(&published);
        }
        for done in completions {
            // A lone failed job already holds its own error; `committed` only matters for successes.
            done(committed || failed_alone);
        }
    }
}

fn job_failed() -> (bool, Completion) {
    (false, Box::new(|_| {}))
}

pub(crate) fn sql_err(e: rusqlite::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(e))
}
