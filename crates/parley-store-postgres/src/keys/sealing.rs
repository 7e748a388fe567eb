//! Sealing a database that held plaintext before encryption was turned on (`parley keys
//! encrypt`): which fields of which tables are sealed, and the lookup values made blind indexes.

use parley_store::*;

use crate::db::{exec, query, Tx};

/// A sealed column: its name, its field in the places values are sealed under, and whether it is
/// a JSON column.
pub(super) type SealedColumn = (&'static str, &'static str, bool);
/// The sealed fields of each table: (table, record name in their places, columns). Event data is sealed under its own place and handled apart. Blind indexes are
/// keyed by the first data key and do not change.
pub(super) const SEALED: &[(&str, &str, &[SealedColumn])] = &[
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
    exec(tx, sql::keys::INSERT_RESEALING, &[&at]).await?;
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
    exec(tx, sql::keys::DELETE_RESEALING, &[]).await?;
    Ok(last)
}

/// How many tables `seal_plaintext` goes through (the events last).
pub(crate) fn sealed_tables() -> usize {
    SEALED.len() + 1
}

/// Turns up to `limit` lookup values stored before encryption (emails, phones, channel addresses,
/// suppression digests) into blind indexes, with the values sealed beside them.
pub(super) async fn blind_values(
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
