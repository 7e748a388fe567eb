//! The `Contacts` store: contacts and their identities (create, change, search, merge two into
//! one), their consent ledger, and the lists they are on (`lists`).

use async_trait::async_trait;
use parley_core::{ContactId, IdentityId, ListId, Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::accounts::new_id;
use crate::conversations::{insert_event, load_conversation_by, save_conversation};
use crate::db::sql_err;
use crate::rows::{
    is_unique_violation, load_contact, uid, CONTACT_EMAIL, CONTACT_NAME, CONTACT_PHONE,
};
use crate::SqliteStore;

pub(crate) mod lists;

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
                let n: NewContact = contact;
                let id = insert_contact(c, ws, &n, at)?;
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
                let p: ContactPatch = patch;
                let mut cur = load_contact(c, &ws.to_string(), &id.to_string())?.live()?;
                cur.apply_patch(p)?;
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
            .read(move |c| search(c, &scope, &q, cursor, limit))
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
                let i: NewIdentity = identity;
                load_contact(c, &ws.to_string(), &contact.to_string())?.live()?;
                if let Some(inbox) = i.inbox_id {
                    crate::directory::inbox(c, ws, inbox).map_err(|_| StoreError::Invalid {
                        field: "inbox_id",
                        reason: "no such inbox".into(),
                    })?;
                }
                insert_identity(c, ws, contact, &i, at)?;
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
            .write(move |c, ev| merge(c, ws, kept, absorbed, actor, at, ev))
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
                let scope: &Scope = &scope;
                crate::rows::visible_contact(c, scope, contact)?;
                Ok(ledger(c, scope.workspace, contact)?
                    .into_iter()
                    .map(|e| plan::scoped_consent(scope, e))
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

    async fn create_list(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| lists::create(c, ws, &name, at))
            .await
    }

    async fn list_lists(&self, ws: WorkspaceId) -> StoreResult<Vec<ListView>> {
        self.db.read(move |c| lists::all(c, ws)).await
    }

    async fn rename_list(&self, ws: WorkspaceId, id: ListId, name: &str) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| lists::rename(c, ws, id, &name))
            .await
    }

    async fn delete_list(&self, ws: WorkspaceId, id: ListId) -> StoreResult<()> {
        self.db.write(move |c, _| lists::delete(c, ws, id)).await
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
            .write(move |c, _| lists::set_member(c, ws, list, contact, member, at))
            .await
    }

    async fn contact_lists(&self, scope: &Scope, contact: ContactId) -> StoreResult<Vec<ListView>> {
        let scope = scope.clone();
        self.db
            .read(move |c| lists::of_contact(c, &scope, contact))
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
            .read(move |c| lists::members(c, &scope, list, cursor, limit))
            .await
    }
}

/// The columns an update of a contact sets: `?1` name, `?2` email, `?3` phone, `?4` custom
/// fields, `?5` the time, `?6` its id.
const CONTACT_SET: &str = "name = parley_seal(?1, 'contact:' || ?6 || ':name'), \
         email = parley_blind(?2, 'email'), email_sealed = parley_seal_aside(?2, 'contact:' || ?6 || ':email'), \
         phone = parley_blind(?3, 'phone'), phone_sealed = parley_seal_aside(?3, 'contact:' || ?6 || ':phone'), \
         custom_fields = parley_seal(?4, 'contact:' || ?6 || ':fields'), updated_at = ?5 WHERE id = ?6";

pub(crate) fn insert_identity(
    c: &Connection,
    ws: WorkspaceId,
    contact: ContactId,
    i: &NewIdentity,
    at: Timestamp,
) -> StoreResult<IdentityId> {
    let id: IdentityId = new_id().into();
    c.prepare_cached(
        "INSERT INTO contact_identity (id, workspace_id, contact_id, kind, inbox_id, external_id, external_sealed, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, parley_blind(?6, 'identity:' || ?4), parley_seal_aside(?6, 'identity:' || ?1 || ':external'), ?7)",
    )
    .map_err(sql_err)?
    .execute(params![
        id.to_string(),
        ws.to_string(),
        contact.to_string(),
        i.kind.as_str(),
        i.inbox_id.map(|i| i.to_string()).unwrap_or_default(),
        i.external_id,
        at.0
    ])
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("the {} identity {:?} belongs to another contact", i.kind.as_str(), i.external_id))
        } else {
            sql_err(e)
        }
    })?;
    Ok(id)
}

