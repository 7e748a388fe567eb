//! Storing one customer message, the hot path: find the inbox, drop a delivery seen before, find or
//! create the contact, its identity and conversation, append the message and its events, all in the
//! writer's transaction.

use parley_core::{ContactId, IdentityId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::accounts::new_id;
use crate::contacts::{insert_contact, insert_identity};
use crate::conversations::{
    insert_conversation, insert_event, insert_message, load_conversation_by, new_conversation,
    save_conversation,
};
use crate::db::sql_err;
use crate::rows::uid;

pub(crate) fn apply_inbound(
    c: &Connection,
    m: InboundMessage,
    events: &mut Vec<Published>,
) -> StoreResult<InboundOutcome> {
    let ws: WorkspaceId = c
        .prepare_cached("SELECT workspace_id FROM inbox WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([m.inbox_id.to_string()], |r| uid(r, 0))
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)?;
    if let Some(ext) = &m.external_id {
        let dup = c
            .prepare_cached(
                "SELECT m.id, m.conversation_id, c.contact_id FROM message m JOIN conversation c ON c.id = m.conversation_id \
                 WHERE m.inbox_id = ?1 AND m.direction = 'inbound' AND m.external_id = ?2",
            )
            .map_err(sql_err)?
            .query_row([m.inbox_id.to_string(), ext.clone()], |r| Ok((uid(r, 0)?, uid(r, 1)?, uid(r, 2)?)))
            .optional()
            .map_err(sql_err)?;
        if let Some((message_id, conversation_id, contact_id)) = dup {
            return Ok(InboundOutcome {
                duplicate: true,
                message_id,
                conversation_id,
                contact_id,
                consent: Vec::new(),
            });
        }
    }
    let identity = c
        .prepare_cached(
            "SELECT i.id, i.contact_id, parley_open(k.name, 'contact:' || k.id || ':name') FROM contact_identity i \
             JOIN contact k ON k.id = i.contact_id \
             WHERE i.workspace_id = ?1 AND i.kind = ?2 AND i.inbox_id = ?3 AND i.external_id = parley_blind(?4, 'identity:' || ?2)",
        )
        .map_err(sql_err)?
        .query_row(params![ws.to_string(), m.identity_kind.as_str(), m.inbox_id.to_string(), m.sender_external_id], |r| {
            Ok((uid::<IdentityId>(r, 0)?, uid::<ContactId>(r, 1)?, r.get::<_, Option<String>>(2)?))
        })
        .optional()
        .map_err(sql_err)?;
    let (identity_id, contact_id, contact_name) = match identity {
        Some((i, k, name)) => {
            if name.is_none() && m.sender_name.is_some() {
                c.execute(
                    "UPDATE contact SET name = parley_seal(?1, 'contact:' || ?2 || ':name') WHERE id = ?2",
                    params![m.sender_name, k.to_string()],
                )
                .map_err(sql_err)?;
            }
            (i, k, name.or(m.sender_name.clone()))
        }
        None => {
            // A phone number or email the workspace knows is the same customer on a new channel.
            let known: Option<(ContactId, Option<String>)> = c
                .prepare_cached(
                    "SELECT id, parley_open(name, 'contact:' || id || ':name') FROM contact WHERE workspace_id = ?1 \
                     AND ((?2 IS NOT NULL AND phone = parley_blind(?2, 'phone')) OR (?3 IS NOT NULL AND email = parley_blind(?3, 'email'))) \
                     ORDER BY created_at, id LIMIT 1",
                )
                .map_err(sql_err)?
                .query_row(
                    params![ws.to_string(), m.sender_phone, m.sender_email],
                    |r| Ok((uid(r, 0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql_err)?;
            let (k, name) = match known {
                Some((k, name)) => {
                    if name.is_none() && m.sender_name.is_some() {
                        c.execute(
                            "UPDATE contact SET name = parley_seal(?1, 'contact:' || ?2 || ':name') WHERE id = ?2",
                            params![m.sender_name, k.to_string()],
                        )
                        .map_err(sql_err)?;
                    }
                    (k, name.or(m.sender_name.clone()))
                }
                None => {
                    let contact = NewContact {
                        name: m.sender_name.clone(),
                        email: m.sender_email.clone(),
                        phone: m.sender_phone.clone(),
                        ..Default::default()
                    };
                    (
                        insert_contact(c, ws, &contact, m.at)?,
                        m.sender_name.clone(),
                    )
                }
            };
            let ident = NewIdentity {
                kind: m.identity_kind,
                inbox_id: Some(m.inbox_id),
                external_id: m.sender_external_id.clone(),
            };
            (insert_identity(c, ws, k, &ident, m.at)?, k, name)
        }
    };
    let threaded = match m.thread {
        Some(t) => match load_conversation_by(
            c,
            "c.id = ?1 AND c.inbox_id = ?2",
            [t.to_string(), m.inbox_id.to_string()],
        ) {
            Ok(conv) => Some(conv),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let existing = match threaded {
        Some(conv) => Ok(conv),
        None => load_conversation_by(
            c,
            "c.inbox_id = ?1 AND c.contact_id = ?2",
            [m.inbox_id.to_string(), contact_id.to_string()],
        ),
    };
    // A blocked sender's message is kept but asks nothing of anyone: no reopening, no waiting.
    let blocked: bool = c
        .prepare_cached("SELECT blocked_at IS NOT NULL FROM contact WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([contact_id.to_string()], |r| r.get(0))
        .map_err(sql_err)?;
    let mut conv = match existing {
        Ok(conv) => conv,
        Err(StoreError::NotFound) => {
            let mut conv =
                new_conversation(m.inbox_id, contact_id, contact_name, identity_id, m.at);
            plan::inbound::new_thread(&mut conv, blocked);
            insert_conversation(c, ws, &conv)?;
            conv
        }
        Err(e) => return Err(e),
    };
    let before = conv.clone();
    if let Some(data) = plan::inbound::reopen(&mut conv, blocked, m.at) {
        let id = Some(conv.id);
        insert_event(
            c,
            events,
            ws,
            conv.inbox_id,
            id,
            "conversation.updated",
            None,
            m.at,
            data,
        )?;
    }
    plan::inbound::reply_identity(&mut conv, contact_id, identity_id);
    let msg = MessageView::from_customer(
        new_id().into(),
        &conv,
        contact_id,
        m.body,
        m.external_id,
        m.at,
        m.meta,
    );
    insert_message(c, ws, &msg)?;
    plan::inbound::fold(&mut conv, &msg, blocked);
    save_conversation(c, &before, &conv)?;
    let data = plan::events::message_created(&msg, &conv);
    insert_event(
        c,
        events,
        ws,
        conv.inbox_id,
        Some(conv.id),
        "message.created",
        Some(msg.id),
        m.at,
        data,
    )?;
    let mut consent = Vec::new();
    if let Some(kw) = m.keyword.as_ref().filter(|k| k.touches_ledger()) {
        let ledger = crate::contacts::ledger(c, ws, contact_id)?;
        for n in plan::keywords::consent(kw, &ledger, &msg, contact_id) {
            consent.push(crate::contacts::record_consent(c, ws, n, events)?);
        }
    }
    Ok(InboundOutcome {
        duplicate: false,
        message_id: msg.id,
        conversation_id: conv.id,
        contact_id,
        consent,
    })
}
