//! The `Privacy` store: erasing a contact (`erasure`) and removing the content of old messages
//! (`retention`).
use async_trait::async_trait;
use parley_core::{ContactId, Timestamp, WorkspaceId};
use parley_store::*;

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
            .write(move |tx, _| Box::pin(erasure::erase(tx, ws, contact, at)))
            .await
    }

    async fn expiring_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
    ) -> StoreResult<(u64, Option<Timestamp>)> {
        self.db
            .run(move |tx| Box::pin(crate::privacy::retention::expiring(tx, ws, before)))
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
                    crate::privacy::retention::expire(tx, ws, before, limit, at).await
                })
            })
            .await
    }
}
