//! Encryption at rest on PostgreSQL: the data keys, sealing a database that held plaintext, and
//! re-sealing values under the current key.

use async_trait::async_trait;
use parley_core::Timestamp;
use parley_store::*;

use crate::db::{exec, query, Tx};
use crate::PostgresStore;

#[async_trait]
impl Keys for PostgresStore {
    fn keyring(&self) -> Option<std::sync::Arc<parley_store::crypt::Keyring>> {
        self.db.keys()
    }

    async fn add_data_key(&self, at: Timestamp) -> StoreResult<u32> {
        let master = self.master().cloned().ok_or_else(|| StoreError::Invalid {
            field: "master_key",
            reason: "encryption at rest is off: no master key is configured".into(),
        })?;
        let id = self
            .db()
            .keys()
            .map_or(1, |k| k.ids().last().copied().unwrap_or(0) + 1);
        let wrapped = master.new_data_key(id);
        self.db()
            .run(move |tx| Box::pin(add_data_key(tx, id, wrapped, at.0)))
            .await?;
        self.load_keys(&master).await?;
        Ok(id)
    }

    async fn rewrap_data_keys(&self, new: &parley_store::crypt::MasterKey) -> StoreResult<u32> {
        let old = self.master().cloned().ok_or_else(|| StoreError::Invalid {
            field: "master_key",
            reason: "encryption at rest is off: no master key is configured".into(),
        })?;
        let new = new.clone();
        self.db()
            .run(move |tx| {
                Box::pin(async move {
                    let keys = data_keys(tx).await?;
                    for (id, wrapped) in &keys {
                        let again = new.rewrap(&old, *id, wrapped).map_err(|e| {
                            StoreError::Other(anyhow::anyhow!("data key {id}: {e}"))
                        })?;
                        crate::db::exec(tx, sql::keys::SET_DATA_KEY, &[&again, &i64::from(*id)])
                            .await?;
                    }
                    Ok(keys.len() as u32)
                })
            })
            .await
    }

    async fn finish_sealing(&self) -> StoreResult<()> {
        self.db()
            .run(|tx| {
                Box::pin(async move {
                    crate::db::exec(tx, sql::keys::DELETE_SEALING_PENDING, &[]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn refresh_keys(&self) -> StoreResult<bool> {
        match self.master() {
            Some(m) => self.load_keys(m).await,
            None => Ok(false),
        }
    }

    async fn reseal(&self, limit: u32) -> StoreResult<u64> {
        let at = parley_store::plan::now_ms();
        self.db()
            .write(move |tx, _| {
                Box::pin(async move {
                    // Seals again under the current key the fields of up to `limit` records sealed
                    // under an older key (rotation).
                    use parley_store::crypt;
                    let Some(keys) = tx.keys() else {
                        return Ok(0);
                    };
                    let prefix = crypt::sealed_prefix(keys.current());
                    let fresh = format!("{prefix}%");
                    let fail = |e: crypt::CryptError| {
                        StoreError::Other(anyhow::anyhow!("re-sealing: {e}"))
                    };
                    let again = |place: &str, v: &str| -> StoreResult<String> {
                        Ok(keys.seal_text(place, &keys.open_text(place, v).map_err(fail)?))
                    };
                    // Lets the event trigger accept the new seals; never committed (deleted below).
                    exec(tx, sql::keys::INSERT_RESEALING, &[&at]).await?;
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
                        let selected: Vec<String> =
                            cols.iter().map(|(c, _, j)| expr(c, *j)).collect();
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
                            let (seq, ws, kind, when, data): (
                                i64,
                                uuid::Uuid,
                                String,
                                i64,
                                String,
                            ) = (
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
                    exec(tx, sql::keys::DELETE_RESEALING, &[]).await?;
                    Ok(done)
                })
            })
            .await
    }

    async fn message_files(
        &self,
        after: Option<parley_core::MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<MessageFiles>> {
        let after = after.map(|m| m.as_uuid());
        self.db()
            .run(move |tx| {
                Box::pin(async move {
                    // Messages listing files, in id order after `after`.
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
                        let meta = crypt::open_json(
                            tx.keys(),
                            &crypt::aad("message", id, "meta"),
                            meta,
                        )
                        .map_err(|e| StoreError::Other(anyhow::anyhow!("message {id}: {e}")))?;
                        out.push(parley_store::MessageFiles {
                            message: id.into(),
                            workspace: crate::rows::id(r, 1)?,
                            inbox: crate::rows::id(r, 2)?,
                            files: parley_store::plan::attachment_ids(Some(&meta.to_string())),
                        });
                    }
                    Ok(out)
                })
            })
            .await
    }
}

/// The stored data keys, `(id, wrapped)`.
pub(crate) async fn data_keys(tx: &Tx<'_>) -> StoreResult<Vec<(u32, String)>> {
    query(tx, sql::keys::DATA_KEYS, &[])
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
