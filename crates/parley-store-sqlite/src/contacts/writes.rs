//! Writing contacts and identities, with sealed fields and blind indexes of addresses.

use parley_core::{ContactId, IdentityId, Timestamp, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection};

use crate::accounts::new_id;
use crate::db::sql_err;
use crate::rows::is_unique_violation;

/// The columns an update of a contact sets: `?1` name, `?2` email, `?3` phone, `?4` custom
/// fields, `?5` the time, `?6` its id.
pub(crate) const CONTACT_SET: &str = "name = parley_seal(?1, 'contact:' || ?6 || ':name'), \
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
