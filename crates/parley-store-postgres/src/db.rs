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

/// The stored data keys, `(id, wrapped)`.
pub(crate) async fn data_keys(tx: &Tx<'_>) -> StoreResult<Vec<(u32, String)>> {
    query(tx, "SELECT id, wrapped FROM data_key ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| {
            let id: i64 = crate::rows::get(r, 0)?;
            Ok((
                u32::try_from(id).unwrap_or(u32::MAX),
                crate::rows::get(r, 1)?,
            ))
        })
        .collect()
}

/// Adds a data key; a key another node added first under the same id is kept.
pub(crate) async fn add_data_key(
    tx: &Tx<'_>,
    id: u32,
    wrapped: String,
    at: i64,
) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO data_key (id, wrapped, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        &[&i64::from(id), &wrapped, &at],
    )
    .await?;
    Ok(())
}

/// A sealed column: its name, its field in the places values are sealed under, and whether it is
/// a JSON column.
type SealedColumn = (&'static str, &'static str, bool);

/// The sealed fields of each table: (table, record name in their places, columns). Event data is sealed under its own place and handled apart. Blind indexes are
/// keyed by the first data key and do not change.
const SEALED: &[(&str, &str, &[SealedColumn])] = &[
    (
        "inbox",
        "inbox",
        &[("settings", "settings", false), ("secret", "secret", false)],
    ),
    (
        "message",
        "message",
        &[
            ("body", "body", false),
            ("error", "error", false),
            ("meta", "meta", true),
        ],
    ),
    (
        "conversation",
        "conversation",
        &[("last_message", "preview", false)],
    ),
    (
        "consent_event",
        "consent",
        &[("evidence", "evidence", true)],
    ),
    (
        "contact",
        "contact",
        &[
            ("name", "name", false),
            ("custom_fields", "fields", false),
            ("email_sealed", "email", false),
            ("phone_sealed", "phone", false),
        ],
    ),
    (
        "contact_identity",
        "identity",
        &[("external_sealed", "external", false)],
    ),
    ("outbox", "outbox", &[("last_error", "error", false)]),
    ("survey_key", "survey_key", &[("secret", "secret", false)]),
];

/// Seals again under the current key the fields of up to `limit` records sealed under an older
/// key (rotation).
pub(crate) async fn reseal(tx: &Tx<'_>, limit: u32, at: i64) -> StoreResult<u64> {
    use parley_store::crypt;
    let Some(keys) = tx.keys() else {
        return Ok(0);
    };
    let prefix = crypt::sealed_prefix(keys.current());
    let fresh = format!("{prefix}%");
    let fail = |e: crypt::CryptError| StoreError::Other(anyhow::anyhow!("re-sealing: {e}"));
    let again = |place: &str, v: &str| -> StoreResult<String> {
        Ok(keys.seal_text(place, &keys.open_text(place, v).map_err(fail)?))
    };
    // Lets the event trigger accept the new seals; never committed (deleted below).
    exec(tx, "INSERT INTO resealing (at) VALUES ($1)", &[&at]).await?;
    let mut done = blind_values(tx, keys, limit).await?;
    for (table, record, cols) in SEALED {
        let left = i64::from(limit) - done as i64;
        if left <= 0 {
            break;
        }
        let expr = |col: &str, json: bool| {
            if json {
                format!("({col} #>> '{{}}')")
            } else {
                col.to_string()
            }
        };
        let selected: Vec<String> = cols.iter().map(|(c, _, j)| expr(c, *j)).collect();
        let stale: Vec<String> = selected
            .iter()
            .map(|e| format!("({e} IS NOT NULL AND {e} NOT LIKE $1)"))
            .collect();
        let sql = format!(
            "SELECT id, {} FROM {table} WHERE {} LIMIT $2 FOR UPDATE",
            selected.join(", "),
            stale.join(" OR ")
        );
        for r in &query(tx, &sql, &[&fresh, &left]).await? {
            let id: uuid::Uuid = crate::rows::get(r, 0)?;
            for (i, (col, field, json)) in cols.iter().enumerate() {
                let Some(v) = crate::rows::get::<Option<String>>(r, i + 1)? else {
                    continue;
                };
                // The same test as the query's, so every row it picks changes.
                if v.starts_with(&prefix) {
                    continue;
                }
                let sealed = again(&crypt::aad(record, id, field), &v)?;
                let set = if *json { "to_jsonb($2::text)" } else { "$2" };
                let sql = format!("UPDATE {table} SET {col} = {set} WHERE id = $1");
                exec(tx, &sql, &[&id, &sealed]).await?;
            }
            done += 1;
        }
    }
    let left = i64::from(limit) - done as i64;
    if left > 0 {
        let rows = query(
            tx,
            "SELECT seq, workspace_id, kind, at, data FROM event \
             WHERE data NOT LIKE $1 LIMIT $2 FOR UPDATE",
            &[&fresh, &left],
        )
        .await?;
        for r in &rows {
            let (seq, ws, kind, when, data): (i64, uuid::Uuid, String, i64, String) = (
                crate::rows::get(r, 0)?,
                crate::rows::get(r, 1)?,
                crate::rows::get(r, 2)?,
                crate::rows::get(r, 3)?,
                crate::rows::get(r, 4)?,
            );
            let sealed = again(&crypt::event_aad(ws, &kind, when), &data)?;
            exec(
                tx,
                "UPDATE event SET data = $2 WHERE seq = $1",
                &[&seq, &sealed],
            )
            .await?;
            done += 1;
        }
    }
    exec(tx, "DELETE FROM resealing", &[]).await?;
    Ok(done)
}