pub(crate) fn insert_contact(
    c: &Connection,
    ws: WorkspaceId,
    n: &NewContact,
    at: Timestamp,
) -> StoreResult<ContactId> {
    let id: ContactId = new_id().into();
    c.prepare_cached(
        "INSERT INTO contact (id, workspace_id, name, email, email_sealed, phone, phone_sealed, custom_fields, created_at, updated_at) \
         VALUES (?1, ?2, parley_seal(?3, 'contact:' || ?1 || ':name'), \
         parley_blind(?4, 'email'), parley_seal_aside(?4, 'contact:' || ?1 || ':email'), \
         parley_blind(?5, 'phone'), parley_seal_aside(?5, 'contact:' || ?1 || ':phone'), \
         parley_seal(?6, 'contact:' || ?1 || ':fields'), ?7, ?7)",
    )
    .map_err(sql_err)?
    .execute(params![
        id.to_string(),
        ws.to_string(),
        n.name,
        n.email,
        n.phone,
        serde_json::Value::Object(n.custom_fields.clone()).to_string(),
        at.0
    ])
    .map_err(sql_err)?;
    for i in &n.identities {
        insert_identity(c, ws, id, i, at)?;
    }
    Ok(id)
}

pub(crate) fn search(
    c: &Connection,
    scope: &Scope,
    q: &str,
    cursor: Option<Cursor>,
    limit: u32,
) -> StoreResult<Page<ContactView>> {
    let ws = scope.workspace;
    let (pattern, digit_pattern) = plan::search_patterns(q);
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
        ORDER BY sort_name, k.id LIMIT ?6", crate::rows::contact_filter(scope, "k.id"));
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
    let items = rows
        .iter()
        .map(|(id, _)| load_contact(c, &ws.to_string(), &id.to_string()))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { items, next_cursor })
}

pub(crate) fn merge(
    c: &Connection,
    ws: WorkspaceId,
    kept: ContactId,
    absorbed: ContactId,
    actor: UserId,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<ContactView> {
    plan::merge::check(kept, absorbed)?;
    let w = ws.to_string();
    let keep = load_contact(c, &w, &kept.to_string())?.live()?;
    let gone = load_contact(c, &w, &absorbed.to_string())?.live()?;
    let (k, a) = (kept.to_string(), absorbed.to_string());
    for stmt in [sql::merge::MOVE_IDENTITIES, sql::merge::MOVE_CONSENT] {
        c.execute(stmt, [&k, &a]).map_err(sql_err)?;
    }
    // Whatever list either was on, the merged contact is on.
    c.execute(
        "INSERT OR IGNORE INTO contact_list_member (list_id, contact_id, added_at) \
         SELECT list_id, ?1, added_at FROM contact_list_member WHERE contact_id = ?2",
        [&k, &a],
    )
    .map_err(sql_err)?;

    let absorbed_convs: Vec<parley_core::ConversationId> = c
        .prepare(sql::merge::CONVERSATIONS)
        .map_err(sql_err)?
        .query_map([&a], |r| uid(r, 0))
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    for conv_id in absorbed_convs {
        let from = load_conversation_by(c, "c.id = ?1", [conv_id.to_string()])?;
        let existing = load_conversation_by(
            c,
            "c.inbox_id = ?1 AND c.contact_id = ?2",
            (from.inbox_id.to_string(), &k),
        );
        match existing {
            Ok(mut into) => {
                let before = into.clone();
                let (i, f) = (into.id.to_string(), from.id.to_string());
                for stmt in [sql::merge::MOVE_EVENTS, sql::merge::MOVE_MESSAGES] {
                    c.execute(stmt, [&i, &f]).map_err(sql_err)?;
                }
                c.execute(sql::merge::DELETE_CONVERSATION, [&f])
                    .map_err(sql_err)?;
                let data = plan::merge::fold_thread(&mut into, &from, &keep, &gone, actor, at);
                save_conversation(c, &before, &into)?;
                insert_event(
                    c,
                    events,
                    ws,
                    into.inbox_id,
                    Some(into.id),
                    "conversation.updated",
                    None,
                    at,
                    data,
                )?;
            }
            Err(StoreError::NotFound) => {
                c.execute(sql::merge::MOVE_CONVERSATION, [&k, &from.id.to_string()])
                    .map_err(sql_err)?;
            }
            Err(e) => return Err(e),
        }
    }

    let merged = plan::merge::merged_contact(keep, gone);
    c.execute(
        &format!("UPDATE contact SET {CONTACT_SET}"),
        params![
            merged.name,
            merged.email,
            merged.phone,
            serde_json::Value::Object(merged.custom_fields).to_string(),
            at.0,
            k
        ],
    )
    .map_err(sql_err)?;
    c.execute(sql::merge::DELETE_CONTACT, [&a])
        .map_err(sql_err)?;
    load_contact(c, &w, &k)
}

pub(crate) fn record_consent(
    c: &Connection,
    ws: WorkspaceId,
    n: NewConsent,
    events: &mut Vec<Published>,
) -> StoreResult<ConsentEvent> {
    let conversation = n.conversation;
    // The contact must be of this workspace.
    crate::rows::load_contact(c, &ws.to_string(), &n.contact.to_string())?.live()?;
    let e = n.recorded(new_id());
    c.prepare_cached(
        "INSERT INTO consent_event (id, workspace_id, contact_id, purpose, action, source, channel, evidence, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, parley_seal(?8, 'consent:' || ?1 || ':evidence'), ?9)",
    )
    .map_err(sql_err)?
    .execute(params![
        e.id.to_string(),
        ws.to_string(),
        e.contact_id.to_string(),
        e.purpose.as_str(),
        e.action.as_str(),
        e.source,
        e.channel,
        e.evidence.to_string(),
        e.at.0
    ])
    .map_err(sql_err)?;
    if let Some(id) = conversation {
        let conv = match load_conversation_by(
            c,
            "c.id = ?1 AND c.workspace_id = ?2",
            [id.to_string(), ws.to_string()],
        ) {
            Ok(conv) => Some(conv).filter(|v| v.contact_id == e.contact_id),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other),
        };
        if let Some(conv) = conv {
            let data = serde_json::json!({ "consent": e, "conversation": conv }).to_string();
            let (inbox, at) = (conv.inbox_id, e.at);
            insert_event(
                c,
                events,
                ws,
                inbox,
                Some(conv.id),
                "consent.changed",
                None,
                at,
                data,
            )?;
        }
    }
    Ok(e)
}

