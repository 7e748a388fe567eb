//! Reading rows into the store's views, the column lists that go with them, and turning driver
//! errors into `StoreError`.

use parley_core::contact::IdentityKind;
use parley_core::conversation::{Priority, Status};
use parley_core::message::{DeliveryStatus, Direction, SenderKind};
use parley_core::role::Role;
use parley_core::{InboxId, Timestamp};
use parley_store::crypt::{self, Keyring};
use parley_store::*;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::Tx;

pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(e))
}

pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn bad(what: &str) -> StoreError {
    StoreError::Other(anyhow::anyhow!("unexpected {what} in the database"))
}

pub(crate) fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i).map_err(pg_err)
}

pub(crate) fn id<T: From<Uuid>>(r: &Row, i: usize) -> StoreResult<T> {
    Ok(T::from(get::<Uuid>(r, i)?))
}

pub(crate) fn opt_id<T: From<Uuid>>(r: &Row, i: usize) -> StoreResult<Option<T>> {
    Ok(get::<Option<Uuid>>(r, i)?.map(T::from))
}

pub(crate) fn ts(r: &Row, i: usize) -> StoreResult<Timestamp> {
    Ok(Timestamp(get(r, i)?))
}

pub(crate) fn opt_ts(r: &Row, i: usize) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(r, i)?.map(Timestamp))
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> StoreResult<T> {
    serde_json::from_str(get::<&str>(r, i)?).map_err(|_| bad("JSON"))
}

fn parsed<T>(r: &Row, i: usize, parse: fn(&str) -> Option<T>, what: &str) -> StoreResult<T> {
    parse(get::<&str>(r, i)?).ok_or_else(|| bad(what))
}

pub(crate) fn role(r: &Row, i: usize) -> StoreResult<Role> {
    parsed(r, i, Role::parse, "role")
}

pub(crate) const USER_COLS: &str = "u.id, u.email, u.name, m.role, u.created_at, u.bot";

pub(crate) fn user(r: &Row) -> StoreResult<UserView> {
    Ok(UserView {
        id: id(r, 0)?,
        email: get(r, 1)?,
        name: get(r, 2)?,
        role: role(r, 3)?,
        created_at: ts(r, 4)?,
        bot: get(r, 5)?,
    })
}

pub(crate) const INBOX_COLS: &str = "id, workspace_id, name, kind, settings, secret, created_at";

pub(crate) fn inbox(keys: Option<&Keyring>, r: &Row) -> StoreResult<InboxRow> {
    inbox_at(keys, r, 0)
}

/// Reads an inbox from `INBOX_COLS` starting at column `at`, its credentials opened.
pub(crate) fn inbox_at(keys: Option<&Keyring>, r: &Row, at: usize) -> StoreResult<InboxRow> {
    let row = InboxRow {
        id: id(r, at)?,
        workspace_id: id(r, at + 1)?,
        name: get(r, at + 2)?,
        kind: get(r, at + 3)?,
        settings: serde_json::Value::Null,
        secret: get(r, at + 5)?,
        created_at: ts(r, at + 6)?,
    };
    parley_store::crypt::open_inbox(keys, row, &get::<String>(r, at + 4)?)
}

pub(crate) const CONVERSATION_COLS: &str = "c.id, c.inbox_id, c.contact_id, k.name, c.identity_id, c.status, c.snoozed_until, \
    c.assignee_id, c.team_id, c.priority, c.labels, c.waiting_since, c.last_activity_at, c.last_message, c.created_at, c.first_reply_at";

/// FROM clause that goes with `CONVERSATION_COLS`.
pub(crate) const CONVERSATION_FROM: &str = "conversation c JOIN contact k ON k.id = c.contact_id";

pub(crate) fn conversation(keys: Option<&Keyring>, r: &Row) -> StoreResult<ConversationView> {
    conversation_at(keys, r, 0)
}