/// Seals the plaintext a database held before encryption was turned on: every value of up to
/// `limit` rows of table number `table` after `after` (in id order; events by seq) that is not
/// sealed under the keyring yet (what does not open is plaintext, even when it looks sealed),
/// and, first, lookup columns that still hold values. Answers the last row done, `None` once the
/// table is done; table number `SEALED.len()` is the events.
pub(crate) async fn seal_plaintext(
    tx: &Tx<'_>,
    table: usize,
    after: Option<String>,
    limit: u32,
    at: i64,
) -> StoreResult<Option<String>> {
    use parley_store::crypt;
    let Some(keys) = tx.keys() else {
        return Ok(None);
    };
    exec(tx, "INSERT INTO resealing (at) VALUES ($1)", &[&at]).await?;
    if table == 0 && after.is_none() {
        while blind_values(tx, keys, 1000).await? > 0 {}
    }
    let limit = i64::from(limit);
    let mut last = None;
    if let Some((name, record, cols)) = SEALED.get(table) {
        let selected: Vec<String> = cols
            .iter()
            .map(|(c, _, json)| {
                if *json {
                    format!("({c} #>> '{{}}')")
                } else {
                    c.to_string()
                }
            })
            .collect();
        let after: Option<uuid::Uuid> = after.and_then(|a| a.parse().ok());
        let sql = format!(
            "SELECT id, {} FROM {name} WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2 FOR UPDATE",
            selected.join(", ")
        );
        for r in &query(tx, &sql, &[&after, &limit]).await? {
            let id: uuid::Uuid = crate::rows::get(r, 0)?;
            for (i, (col, field, json)) in cols.iter().enumerate() {
                let Some(v) = crate::rows::get::<Option<String>>(r, i + 1)? else {
                    continue;
                };
                let place = crypt::aad(record, id, field);
                if crypt::opens(keys, &place, &v) {
                    continue;
                }
                let set = if *json { "to_jsonb($2::text)" } else { "$2" };
                let sql = format!("UPDATE {name} SET {col} = {set} WHERE id = $1");
                exec(tx, &sql, &[&id, &keys.seal_text(&place, &v)]).await?;
            }
            last = Some(id.to_string());
        }
    } else if table == SEALED.len() {
        let after: i64 = after.and_then(|a| a.parse().ok()).unwrap_or(0);
        let rows = query(
            tx,
            "SELECT seq, workspace_id, kind, at, data FROM event WHERE seq > $1 ORDER BY seq LIMIT $2 FOR UPDATE",
            &[&after, &limit],
        )
        .await?;
        for r in &rows {
            let (seq, ws, kind, when, data): (i64, uuid::Uuid, String, i64, String) = (
                crate::rows::get(r, 0)?,
                crate::rows::get(r, 1)?,
                crate::rows::get(r, 2)?,
                crate::rows::get(r, 3)?,
                crate::rows::get(r, 4)?,
            );
            let place = crypt::event_aad(ws, &kind, when);
            if !crypt::opens(keys, &place, &data) {
                exec(
                    tx,
                    "UPDATE event SET data = $2 WHERE seq = $1",
                    &[&seq, &keys.seal_text(&place, &data)],
                )
                .await?;
            }
            last = Some(seq.to_string());
        }
    }
    exec(tx, "DELETE FROM resealing", &[]).await?;
    Ok(last)
}

