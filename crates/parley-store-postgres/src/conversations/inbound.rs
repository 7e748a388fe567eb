//! Storing one customer message, the hot path, in two round trips: one query reads everything the
//! decision needs (workspace, an earlier delivery, the sender's identity and conversation), then
//! every write goes out in one pipeline (a keyword that may change consent adds a read of the
//! ledger). Same decisions as SQLite's step-by-step version; `batch` groups messages into one commit.

use std::sync::LazyLock;

use parley_core::{ContactId, IdentityId, WorkspaceId};
use parley_store::crypt::{self, Keyring};
use parley_store::*;
use tokio_postgres::Row;

use crate::accounts::new_id;
use crate::contacts::{
    address_key, identity_error, identity_key, insert_contact_stmt, insert_identity_stmt,
};
use crate::conversations::{
    insert_conversation_stmt, insert_message_stmt, new_conversation, save_stmt, NewEvent,
};
use crate::db::{query_opt, Tx};
use crate::pipeline::{pipeline, Stmt};
use crate::rows::{self, get, id, opt_id, CONVERSATION_COLS};

pub(crate) mod batch;

/// Columns: 0 workspace; 1–3 an earlier delivery (message, conversation, contact); 4–6 the
/// sender's identity, contact and name; 7–22 the conversation (`CONVERSATION_COLS`); 23–24 a
/// contact with the sender's phone or email, when the identity is new (one customer, many channels);
/// 25 whether the sender's contact is blocked.
/// The conversation is the thread the channel named ($7) when it is in this inbox, else the contact's.
static LOOKUP: LazyLock<String> = LazyLock::new(|| {
    // The conversation's columns name its own contact (`ck`), whose id its sealed name is bound
    // to; `k` is the sender's, who may be someone else writing into the thread.
    let conversation = CONVERSATION_COLS.replacen("k.name", "ck.name", 1);
    format!(
        "SELECT n.workspace_id, d.id, d.conversation_id, d.contact_id, i.id, i.contact_id, k.name, {conversation}, p.id, p.name, COALESCE(k.blocked_at, p.blocked_at) IS NOT NULL \
         FROM inbox n \
         LEFT JOIN LATERAL (SELECT m.id, m.conversation_id, dc.contact_id FROM message m \
             JOIN conversation dc ON dc.id = m.conversation_id \
             WHERE m.inbox_id = n.id AND m.direction = 'inbound' AND m.external_id = $2) d ON true \
         LEFT JOIN contact_identity i ON i.workspace_id = n.workspace_id AND i.kind = $3 \
             AND i.inbox_id = n.id AND i.external_id = $4 \
         LEFT JOIN contact k ON k.id = i.contact_id \
         LEFT JOIN LATERAL (SELECT pc.id, pc.name, pc.blocked_at FROM contact pc \
             WHERE i.id IS NULL AND pc.workspace_id = n.workspace_id \
             AND (pc.phone = $5::text OR pc.email = $6::text) ORDER BY pc.created_at, pc.id LIMIT 1) p ON true \
         LEFT JOIN conversation c ON c.id = COALESCE( \
             (SELECT t.id FROM conversation t WHERE t.id = $7::uuid AND t.inbox_id = n.id), \
             (SELECT t.id FROM conversation t WHERE t.inbox_id = n.id AND t.contact_id = COALESCE(i.contact_id, p.id))) \
         LEFT JOIN contact ck ON ck.id = c.contact_id \
         WHERE n.id = $1"
    )
});

/// A customer's message read and decided on, with the writes that store it still to send.
pub(crate) struct Planned {
    outcome: InboundOutcome,
    writes: Vec<Stmt>,
    events: Vec<NewEvent>,
    identity: NewIdentity,
}

impl Planned {
    /// Sends the writes and then `trailer` in one round trip; the events go to `published`.
    pub(crate) async fn write(
        self,
        tx: &Tx<'_>,
        trailer: Vec<Stmt>,
        published: &mut Vec<Published>,
    ) -> StoreResult<InboundOutcome> {
        send(
            tx,
            self.writes,
            self.events,
            trailer,
            published,
            &self.identity,
        )
        .await?;
        Ok(self.outcome)
    }
}