/// Reads a conversation from `CONVERSATION_COLS` starting at column `at`, its preview opened.
pub(crate) fn conversation_at(
    keys: Option<&Keyring>,
    r: &Row,
    at: usize,
) -> StoreResult<ConversationView> {
    let id: uuid::Uuid = get(r, at)?;
    Ok(ConversationView {
        id: id.into(),
        inbox_id: self::id(r, at + 1)?,
        contact_id: self::id(r, at + 2)?,
        contact_name: crypt::open_field(
            keys,
            &crypt::aad("contact", get::<Uuid>(r, at + 2)?, "name"),
            get(r, at + 3)?,
        )?,
        identity_id: self::id(r, at + 4)?,
        status: parsed(r, at + 5, Status::parse, "status")?,
        snoozed_until: opt_ts(r, at + 6)?,
        assignee_id: opt_id(r, at + 7)?,
        team_id: opt_id(r, at + 8)?,
        priority: Priority::from_rank(get(r, at + 9)?),
        labels: json(r, at + 10)?,
        waiting_since: opt_ts(r, at + 11)?,
        last_activity_at: ts(r, at + 12)?,
        last_message: crypt::open_field(
            keys,
            &crypt::aad("conversation", id, "preview"),
            get(r, at + 13)?,
        )?,
        created_at: ts(r, at + 14)?,
        first_reply_at: opt_ts(r, at + 15)?,
    })
}

pub(crate) const MESSAGE_COLS: &str =
    "m.id, m.conversation_id, m.inbox_id, m.direction, m.sender_kind, m.sender_id, m.body, m.external_id, m.status, m.error, m.created_at, m.meta";

pub(crate) fn message(keys: Option<&Keyring>, r: &Row) -> StoreResult<MessageView> {
    message_at(keys, r, 0)
}

/// Reads a message from `MESSAGE_COLS` starting at column `at`, its text opened.
pub(crate) fn message_at(keys: Option<&Keyring>, r: &Row, at: usize) -> StoreResult<MessageView> {
    let mid: uuid::Uuid = get(r, at)?;
    let place = |field| crypt::aad("message", mid, field);
    let meta: Option<serde_json::Value> = get(r, at + 11)?;
    Ok(MessageView {
        id: mid.into(),
        conversation_id: id(r, at + 1)?,
        inbox_id: id(r, at + 2)?,
        direction: parsed(r, at + 3, Direction::parse, "direction")?,
        sender_kind: parsed(r, at + 4, SenderKind::parse, "sender")?,
        sender_id: get(r, at + 5)?,
        body: crypt::open_field(keys, &place("body"), get(r, at + 6)?)?.unwrap_or_default(),
        external_id: get(r, at + 7)?,
        status: parsed(r, at + 8, DeliveryStatus::parse, "delivery status")?,
        error: crypt::open_field(keys, &place("error"), get(r, at + 9)?)?,
        created_at: ts(r, at + 10)?,
        meta: meta
            .map(|m| crypt::open_json(keys, &place("meta"), m))
            .transpose()
            .map_err(|e| StoreError::Other(anyhow::anyhow!("message {mid}: {e}")))?,
    })
}

pub(crate) const EVENT_COLS: &str =
    "e.seq, e.workspace_id, e.inbox_id, e.conversation_id, e.kind, e.at, e.data";

pub(crate) fn event(keys: Option<&Keyring>, r: &Row) -> StoreResult<Published> {
    let (ws, kind, at): (uuid::Uuid, String, i64) = (get(r, 1)?, get(r, 4)?, get(r, 5)?);
    let data = crypt::open_field(keys, &crypt::event_aad(ws, &kind, at), get(r, 6)?)?;
    Ok(Published {
        seq: get(r, 0)?,
        workspace_id: ws.into(),
        inbox_id: id(r, 2)?,
        conversation_id: opt_id(r, 3)?,
        kind,
        at: Timestamp(at),
        data: data.unwrap_or_default(),
    })
}

/// An identity's columns; `identity` opens the address (kept aside, sealed, when encrypted).
pub(crate) const IDENTITY_COLS: &str =
    "i.id, i.kind, i.inbox_id, COALESCE(i.external_sealed, i.external_id), i.created_at";

/// Reads an identity from `IDENTITY_COLS` starting at column `at`.
pub(crate) fn identity(keys: Option<&Keyring>, r: &Row, at: usize) -> StoreResult<IdentityView> {
    let iid: Uuid = get(r, at)?;
    let external = crypt::open_field(
        keys,
        &crypt::aad("identity", iid, "external"),
        get(r, at + 3)?,
    )?;
    Ok(IdentityView {
        id: iid.into(),
        kind: parsed(r, at + 1, IdentityKind::parse, "identity kind")?,
        inbox_id: opt_id(r, at + 2)?,
        external_id: external.unwrap_or_default(),
        created_at: ts(r, at + 4)?,
    })
}

