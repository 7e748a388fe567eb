//! Encryption at rest on SQLite: `parley_seal(value, place)` and `parley_open(value, place)` as SQL
//! functions on every connection, so statements seal and open fields where they write and read
//! them; `parley_blind(value, domain)` gives the blind index a lookup column holds, and
//! `parley_seal_aside` the sealed copy beside it. Without a keyring they pass values through (and
//! refuse to open a sealed one).

use std::sync::Arc;

use parley_store::crypt::{self, Keyring};
use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

fn failed(e: crypt::CryptError) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(e))
}

/// Registers (or replaces) the functions on `conn` with `keys`.
pub(crate) fn register(conn: &Connection, keys: Option<Arc<Keyring>>) -> rusqlite::Result<()> {
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

/// The stored data keys, `(id, wrapped)`.
pub(crate) fn data_keys(c: &Connection) -> parley_store::StoreResult<Vec<(u32, String)>> {
    c.prepare_cached("SELECT id, wrapped FROM data_key ORDER BY id")
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