/// Sends `writes`, the events and then `trailer` in one round trip; the events go to `published`.
async fn send(
    tx: &Tx<'_>,
    mut writes: Vec<Stmt>,
    new_events: Vec<NewEvent>,
    trailer: Vec<Stmt>,
    published: &mut Vec<Published>,
    identity: &NewIdentity,
) -> StoreResult<()> {
    // Events go last, in order, so their seqs follow the order they happened in.
    let first_event = writes.len();
    writes.extend(new_events.iter().map(|e| e.stmt(tx.keys())));
    writes.extend(trailer);
    let results = pipeline(tx, &writes)
        .await
        .map_err(|e| identity_error(e, identity))?;
    let mut events = Vec::with_capacity(new_events.len());
    for (ev, rows) in new_events.into_iter().zip(&results[first_event..]) {
        events.push(ev.published(rows)?);
    }
    published.append(&mut events);
    Ok(())
}

/// Reads what storing `m` needs and decides what to write; a duplicate plans no writes. Runs inside
/// the inbound batch's transaction, under the event lock.
pub(crate) async fn plan(tx: &Tx<'_>, m: InboundMessage) -> StoreResult<Planned> {
    let row = lookup(tx, &m).await?;
    let ws: WorkspaceId = id(&row, 0)?;
    let new_identity = NewIdentity {
        kind: m.identity_kind,
        inbox_id: Some(m.inbox_id),
        external_id: m.sender_external_id.clone(),
    };
    if let Some(message_id) = opt_id(&row, 1)? {
        return Ok(Planned {
            outcome: InboundOutcome {
                duplicate: true,
                message_id,
                conversation_id: id(&row, 2)?,
                contact_id: id(&row, 3)?,
                consent: Vec::new(),
                survey_answered: false,
                reopened: false,
            },
            writes: Vec::new(),
            events: Vec::new(),
            identity: new_identity,
        });
    }
    let mut writes = Vec::new();
    let (identity_id, contact_id, contact_name) =
        sender(tx.keys(), &row, ws, &m, &new_identity, &mut writes)?;
    // A blocked sender's message is kept but asks nothing of anyone: no reopening, no waiting.
    let blocked: bool = get(&row, 25)?;
    let found = (identity_id, contact_id, contact_name);
    let mut conv = conversation_of(tx.keys(), &row, ws, &m, found, blocked, &mut writes)?;
    let mut new_events = Vec::new();
    let snoozed = conv.snoozed_until;
    let survey = answer_survey(
        tx,
        plan::inbound::survey_reply(m.survey.as_ref(), &conv),
        m.at,
    )
    .await?;
    // A rating reply, like a blocked sender's message, leaves the conversation as it was.
    let quiet = blocked || survey.is_some();
    // A resolved or snoozed conversation reopens, and the timeline shows it.
    let reopen = plan::inbound::reopen(&mut conv, quiet, m.at);
    let reopened = reopen.is_some();
    if let Some(data) = reopen {
        new_events.push(NewEvent::on(
            ws,
            &conv,
            "conversation.updated",
            None,
            m.at,
            data,
        ));
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
    writes.push(insert_message_stmt(tx.keys(), ws, &msg));
    plan::inbound::fold(&mut conv, &msg, quiet);
    writes.push(save_stmt(tx.keys(), &conv));
    // A snoozed conversation the customer woke needs its wake-up no more.
    writes.extend(crate::timers::follow_snooze(ws, &conv, snoozed));
    let data = plan::events::message_created(&msg, &conv);
    new_events.push(NewEvent::on(
        ws,
        &conv,
        "message.created",
        Some(msg.id),
        m.at,
        data,
    ));
    if let Some(reply) = &survey {
        let data = plan::inbound::survey_answered(reply, &msg, &conv);
        new_events.push(NewEvent::on(ws, &conv, "survey.answered", None, m.at, data));
    }
    let mut consent = Vec::new();
    // The ledger is read only for a keyword that may change it: the hot path never pays for it.
    if let Some(kw) = m.keyword.as_ref().filter(|k| k.touches_ledger()) {
        let ledger = crate::contacts::ledger(tx, ws, contact_id).await?;
        for n in plan::keywords::consent(kw, &ledger, &msg, contact_id) {
            let e = n.recorded(new_id());
            writes.push(consent_stmt(tx.keys(), ws, &e));
            // The timeline shows it when the conversation is the contact's own.
            if conv.contact_id == contact_id {
                let data = plan::keywords::consent_changed(&e, &conv);
                new_events.push(NewEvent::on(ws, &conv, "consent.changed", None, e.at, data));
            }
            consent.push(e);
        }
    }

    Ok(Planned {
        outcome: InboundOutcome {
            duplicate: false,
            message_id: msg.id,
            conversation_id: conv.id,
            contact_id,
            consent,
            survey_answered: survey.is_some(),
            reopened,
        },
        writes,
        events: new_events,
        identity: new_identity,
    })
}

/// Takes the survey's one answer for a rating reply, before the writes are planned (whether it
/// is the answer decides them): the reply back when it is, `None` when the survey was answered
/// already (the message is then an ordinary one). Only a rating reply pays for this round trip.
async fn answer_survey(
    tx: &Tx<'_>,
    reply: Option<&SurveyReply>,
    at: parley_core::Timestamp,
) -> StoreResult<Option<SurveyReply>> {
    let Some(r) = reply else {
        return Ok(None);
    };
    let taken = crate::db::exec(
        tx,
        sql::conversations::INSERT_SURVEY_ANSWER,
        &[&r.conversation.as_uuid(), &r.sent_at.0, &at.0],
    )
    .await?;
    Ok((taken == 1).then(|| r.clone()))
}

/// The lookup row for storing `m` (see `LOOKUP`).
async fn lookup(tx: &Tx<'_>, m: &InboundMessage) -> StoreResult<Row> {
    query_opt(
        tx,
        &LOOKUP,
        &[
            &m.inbox_id.as_uuid(),
            &m.external_id,
            &m.identity_kind.as_str(),
            &identity_key(tx.keys(), m.identity_kind, &m.sender_external_id),
            &address_key(tx.keys(), "phone", m.sender_phone.as_deref()),
            &address_key(tx.keys(), "email", m.sender_email.as_deref()),
            &m.thread.map(|t| t.as_uuid()),
        ],
    )
    .await?
    .ok_or(StoreError::NotFound)
}

/// The conversation from the lookup row, or a new one (queued to insert) for the sender.
fn conversation_of(
    keys: Option<&Keyring>,
    row: &Row,
    ws: WorkspaceId,
    m: &InboundMessage,
    (identity_id, contact_id, contact_name): (IdentityId, ContactId, Option<String>),
    blocked: bool,
    writes: &mut Vec<Stmt>,
) -> StoreResult<ConversationView> {
    Ok(match get::<Option<uuid::Uuid>>(row, 7)? {
        Some(_) => {
            let mut conv = rows::conversation_at(keys, row, 7)?;
            // The name the contact has once the writes below are done.
            conv.contact_name = contact_name;
            conv
        }
        None => {
            let mut conv =
                new_conversation(m.inbox_id, contact_id, contact_name, identity_id, m.at);
            plan::inbound::new_thread(&mut conv, blocked);
            writes.push(insert_conversation_stmt(ws, &conv));
            conv
        }
    })
}

/// Records a call as a `call` event on the caller's conversation (found or created as a
/// message's is), once per provider call id; the conversation's status is left as it is.
pub(crate) async fn record_call(
    tx: &Tx<'_>,
    call: &InboundCall,
    published: &mut Vec<Published>,
) -> StoreResult<CallOutcome> {
    if let Some(ext) = &call.external_id {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&call.inbox_id.as_uuid(), ext, &call.at.0];
        if crate::db::exec(tx, sql::conversations::INSERT_CALL, &params).await? == 0 {
            return Ok(CallOutcome::duplicate());
        }
    }
    let m = call.as_message();
    let row = lookup(tx, &m).await?;
    let ws: WorkspaceId = id(&row, 0)?;
    let identity = NewIdentity {
        kind: m.identity_kind,
        inbox_id: Some(m.inbox_id),
        external_id: m.sender_external_id.clone(),
    };
    let mut writes = Vec::new();
    let found = sender(tx.keys(), &row, ws, &m, &identity, &mut writes)?;
    let contact = found.1;
    let blocked: bool = get(&row, 25)?;
    let conv = conversation_of(tx.keys(), &row, ws, &m, found, blocked, &mut writes)?;
    let data = plan::events::conversation_event(call.data.clone(), &conv);
    let events = vec![NewEvent::on(ws, &conv, "call", None, call.at, data)];
    send(tx, writes, events, Vec::new(), published, &identity).await?;
    Ok(CallOutcome {
        duplicate: false,
        conversation_id: Some(conv.id),
        contact_id: Some(contact),
    })
}

