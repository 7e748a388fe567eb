//! The consent ledger: recording an entry, the suppressions a send checks, and a contact's ledger.

use parley_core::{ContactId, ConversationId, Timestamp, WorkspaceId};
use parley_store::crypt::{self};
use parley_store::*;

use crate::db::{exec, query, Tx};
use crate::rows::{get, id};

/// Appends one entry to the ledger.
pub(crate) async fn insert_consent(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    e: &ConsentEvent,
) -> StoreResult<()> {
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
    Ok(())
}

/// Puts a `consent.changed` event on the timeline of the conversation the entry came from, when
/// that conversation is of this workspace and this contact.
pub(crate) async fn announce_consent(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    conversation: ConversationId,
    e: &ConsentEvent,
    events: &mut Vec<Published>,
) -> StoreResult<()> {
    let found = crate::conversations::load_conversation_by(
        tx,
        "c.id = $1 AND c.workspace_id = $2",
        &[&conversation.as_uuid(), &ws.as_uuid()],
    )
    .await;
    let conv = match found {
        Ok(conv) => Some(conv).filter(|v| v.contact_id == e.contact_id),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other),
    };
    if let Some(conv) = conv {
        let data = serde_json::json!({ "consent": e, "conversation": conv }).to_string();
        let ev = crate::conversations::NewEvent::on(ws, &conv, "consent.changed", None, e.at, data);
        crate::conversations::insert_event(tx, events, ev).await?;
    }
    Ok(())
}

/// When the contact last wrote, on any channel.
pub(crate) const LAST_INBOUND: &str =
    "(SELECT MAX(m.created_at) FROM conversation cv JOIN message m ON m.conversation_id = cv.id \
     WHERE cv.contact_id = k.id AND m.direction = 'inbound')";

/// Revocations an erased contact left on the addresses this contact has now.
pub(crate) async fn suppressions(
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
