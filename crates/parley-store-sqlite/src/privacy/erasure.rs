//! Erasure of a contact (GDPR/CCPA): their personal data goes, their conversations stay on the
//! timeline anonymised, and their revocations outlive them as suppressions.

use parley_core::{ContactId, Timestamp, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection};

use crate::db::sql_err;
use crate::rows::{uid, EVENT_PLACE};

/// Redacts every conversation of the contact (their messages, files and events stay on the
/// timeline, emptied) and clears the contact's previews.
pub(super) fn redact_conversations(
    c: &Connection,
    contact: ContactId,
    at: Timestamp,
    out: &mut Erasure,
) -> StoreResult<()> {
    let k = contact.to_string();
    let conversations: Vec<uuid::Uuid> = c
        .prepare_cached("SELECT id FROM conversation WHERE contact_id = ?1")
        .map_err(sql_err)?
        .query_map([&k], |r| uid(r, 0))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)?;
    out.conversations = conversations.len() as u64;
    for conv in &conversations {
        redact_conversation(c, &conv.to_string(), at, out)?;
    }
    c.prepare_cached(sql::erase::CLEAR_PREVIEWS)
        .map_err(sql_err)?
        .execute([&k])
        .map_err(sql_err)?;
    Ok(())
}

/// Cancels what was waiting to go out in one conversation, and empties its messages and events.
fn redact_conversation(
    c: &Connection,
    conv: &str,
    at: Timestamp,
    out: &mut Erasure,
) -> StoreResult<()> {
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
    let run = |stmt: &str, p: &[&dyn rusqlite::ToSql]| {
        c.prepare_cached(stmt)
            .and_then(|mut q| q.execute(p))
            .map(|n| n as u64)
            .map_err(sql_err)
    };
    run(sql::erase::CLEAR_OUTBOX_ERRORS, &[&conv])?;
    out.cancelled += run(sql::erase::CANCEL_MESSAGES, &[&at.0, &conv])?;
    run(sql::erase::CANCEL_OUTBOX, &[&at.0, &conv])?;
    out.messages += run(sql::erase::REDACT_MESSAGES, &[&at.0, &conv])?;
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
        if plan::erase::counts_as_message(&kind) {
            out.messages += 1;
        }
        let stamp = plan::erase::redaction_stamp(redacted, at);
        c.prepare_cached(&format!("UPDATE event SET data = parley_seal(?2, {EVENT_PLACE}), redacted_at = ?3 WHERE seq = ?1"))
            .map_err(sql_err)?
            .execute(params![seq, plan::erase::erase_event_data(&data), stamp])
            .map_err(sql_err)?;
    }
    Ok(())
}

/// Keeps the contact's revocations as suppressions of their addresses (`digests`).
pub(super) fn keep_revocations(
    c: &Connection,
    ws: WorkspaceId,
    contact: ContactId,
    digests: &[String],
    out: &mut Erasure,
) -> StoreResult<()> {
    let (w, k) = (ws.to_string(), contact.to_string());
    let revocations: Vec<(String, String, Option<String>, i64)> = c
        .prepare_cached(sql::erase::REVOCATIONS)
        .map_err(sql_err)?
        .query_map([&w, &k], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)?;
    out.revocations_kept = revocations.len() as u64;
    for ((purpose, source, channel, when), d) in plan::erase::suppressions(&revocations, digests) {
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
    Ok(())
}

/// Drops what is left of the contact: grants, evidence, identities, lists, and their name and
/// addresses.
pub(super) fn forget(
    c: &Connection,
    ws: WorkspaceId,
    contact: ContactId,
    at: Timestamp,
) -> StoreResult<()> {
    let (w, k) = (ws.to_string(), contact.to_string());
    c.prepare_cached(sql::erase::DROP_GRANTS)
        .map_err(sql_err)?
        .execute([&w, &k])
        .map_err(sql_err)?;
    c.prepare_cached(
        "UPDATE consent_event SET evidence = parley_seal(?3, 'consent:' || id || ':evidence') WHERE workspace_id = ?1 AND contact_id = ?2",
    )
    .map_err(sql_err)?
    .execute(params![w, k, plan::erase::erased_evidence().to_string()])
    .map_err(sql_err)?;
    for stmt in [sql::erase::DELETE_IDENTITIES, sql::erase::LEAVE_LISTS] {
        c.prepare_cached(stmt)
            .map_err(sql_err)?
            .execute([&k])
            .map_err(sql_err)?;
    }
    c.prepare_cached(sql::erase::ANONYMISE)
        .map_err(sql_err)?
        .execute(params![at.0, k])
        .map_err(sql_err)?;
    Ok(())
}
