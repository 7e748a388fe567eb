//! Encryption at rest on SQLite: `parley_seal(value, place)` and `parley_open(value, place)` as SQL
//! functions on every connection, so statements seal and open fields where they write and read
//! them; `parley_blind(value, domain)` gives the blind index a lookup column holds, and
//! `parley_seal_aside` the sealed copy beside it. Without a keyring they pass values through (and
//! refuse to open a sealed one).

pub(crate) mod sealing;

use sealing::{BLINDED, SEALED};

use std::sync::Arc;

use async_trait::async_trait;
use parley_core::Timestamp;
use parley_store::crypt::{self, Keyring};
use parley_store::*;
use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use crate::SqliteStore;

#[async_trait]
impl Keys for SqliteStore {
    fn keyring(&self) -> Option<Arc<parley_store::crypt::Keyring>> {
        self.db.keys()
    }

    async fn add_data_key(&self, at: Timestamp) -> StoreResult<u32> {
        let master = self.master.clone().ok_or_else(|| StoreError::Invalid {
            field: "master_key",
            reason: "encryption at rest is off: no master key is configured".into(),
        })?;
        let id = self
            .db
            .keys()
            .map_or(1, |k| k.ids().last().copied().unwrap_or(0) + 1);
        let wrapped = master.new_data_key(id);
        self.db
            .write(move |c, _| add_data_key(c, id, &wrapped, at.0))
            .await?;
        self.load_keys(&master).await?;
        Ok(id)
    }

    async fn rewrap_data_keys(&self, new: &parley_store::crypt::MasterKey) -> StoreResult<u32> {
        let old = self.master.clone().ok_or_else(|| StoreError::Invalid {
            field: "master_key",
            reason: "encryption at rest is off: no master key is configured".into(),
        })?;
        let new = new.clone();
        self.db
            .write(move |c, _| {
                // Wraps every data key under `new` instead of `old`.
                let keys = data_keys(c)?;
                for (id, wrapped) in &keys {
                    let again = new.rewrap(&old, *id, wrapped).map_err(|e| {
                        parley_store::StoreError::Other(anyhow::anyhow!("data key {id}: {e}"))
                    })?;
                    c.prepare_cached(sql::keys::SET_DATA_KEY)
                        .map_err(crate::db::sql_err)?
                        .execute(rusqlite::params![again, id])
                        .map_err(crate::db::sql_err)?;
                }
                Ok(keys.len() as u32)
            })
            .await
    }

    async fn finish_sealing(&self) -> StoreResult<()> {
        self.db
            .write(|c, _| {
                c.execute(sql::keys::DELETE_SEALING_PENDING, [])
                    .map_err(crate::db::sql_err)?;
                Ok(())
            })
            .await
    }

    async fn refresh_keys(&self) -> StoreResult<bool> {
        match &self.master {
            Some(m) => self.load_keys(m).await,
            None => Ok(false),
        }
    }

    async fn reseal(&self, limit: u32) -> StoreResult<u64> {
        let Some(current) = self.db.keys().map(|k| k.current()) else {
            return Ok(0);
        };
        let at = parley_store::plan::now_ms();
        self.db
            .write(move |c, _| {
                // Seals under key `current` the fields of up to `limit` records sealed under another key or not
                // sealed yet (a database encrypted after it held data), and turns lookup columns that still hold
                // values into blind indexes with the values sealed beside them.
                let err = crate::db::sql_err;
                // GLOB, not LIKE: it tells `~PK:` from `~pk:`.
                let fresh = format!("{}*", crypt::sealed_prefix(current));
                let blind = format!("{}*", crypt::blind_prefix());
                // Lets the event trigger accept the new seals; never committed (deleted below).
                c.execute(sql::keys::INSERT_RESEALING, [at])
                    .map_err(err)?;
                let mut done = 0u64;
                for (table, sets, col) in BLINDED {
                    let left = u64::from(limit).saturating_sub(done);
                    let sql = format!(
                        "UPDATE {table} SET {sets} WHERE rowid IN \
                         (SELECT rowid FROM {table} WHERE {col} IS NOT NULL AND {col} NOT GLOB ?1 LIMIT ?2)"
                    );
                    done += c
                        .execute(&sql, rusqlite::params![blind, left])
                        .map_err(err)? as u64;
                }
                for (table, fields) in SEALED {
                    let left = u64::from(limit).saturating_sub(done);
                    if left == 0 {
                        break;
                    }
                    let sets: Vec<String> = fields
                        .iter()
                        .map(|(col, place)| {
                            format!("{col} = parley_seal(parley_open({col}, {place}), {place})")
                        })
                        .collect();
                    let stale: Vec<String> = fields
                        .iter()
                        .map(|(col, _)| format!("({col} IS NOT NULL AND {col} NOT GLOB ?1)"))
                        .collect();
                    let sql = format!(
                        "UPDATE {table} SET {} WHERE rowid IN (SELECT rowid FROM {table} WHERE {} LIMIT ?2)",
                        sets.join(", "),
                        stale.join(" OR ")
                    );
                    done += c
                        .execute(&sql, rusqlite::params![fresh, left])
                        .map_err(err)? as u64;
                }
                c.execute(sql::keys::DELETE_RESEALING, []).map_err(err)?;
                Ok(done)
            })
            .await
    }

