//! The `Contacts` store: contacts and their identities (create, change, search, merge two into
//! one), their consent ledger, and the lists they are on (`lists`).

use async_trait::async_trait;
use parley_core::{ContactId, IdentityId, ListId, Timestamp, UserId, WorkspaceId};
use parley_store::crypt::{self, Keyring};
use parley_store::*;

use crate::accounts::new_id;
use crate::conversations::{
    insert_event, load_by_id, load_for_contact, save_conversation, NewEvent,
};
use crate::db::{exec, query, query_opt, Tx};
use crate::pipeline::Stmt;
use crate::rows::{get, id, is_unique_violation, load_contact, pg_err};
use crate::PostgresStore;

pub(crate) mod lists;

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
                    let n: NewContact = contact;
                    let contact = insert_contact(tx, ws, &n, at).await?;
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
                    let contact: ContactId = id;
                    let p: ContactPatch = patch;
                    let mut cur = load_contact(tx, ws.as_uuid(), contact.as_uuid())
                        .await?
                        .live()?;
                    cur.apply_patch(p)?;
                    save_contact(tx, cur, at).await?;
                    load_contact(tx, ws.as_uuid(), contact.as_uuid()).await
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
                    let contact: ContactId = id;
                    load_contact(tx, ws.as_uuid(), contact.as_uuid())
                        .await?
                        .live()?;
                    exec(
                        tx,
                        sql::contacts::SET_CONTACT_BLOCKED,
                        &[&blocked.map(|t| t.0), &at.0, &contact.as_uuid()],
                    )
                    .await?;
                    load_contact(tx, ws.as_uuid(), contact.as_uuid()).await
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
            .run(move |tx| Box::pin(async move { search(tx, &scope, &q, cursor, limit).await }))
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
                    let i: NewIdentity = identity;
                    load_contact(tx, ws.as_uuid(), contact.as_uuid())
                        .await?
                        .live()?;
                    if let Some(inbox) = i.inbox_id {
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
                    insert_identity(tx, ws, contact, &i, at).await?;
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
        let m = Merge {
            kept,
            absorbed,
            actor,
            at,
        };
        self.db
            .write(move |tx, ev| Box::pin(merge(tx, ws, m, ev)))
            .await
    }

    async fn record_consent(
        &self,
        ws: WorkspaceId,
        consent: NewConsent,
    ) -> StoreResult<ConsentEvent> {
        self.db
            .write(move |tx, ev| Box::pin(async move { record_consent(tx, ws, consent, ev).await }))
            .await
    }

    async fn consent_history(
        &self,
        scope: &Scope,
        contact: ContactId,
    ) -> StoreResult<Vec<ConsentEvent>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move { consent_history(tx, &scope, contact).await }))
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

    async fn create_list(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .run(move |tx| Box::pin(async move { lists::create(tx, ws, &name, at).await }))
            .await
    }

    async fn list_lists(&self, ws: WorkspaceId) -> StoreResult<Vec<ListView>> {
        self.db.run(move |tx| Box::pin(lists::all(tx, ws))).await
    }

    async fn rename_list(&self, ws: WorkspaceId, id: ListId, name: &str) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .run(move |tx| Box::pin(async move { lists::rename(tx, ws, id, &name).await }))
            .await
    }

    async fn delete_list(&self, ws: WorkspaceId, id: ListId) -> StoreResult<()> {
        self.db
            .run(move |tx| Box::pin(lists::delete(tx, ws, id)))
            .await
    }

    async fn set_list_member(
        &self,
        ws: WorkspaceId,
        list: ListId,
        contact: ContactId,
        member: bool,
        at: Timestamp,
    ) -> StoreResult<ListView> {
        self.db
            .run(move |tx| Box::pin(lists::set_member(tx, ws, list, contact, member, at)))
            .await
    }

    async fn contact_lists(&self, scope: &Scope, contact: ContactId) -> StoreResult<Vec<ListView>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move { lists::of_contact(tx, &scope, contact).await }))
            .await
    }

    async fn list_members(
        &self,
        scope: &Scope,
        list: ListId,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Page<ContactView>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move { lists::members(tx, &scope, list, cursor, limit).await })
            })
            .await
    }
}

/// The lookup value of an identity's address: its blind index when encrypted at rest.
pub(crate) fn identity_key(
    keys: Option<&Keyring>,
    kind: parley_core::contact::IdentityKind,
    external: &str,
) -> String {
    crypt::blind(keys, &format!("identity:{}", kind.as_str()), external)
}

