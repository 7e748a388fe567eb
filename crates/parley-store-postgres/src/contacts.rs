//! The `Contacts` store: contacts and their identities (create, change, search, merge two into
//! one) and their consent ledger; each helper group in the folder of the same name (`search`,
//! `merge`, `consent`, and `writes` for the rows others write too). `lists` is the `Lists` store.

use async_trait::async_trait;
use parley_core::{ContactId, IdentityId, Timestamp, UserId, WorkspaceId};
use parley_store::crypt::{self};
use parley_store::*;

use crate::db::{exec, query, query_opt};
use crate::rows::{get, load_contact};
use crate::PostgresStore;

mod consent;
pub(crate) mod lists;
mod merge;
mod search;
mod writes;

pub(crate) use consent::ledger;
use consent::{announce_consent, insert_consent, suppressions, LAST_INBOUND};
pub(crate) use writes::{
    address_key, identity_error, identity_key, insert_contact, insert_contact_stmt,
    insert_identity, insert_identity_stmt, save_contact,
};

#[async_trait]
impl Contacts for PostgresStore {
    async fn create_contact(
        &self,
        ws: WorkspaceId,
        contact: NewContact,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |tx, _| {
                Box::pin(async move {
                    let contact = insert_contact(tx, ws, &contact, at).await?;
                    load_contact(tx, ws.as_uuid(), contact.as_uuid()).await
                })
            })
            .await
    }

    async fn contact(&self, scope: &Scope, id: ContactId) -> StoreResult<ContactView> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move { crate::rows::visible_contact(tx, &scope, id).await })
            })
            .await
    }

    async fn update_contact(
        &self,
        ws: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |tx, _| {
                Box::pin(async move {
                    let mut cur = load_contact(tx, ws.as_uuid(), id.as_uuid()).await?.live()?;
                    cur.apply_patch(patch)?;
                    save_contact(tx, cur, at).await?;
                    load_contact(tx, ws.as_uuid(), id.as_uuid()).await
                })
            })
            .await
    }

    async fn set_contact_blocked(
        &self,
        ws: WorkspaceId,
        id: ContactId,
        blocked: Option<Timestamp>,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |tx, _| {
                Box::pin(async move {
                    load_contact(tx, ws.as_uuid(), id.as_uuid()).await?.live()?;
                    exec(
                        tx,
                        sql::contacts::SET_CONTACT_BLOCKED,
                        &[&blocked.map(|t| t.0), &at.0, &id.as_uuid()],
                    )
                    .await?;
                    load_contact(tx, ws.as_uuid(), id.as_uuid()).await
                })
            })
            .await
    }

    async fn search_contacts(
        &self,
        scope: &Scope,
        q: &str,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Page<ContactView>> {
        let (q, scope) = (q.to_owned(), scope.clone());
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let (after_text, after_id) = match &cursor {
                        Some(cur) => (cur.text.clone().unwrap_or_default(), Some(cur.id)),
                        None => (String::new(), None),
                    };
                    let (text, id) = (after_text.as_str(), after_id);
                    let rows = match tx.keys() {
                        Some(keys) => {
                            search::opened_search(tx, keys, &scope, &q, text, id, limit).await?
                        }
                        None => search::indexed_search(tx, &scope, &q, text, id, limit).await?,
                    };
                    let (rows, next_cursor) = plan::pages::contacts(&rows, limit);
                    let mut items = Vec::with_capacity(rows.len());
                    for (contact, _) in rows {
                        let w = scope.workspace.as_uuid();
                        items.push(load_contact(tx, w, contact.as_uuid()).await?);
                    }
                    Ok(Page { items, next_cursor })
                })
            })
            .await
    }

    async fn add_identity(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        identity: NewIdentity,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |tx, _| {
                Box::pin(async move {
                    load_contact(tx, ws.as_uuid(), contact.as_uuid())
                        .await?
                        .live()?;
                    if let Some(inbox) = identity.inbox_id {
                        match crate::directory::inbox(tx, ws, inbox).await {
                            Ok(_) => {}
                            Err(StoreError::NotFound) => {
                                return Err(StoreError::Invalid {
                                    field: "inbox_id",
                                    reason: "no such inbox".into(),
                                })
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    insert_identity(tx, ws, contact, &identity, at).await?;
                    load_contact(tx, ws.as_uuid(), contact.as_uuid()).await
                })
            })
            .await
    }

    async fn remove_identity(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        identity: IdentityId,
    ) -> StoreResult<ContactView> {
        // Under the event lock: the check that no conversation replies to the identity must not
        // race an inbound message that makes one.
        self.db
            .write(move |tx, _| Box::pin(async move {
                load_contact(tx, ws.as_uuid(), contact.as_uuid()).await?;
                let used = query_opt(
                    tx,
                    "SELECT 1 FROM conversation WHERE identity_id = $1 LIMIT 1",
                    &[&identity.as_uuid()],
                )
                .await?;
                if used.is_some() {
                    return Err(StoreError::Rejected {
                        code: "identity_in_use",
                        message: "replies of a conversation go to this identity; it cannot be removed".into(),
                    });
                }
                let n = exec(
                    tx,
                    sql::contacts::DELETE_IDENTITY,
                    &[&identity.as_uuid(), &contact.as_uuid()],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                load_contact(tx, ws.as_uuid(), contact.as_uuid()).await
            }))
            .await
    }

    async fn merge_contacts(
        &self,
        ws: WorkspaceId,
        kept: ContactId,
        absorbed: ContactId,
        actor: UserId,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |tx, events| {
                Box::pin(async move {
                    plan::merge::check(kept, absorbed)?;
                    let w = ws.as_uuid();
                    let keep = load_contact(tx, w, kept.as_uuid()).await?.live()?;
                    let gone = load_contact(tx, w, absorbed.as_uuid()).await?.live()?;
                    merge::move_records(tx, kept, absorbed).await?;
                    merge::move_conversations(tx, ws, &keep, &gone, actor, at, events).await?;
                    save_contact(tx, plan::merge::merged_contact(keep, gone), at).await?;
                    exec(tx, sql::merge::DELETE_CONTACT, &[&absorbed.as_uuid()]).await?;
                    load_contact(tx, w, kept.as_uuid()).await
                })
            })
            .await
    }

    async fn record_consent(
        &self,
        ws: WorkspaceId,
        consent: NewConsent,
    ) -> StoreResult<ConsentEvent> {
        self.db
            .write(move |tx, events| {
                Box::pin(async move {
                    // The contact must be of this workspace.
                    load_contact(tx, ws.as_uuid(), consent.contact.as_uuid())
                        .await?
                        .live()?;
                    let conversation = consent.conversation;
                    let e = consent.recorded(crate::accounts::new_id());
                    insert_consent(tx, ws, &e).await?;
                    if let Some(id) = conversation {
                        announce_consent(tx, ws, id, &e, events).await?;
                    }
                    Ok(e)
                })
            })
            .await
    }

    async fn consent_history(
        &self,
        scope: &Scope,
        contact: ContactId,
    ) -> StoreResult<Vec<ConsentEvent>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    crate::rows::visible_contact(tx, &scope, contact).await?;
                    let ledger = ledger(tx, scope.workspace, contact).await?;
                    Ok(ledger
                        .into_iter()
                        .map(|e| plan::scoped_consent(&scope, e))
                        .collect())
                })
            })
            .await
    }

    async fn consent_context(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<ConsentContext> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let view = load_contact(tx, ws.as_uuid(), contact.as_uuid()).await?;
                    let ledger = ledger(tx, ws, contact).await?;
                    let suppressions = suppressions(tx, ws, &view).await?;
                    Ok(ConsentContext::of(view, ledger, suppressions))
                })
            })
            .await
    }

    async fn last_inbound(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<Option<Timestamp>> {
        self.db
            .run(move |tx| Box::pin(async move {
                let sql =
                    format!("SELECT {LAST_INBOUND} FROM contact k WHERE k.id = $1 AND k.workspace_id = $2");
                let r = crate::db::query_opt(tx, &sql, &[&contact.as_uuid(), &ws.as_uuid()])
                    .await?
                    .ok_or(StoreError::NotFound)?;
                Ok(get::<Option<i64>>(&r, 0)?.map(parley_core::Timestamp))
            }))
            .await
    }

    async fn inactive_contacts(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<InactiveContact>> {
        self.db
            .run(move |tx| Box::pin(async move {
                let sql = format!(
                    "SELECT id, name, COALESCE(phone_sealed, phone), last_in, created_at FROM \
                       (SELECT k.id, k.name, k.phone, k.phone_sealed, k.created_at, {LAST_INBOUND} AS last_in FROM contact k \
                        WHERE k.workspace_id = $1 AND k.phone IS NOT NULL) t \
                     WHERE COALESCE(last_in, created_at) < $2 ORDER BY COALESCE(last_in, created_at), id LIMIT $3"
                );
                let rows = query(tx, &sql, &[&ws.as_uuid(), &before.0, &i64::from(limit)]).await?;
                rows.iter()
                    .map(|r| {
                        let kid: uuid::Uuid = get(r, 0)?;
                        let place = |field| crypt::aad("contact", kid, field);
                        Ok(InactiveContact {
                            id: kid.into(),
                            name: crypt::open_field(tx.keys(), &place("name"), get(r, 1)?)?,
                            phone: crypt::open_field(tx.keys(), &place("phone"), get(r, 2)?)?
                                .unwrap_or_default(),
                            last_inbound_at: get::<Option<i64>>(r, 3)?.map(parley_core::Timestamp),
                            created_at: parley_core::Timestamp(get(r, 4)?),
                        })
                    })
                    .collect()
            }))
            .await
    }
}
