//! Sealing a database that held plaintext before encryption was turned on (`parley keys
//! encrypt`): which fields of which tables are sealed, and the lookup columns made blind indexes.

use parley_store::crypt;
use parley_store::sql;
use rusqlite::Connection;

/// The sealed fields of each table, with where each is sealed (as in the statements that write
/// them). Blind indexes are keyed by the first data key and do not change.
pub(super) const SEALED: &[(&str, &[(&str, &str)])] = &[
    (
        "inbox",
        &[
            ("settings", "'inbox:' || id || ':settings'"),
            ("secret", "'inbox:' || id || ':secret'"),
        ],
    ),
    (
        "message",
        &[
            ("body", "'message:' || id || ':body'"),
            ("error", "'message:' || id || ':error'"),
            ("meta", "'message:' || id || ':meta'"),
        ],
    ),
    ("event", &[("data", crate::rows::EVENT_PLACE)]),
    (
        "conversation",
        &[("last_message", "'conversation:' || id || ':preview'")],
    ),
    (
        "consent_event",
        &[("evidence", "'consent:' || id || ':evidence'")],
    ),
    (
        "contact",
        &[
            ("name", "'contact:' || id || ':name'"),
            ("custom_fields", "'contact:' || id || ':fields'"),
            ("email_sealed", "'contact:' || id || ':email'"),
            ("phone_sealed", "'contact:' || id || ':phone'"),
        ],
    ),
    (
        "contact_identity",
        &[("external_sealed", "'identity:' || id || ':external'")],
    ),
    ("outbox", &[("last_error", "'outbox:' || id || ':error'")]),
    (
        "survey_key",
        &[("secret", "'survey_key:' || id || ':secret'")],
    ),
];

/// Lookup columns that hold values in a database encrypted after it held data: (table, what
/// turns them into blind indexes with sealed copies beside them, the column).
pub(super) const BLINDED: &[(&str, &str, &str)] = &[
    (
        "contact",
        "email_sealed = parley_seal_aside(email, 'contact:' || id || ':email'), email = parley_blind(email, 'email')",
        "email",
    ),
    (
        "contact",
        "phone_sealed = parley_seal_aside(phone, 'contact:' || id || ':phone'), phone = parley_blind(phone, 'phone')",
        "phone",
    ),
    (
        "contact_identity",
        "external_sealed = parley_seal_aside(external_id, 'identity:' || id || ':external'), \
         external_id = parley_blind(external_id, 'identity:' || kind)",
        "external_id",
    ),
    (
        "suppression",
        "address = parley_blind(address, 'suppression')",
        "address",
    ),
];

/// Seals the plaintext a database held before encryption was turned on: every value of up to
/// `limit` rows of table number `table` after `after` (rowid) that is not sealed under the
/// keyring yet (what does not open is plaintext, even when it looks sealed), and, with the first
/// table, lookup columns that still hold values. Answers the last rowid done, `None` once the
/// table is done.
pub(crate) fn seal_plaintext(
    c: &Connection,
    table: usize,
    after: i64,
    limit: u32,
    at: i64,
) -> parley_store::StoreResult<Option<i64>> {
    let err = crate::db::sql_err;
    let Some((name, fields)) = SEALED.get(table) else {
        return Ok(None);
    };
    c.execute(sql::keys::INSERT_RESEALING, [at]).map_err(err)?;
    if table == 0 && after == 0 {
        let blind = format!("{}*", crypt::blind_prefix());
        for (t, sets, col) in BLINDED {
            let sql =
                format!("UPDATE {t} SET {sets} WHERE {col} IS NOT NULL AND {col} NOT GLOB ?1");
            c.execute(&sql, [&blind]).map_err(err)?;
        }
    }
    let last: Option<i64> = c
        .query_row(
            &format!(
                "SELECT max(rowid) FROM (SELECT rowid FROM {name} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)"
            ),
            rusqlite::params![after, limit],
            |r| r.get(0),
        )
        .map_err(err)?;
    if let Some(last) = last {
        let sets: Vec<String> = fields
            .iter()
            .map(|(col, place)| {
                format!(
                    "{col} = CASE WHEN {col} IS NULL OR parley_opens({col}, {place}) THEN {col} \
                     ELSE parley_seal({col}, {place}) END"
                )
            })
            .collect();
        let sql = format!(
            "UPDATE {name} SET {} WHERE rowid > ?1 AND rowid <= ?2",
            sets.join(", ")
        );
        c.execute(&sql, rusqlite::params![after, last])
            .map_err(err)?;
    }
    c.execute(sql::keys::DELETE_RESEALING, []).map_err(err)?;
    Ok(last)
}

/// How many tables `seal_plaintext` goes through.
pub(crate) fn sealed_tables() -> usize {
    SEALED.len()
}

/// Marks a database as being sealed by `parley keys encrypt`.
pub(crate) fn begin_sealing(c: &Connection, at: i64) -> parley_store::StoreResult<()> {
    c.execute(sql::keys::INSERT_SEALING_PENDING, [at])
        .map_err(crate::db::sql_err)?;
    Ok(())
}

/// Whether `parley keys encrypt` started on this database and did not finish.
pub(crate) fn sealing_pending(c: &Connection) -> parley_store::StoreResult<bool> {
    c.query_row(sql::keys::SEALING_PENDING_EXISTS, [], |r| r.get(0))
        .map_err(crate::db::sql_err)
}
