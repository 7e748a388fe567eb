//! Erasure of a contact (GDPR/CCPA): their personal data goes, their conversations stay on the
//! timeline anonymised, and their revocations outlive them as suppressions.

use parley_core::{ContactId, Timestamp, WorkspaceId};
use parley_store::crypt;
use parley_store::*;

use crate::db::{exec, query, Tx};
use crate::rows::get;

/// Redacts every conversation of the contact (their messages, files and events stay on the
/// timeline, emptied) and clears the contact's previews.
pub(super) async fn redact_conversations(
    tx: &Tx<'_>,
    contact: ContactId,
    at: Timestamp,
    out: &mut Erasure,
) -> StoreResult<()> {
    let k = contact.as_uuid();
    let conversations: Vec<uuid::Uuid> = query(
        tx,
        "SELECT id FROM conversation WHERE contact_id = $1 FOR UPDATE",
        &[&k],
    )
    .await?
    .iter()
    .map(|r| get(r, 0))
    .collect::<StoreResult<_>>()?;
    out.conversations = conversations.len() as u64;
    for conv in &conversations {
        redact_conversation(tx, conv, at, out).await?;
    }
    exec(tx, sql::erase::CLEAR_PREVIEWS, &[&k]).await?;
    Ok(())
}

/// Cancels what was waiting to go out in one conversation, and empties its messages and events.
async fn redact_conversation(
    tx: &Tx<'_>,
    conv: &uuid::Uuid,
    at: Timestamp,
    out: &mut Erasure,
) -> StoreResult<()> {
    for r in &query(
        tx,
        "SELECT inbox_id, meta, id FROM message WHERE conversation_id = $1",
        &[conv],
    )
    .await?
    {
        let inbox: uuid::Uuid = get(r, 0)?;
        let mid: uuid::Uuid = get(r, 2)?;
        let meta: Option<serde_json::Value> = get::<Option<serde_json::Value>>(r, 1)?
            .map(|m| crypt::open_json(tx.keys(), &crypt::aad("message", mid, "meta"), m))
            .transpose()
            .map_err(|e| StoreError::Other(anyhow::anyhow!("message {mid}: {e}")))?;
        let meta = meta.map(|m| m.to_string());
        for a in plan::attachment_ids(meta.as_deref()) {
            out.attachments.push((inbox.into(), a));
        }
    }
    // A provider's error may quote the number.
    exec(tx, sql::erase::CLEAR_OUTBOX_ERRORS, &[conv]).await?;
    out.cancelled += exec(tx, sql::erase::CANCEL_MESSAGES, &[&at.0, conv]).await?;
    exec(tx, sql::erase::CANCEL_OUTBOX, &[&at.0, conv]).await?;
    out.messages += exec(tx, sql::erase::REDACT_MESSAGES, &[&at.0, conv]).await?;
    let stamps: std::collections::HashMap<i64, Option<i64>> = query(
        tx,
        "SELECT seq, redacted_at FROM event WHERE conversation_id = $1",
        &[conv],
    )
    .await?
    .iter()
    .map(|e| Ok((get(e, 0)?, get(e, 1)?)))
    .collect::<StoreResult<_>>()?;
    let events =
        crate::privacy::retention::event_data(tx, "WHERE conversation_id = $1", &[conv]).await?;
    for (seq, kind, place, data) in &events {
        let redacted = stamps.get(seq).copied().flatten();
        if plan::erase::counts_as_message(kind) {
            out.messages += 1;
        }
        let stamp = plan::erase::redaction_stamp(redacted, at);
        let erased = crypt::seal_text(tx.keys(), place, &plan::erase::erase_event_data(data));
        exec(
            tx,
            "UPDATE event SET data = $2, redacted_at = $3 WHERE seq = $1",
            &[seq, &erased, &stamp],
        )
        .await?;
    }
    Ok(())
}

/// Keeps the contact's revocations as suppressions of their addresses (`digests`).
pub(super) async fn keep_revocations(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
    digests: &[String],
    out: &mut Erasure,
) -> StoreResult<()> {
    let (w, k) = (ws.as_uuid(), contact.as_uuid());
    let revocations = query(tx, sql::erase::REVOCATIONS, &[&w, &k])
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?)))
        .collect::<StoreResult<Vec<(String, String, Option<String>, i64)>>>()?;
    out.revocations_kept = revocations.len() as u64;
    for ((purpose, source, channel, when), d) in plan::erase::suppressions(&revocations, digests) {
        exec(
            tx,
            "INSERT INTO suppression (id, workspace_id, address, purpose, source, channel, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &crate::accounts::new_id(),
                &w,
                d,
                &purpose,
                &source,
                &channel,
                &when,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Drops what is left of the contact: grants, evidence, identities, lists, and their name and
/// addresses.
pub(super) async fn forget(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
    at: Timestamp,
) -> StoreResult<()> {
    let (w, k) = (ws.as_uuid(), contact.as_uuid());
    exec(tx, sql::erase::DROP_GRANTS, &[&w, &k]).await?;
    exec(
        tx,
        "UPDATE consent_event SET evidence = $3 WHERE workspace_id = $1 AND contact_id = $2",
        &[&w, &k, &plan::erase::erased_evidence()],
    )
    .await?;
    for stmt in [sql::erase::DELETE_IDENTITIES, sql::erase::LEAVE_LISTS] {
        exec(tx, stmt, &[&k]).await?;
    }
    exec(tx, sql::erase::ANONYMISE, &[&at.0, &k]).await?;
    Ok(())
}
