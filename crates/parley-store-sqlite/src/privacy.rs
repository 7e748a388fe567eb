//! The `Privacy` store: erasing a contact (`erasure`) and removing the content of old messages
//! (`retention`).
use async_trait::async_trait;
use parley_core::{ContactId, Timestamp, WorkspaceId};
use parley_store::*;
use rusqlite::params;

use crate::db::sql_err;
use crate::SqliteStore;

pub(crate) mod erasure;
pub(crate) mod retention;

#[async_trait]
impl Privacy for SqliteStore {
    async fn erase_contact(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        at: Timestamp,
    ) -> StoreResult<Erasure> {
        let done = self
            .db
            .write(move |c, _| {
                let view = crate::rows::load_contact(c, &ws.to_string(), &contact.to_string())?;
                let mut out = Erasure::of(&view, at);
                if out.repeated {
                    return Ok(out);
                }
                erasure::redact_conversations(c, contact, at, &mut out)?;
                erasure::keep_revocations(c, ws, contact, &view.address_digests(ws), &mut out)?;
                erasure::forget(c, ws, contact, at)?;
                Ok(out)
            })
            .await?;
        // The WAL still holds the pages as they were before; copy it back and empty it, so the
        // erased data is in neither file.
        if !matches!(self.db.empty_wal().await, Ok(true)) {
            tracing::warn!("the WAL could not be emptied after an erasure; it holds the erased pages until it restarts");
        }
        Ok(done)
    }

    async fn expiring_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
    ) -> StoreResult<(u64, Option<Timestamp>)> {
        self.db
            .read(move |c| {
                c.prepare_cached(sql::retention::EXPIRING)
                    .map_err(sql_err)?
                    .query_row(params![ws.to_string(), before.0], |r| {
                        Ok((
                            r.get::<_, i64>(0)? as u64,
                            r.get::<_, Option<i64>>(1)?.map(Timestamp),
                        ))
                    })
                    .map_err(sql_err)
            })
            .await
    }

    async fn expire_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
        limit: u32,
        at: Timestamp,
    ) -> StoreResult<Vec<ExpiredMessage>> {
        self.db
            .write(move |c, _| {
                let mut expired = plan::retention::Expired::default();
                let out = retention::redact_messages(c, ws, before, limit, at, &mut expired)?;
                // A survey answer's comment is the customer's own words: it goes as their messages
                // do. Done before the copies, with them, as an event is rewritten once per run.
                retention::redact_survey_answers(c, ws, before, limit, &expired, at)?;
                retention::redact_copies(c, expired, at)?;
                Ok(out)
            })
            .await
    }
}