/// The sender's identity, contact and contact name from the lookup row; queues the contact and
/// identity to create on first contact, or the name to fill in when the contact had none.
fn sender(
    keys: Option<&Keyring>,
    row: &Row,
    ws: WorkspaceId,
    m: &InboundMessage,
    identity: &NewIdentity,
    writes: &mut Vec<Stmt>,
) -> StoreResult<(IdentityId, ContactId, Option<String>)> {
    if let Some(identity_id) = opt_id::<IdentityId>(row, 4)? {
        let contact: ContactId = id(row, 5)?;
        let name = open_name(keys, contact, get(row, 6)?)?;
        if name.is_none() && m.sender_name.is_some() {
            writes.push(name_stmt(keys, contact, m.sender_name.as_deref()));
        }
        return Ok((identity_id, contact, name.or(m.sender_name.clone())));
    }
    let (contact, name) = match opt_id::<ContactId>(row, 23)? {
        // A phone number or email the workspace knows is the same customer on a new channel.
        Some(known) => {
            let name = open_name(keys, known, get(row, 24)?)?;
            if name.is_none() && m.sender_name.is_some() {
                writes.push(name_stmt(keys, known, m.sender_name.as_deref()));
            }
            (known, name.or(m.sender_name.clone()))
        }
        None => {
            let contact: ContactId = new_id().into();
            let new = NewContact {
                name: m.sender_name.clone(),
                email: m.sender_email.clone(),
                phone: m.sender_phone.clone(),
                ..Default::default()
            };
            writes.push(insert_contact_stmt(keys, ws, contact, &new, m.at));
            (contact, m.sender_name.clone())
        }
    };
    let identity_id: IdentityId = new_id().into();
    writes.push(insert_identity_stmt(
        keys,
        ws,
        contact,
        identity_id,
        identity,
        m.at,
    ));
    Ok((identity_id, contact, name))
}