/// How many tables `seal_plaintext` goes through (the events last).
pub(crate) fn sealed_tables() -> usize {
    SEALED.len() + 1
}

/// Turns up to `limit` lookup values stored before encryption (emails, phones, channel addresses,
/// suppression digests) into blind indexes, with the values sealed beside them.
async fn blind_values(
    tx: &Tx<'_>,
    keys: &parley_store::crypt::Keyring,
    limit: u32,
) -> StoreResult<u64> {
    use parley_store::crypt;
    let blind = format!("{}%", crypt::blind_prefix());
    let mut done = 0u64;
    for (table, col, aside, kind) in [
        ("contact", "email", Some("email_sealed"), "'email'"),
        ("contact", "phone", Some("phone_sealed"), "'phone'"),
        (
            "contact_identity",
            "external_id",
            Some("external_sealed"),
            "'identity:' || kind",
        ),
        ("suppression", "address", None, "'suppression'"),
    ] {
        let left = i64::from(limit) - done as i64;
        if left <= 0 {
            break;
        }
        let sql = format!(
            "SELECT id, {col}, {kind} FROM {table} WHERE {col} IS NOT NULL AND {col} NOT LIKE $1 LIMIT $2 FOR UPDATE"
        );
        for r in &query(tx, &sql, &[&blind, &left]).await? {
            let id: uuid::Uuid = crate::rows::get(r, 0)?;
            let (value, domain): (String, String) =
                (crate::rows::get(r, 1)?, crate::rows::get(r, 2)?);
            let record = if table == "contact_identity" {
                "identity"
            } else {
                "contact"
            };
            let field = if col == "external_id" {
                "external"
            } else {
                col
            };
            let sealed = keys.seal_text(&crypt::aad(record, id, field), &value);
            let index = keys.blind(&domain, &value);
            match aside {
                Some(a) => {
                    let sql = format!("UPDATE {table} SET {col} = $2, {a} = $3 WHERE id = $1");
                    exec(tx, &sql, &[&id, &index, &sealed]).await?
                }
                None => {
                    let sql = format!("UPDATE {table} SET {col} = $2 WHERE id = $1");
                    exec(tx, &sql, &[&id, &index]).await?
                }
            };
            done += 1;
        }
    }
    Ok(done)
}

/// Messages listing files, in id order after `after`.
pub(crate) async fn message_files(
    tx: &Tx<'_>,
    after: Option<uuid::Uuid>,
    limit: u32,
) -> StoreResult<Vec<parley_store::MessageFiles>> {
    use parley_store::crypt;
    let rows = query(
        tx,
        "SELECT id, workspace_id, inbox_id, meta FROM message \
         WHERE meta IS NOT NULL AND ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        &[&after, &i64::from(limit)],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: uuid::Uuid = crate::rows::get(r, 0)?;
        let meta: serde_json::Value = crate::rows::get(r, 3)?;
        let meta = crypt::open_json(tx.keys(), &crypt::aad("message", id, "meta"), meta)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("message {id}: {e}")))?;
        out.push(parley_store::MessageFiles {
            message: id.into(),
            workspace: crate::rows::id(r, 1)?,
            inbox: crate::rows::id(r, 2)?,
            files: parley_store::plan::attachment_ids(Some(&meta.to_string())),
        });
    }
    Ok(out)
}
