//! Encryption at rest on PostgreSQL: the data keys, sealing a database that held plaintext, and
//! re-sealing values under the current key.

pub(crate) mod sealing;

use sealing::{blind_values, SEALED};

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