pub(crate) fn insert_identity_stmt(
    keys: Option<&Keyring>,
    ws: WorkspaceId,
    contact: ContactId,
    identity: IdentityId,
    i: &NewIdentity,
    at: Timestamp,
) -> Stmt {
    let sealed = crypt::seal_aside(
        keys,
        &crypt::aad("identity", identity, "external"),
        Some(&i.external_id),
    );
    Stmt::new(
        "INSERT INTO contact_identity (id, workspace_id, contact_id, kind, inbox_id, external_id, created_at, external_sealed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vec![
            Box::new(identity.as_uuid()),
            Box::new(ws.as_uuid()),
            Box::new(contact.as_uuid()),
            Box::new(i.kind.as_str()),
            Box::new(i.inbox_id.map(|i| i.as_uuid())),
            Box::new(identity_key(keys, i.kind, &i.external_id)),
            Box::new(at.0),
            Box::new(sealed),
        ],
    )
}

/// `Conflict` when `e` says the identity is taken, else the database error.
pub(crate) fn identity_error(e: tokio_postgres::Error, i: &NewIdentity) -> StoreError {
    let taken = is_unique_violation(&e)
        && e.as_db_error().and_then(|d| d.constraint()) == Some("contact_identity_unique");
    if taken {
        StoreError::Conflict(format!(
            "the {} identity {:?} belongs to another contact",
            i.kind.as_str(),
            i.external_id
        ))
    } else {
        pg_err(e)
    }
}

pub(crate) async fn insert_identity(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
    i: &NewIdentity,
    at: Timestamp,
) -> StoreResult<IdentityId> {
    let identity: IdentityId = new_id().into();
    insert_identity_stmt(tx.keys(), ws, contact, identity, i, at)
        .run(tx)
        .await
        .map_err(|e| identity_error(e, i))?;
    Ok(identity)
}

/// A contact's name, email, phone and custom fields as stored: sealed, and the email and phone
/// as blind indexes with sealed copies beside them, when encrypted at rest.
struct StoredContact {
    name: Option<String>,
    email: Option<String>,
    email_sealed: Option<String>,
    phone: Option<String>,
    phone_sealed: Option<String>,
    fields: String,
}

impl StoredContact {
    fn new(
        keys: Option<&Keyring>,
        id: ContactId,
        name: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let place = |field| crypt::aad("contact", id, field);
        let fields = serde_json::Value::Object(fields.clone()).to_string();
        Self {
            name: crypt::seal_field(keys, &place("name"), name),
            email: email.map(|e| crypt::blind(keys, "email", e)),
            email_sealed: crypt::seal_aside(keys, &place("email"), email),
            phone: phone.map(|p| crypt::blind(keys, "phone", p)),
            phone_sealed: crypt::seal_aside(keys, &place("phone"), phone),
            fields: crypt::seal_text(keys, &place("fields"), &fields),
        }
    }
}

/// The lookup value of a phone number or email: its blind index when encrypted at rest.
pub(crate) fn address_key(
    keys: Option<&Keyring>,
    domain: &str,
    value: Option<&str>,
) -> Option<String> {
    value.map(|v| crypt::blind(keys, domain, v))
}

pub(crate) fn insert_contact_stmt(
    keys: Option<&Keyring>,
    ws: WorkspaceId,
    contact: ContactId,
    n: &NewContact,
    at: Timestamp,
) -> Stmt {
    let s = StoredContact::new(
        keys,
        contact,
        n.name.as_deref(),
        n.email.as_deref(),
        n.phone.as_deref(),
        &n.custom_fields,
    );
    Stmt::new(
        "INSERT INTO contact (id, workspace_id, name, email, phone, custom_fields, created_at, updated_at, email_sealed, phone_sealed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)",
        vec![
            Box::new(contact.as_uuid()),
            Box::new(ws.as_uuid()),
            Box::new(s.name),
            Box::new(s.email),
            Box::new(s.phone),
            Box::new(s.fields),
            Box::new(at.0),
            Box::new(s.email_sealed),
            Box::new(s.phone_sealed),
        ],
    )
}

pub(crate) async fn insert_contact(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    n: &NewContact,
    at: Timestamp,
) -> StoreResult<ContactId> {
    let contact: ContactId = new_id().into();
    insert_contact_stmt(tx.keys(), ws, contact, n, at)
        .run(tx)
        .await
        .map_err(pg_err)?;
    for i in &n.identities {
        insert_identity(tx, ws, contact, i, at).await?;
    }
    Ok(contact)
}

