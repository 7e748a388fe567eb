//! Erasure of a contact (GDPR/CCPA): their personal data goes, their conversations stay on the
//! timeline anonymised, and their revocations outlive them as suppressions.

use parley_core::{ContactId, Timestamp, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection};

use crate::db::sql_err;
use crate::rows::{load_contact, uid, EVENT_PLACE};

pub(crate) fn erase(
    c: &Connection,
    ws: WorkspaceId,
    contact: ContactId,
    at: Timestamp,
) -> StoreResult<Erasure> {
    let (w, k) = (ws.to_string(), contact.to_string());
    let view = load_contact(c, &w, &k)?;
    let mut out = Erasure::of(&view, at);
    if out.repeated {
        return Ok(out);
    }
    let digests = view.address_digests(ws);

    let conversations: Vec<uuid::Uuid> = c
        .prepare_cached("SELECT id FROM conversation WHERE contact_id = ?1")
        .map_err(sql_err)?
        .query_map([&k], |r| uid(r, 0))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)?;
    out.conversations = conversations.len() as u64;
    for conv in &conversations {
        let conv = conv.to_string();
        let files: Vec<(uuid::Uuid, Option<String>)> = c
            .prepare_cached("SELECT inbox_id, parley_open(meta, 'message:' || id || ':meta') FROM message WHERE conversation_id = ?1")
            .map_err(sql_err)?
            .query_map([&conv], |r| Ok((uid(r, 0)?, r.get(1)?)))
            .map_err(sql_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql_err)?;
        for (inbox, meta) in files {
            for a in plan::attachment_ids(meta.as_deref()) {
                out.attachments.push((inbox.into(), a));
            }
        }
        // A provider's error may quote the number.
        c.prepare_cached(
            "UPDATE outbox SET last_error = NULL \
             WHERE message_id IN (SELECT id FROM message WHERE conversation_id = ?1)",
        )
        .map_err(sql_err)?
        .execute([&conv])
        .map_err(sql_err)?;
        out.cancelled += c
            .prepare_cached(
                "UPDATE message SET status = 'failed', error = 'contact erased', updated_at = ?2 \
                 WHERE id IN (SELECT o.message_id FROM outbox o JOIN message m ON m.id = o.message_id \
                              WHERE m.conversation_id = ?1 AND o.state = 'queued')",
            )
            .map_err(sql_err)?
            .execute(params![conv, at.0])
            .map_err(sql_err)? as u64;
        c.prepare_cached(
            "UPDATE outbox SET state = 'failed', last_error = 'contact erased', claimed_until = NULL, updated_at = ?2 \
             WHERE state = 'queued' AND message_id IN (SELECT id FROM message WHERE conversation_id = ?1)",
        )
        .map_err(sql_err)?
        .execute(params![conv, at.0])
        .map_err(sql_err)?;
        out.messages += c
            .prepare_cached(
                "UPDATE message SET body = '', meta = NULL, error = NULL, redacted_at = ?2 WHERE conversation_id = ?1",
            )
            .map_err(sql_err)?
            .execute(params![conv, at.0])
            .map_err(sql_err)? as u64;
        let events: Vec<(i64, String, String, Option<i64>)> = c
            .prepare_cached(
                &format!("SELECT seq, kind, parley_open(data, {EVENT_PLACE}), redacted_at FROM event WHERE conversation_id = ?1"),
            )
            .map_err(sql_err)?
            .query_map([&conv], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql_err)?;
        for (seq, kind, data, redacted) in events {
            if kind == "note.created" {
                out.messages += 1;
            }
            // Each redaction is stamped later than the one before (the event trigger's rule).
            let stamp = redacted.map_or(at.0, |r| at.0.max(r + 1));
            c.prepare_cached(&format!("UPDATE event SET data = parley_seal(?2, {EVENT_PLACE}), redacted_at = ?3 WHERE seq = ?1"))
                .map_err(sql_err)?
                .execute(params![seq, plan::erase_event_data(&data), stamp])
                .map_err(sql_err)?;
        }
    }
    c.prepare_cached("UPDATE conversation SET last_message = NULL WHERE contact_id = ?1")
        .map_err(sql_err)?
        .execute([&k])
        .map_err(sql_err)?;

    let revocations: Vec<(String, String, Option<String>, i64)> = c
        .prepare_cached(
            "SELECT purpose, source, channel, at FROM consent_event \
             WHERE workspace_id = ?1 AND contact_id = ?2 AND action = 'revoke'",
        )
        .map_err(sql_err)?
        .query_map([&w, &k], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)?;
    out.revocations_kept = revocations.len() as u64;
    for (purpose, source, channel, when) in &revocations {
        for d in &digests {
            c.prepare_cached(
                "INSERT INTO suppression (id, workspace_id, address, purpose, source, channel, at) \
                 VALUES (?1, ?2, parley_blind(?3, 'suppression'), ?4, ?5, ?6, ?7)",
            )
            .map_err(sql_err)?
            .execute(params![
                crate::accounts::new_id().to_string(),
                w,
                d,
                purpose,
                source,
                channel,
                when
            ])
            .map_err(sql_err)?;
        }
    }
    c.prepare_cached(
        "DELETE FROM consent_event WHERE workspace_id = ?1 AND contact_id = ?2 AND action <> 'revoke'",
    )
    .map_err(sql_err)?
    .execute([&w, &k])
    .map_err(sql_err)?;
    c.prepare_cached(
        "UPDATE consent_event SET evidence = parley_seal(?3, 'consent:' || id || ':evidence') WHERE workspace_id = ?1 AND contact_id = ?2",
    )
    .map_err(sql_err)?
    .execute(params![w, k, plan::erased_evidence().to_string()])
    .map_err(sql_err)?;
    c.prepare_cached("DELETE FROM contact_identity WHERE contact_id = ?1")
        .map_err(sql_err)?
        .execute([&k])
        .map_err(sql_err)?;
    // An erased person is on no list: nothing may be sent to them from one.
    c.prepare_cached("DELETE FROM contact_list_member WHERE contact_id = ?1")
        .map_err(sql_err)?
        .execute([&k])
        .map_err(sql_err)?;
    c.prepare_cached(
        "UPDATE contact SET name = NULL, email = NULL, phone = NULL, email_sealed = NULL, phone_sealed = NULL, custom_fields = '{}', \
         erased_at = ?2, updated_at = ?2 WHERE id = ?1",
    )
    .map_err(sql_err)?
    .execute(params![k, at.0])
    .map_err(sql_err)?;
    Ok(out)
}