fn open_name(
    keys: Option<&Keyring>,
    contact: ContactId,
    name: Option<String>,
) -> StoreResult<Option<String>> {
    crypt::open_field(keys, &crypt::aad("contact", contact, "name"), name)
}

/// Fills in a contact's name (sealed when encrypted at rest).
fn name_stmt(keys: Option<&Keyring>, contact: ContactId, name: Option<&str>) -> Stmt {
    let name = crypt::seal_field(keys, &crypt::aad("contact", contact, "name"), name);
    Stmt::new(
        "UPDATE contact SET name = $1 WHERE id = $2",
        vec![Box::new(name), Box::new(contact.as_uuid())],
    )
}

/// Appends a keyword's entry to the consent ledger (its evidence sealed when encrypted at rest).
fn consent_stmt(keys: Option<&Keyring>, ws: WorkspaceId, e: &ConsentEvent) -> Stmt {
    let evidence = crypt::seal_json(keys, &crypt::aad("consent", e.id, "evidence"), &e.evidence);
    Stmt::new(
        "INSERT INTO consent_event (id, workspace_id, contact_id, purpose, action, source, channel, evidence, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            Box::new(e.id),
            Box::new(ws.as_uuid()),
            Box::new(e.contact_id.as_uuid()),
            Box::new(e.purpose.as_str()),
            Box::new(e.action.as_str()),
            Box::new(e.source.clone()),
            Box::new(e.channel.clone()),
            Box::new(evidence),
            Box::new(e.at.0),
        ],
    )
}