/// Writes a contact's fields as they are in `v`.
async fn save_contact(tx: &Tx<'_>, v: ContactView, at: Timestamp) -> StoreResult<()> {
    let s = StoredContact::new(
        tx.keys(),
        v.id,
        v.name.as_deref(),
        v.email.as_deref(),
        v.phone.as_deref(),
        &v.custom_fields,
    );
    exec(
        tx,
        "UPDATE contact SET name = $1, email = $2, phone = $3, custom_fields = $4, updated_at = $5, \
         email_sealed = $7, phone_sealed = $8 WHERE id = $6",
        &[
            &s.name,
            &s.email,
            &s.phone,
            &s.fields,
            &at.0,
            &v.id.as_uuid(),
            &s.email_sealed,
            &s.phone_sealed,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn search(
    tx: &Tx<'_>,
    scope: &Scope,
    q: &str,
    cursor: Option<Cursor>,
    limit: u32,
) -> StoreResult<Page<ContactView>> {
    let ws = scope.workspace;
    let (all, inboxes) = crate::rows::contact_params(scope);
    let (pattern, digit_pattern) = plan::search_patterns(q);
    let (after_text, after_id) = match &cursor {
        Some(cur) => (cur.text.clone().unwrap_or_default(), Some(cur.id)),
        None => (String::new(), None),
    };
    // Names sort bytewise ("C"), as on SQLite, whatever the database's default collation.
    let sql = "SELECT id, sort_name FROM (\
            SELECT k.id, COALESCE(lower(k.name), '') COLLATE \"C\" AS sort_name FROM contact k \
            WHERE k.workspace_id = $1 AND k.erased_at IS NULL AND ($2 = '%%' OR lower(k.name) LIKE $2 OR lower(k.email) LIKE $2 \
                OR lower(k.phone) LIKE $3 \
                OR EXISTS (SELECT 1 FROM contact_identity i WHERE i.contact_id = k.id AND lower(i.external_id) LIKE $2)) \
              AND ($7 OR EXISTS (SELECT 1 FROM conversation cv WHERE cv.contact_id = k.id AND cv.inbox_id = ANY($8)))\
        ) s \
        WHERE ($5::uuid IS NULL OR sort_name > $4 OR (sort_name = $4 AND id > $5)) \
        ORDER BY sort_name, id LIMIT $6";
    let rows: Vec<(ContactId, String)> = if let Some(keys) = tx.keys() {
        opened_search(tx, keys, scope, q, &after_text, after_id, limit).await?
    } else {
        query(
            tx,
            sql,
            &[
                &ws.as_uuid(),
                &pattern,
                &digit_pattern,
                &after_text,
                &after_id,
                &(i64::from(limit) + 1),
                &all,
                &inboxes,
            ],
        )
        .await?
        .iter()
        .map(|r| Ok((id(r, 0)?, get(r, 1)?)))
        .collect::<StoreResult<_>>()?
    };
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = if more {
        rows.last().map(|(id, name)| Cursor {
            keys: Vec::new(),
            text: Some(name.clone()),
            id: id.as_uuid(),
        })
    } else {
        None
    };
    let mut items = Vec::with_capacity(rows.len());
    for (contact, _) in rows {
        items.push(load_contact(tx, ws.as_uuid(), contact.as_uuid()).await?);
    }
    Ok(Page { items, next_cursor })
}

/// A search over sealed contacts: every contact of the workspace is opened in memory and matched
/// there (a scan; blind indexes find exact values, not parts of them). Same order and pages as
/// the SQL search.
async fn opened_search(
    tx: &Tx<'_>,
    keys: &Keyring,
    scope: &Scope,
    q: &str,
    after_text: &str,
    after_id: Option<uuid::Uuid>,
    limit: u32,
) -> StoreResult<Vec<(ContactId, String)>> {
    let ws = scope.workspace;
    let (all, inboxes) = crate::rows::contact_params(scope);
    let visible: Option<std::collections::HashSet<uuid::Uuid>> = if all {
        None
    } else {
        let rows = query(
            tx,
            "SELECT DISTINCT contact_id FROM conversation WHERE workspace_id = $1 AND inbox_id = ANY($2)",
            &[&ws.as_uuid(), &inboxes],
        )
        .await?;
        Some(rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?)
    };
    let mut addresses: std::collections::HashMap<uuid::Uuid, Vec<String>> = Default::default();
    for r in &query(
        tx,
        "SELECT i.contact_id, i.id, COALESCE(i.external_sealed, i.external_id) FROM contact_identity i \
         WHERE i.workspace_id = $1",
        &[&ws.as_uuid()],
    )
    .await?
    {
        let iid: uuid::Uuid = get(r, 1)?;
        let a = crypt::open_field(Some(keys), &crypt::aad("identity", iid, "external"), get(r, 2)?)?;
        addresses
            .entry(get(r, 0)?)
            .or_default()
            .extend(a);
    }
    let mut found = Vec::new();
    for r in &query(
        tx,
        "SELECT id, name, COALESCE(email_sealed, email), COALESCE(phone_sealed, phone) FROM contact \
         WHERE workspace_id = $1 AND erased_at IS NULL",
        &[&ws.as_uuid()],
    )
    .await?
    {
        let kid: uuid::Uuid = get(r, 0)?;
        if visible.as_ref().is_some_and(|v| !v.contains(&kid)) {
            continue;
        }
        let open = |i: usize, field: &str| {
            crypt::open_field(Some(keys), &crypt::aad("contact", kid, field), get(r, i)?)
        };
        let (name, email, phone) = (open(1, "name")?, open(2, "email")?, open(3, "phone")?);
        let none = Vec::new();
        let own = addresses.get(&kid).unwrap_or(&none);
        if plan::search_matches(q, name.as_deref(), email.as_deref(), phone.as_deref(), own) {
            let sort = name.map(|n| n.to_lowercase()).unwrap_or_default();
            let after = match after_id {
                None => true,
                Some(a) => (sort.as_str(), kid) > (after_text, a),
            };
            if after {
                found.push((sort, kid));
            }
        }
    }
    // Bytewise, as the SQL search sorts ("C" collation).
    found.sort();
    found.truncate(limit as usize + 1);
    Ok(found.into_iter().map(|(s, k)| (k.into(), s)).collect())
}

/// The two contacts of a merge: the one kept and the one absorbed.
pub(crate) struct Merge {
    pub kept: ContactId,
    pub absorbed: ContactId,
    pub actor: UserId,
    pub at: Timestamp,
}

/// Runs under the event lock (it appends events and rewrites conversations).
pub(crate) async fn merge(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    m: Merge,
    events: &mut Vec<Published>,
) -> StoreResult<ContactView> {
    plan::merge::check(m.kept, m.absorbed)?;
    let w = ws.as_uuid();
    let keep = load_contact(tx, w, m.kept.as_uuid()).await?.live()?;
    let gone = load_contact(tx, w, m.absorbed.as_uuid()).await?.live()?;
    let (k, a) = (m.kept.as_uuid(), m.absorbed.as_uuid());
    for stmt in [sql::merge::MOVE_IDENTITIES, sql::merge::MOVE_CONSENT] {
        exec(tx, stmt, &[&k, &a]).await?;
    }
    // Whatever list either was on, the merged contact is on.
    exec(
        tx,
        "INSERT INTO contact_list_member (list_id, contact_id, added_at) \
         SELECT list_id, $1, added_at FROM contact_list_member WHERE contact_id = $2 ON CONFLICT DO NOTHING",
        &[&k, &a],
    )
    .await?;
    let absorbed_convs: Vec<parley_core::ConversationId> =
        query(tx, sql::merge::CONVERSATIONS, &[&a])
            .await?
            .iter()
            .map(|r| id(r, 0))
            .collect::<StoreResult<_>>()?;
    for conv_id in absorbed_convs {
        let from = load_by_id(tx, conv_id).await?;
        match load_for_contact(tx, from.inbox_id, m.kept).await {
            Ok(mut into) => {
                let (i, f) = (into.id.as_uuid(), from.id.as_uuid());
                for stmt in [sql::merge::MOVE_EVENTS, sql::merge::MOVE_MESSAGES] {
                    exec(tx, stmt, &[&i, &f]).await?;
                }
                exec(tx, sql::merge::DELETE_CONVERSATION, &[&f]).await?;
                let data = plan::merge::fold_thread(&mut into, &from, &keep, &gone, m.actor, m.at);
                save_conversation(tx, &into, true).await?;
                insert_event(
                    tx,
                    events,
                    NewEvent::on(ws, &into, "conversation.updated", None, m.at, data),
                )
                .await?;
            }
            Err(StoreError::NotFound) => {
                exec(tx, sql::merge::MOVE_CONVERSATION, &[&k, &from.id.as_uuid()]).await?;
            }
            Err(e) => return Err(e),
        }
    }

    save_contact(tx, plan::merge::merged_contact(keep, gone), m.at).await?;
    exec(tx, sql::merge::DELETE_CONTACT, &[&a]).await?;
    load_contact(tx, w, k).await
}

pub(crate) async fn record_consent(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    n: NewConsent,
    events: &mut Vec<Published>,
) -> StoreResult<ConsentEvent> {
    let conversation = n.conversation;
    // The contact must be of this workspace.
    crate::rows::load_contact(tx, ws.as_uuid(), n.contact.as_uuid())
        .await?
        .live()?;
    let e = n.recorded(new_id());
    exec(
        tx,
        "INSERT INTO consent_event (id, workspace_id, contact_id, purpose, action, source, channel, evidence, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &e.id,
            &ws.as_uuid(),
            &e.contact_id.as_uuid(),
            &e.purpose.as_str(),
            &e.action.as_str(),
            &e.source,
            &e.channel,
            &parley_store::crypt::seal_json(
                tx.keys(),
                &parley_store::crypt::aad("consent", e.id, "evidence"),
                &e.evidence,
            ),
            &e.at.0,
        ],
    )
    .await?;
    if let Some(id) = conversation {
        let found = crate::conversations::load_conversation_by(
            tx,
            "c.id = $1 AND c.workspace_id = $2",
            &[&id.as_uuid(), &ws.as_uuid()],
        )
        .await;
        let conv = match found {
            Ok(conv) => Some(conv).filter(|v| v.contact_id == e.contact_id),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other),
        };
        if let Some(conv) = conv {
            let data = serde_json::json!({ "consent": e, "conversation": conv }).to_string();
            let ev =
                crate::conversations::NewEvent::on(ws, &conv, "consent.changed", None, e.at, data);
            crate::conversations::insert_event(tx, events, ev).await?;
        }
    }
    Ok(e)
}

/// When the contact last wrote, on any channel.
const LAST_INBOUND: &str =
    "(SELECT MAX(m.created_at) FROM conversation cv JOIN message m ON m.conversation_id = cv.id \
     WHERE cv.contact_id = k.id AND m.direction = 'inbound')";

/// Revocations an erased contact left on the addresses this contact has now.
async fn suppressions(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    view: &ContactView,
) -> StoreResult<Vec<ConsentEvent>> {
    let digests: Vec<String> = view
        .address_digests(ws)
        .iter()
        .map(|d| crypt::blind(tx.keys(), "suppression", d))
        .collect();
    let rows = query(
        tx,
        "SELECT id, purpose, source, channel, at FROM suppression WHERE workspace_id = $1 AND address = ANY($2)",
        &[&ws.as_uuid(), &digests],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let purpose: String = get(r, 1)?;
        out.extend(plan::erase::suppressed_revocation(
            get(r, 0)?,
            view.id,
            &purpose,
            get(r, 2)?,
            get(r, 3)?,
            Timestamp(get(r, 4)?),
        ));
    }
    plan::erase::dedup_suppressions(&mut out);
    Ok(out)
}

pub(crate) async fn consent_history(
    tx: &Tx<'_>,
    scope: &Scope,
    contact: ContactId,
) -> StoreResult<Vec<ConsentEvent>> {
    crate::rows::visible_contact(tx, scope, contact).await?;
    Ok(ledger(tx, scope.workspace, contact)
        .await?
        .into_iter()
        .map(|e| plan::scoped_consent(scope, e))
        .collect())
}

pub(crate) async fn ledger(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
) -> StoreResult<Vec<ConsentEvent>> {
    let found = query(
        tx,
        "SELECT id, contact_id, purpose, action, source, channel, evidence, at FROM consent_event \
         WHERE workspace_id = $1 AND contact_id = $2 ORDER BY at, id",
        &[&ws.as_uuid(), &contact.as_uuid()],
    )
    .await?;
    found
        .iter()
        .map(|r| {
            let bad = |what: &str| {
                StoreError::Other(anyhow::anyhow!("bad consent {what} in the database"))
            };
            let eid: uuid::Uuid = get(r, 0)?;
            let evidence = parley_store::crypt::open_json(
                tx.keys(),
                &parley_store::crypt::aad("consent", eid, "evidence"),
                get(r, 6)?,
            )
            .map_err(|e| bad(&e.to_string()))?;
            Ok(ConsentEvent {
                id: eid,
                contact_id: id(r, 1)?,
                purpose: parley_core::consent::Purpose::parse(&get::<String>(r, 2)?)
                    .ok_or_else(|| bad("purpose"))?,
                action: parley_core::consent::Action::parse(&get::<String>(r, 3)?)
                    .ok_or_else(|| bad("action"))?,
                source: get(r, 4)?,
                channel: get(r, 5)?,
                evidence,
                at: parley_core::Timestamp(get(r, 7)?),
            })
        })
        .collect()
}
