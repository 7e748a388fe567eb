//! The `Privacy` store: erasing a contact (`erasure`) and removing the content of old messages
//! (`retention`).
use async_trait::async_trait;
use parley_core::{ContactId, Timestamp, WorkspaceId};
use parley_store::crypt;
use parley_store::*;

use crate::db::{exec, query};
use crate::rows::{get, load_contact};
use crate::PostgresStore;

pub(crate) mod erasure;
pub(crate) mod retention;

#[async_trait]
impl Privacy for PostgresStore {
    async fn erase_contact(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        at: Timestamp,
    ) -> StoreResult<Erasure> {
        self.db
            .write(move |tx, _| {
                Box::pin(async move {
                    let (w, k) = (ws.as_uuid(), contact.as_uuid());
                    // Held until commit: an inbound message cannot add an identity to the contact
                    // meanwhile.
                    exec(
                        tx,
                        "SELECT 1 FROM contact WHERE id = $1 AND workspace_id = $2 FOR UPDATE",
                        &[&k, &w],
                    )
                    .await?;
                    let view = load_contact(tx, w, k).await?;
                    let mut out = Erasure::of(&view, at);
                    if out.repeated {
                        return Ok(out);
                    }
                    // Keyed when encrypted at rest, so the digests cannot be matched against every
                    // number.
                    let digests: Vec<String> = view
                        .address_digests(ws)
                        .iter()
                        .map(|d| crypt::blind(tx.keys(), "suppression", d))
                        .collect();
                    erasure::redact_conversations(tx, contact, at, &mut out).await?;
                    erasure::keep_revocations(tx, ws, contact, &digests, &mut out).await?;
                    erasure::forget(tx, ws, contact, at).await?;
                    Ok(out)
                })
            })
            .await
    }

    async fn expiring_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
    ) -> StoreResult<(u64, Option<Timestamp>)> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let rows =
                        query(tx, sql::retention::EXPIRING, &[&ws.as_uuid(), &before.0]).await?;
                    let r = rows.first().ok_or(StoreError::NotFound)?;
                    Ok((
                        get::<i64>(r, 0)? as u64,
                        get::<Option<i64>>(r, 1)?.map(Timestamp),
                    ))
                })
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
            .write(move |tx, _| {
                Box::pin(async move {
                    let mut expired = plan::retention::Expired::default();
                    let out =
                        retention::redact_messages(tx, ws, before, limit, at, &mut expired).await?;
                    // A survey answer's comment is the customer's own words: it goes as their
                    // messages do. Done before the copies, with them, as an event is rewritten
                    // once per run.
                    retention::redact_survey_answers(tx, ws, before, limit, &expired, at).await?;
                    retention::redact_copies(tx, expired, at).await?;
                    Ok(out)
                })
            })
            .await
    }
}