    async fn message_files(
        &self,
        after: Option<parley_core::MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<MessageFiles>> {
        let after = after.map(|m| m.to_string());
        self.db.read(move |c| {
            // Messages listing files, in id order after `after`.
            let rows: Vec<(uuid::Uuid, uuid::Uuid, uuid::Uuid, Option<String>)> = c
                .prepare_cached(
                    "SELECT id, workspace_id, inbox_id, parley_open(meta, 'message:' || id || ':meta') FROM message \
                     WHERE meta IS NOT NULL AND (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2",
                )
                .map_err(crate::db::sql_err)?
                .query_map(rusqlite::params![after, limit], |r| {
                    Ok((
                        crate::rows::uid(r, 0)?,
                        crate::rows::uid(r, 1)?,
                        crate::rows::uid(r, 2)?,
                        r.get(3)?,
                    ))
                })
                .map_err(crate::db::sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(crate::db::sql_err)?;
            Ok(rows
                .into_iter()
                .map(|(m, w, i, meta)| parley_store::MessageFiles {
                    message: m.into(),
                    workspace: w.into(),
                    inbox: i.into(),
                    files: parley_store::plan::attachment_ids(meta.as_deref()),
                })
                .collect())
        }).await
    }
}

fn failed(e: crypt::CryptError) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(e))
}

/// Registers (or replaces) the functions on `conn` with `keys`.
pub(crate) fn register(conn: &Connection, keys: Option<Arc<Keyring>>) -> rusqlite::Result<()> {
    register_lookups(conn, &keys)?;
    let k = keys.clone();
    conn.create_scalar_function(
        "parley_opens",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let value: Option<String> = ctx.get(0)?;
            let place: Option<String> = ctx.get(1)?;
            Ok(match (k.as_deref(), value) {
                (Some(keys), Some(v)) => crypt::opens(keys, &place.unwrap_or_default(), &v),
                _ => false,
            })
        },
    )?;
    let k = keys.clone();
    conn.create_scalar_function("parley_seal", 2, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let value: Option<String> = ctx.get(0)?;
        let place: Option<String> = ctx.get(1)?;
        Ok(value.map(|v| crypt::seal_text(k.as_deref(), &place.unwrap_or_default(), &v)))
    })?;
    conn.create_scalar_function(
        "parley_open",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            // A LEFT JOIN's missing row has neither a value nor a place.
            let value: Option<String> = ctx.get(0)?;
            let place: Option<String> = ctx.get(1)?;
            value
                .map(|v| crypt::open_text(keys.as_deref(), &place.unwrap_or_default(), &v))
                .transpose()
                .map_err(failed)
        },
    )
}

/// `parley_blind` and `parley_seal_aside`: the blind index a lookup column holds and the sealed
/// copy beside it.
fn register_lookups(conn: &Connection, keys: &Option<Arc<Keyring>>) -> rusqlite::Result<()> {
    let k = keys.clone();
    conn.create_scalar_function(
        "parley_blind",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let value: Option<String> = ctx.get(0)?;
            let domain: String = ctx.get(1)?;
            Ok(value.map(|v| crypt::blind(k.as_deref(), &domain, &v)))
        },
    )?;
    let k = keys.clone();
    conn.create_scalar_function(
        "parley_seal_aside",
        2,
        FunctionFlags::SQLITE_UTF8,
        move |ctx| {
            let value: Option<String> = ctx.get(0)?;
            let place: Option<String> = ctx.get(1)?;
            Ok(crypt::seal_aside(
                k.as_deref(),
                &place.unwrap_or_default(),
                value.as_deref(),
            ))
        },
    )?;
    Ok(())
}

/// The stored data keys, `(id, wrapped)`.
pub(crate) fn data_keys(c: &Connection) -> parley_store::StoreResult<Vec<(u32, String)>> {
    c.prepare_cached(sql::keys::DATA_KEYS)
        .map_err(crate::db::sql_err)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(crate::db::sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(crate::db::sql_err)
}

pub(crate) fn add_data_key(
    c: &Connection,
    id: u32,
    wrapped: &str,
    at: i64,
) -> parley_store::StoreResult<()> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO data_key (id, wrapped, created_at) VALUES (?1, ?2, ?3)",
    )
    .map_err(crate::db::sql_err)?
    .execute(rusqlite::params![id, wrapped, at])
    .map_err(crate::db::sql_err)?;
    Ok(())
}
