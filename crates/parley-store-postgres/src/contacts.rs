//! Contacts and their identities: create, change, search, and merge two into one.

use parley_core::{ContactId, IdentityId, Timestamp, UserId, WorkspaceId};
use parley_store::*;

use crate::account::new_id;
use crate::conversations::{
    insert_event, load_by_id, load_for_contact, save_conversation, NewEvent,
};
use crate::db::{exec, query, query_opt, Tx};
use crate::pipeline::Stmt;
use crate::rows::{get, id, is_unique_violation, load_contact, pg_err};

pub(crate) fn insert_identity_stmt(
    ws: WorkspaceId,
    contact: ContactId,
    identity: IdentityId,
    i: &NewIdentity,
    at: Timestamp,
) -> Stmt {
    Stmt::new(
        "INSERT INTO contact_identity (id, workspace_id, contact_id, kind, inbox_id, external_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            Box::new(identity.as_uuid()),
            Box::new(ws.as_uuid()),
            Box::new(contact.as_uuid()),
            Box::new(i.kind.as_str()),
            Box::new(i.inbox_id.map(|i| i.as_uuid())),
            Box::new(i.external_id.clone()),
            Box::new(at.0),
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
    insert_identity_stmt(ws, contact, identity, i, at)
        .run(tx)
        .await
        .map_err(|e| identity_error(e, i))?;
    Ok(identity)
}

pub(crate) fn insert_contact_stmt(
    ws: WorkspaceId,
    contact: ContactId,
    n: &NewContact,
    at: Timestamp,
) -> Stmt {
    Stmt::new(
        "INSERT INTO contact (id, workspace_id, name, email, phone, custom_fields, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        vec![
            Box::new(contact.as_uuid()),
            Box::new(ws.as_uuid()),
            Box::new(n.name.clone()),
            Box::new(n.email.clone()),
            Box::new(n.phone.clone()),
            Box::new(serde_json::Value::Object(n.custom_fields.clone()).to_string()),
            Box::new(at.0),
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
    insert_contact_stmt(ws, contact, n, at)
        .run(tx)
        .await
        .map_err(pg_err)?;
    for i in &n.identities {
        insert_identity(tx, ws, contact, i, at).await?;
    }
    Ok(contact)
}

pub(crate) async fn create_contact(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    n: NewContact,
    at: Timestamp,
) -> StoreResult<ContactView> {
    let contact = insert_contact(tx, ws, &n, at).await?;
    load_contact(tx, ws.as_uuid(), contact.as_uuid()).await
}

/// Writes a contact's fields as they are in `v`.
async fn save_contact(tx: &Tx<'_>, v: ContactView, at: Timestamp) -> StoreResult<()> {
    exec(
        tx,
        "UPDATE contact SET name = $1, email = $2, phone = $3, custom_fields = $4, updated_at = $5 WHERE id = $6",
        &[
            &v.name,
            &v.email,
            &v.phone,
            &serde_json::Value::Object(v.custom_fields).to_string(),
            &at.0,
            &v.id.as_uuid(),
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn update_contact(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
    p: ContactPatch,
    at: Timestamp,
) -> StoreResult<ContactView> {
    let mut cur = load_contact(tx, ws.as_uuid(), contact.as_uuid())
        .await?
        .live()?;
    cur.apply_patch(p)?;
    save_contact(tx, cur, at).await?;
    load_contact(tx, ws.as_uuid(), contact.as_uuid()).await
}

pub(crate) async fn search(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    q: &str,
    cursor: Option<Cursor>,
    limit: u32,
) -> StoreResult<Page<ContactView>> {
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
                OR EXISTS (SELECT 1 FROM contact_identity i WHERE i.contact_id = k.id AND lower(i.external_id) LIKE $2))\
        ) s \
        WHERE ($5::uuid IS NULL OR sort_name > $4 OR (sort_name = $4 AND id > $5)) \
        ORDER BY sort_name, id LIMIT $6";
    let rows = query(
        tx,
        sql,
        &[
            &ws.as_uuid(),
            &pattern,
            &digit_pattern,
            &after_text,
            &after_id,
            &(i64::from(limit) + 1),
        ],
    )
    .await?;
    let rows: Vec<(ContactId, String)> = rows
        .iter()
        .map(|r| Ok((id(r, 0)?, get(r, 1)?)))
        .collect::<StoreResult<_>>()?;
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

pub(crate) async fn add_identity(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
    i: NewIdentity,
    at: Timestamp,
) -> StoreResult<ContactView> {
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
}

pub(crate) async fn remove_identity(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
    identity: IdentityId,
) -> StoreResult<ContactView> {
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
        "DELETE FROM contact_identity WHERE id = $1 AND contact_id = $2",
        &[&identity.as_uuid(), &contact.as_uuid()],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    load_contact(tx, ws.as_uuid(), contact.as_uuid()).await
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
    if m.kept == m.absorbed {
        return Err(StoreError::Invalid {
            field: "contact_id",
            reason: "a contact cannot be merged into itself".into(),
        });
    }
    let w = ws.as_uuid();
    let keep = load_contact(tx, w, m.kept.as_uuid()).await?.live()?;
    let gone = load_contact(tx, w, m.absorbed.as_uuid()).await?.live()?;
    exec(
        tx,
        "UPDATE contact_identity SET contact_id = $1 WHERE contact_id = $2",
        &[&m.kept.as_uuid(), &m.absorbed.as_uuid()],
    )
    .await?;
    // The ledger is the record of what each person agreed to: it moves, never goes.
    exec(
        tx,
        "UPDATE consent_event SET contact_id = $1 WHERE contact_id = $2",
        &[&m.kept.as_uuid(), &m.absorbed.as_uuid()],
    )
    .await?;
    let absorbed_convs: Vec<parley_core::ConversationId> = query(
        tx,
        "SELECT id FROM conversation WHERE contact_id = $1",
        &[&m.absorbed.as_uuid()],
    )
    .await?
    .iter()
    .map(|r| id(r, 0))
    .collect::<StoreResult<_>>()?;
    for conv_id in absorbed_convs {
        let from = load_by_id(tx, conv_id).await?;
        match load_for_contact(tx, from.inbox_id, m.kept).await {
            Ok(mut into) => {
                // Two threads in one inbox become one: the timeline is re-parented, never rewritten.
                for sql in [
                    "UPDATE event SET conversation_id = $1 WHERE conversation_id = $2",
                    "UPDATE message SET conversation_id = $1 WHERE conversation_id = $2",
                ] {
                    exec(tx, sql, &[&into.id.as_uuid(), &from.id.as_uuid()]).await?;
                }
                exec(
                    tx,
                    "DELETE FROM conversation WHERE id = $1",
                    &[&from.id.as_uuid()],
                )
                .await?;
                into.waiting_since = match (into.waiting_since, from.waiting_since) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                into.last_activity_at = into.last_activity_at.max(from.last_activity_at).max(m.at);
                for l in from.labels {
                    if !into.labels.contains(&l) {
                        into.labels.push(l);
                    }
                }
                into.labels.sort();
                if into.waiting_since.is_some() {
                    into.status = parley_core::conversation::Status::Open;
                    into.snoozed_until = None;
                }
                into.contact_name = keep.name.clone().or(gone.name.clone());
                save_conversation(tx, &into, true).await?;
                let change =
                    serde_json::json!({ "kind": "merge", "absorbed_conversation_id": from.id });
                let data = plan::conversation_updated(&change, Some(m.actor.as_uuid()), &into);
                insert_event(
                    tx,
                    events,
                    NewEvent::on(ws, &into, "conversation.updated", None, m.at, data),
                )
                .await?;
            }
            Err(StoreError::NotFound) => {
                exec(
                    tx,
                    "UPDATE conversation SET contact_id = $1 WHERE id = $2",
                    &[&m.kept.as_uuid(), &from.id.as_uuid()],
                )
                .await?;
            }
            Err(e) => return Err(e),
        }
    }

    let mut fields = gone.custom_fields.clone();
    fields.extend(keep.custom_fields.clone());
    let merged = ContactView {
        name: keep.name.or(gone.name),
        email: keep.email.or(gone.email),
        phone: keep.phone.or(gone.phone),
        custom_fields: fields,
        ..keep
    };
    save_contact(tx, merged, m.at).await?;
    exec(
        tx,
        "DELETE FROM contact WHERE id = $1",
        &[&m.absorbed.as_uuid()],
    )
    .await?;
    load_contact(tx, w, m.kept.as_uuid()).await
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
    let e = ConsentEvent {
        id: new_id(),
        contact_id: n.contact,
        purpose: n.purpose,
        action: n.action,
        source: n.source,
        channel: n.channel,
        evidence: n.evidence,
        at: n.at,
    };
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

pub(crate) async fn consent_context(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
) -> StoreResult<ConsentContext> {
    let view = load_contact(tx, ws.as_uuid(), contact.as_uuid()).await?;
    let mut ledger = ledger(tx, ws, contact).await?;
    ledger.extend(suppressions(tx, ws, &view).await?);
    ledger.sort_by_key(|e| e.at);
    Ok(ConsentContext {
        ledger,
        timezone: plan::timezone_field(&view.custom_fields),
        phone: view.phone,
        erased: view.erased_at.is_some(),
    })
}

/// Revocations an erased contact left on the addresses this contact has now.
async fn suppressions(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    view: &ContactView,
) -> StoreResult<Vec<ConsentEvent>> {
    let identities: Vec<_> = view
        .identities
        .iter()
        .map(|i| (i.kind, i.external_id.as_str()))
        .collect();
    let digests = plan::address_digests(
        ws,
        view.phone.as_deref(),
        view.email.as_deref(),
        &identities,
    );
    let rows = query(
        tx,
        "SELECT id, purpose, source, channel, at FROM suppression WHERE workspace_id = $1 AND address = ANY($2)",
        &[&ws.as_uuid(), &digests],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let purpose: String = get(r, 1)?;
        out.extend(plan::suppressed_revocation(
            get(r, 0)?,
            view.id,
            &purpose,
            get(r, 2)?,
            get(r, 3)?,
            Timestamp(get(r, 4)?),
        ));
    }
    plan::dedup_suppressions(&mut out);
    Ok(out)
}

pub(crate) async fn last_inbound(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
) -> StoreResult<Option<parley_core::Timestamp>> {
    let sql =
        format!("SELECT {LAST_INBOUND} FROM contact k WHERE k.id = $1 AND k.workspace_id = $2");
    let r = crate::db::query_opt(tx, &sql, &[&contact.as_uuid(), &ws.as_uuid()])
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(get::<Option<i64>>(&r, 0)?.map(parley_core::Timestamp))
}

pub(crate) async fn inactive_contacts(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    before: parley_core::Timestamp,
    limit: u32,
) -> StoreResult<Vec<InactiveContact>> {
    let sql = format!(
        "SELECT id, name, phone, last_in, created_at FROM \
           (SELECT k.id, k.name, k.phone, k.created_at, {LAST_INBOUND} AS last_in FROM contact k \
            WHERE k.workspace_id = $1 AND k.phone IS NOT NULL) t \
         WHERE COALESCE(last_in, created_at) < $2 ORDER BY COALESCE(last_in, created_at), id LIMIT $3"
    );
    let rows = query(tx, &sql, &[&ws.as_uuid(), &before.0, &i64::from(limit)]).await?;
    rows.iter()
        .map(|r| {
            Ok(InactiveContact {
                id: id(r, 0)?,
                name: get(r, 1)?,
                phone: get(r, 2)?,
                last_inbound_at: get::<Option<i64>>(r, 3)?.map(parley_core::Timestamp),
                created_at: parley_core::Timestamp(get(r, 4)?),
            })
        })
        .collect()
}

pub(crate) async fn consent_history(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
) -> StoreResult<Vec<ConsentEvent>> {
    crate::rows::load_contact(tx, ws.as_uuid(), contact.as_uuid()).await?;
    ledger(tx, ws, contact).await
}

async fn ledger(
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
