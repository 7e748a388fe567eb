//! Erasure of a contact (GDPR/CCPA): their personal data goes, their conversations stay on the
//! timeline anonymised, and their revocations outlive them as suppressions.

use parley_core::{ContactId, Timestamp, WorkspaceId};
use parley_store::crypt;
use parley_store::*;

use crate::db::{exec, query, Tx};
use crate::rows::{get, load_contact};

pub(crate) async fn erase(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    contact: ContactId,
    at: Timestamp,
) -> StoreResult<Erasure> {
    let (w, k) = (ws.as_uuid(), contact.as_uuid());
    // Held until commit: an inbound message cannot add an identity to the contact meanwhile.
    exec(
        tx,
        "SELECT 1 FROM contact WHERE id = $1 AND workspace_id = $2 FOR UPDATE",
        &[&k, &w],
    )
    .await?;
    let view = load_contact(tx, w, k).await?;
    let mut out = Erasure::of(&view, at);
    if out.repeated {
        return Ok(out);
    }
    // Keyed when encrypted at rest, so the digests cannot be matched against every number.
    let digests: Vec<String> = view
        .address_digests(ws)
        .iter()
        .map(|d| crypt::blind(tx.keys(), "suppression", d))
        .collect();

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
        exec(
            tx,
            "UPDATE outbox SET last_error = NULL \
             WHERE message_id IN (SELECT id FROM message WHERE conversation_id = $1)",
            &[conv],
        )
        .await?;
        out.cancelled += exec(
            tx,
            "UPDATE message SET status = 'failed', error = 'contact erased', updated_at = $2 \
             WHERE id IN (SELECT o.message_id FROM outbox o JOIN message m ON m.id = o.message_id \
                          WHERE m.conversation_id = $1 AND o.state = 'queued')",
            &[conv, &at.0],
        )
        .await?;
        exec(
            tx,
            "UPDATE outbox SET state = 'failed', last_error = 'contact erased', claimed_until = NULL, updated_at = $2 \
             WHERE state = 'queued' AND message_id IN (SELECT id FROM message WHERE conversation_id = $1)",
            &[conv, &at.0],
        )
        .await?;
        out.messages += exec(
            tx,
            "UPDATE message SET body = '', meta = NULL, error = NULL, redacted_at = $2 WHERE conversation_id = $1",
            &[conv, &at.0],
        )
        .await?;
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
            crate::privacy::retention::event_data(tx, "WHERE conversation_id = $1", &[conv])
                .await?;
        for (seq, kind, place, data) in &events {
            let redacted = stamps.get(seq).copied().flatten();
            if kind == "note.created" {
                out.messages += 1;
            }
            // Each redaction is stamped later than the one before (the event trigger's rule).
            let stamp = redacted.map_or(at.0, |r| at.0.max(r + 1));
            let erased = crypt::seal_text(tx.keys(), place, &plan::erase_event_data(data));
            exec(
                tx,
                "UPDATE event SET data = $2, redacted_at = $3 WHERE seq = $1",
                &[seq, &erased, &stamp],
            )
            .await?;
        }
    }
    exec(
        tx,
        "UPDATE conversation SET last_message = NULL WHERE contact_id = $1",
        &[&k],
    )
    .await?;

    let revocations = query(
        tx,
        "SELECT purpose, source, channel, at FROM consent_event \
         WHERE workspace_id = $1 AND contact_id = $2 AND action = 'revoke'",
        &[&w, &k],
    )
    .await?;
    out.revocations_kept = revocations.len() as u64;
    for r in &revocations {
        let (purpose, source, channel, when): (String, String, Option<String>, i64) =
            (get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?);
        for d in &digests {
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
    }
    exec(
        tx,
        "DELETE FROM consent_event WHERE workspace_id = $1 AND contact_id = $2 AND action <> 'revoke'",
        &[&w, &k],
    )
    .await?;
    exec(
        tx,
        "UPDATE consent_event SET evidence = $3 WHERE workspace_id = $1 AND contact_id = $2",
        &[&w, &k, &plan::erased_evidence()],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM contact_identity WHERE contact_id = $1",
        &[&k],
    )
    .await?;
    // An erased person is on no list: nothing may be sent to them from one.
    exec(
        tx,
        "DELETE FROM contact_list_member WHERE contact_id = $1",
        &[&k],
    )
    .await?;
    exec(
        tx,
        "UPDATE contact SET name = NULL, email = NULL, phone = NULL, email_sealed = NULL, phone_sealed = NULL, custom_fields = '{}', \
         erased_at = $2, updated_at = $2 WHERE id = $1",
        &[&k, &at.0],
    )
    .await?;
    Ok(out)
}
