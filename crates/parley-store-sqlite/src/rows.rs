//! Reading rows into the store's views, and the column lists that go with them.

use parley_core::contact::IdentityKind;
use parley_core::conversation::{Priority, Status};
use parley_core::message::{DeliveryStatus, Direction, SenderKind};
use parley_core::role::Role;
use parley_core::Timestamp;
use parley_store::*;
use rusqlite::types::{FromSql, FromSqlError, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::db::sql_err;

/// A UUID read from its text form.
pub(crate) struct U(pub uuid::Uuid);

impl FromSql for U {
    fn column_result(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        let s = v.as_str()?;
        uuid::Uuid::parse_str(s)
            .map(U)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

pub(crate) fn uid<T: From<uuid::Uuid>>(r: &Row, i: usize) -> rusqlite::Result<T> {
    Ok(T::from(r.get::<_, U>(i)?.0))
}

pub(crate) fn opt_uid<T: From<uuid::Uuid>>(r: &Row, i: usize) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = r.get(i)?;
    Ok(match s.filter(|s| !s.is_empty()) {
        Some(s) => Some(T::from(uuid::Uuid::parse_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })?)),
        None => None,
    })
}

pub(crate) fn ts(r: &Row, i: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp(r.get(i)?))
}

pub(crate) fn opt_ts(r: &Row, i: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp))
}

fn bad(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        format!("unexpected {what}").into(),
    )
}

pub(crate) fn json_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(|_| bad(i, "JSON"))
}

pub(crate) fn role(r: &Row, i: usize) -> rusqlite::Result<Role> {
    Role::parse(&r.get::<_, String>(i)?).ok_or_else(|| bad(i, "role"))
}

pub(crate) const USER_COLS: &str = "u.id, u.email, u.name, m.role, u.created_at, u.bot";

