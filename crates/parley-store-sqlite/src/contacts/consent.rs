//! The consent ledger: recording an entry, the suppressions a send checks, and a contact's ledger.

use parley_core::{ContactId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection};

use crate::accounts::new_id;
use crate::conversations::{insert_event, load_conversation_by};
use crate::db::sql_err;
use crate::rows::uid;

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
pub(crate) const LAST_INBOUND: &str =
    "(SELECT MAX(m.created_at) FROM conversation cv JOIN message m ON m.conversation_id = cv.id \
     WHERE cv.contact_id = k.id AND m.direction = 'inbound')";

/// Revocations an erased contact left on the addresses this contact has now.
pub(crate) fn suppressions(
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
