//! Writing contacts and identities: sealed fields, blind indexes of addresses, and the statements
//! the inbound path pipelines.

use parley_core::{ContactId, IdentityId, Timestamp, WorkspaceId};
use parley_store::crypt::{self, Keyring};
use parley_store::*;

use crate::accounts::new_id;
use crate::db::{exec, Tx};
use crate::pipeline::Stmt;
use crate::rows::{is_unique_violation, pg_err};

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
pub(crate) async fn save_contact(tx: &Tx<'_>, v: ContactView, at: Timestamp) -> StoreResult<()> {
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