/// Loads a contact with its identities.
pub(crate) async fn load_contact(tx: &Tx<'_>, ws: Uuid, id: Uuid) -> StoreResult<ContactView> {
    let stmt = tx
        .prepare_cached(
            "SELECT id, name, COALESCE(email_sealed, email), COALESCE(phone_sealed, phone), custom_fields, \
             created_at, updated_at, erased_at, blocked_at FROM contact \
             WHERE workspace_id = $1 AND id = $2",
        )
        .await
        .map_err(pg_err)?;
    let row = tx
        .query_opt(&stmt, &[&ws, &id])
        .await
        .map_err(pg_err)?
        .ok_or(StoreError::NotFound)?;
    let keys = tx.keys();
    let place = |field| crypt::aad("contact", id, field);
    let fields = crypt::open_field(keys, &place("fields"), get(&row, 4)?)?.unwrap_or_default();
    let mut contact = ContactView {
        id: self::id(&row, 0)?,
        name: crypt::open_field(keys, &place("name"), get(&row, 1)?)?,
        email: crypt::open_field(keys, &place("email"), get(&row, 2)?)?,
        phone: crypt::open_field(keys, &place("phone"), get(&row, 3)?)?,
        custom_fields: serde_json::from_str(&fields).unwrap_or_default(),
        identities: Vec::new(),
        created_at: ts(&row, 5)?,
        updated_at: ts(&row, 6)?,
        erased_at: get::<Option<i64>>(&row, 7)?.map(parley_core::Timestamp),
        blocked_at: get::<Option<i64>>(&row, 8)?.map(parley_core::Timestamp),
    };
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {IDENTITY_COLS} FROM contact_identity i WHERE i.contact_id = $1 ORDER BY i.created_at, i.id"
        ))
        .await
        .map_err(pg_err)?;
    contact.identities = tx
        .query(&stmt, &[&id])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| identity(keys, r, 0))
        .collect::<StoreResult<_>>()?;
    Ok(contact)
}

/// The inbox ids a user is a member of.
pub(crate) async fn member_inboxes(tx: &Tx<'_>, user: Uuid) -> StoreResult<Vec<InboxId>> {
    let stmt = tx
        .prepare_cached("SELECT inbox_id FROM inbox_member WHERE user_id = $1 ORDER BY inbox_id")
        .await
        .map_err(pg_err)?;
    tx.query(&stmt, &[&user])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| id(r, 0))
        .collect()
}

/// The contact scope as two query parameters: whether it sees every contact, and the inboxes a
/// contact must have a conversation in otherwise. Queries filter with
/// `($n OR EXISTS (SELECT 1 FROM conversation cv WHERE cv.contact_id = <col> AND cv.inbox_id = ANY($n+1)))`.
pub(crate) fn contact_params(scope: &Scope) -> (bool, Vec<Uuid>) {
    (
        scope.sees_all_contacts(),
        scope.inboxes.iter().map(InboxId::as_uuid).collect(),
    )
}

/// A contact the scope sees, else `NotFound`.
pub(crate) async fn visible_contact(
    tx: &Tx<'_>,
    scope: &Scope,
    id: parley_core::ContactId,
) -> StoreResult<ContactView> {
    let contact = load_contact(tx, scope.workspace.as_uuid(), id.as_uuid()).await?;
    if !scope.sees_all_contacts() {
        let (_, inboxes) = contact_params(scope);
        let seen = crate::db::query_opt(
            tx,
            "SELECT 1 FROM conversation WHERE contact_id = $1 AND inbox_id = ANY($2) LIMIT 1",
            &[&id.as_uuid(), &inboxes],
        )
        .await?;
        if seen.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    Ok(contact)
}

/// The scope as two query parameters: whether it sees every inbox, and which inboxes otherwise.
/// Queries filter with `($n OR <col> = ANY($n+1))`, so one prepared statement serves every scope.
pub(crate) fn scope_params(scope: &Scope) -> (bool, Vec<Uuid>) {
    (
        scope.all_inboxes,
        scope.inboxes.iter().map(InboxId::as_uuid).collect(),
    )
}