/// When the contact last wrote, on any channel.
const LAST_INBOUND: &str =
    "(SELECT MAX(m.created_at) FROM conversation cv JOIN message m ON m.conversation_id = cv.id \
     WHERE cv.contact_id = k.id AND m.direction = 'inbound')";

/// Revocations an erased contact left on the addresses this contact has now.
fn suppressions(
    c: &Connection,
    ws: WorkspaceId,
    view: &ContactView,
) -> StoreResult<Vec<ConsentEvent>> {
    let digests = view.address_digests(ws);
    let mut out: Vec<ConsentEvent> = Vec::new();
    let mut stmt = c
        .prepare_cached(
            "SELECT id, purpose, source, channel, at FROM suppression \
             WHERE workspace_id = ?1 AND address = parley_blind(?2, 'suppression')",
        )
        .map_err(sql_err)?;
    for d in &digests {
        let rows = stmt
            .query_map(params![ws.to_string(), d], |r| {
                Ok((
                    uid(r, 0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    parley_core::Timestamp(r.get(4)?),
                ))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        for (id, purpose, source, channel, at) in rows {
            out.extend(plan::erase::suppressed_revocation(
                id, view.id, &purpose, source, channel, at,
            ));
        }
    }
    plan::erase::dedup_suppressions(&mut out);
    Ok(out)
}

pub(crate) fn ledger(
    c: &Connection,
    ws: WorkspaceId,
    contact: ContactId,
) -> StoreResult<Vec<ConsentEvent>> {
    c.prepare_cached(
        "SELECT id, contact_id, purpose, action, source, channel, parley_open(evidence, 'consent:' || id || ':evidence'), at FROM consent_event \
         WHERE workspace_id = ?1 AND contact_id = ?2 ORDER BY at, id",
    )
    .map_err(sql_err)?
    .query_map([ws.to_string(), contact.to_string()], |r| {
        let bad = |i: usize| {
            rusqlite::Error::InvalidColumnType(i, "consent".into(), rusqlite::types::Type::Text)
        };
        Ok(ConsentEvent {
            id: uid(r, 0)?,
            contact_id: uid(r, 1)?,
            purpose: parley_core::consent::Purpose::parse(&r.get::<_, String>(2)?)
                .ok_or_else(|| bad(2))?,
            action: parley_core::consent::Action::parse(&r.get::<_, String>(3)?)
                .ok_or_else(|| bad(3))?,
            source: r.get(4)?,
            channel: r.get(5)?,
            evidence: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
            at: parley_core::Timestamp(r.get(7)?),
        })
    })
    .map_err(sql_err)?
    .collect::<rusqlite::Result<Vec<_>>>()
    .map_err(sql_err)
}
