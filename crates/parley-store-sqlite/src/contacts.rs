//! The `Contacts` store: contacts and their identities (create, change, search, merge two into
//! one) and their consent ledger; each helper group in the folder of the same name (`merge`,
//! `consent`, and `writes` for the rows others write too). `lists` is the `Lists` store.

use async_trait::async_trait;
use parley_core::{ContactId, IdentityId, Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, OptionalExtension};

use crate::db::sql_err;
use crate::rows::{load_contact, uid, CONTACT_EMAIL, CONTACT_NAME, CONTACT_PHONE};
use crate::SqliteStore;

mod consent;
pub(crate) mod lists;
mod merge;
mod writes;

pub(crate) use consent::{ledger, record_consent};
use consent::{suppressions, LAST_INBOUND};
pub(crate) use writes::{insert_contact, insert_identity, CONTACT_SET};

#[async_trait]
impl Contacts for SqliteStore {
    async fn create_contact(
        &self,
        ws: WorkspaceId,
        contact: NewContact,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |c, _| {
                let id = insert_contact(c, ws, &contact, at)?;
                load_contact(c, &ws.to_string(), &id.to_string())
            })
            .await
    }

    async fn contact(&self, scope: &Scope, id: ContactId) -> StoreResult<ContactView> {
        let scope = scope.clone();
        self.db
            .read(move |c| crate::rows::visible_contact(c, &scope, id))
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
            .write(move |c, _| {
                let mut cur = load_contact(c, &ws.to_string(), &id.to_string())?.live()?;
                cur.apply_patch(patch)?;
                c.execute(
                    &format!("UPDATE contact SET {CONTACT_SET}"),
                    params![
                        cur.name,
                        cur.email,
                        cur.phone,
                        serde_json::Value::Object(cur.custom_fields).to_string(),
                        at.0,
                        id.to_string()
                    ],
                )
                .map_err(sql_err)?;
                load_contact(c, &ws.to_string(), &id.to_string())
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
            .write(move |c, _| {
                load_contact(c, &ws.to_string(), &id.to_string())?.live()?;
                c.execute(
                    sql::contacts::SET_CONTACT_BLOCKED,
                    params![blocked.map(|t| t.0), at.0, id.to_string()],
                )
                .map_err(sql_err)?;
                load_contact(c, &ws.to_string(), &id.to_string())
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
            .read(move |c| {
                let ws = scope.workspace;
                let (pattern, digit_pattern) = plan::search::search_patterns(&q);
                let (after_text, after_id) = match &cursor {
                    Some(cur) => (cur.text.clone().unwrap_or_default(), cur.id.to_string()),
                    None => (String::new(), String::new()),
                };
                // With encryption at rest the values are opened row by row: a scan, not an index lookup.
                let sql = &format!("SELECT k.id, COALESCE(lower({CONTACT_NAME}), '') AS sort_name FROM contact k WHERE k.workspace_id = ?1 AND k.erased_at IS NULL \
                    AND (?2 = '%%' OR lower({CONTACT_NAME}) LIKE ?2 ESCAPE '\\' OR {CONTACT_EMAIL} LIKE ?2 ESCAPE '\\' OR {CONTACT_PHONE} LIKE ?3 ESCAPE '\\' \
                         OR EXISTS (SELECT 1 FROM contact_identity i WHERE i.contact_id = k.id \
                            AND lower(COALESCE(parley_open(i.external_sealed, 'identity:' || i.id || ':external'), i.external_id)) LIKE ?2 ESCAPE '\\')) \
                    AND (?5 = '' OR sort_name > ?4 OR (sort_name = ?4 AND k.id > ?5)){} \
                    ORDER BY sort_name, k.id LIMIT ?6", crate::rows::contact_filter(&scope, "k.id"));
                let mut stmt = c.prepare_cached(sql).map_err(sql_err)?;
                let rows: Vec<(ContactId, String)> = stmt
                    .query_map(
                        params![
                            ws.to_string(),
                            pattern,
                            digit_pattern,
                            after_text,
                            after_id,
                            limit + 1
                        ],
                        |r| Ok((uid(r, 0)?, r.get(1)?)),
                    )
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)?;
                let (rows, next_cursor) = plan::pages::contacts(&rows, limit);
                let items = rows
                    .iter()
                    .map(|(id, _)| load_contact(c, &ws.to_string(), &id.to_string()))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(Page { items, next_cursor })
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
            .write(move |c, _| {
                load_contact(c, &ws.to_string(), &contact.to_string())?.live()?;
                if let Some(inbox) = identity.inbox_id {
                    crate::directory::inbox(c, ws, inbox).map_err(|_| StoreError::Invalid {
                        field: "inbox_id",
                        reason: "no such inbox".into(),
                    })?;
                }
                insert_identity(c, ws, contact, &identity, at)?;
                load_contact(c, &ws.to_string(), &contact.to_string())
            })
            .await
    }

    async fn remove_identity(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        identity: IdentityId,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |c, _| {
                load_contact(c, &ws.to_string(), &contact.to_string())?;
                let used: i64 = c
                    .query_row(
                        "SELECT COUNT(*) FROM conversation WHERE identity_id = ?1",
                        [identity.to_string()],
                        |r| r.get(0),
                    )
                    .map_err(sql_err)?;
                if used > 0 {
                    return Err(StoreError::Rejected {
                        code: "identity_in_use",
                        message:
                            "replies of a conversation go to this identity; it cannot be removed"
                                .into(),
                    });
                }
                let n = c
                    .execute(
                        sql::contacts::DELETE_IDENTITY,
                        [identity.to_string(), contact.to_string()],
                    )
                    .map_err(sql_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                load_contact(c, &ws.to_string(), &contact.to_string())
            })
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
            .write(move |c, events| {
                plan::merge::check(kept, absorbed)?;
                let w = ws.to_string();
                let keep = load_contact(c, &w, &kept.to_string())?.live()?;
                let gone = load_contact(c, &w, &absorbed.to_string())?.live()?;
                merge::move_records(c, kept, absorbed)?;
                merge::move_conversations(c, ws, &keep, &gone, actor, at, events)?;
                merge::save_merged(c, keep, gone, at)?;
                load_contact(c, &w, &kept.to_string())
            })
            .await
    }

    async fn record_consent(
        &self,
        ws: WorkspaceId,
        consent: NewConsent,
    ) -> StoreResult<ConsentEvent> {
        self.db
            .write(move |c, ev| record_consent(c, ws, consent, ev))
            .await
    }

    async fn consent_history(
        &self,
        scope: &Scope,
        contact: ContactId,
    ) -> StoreResult<Vec<ConsentEvent>> {
        let scope = scope.clone();
        self.db
            .read(move |c| {
                crate::rows::visible_contact(c, &scope, contact)?;
                Ok(ledger(c, scope.workspace, contact)?
                    .into_iter()
                    .map(|e| plan::scoped_consent(&scope, e))
                    .collect())
            })
            .await
    }

    async fn consent_context(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<ConsentContext> {
        self.db
            .read(move |c| {
                let view = load_contact(c, &ws.to_string(), &contact.to_string())?;
                let ledger = ledger(c, ws, contact)?;
                let suppressions = suppressions(c, ws, &view)?;
                Ok(ConsentContext::of(view, ledger, suppressions))
            })
            .await
    }

    async fn last_inbound(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<Option<Timestamp>> {
        self.db
            .read(move |c| {
                let at: Option<i64> = c
                    .prepare_cached(&format!(
                    "SELECT {LAST_INBOUND} FROM contact k WHERE k.id = ?1 AND k.workspace_id = ?2"
                ))
                    .map_err(sql_err)?
                    .query_row([contact.to_string(), ws.to_string()], |r| r.get(0))
                    .optional()
                    .map_err(sql_err)?
                    .ok_or(StoreError::NotFound)?;
                Ok(at.map(parley_core::Timestamp))
            })
            .await
    }

    async fn inactive_contacts(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<InactiveContact>> {
        self.db
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT id, name, phone, last_in, created_at FROM \
                       (SELECT k.id, {CONTACT_NAME} AS name, {CONTACT_PHONE} AS phone, k.created_at, {LAST_INBOUND} AS last_in FROM contact k \
                        WHERE k.workspace_id = ?1 AND k.phone IS NOT NULL) t \
                     WHERE COALESCE(last_in, created_at) < ?2 ORDER BY COALESCE(last_in, created_at), id LIMIT ?3"
                ))
                .map_err(sql_err)?
                .query_map(params![ws.to_string(), before.0, limit], |r| {
                    Ok(InactiveContact {
                        id: uid(r, 0)?,
                        name: r.get(1)?,
                        phone: r.get(2)?,
                        last_inbound_at: r.get::<_, Option<i64>>(3)?.map(parley_core::Timestamp),
                        created_at: parley_core::Timestamp(r.get(4)?),
                    })
                })
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_err)
            })
            .await
    }
}
