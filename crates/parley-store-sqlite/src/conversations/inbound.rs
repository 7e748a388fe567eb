//! The steps of storing one customer message, the hot path: find the inbox, drop a delivery seen
//! before, find or create the contact, its identity and conversation, and record the consent a
//! keyword changes, all in the writer's transaction.

use parley_core::{ContactId, IdentityId, InboxId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::contacts::{insert_contact, insert_identity};
use crate::conversations::{insert_conversation, load_conversation_by, new_conversation};
use crate::db::sql_err;
use crate::rows::uid;

/// Who sent a message: their identity, their contact and the contact's name.
pub(crate) struct Sender {
    pub identity: IdentityId,
    pub contact: ContactId,
    pub name: Option<String>,
}

/// The workspace of the inbox the message came to.
pub(crate) fn inbox_workspace(c: &Connection, inbox: InboxId) -> StoreResult<WorkspaceId> {
    c.prepare_cached("SELECT workspace_id FROM inbox WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([inbox.to_string()], |r| uid(r, 0))
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)
}

/// The message a delivery the provider sent before became, as a duplicate's outcome.
pub(crate) fn delivered_before(
    c: &Connection,
    m: &InboundMessage,
) -> StoreResult<Option<InboundOutcome>> {
    let Some(ext) = &m.external_id else {
        return Ok(None);
    };
    let dup = c
        .prepare_cached(
            "SELECT m.id, m.conversation_id, c.contact_id FROM message m JOIN conversation c ON c.id = m.conversation_id \
             WHERE m.inbox_id = ?1 AND m.direction = 'inbound' AND m.external_id = ?2",
        )
        .map_err(sql_err)?
        .query_row([m.inbox_id.to_string(), ext.clone()], |r| Ok((uid(r, 0)?, uid(r, 1)?, uid(r, 2)?)))
        .optional()
        .map_err(sql_err)?;
    Ok(
        dup.map(|(message_id, conversation_id, contact_id)| InboundOutcome {
            duplicate: true,
            message_id,
            conversation_id,
            contact_id,
            consent: Vec::new(),
            survey_answered: false,
            reopened: false,
        }),
    )
}

/// The sender of the message; a sender seen for the first time gets an identity and, unless the
/// workspace knows their phone number or email, a contact.
pub(crate) fn sender(c: &Connection, ws: WorkspaceId, m: &InboundMessage) -> StoreResult<Sender> {
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
    if let Some((identity, contact, name)) = identity {
        let name = name_contact(c, contact, name, m)?;
        return Ok(Sender {
            identity,
            contact,
            name,
        });
    }
    let (contact, name) = match known_address(c, ws, m)? {
        Some((k, name)) => (k, name_contact(c, k, name, m)?),
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
    let identity = insert_identity(c, ws, contact, &ident, m.at)?;
    Ok(Sender {
        identity,
        contact,
        name,
    })
}

/// A phone number or email the workspace knows is the same customer on a new channel.
fn known_address(
    c: &Connection,
    ws: WorkspaceId,
    m: &InboundMessage,
) -> StoreResult<Option<(ContactId, Option<String>)>> {
    c.prepare_cached(
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
    .map_err(sql_err)
}

/// The contact's name: the stored one, else the one the sender gave, stored then.
fn name_contact(
    c: &Connection,
    contact: ContactId,
    name: Option<String>,
    m: &InboundMessage,
) -> StoreResult<Option<String>> {
    if name.is_none() && m.sender_name.is_some() {
        c.execute(
            "UPDATE contact SET name = parley_seal(?1, 'contact:' || ?2 || ':name') WHERE id = ?2",
            params![m.sender_name, contact.to_string()],
        )
        .map_err(sql_err)?;
    }
    Ok(name.or(m.sender_name.clone()))
}

/// Whether the contact is blocked.
pub(crate) fn blocked(c: &Connection, contact: ContactId) -> StoreResult<bool> {
    c.prepare_cached("SELECT blocked_at IS NOT NULL FROM contact WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([contact.to_string()], |r| r.get(0))
        .map_err(sql_err)
}

/// The conversation the message goes to: the thread it answers when that is of this inbox, else
/// the contact's in the inbox, else a new one.
pub(crate) fn conversation_for(
    c: &Connection,
    ws: WorkspaceId,
    m: &InboundMessage,
    sender: Sender,
    blocked: bool,
) -> StoreResult<ConversationView> {
    if let Some(t) = m.thread {
        let cond = "c.id = ?1 AND c.inbox_id = ?2";
        match load_conversation_by(c, cond, [t.to_string(), m.inbox_id.to_string()]) {
            Err(StoreError::NotFound) => {}
            found => return found,
        }
    }
    let cond = "c.inbox_id = ?1 AND c.contact_id = ?2";
    match load_conversation_by(
        c,
        cond,
        [m.inbox_id.to_string(), sender.contact.to_string()],
    ) {
        Err(StoreError::NotFound) => {
            let Sender {
                identity,
                contact,
                name,
            } = sender;
            let mut conv = new_conversation(m.inbox_id, contact, name, identity, m.at);
            plan::inbound::new_thread(&mut conv, blocked);
            insert_conversation(c, ws, &conv)?;
            Ok(conv)
        }
        found => found,
    }
}

/// The ledger entries a keyword (STOP, START…) in the message changes, recorded.
pub(crate) fn keyword_consent(
    c: &Connection,
    ws: WorkspaceId,
    keyword: Option<&KeywordIntent>,
    msg: &MessageView,
    contact: ContactId,
    events: &mut Vec<Published>,
) -> StoreResult<Vec<ConsentEvent>> {
    let mut consent = Vec::new();
    if let Some(kw) = keyword.filter(|k| k.touches_ledger()) {
        let ledger = crate::contacts::ledger(c, ws, contact)?;
        for n in plan::keywords::consent(kw, &ledger, msg, contact) {
            consent.push(crate::contacts::record_consent(c, ws, n, events)?);
        }
    }
    Ok(consent)
}

/// Takes the survey's one answer for a rating reply: the reply back when it is the answer, `None`
/// when the survey was answered already (the message is then an ordinary one).
pub(crate) fn answer_survey(
    c: &Connection,
    reply: Option<&SurveyReply>,
    at: parley_core::Timestamp,
) -> StoreResult<Option<SurveyReply>> {
    let Some(r) = reply else {
        return Ok(None);
    };
    let taken = c
        .prepare_cached(sql::conversations::INSERT_SURVEY_ANSWER)
        .map_err(sql_err)?
        .execute(params![r.conversation.to_string(), r.sent_at.0, at.0])
        .map_err(sql_err)?;
    Ok((taken == 1).then(|| r.clone()))
}

/// Records a call as a `call` event on the caller's conversation (found or created as a message's
/// is), once per provider call id; the conversation's status is left as it is.
pub(crate) fn record_call(
    c: &Connection,
    events: &mut Vec<Published>,
    call: &InboundCall,
) -> StoreResult<CallOutcome> {
    let ws = inbox_workspace(c, call.inbox_id)?;
    if let Some(ext) = &call.external_id {
        let fresh = c
            .prepare_cached(sql::conversations::INSERT_CALL)
            .map_err(sql_err)?
            .execute(params![call.inbox_id.to_string(), ext, call.at.0])
            .map_err(sql_err)?;
        if fresh == 0 {
            return Ok(CallOutcome::duplicate());
        }
    }
    let m = call.as_message();
    let sender = sender(c, ws, &m)?;
    let contact = sender.contact;
    let blocked = blocked(c, contact)?;
    let conv = conversation_for(c, ws, &m, sender, blocked)?;
    let data = plan::events::conversation_event(call.data.clone(), &conv);
    crate::conversations::insert_event(
        c,
        events,
        ws,
        conv.inbox_id,
        Some(conv.id),
        "call",
        None,
        call.at,
        data,
    )?;
    Ok(CallOutcome {
        duplicate: false,
        conversation_id: Some(conv.id),
        contact_id: Some(contact),
    })
}