pub(crate) fn user(r: &Row) -> rusqlite::Result<UserView> {
    Ok(UserView {
        id: uid(r, 0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: role(r, 3)?,
        created_at: ts(r, 4)?,
        bot: r.get(5)?,
    })
}

/// An inbox's columns, its credentials opened (`crypt::seal_inbox` sealed them).
pub(crate) const INBOX_COLS: &str = "id, workspace_id, name, kind, \
    parley_open(settings, 'inbox:' || id || ':settings'), parley_open(secret, 'inbox:' || id || ':secret'), created_at";

pub(crate) fn inbox(r: &Row) -> rusqlite::Result<InboxRow> {
    Ok(InboxRow {
        id: uid(r, 0)?,
        workspace_id: uid(r, 1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        settings: json_col(r, 4)?,
        secret: r.get(5)?,
        created_at: ts(r, 6)?,
    })
}

pub(crate) const CONVERSATION_COLS: &str = "c.id, c.inbox_id, c.contact_id, parley_open(k.name, 'contact:' || k.id || ':name'), c.identity_id, c.status, c.snoozed_until, \
    c.assignee_id, c.team_id, c.priority, c.labels, c.waiting_since, c.last_activity_at, parley_open(c.last_message, 'conversation:' || c.id || ':preview'), c.created_at, c.first_reply_at";

/// FROM clause that goes with `CONVERSATION_COLS`.
pub(crate) const CONVERSATION_FROM: &str = "conversation c JOIN contact k ON k.id = c.contact_id";

pub(crate) fn conversation(r: &Row) -> rusqlite::Result<ConversationView> {
    Ok(ConversationView {
        id: uid(r, 0)?,
        inbox_id: uid(r, 1)?,
        contact_id: uid(r, 2)?,
        contact_name: r.get(3)?,
        identity_id: uid(r, 4)?,
        status: Status::parse(&r.get::<_, String>(5)?).ok_or_else(|| bad(5, "status"))?,
        snoozed_until: opt_ts(r, 6)?,
        assignee_id: opt_uid(r, 7)?,
        team_id: opt_uid(r, 8)?,
        priority: Priority::from_rank(r.get(9)?),
        labels: json_col(r, 10)?,
        waiting_since: opt_ts(r, 11)?,
        last_activity_at: ts(r, 12)?,
        last_message: r.get(13)?,
        created_at: ts(r, 14)?,
        first_reply_at: opt_ts(r, 15)?,
    })
}

/// A message's columns, its text opened (sealed under `message:{id}:{field}`).
pub(crate) const MESSAGE_COLS: &str =
    "id, conversation_id, inbox_id, direction, sender_kind, sender_id, parley_open(body, 'message:' || id || ':body'), \
     external_id, status, parley_open(error, 'message:' || id || ':error'), created_at, parley_open(meta, 'message:' || id || ':meta')";

pub(crate) fn message(r: &Row) -> rusqlite::Result<MessageView> {
    Ok(MessageView {
        id: uid(r, 0)?,
        conversation_id: uid(r, 1)?,
        inbox_id: uid(r, 2)?,
        direction: Direction::parse(&r.get::<_, String>(3)?).ok_or_else(|| bad(3, "direction"))?,
        sender_kind: SenderKind::parse(&r.get::<_, String>(4)?).ok_or_else(|| bad(4, "sender"))?,
        sender_id: opt_uid(r, 5)?,
        body: r.get(6)?,
        external_id: r.get(7)?,
        status: DeliveryStatus::parse(&r.get::<_, String>(8)?).ok_or_else(|| bad(8, "status"))?,
        error: r.get(9)?,
        created_at: ts(r, 10)?,
        meta: r
            .get::<_, Option<String>>(11)?
            .and_then(|m| serde_json::from_str(&m).ok()),
    })
}

/// An event's columns, its data opened (sealed under `EVENT_PLACE`).
pub(crate) const EVENT_COLS: &str =
    "e.seq, e.workspace_id, e.inbox_id, e.conversation_id, e.kind, e.at, \
     parley_open(e.data, 'event:' || e.workspace_id || ':' || e.kind || ':' || e.at)";

/// Where an event's data is sealed, in a statement on `event` without an alias.
pub(crate) const EVENT_PLACE: &str = "'event:' || workspace_id || ':' || kind || ':' || at";

pub(crate) fn event(r: &Row) -> rusqlite::Result<Published> {
    Ok(Published {
        seq: r.get(0)?,
        workspace_id: uid(r, 1)?,
        inbox_id: uid(r, 2)?,
        conversation_id: opt_uid(r, 3)?,
        kind: r.get(4)?,
        at: ts(r, 5)?,
        data: r.get(6)?,
    })
}

pub(crate) fn identity(r: &Row) -> rusqlite::Result<IdentityView> {
    Ok(IdentityView {
        id: uid(r, 0)?,
        kind: IdentityKind::parse(&r.get::<_, String>(1)?)
            .ok_or_else(|| bad(1, "identity kind"))?,
        inbox_id: opt_uid(r, 2)?,
        external_id: r.get(3)?,
        created_at: ts(r, 4)?,
    })
}

/// An identity's columns, its address opened (kept aside, sealed, when encrypted at rest).
pub(crate) const IDENTITY_COLS: &str = "id, kind, inbox_id, \
    COALESCE(parley_open(external_sealed, 'identity:' || id || ':external'), external_id), created_at";

/// A contact's name, email and phone, opened.
pub(crate) const CONTACT_NAME: &str = "parley_open(k.name, 'contact:' || k.id || ':name')";
pub(crate) const CONTACT_EMAIL: &str =
    "COALESCE(parley_open(k.email_sealed, 'contact:' || k.id || ':email'), k.email)";
pub(crate) const CONTACT_PHONE: &str =
    "COALESCE(parley_open(k.phone_sealed, 'contact:' || k.id || ':phone'), k.phone)";

/// Loads a contact with its identities.
pub(crate) fn load_contact(c: &Connection, ws: &str, id: &str) -> StoreResult<ContactView> {
    let mut contact = c
        .prepare_cached(
            &format!("SELECT k.id, {CONTACT_NAME}, {CONTACT_EMAIL}, {CONTACT_PHONE}, \
             parley_open(k.custom_fields, 'contact:' || k.id || ':fields'), k.created_at, k.updated_at, k.erased_at, k.blocked_at \
             FROM contact k WHERE k.workspace_id = ?1 AND k.id = ?2"),
        )
        .map_err(sql_err)?
        .query_row([ws, id], |r| {
            Ok(ContactView {
                id: uid(r, 0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                phone: r.get(3)?,
                custom_fields: json_col(r, 4)?,
                identities: Vec::new(),
                created_at: ts(r, 5)?,
                updated_at: ts(r, 6)?,
                erased_at: r.get::<_, Option<i64>>(7)?.map(parley_core::Timestamp),
                blocked_at: r.get::<_, Option<i64>>(8)?.map(parley_core::Timestamp),
            })
        })
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)?;
    let mut stmt = c
        .prepare_cached(&format!("SELECT {IDENTITY_COLS} FROM contact_identity WHERE contact_id = ?1 ORDER BY created_at, id"))
        .map_err(sql_err)?;
    contact.identities = stmt
        .query_map([id], identity)
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    Ok(contact)
}

/// The inbox ids a user is a member of.
pub(crate) fn member_inboxes(c: &Connection, user: &str) -> StoreResult<Vec<parley_core::InboxId>> {
    let mut stmt = c
        .prepare_cached("SELECT inbox_id FROM inbox_member WHERE user_id = ?1")
        .map_err(sql_err)?;
    let rows = stmt.query_map([user], |r| uid(r, 0)).map_err(sql_err)?;
    rows.collect::<Result<_, _>>().map_err(sql_err)
}

/// `AND <col> IN (...)` restricting to the scope's inboxes, or nothing for a scope that sees all.
/// Ids are UUIDs this code formatted, so inlining them is safe.
pub(crate) fn scope_filter(scope: &Scope, col: &str) -> String {
    if scope.all_inboxes {
        return String::new();
    }
    let ids: Vec<String> = scope.inboxes.iter().map(|i| format!("'{i}'")).collect();
    format!(" AND {col} IN ({})", ids.join(","))
}

/// `AND EXISTS (...)` restricting contacts (`col` is their id) to those the scope sees: with a
/// conversation in one of its inboxes, or nothing for a scope that sees every contact.
pub(crate) fn contact_filter(scope: &Scope, col: &str) -> String {
    if scope.sees_all_contacts() {
        return String::new();
    }
    format!(
        " AND EXISTS (SELECT 1 FROM conversation cv WHERE cv.contact_id = {col}{})",
        scope_filter(scope, "cv.inbox_id")
    )
}

/// A contact the scope sees, else `NotFound`.
pub(crate) fn visible_contact(
    c: &Connection,
    scope: &Scope,
    id: parley_core::ContactId,
) -> StoreResult<ContactView> {
    let contact = load_contact(c, &scope.workspace.to_string(), &id.to_string())?;
    if !scope.sees_all_contacts() {
        let sql = format!("SELECT 1 WHERE 1{}", contact_filter(scope, "?1"));
        let seen: Option<i64> = c
            .prepare_cached(&sql)
            .map_err(sql_err)?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()
            .map_err(sql_err)?;
        if seen.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    Ok(contact)
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}
