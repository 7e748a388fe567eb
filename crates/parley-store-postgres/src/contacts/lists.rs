//! Contact lists: named groups of contacts, and who is on them.

use parley_core::{ContactId, ListId, Timestamp, WorkspaceId};
use parley_store::*;
use tokio_postgres::Row;

use crate::accounts::new_id;
use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{get, id, is_unique_violation, load_contact, pg_err, ts};

fn name_conflict(e: tokio_postgres::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict("a list with this name exists".into())
    } else {
        pg_err(e)
    }
}

const LIST_COLS: &str = "l.id, l.name, l.created_at, (SELECT count(*) FROM contact_list_member m WHERE m.list_id = l.id)";

fn list_row(r: &Row) -> StoreResult<ListView> {
    Ok(ListView {
        id: id(r, 0)?,
        name: get(r, 1)?,
        created_at: ts(r, 2)?,
        size: get::<i64>(r, 3)?.max(0) as u64,
    })
}

pub(crate) async fn list(tx: &Tx<'_>, ws: WorkspaceId, l: ListId) -> StoreResult<ListView> {
    let row = query_opt(
        tx,
        &format!("SELECT {LIST_COLS} FROM contact_list l WHERE l.workspace_id = $1 AND l.id = $2"),
        &[&ws.as_uuid(), &l.as_uuid()],
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    list_row(&row)
}

pub(crate) async fn create(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    name: &str,
    at: Timestamp,
) -> StoreResult<ListView> {
    let l: ListId = new_id().into();
    let stmt = tx
        .prepare_cached(sql::contacts::INSERT_LIST)
        .await
        .map_err(pg_err)?;
    tx.execute(&stmt, &[&l.as_uuid(), &ws.as_uuid(), &name, &at.0])
        .await
        .map_err(name_conflict)?;
    list(tx, ws, l).await
}

pub(crate) async fn all(tx: &Tx<'_>, ws: WorkspaceId) -> StoreResult<Vec<ListView>> {
    query(
        tx,
        &format!("SELECT {LIST_COLS} FROM contact_list l WHERE l.workspace_id = $1 ORDER BY l.name COLLATE \"C\", l.id"),
        &[&ws.as_uuid()],
    )
    .await?
    .iter()
    .map(list_row)
    .collect()
}

pub(crate) async fn rename(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    l: ListId,
    name: &str,
) -> StoreResult<ListView> {
    list(tx, ws, l).await?;
    let stmt = tx
        .prepare_cached(sql::contacts::SET_LIST_NAME)
        .await
        .map_err(pg_err)?;
    tx.execute(&stmt, &[&name, &l.as_uuid()])
        .await
        .map_err(name_conflict)?;
    list(tx, ws, l).await
}

pub(crate) async fn delete(tx: &Tx<'_>, ws: WorkspaceId, l: ListId) -> StoreResult<()> {
    list(tx, ws, l).await?;
    exec(tx, sql::contacts::DELETE_LIST, &[&l.as_uuid()]).await?;
    Ok(())
}

pub(crate) async fn set_member(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    l: ListId,
    contact: ContactId,
    member: bool,
    at: Timestamp,
) -> StoreResult<ListView> {
    list(tx, ws, l).await?;
    // Shares the lock an erasure takes, so a contact being erased is not put on a list after it.
    exec(
        tx,
        "SELECT 1 FROM contact WHERE id = $1 AND workspace_id = $2 FOR SHARE",
        &[&contact.as_uuid(), &ws.as_uuid()],
    )
    .await?;
    let found = load_contact(tx, ws.as_uuid(), contact.as_uuid())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => StoreError::Invalid {
                field: "contact_id",
                reason: "no such contact in this workspace".into(),
            },
            e => e,
        })?;
    if member {
        found.live()?;
        exec(
            tx,
            "INSERT INTO contact_list_member (list_id, contact_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&l.as_uuid(), &contact.as_uuid(), &at.0],
        )
        .await?;
    } else {
        exec(
            tx,
            sql::contacts::DELETE_LIST_MEMBER,
            &[&l.as_uuid(), &contact.as_uuid()],
        )
        .await?;
    }
    list(tx, ws, l).await
}

pub(crate) async fn of_contact(
    tx: &Tx<'_>,
    scope: &Scope,
    contact: ContactId,
) -> StoreResult<Vec<ListView>> {
    let ws = scope.workspace;
    crate::rows::visible_contact(tx, scope, contact).await?;
    query(
        tx,
        &format!(
            "SELECT {LIST_COLS} FROM contact_list l JOIN contact_list_member x ON x.list_id = l.id \
             WHERE l.workspace_id = $1 AND x.contact_id = $2 ORDER BY l.name COLLATE \"C\", l.id"
        ),
        &[&ws.as_uuid(), &contact.as_uuid()],
    )
    .await?
    .iter()
    .map(list_row)
    .collect()
}

pub(crate) async fn members(
    tx: &Tx<'_>,
    scope: &Scope,
    l: ListId,
    cursor: Option<Cursor>,
    limit: u32,
) -> StoreResult<Page<ContactView>> {
    let ws = scope.workspace;
    let (all, inboxes) = crate::rows::contact_params(scope);
    list(tx, ws, l).await?;
    let (before_at, before_id) = match &cursor {
        Some(cur) => (cur.keys.first().copied().unwrap_or(i64::MAX), Some(cur.id)),
        None => (i64::MAX, None),
    };
    let rows: Vec<(ContactId, i64)> = query(
        tx,
        "SELECT contact_id, added_at FROM contact_list_member m WHERE list_id = $1 \
         AND ($3::uuid IS NULL OR (added_at, contact_id) < ($2, $3)) \
         AND ($5 OR EXISTS (SELECT 1 FROM conversation cv WHERE cv.contact_id = m.contact_id AND cv.inbox_id = ANY($6))) \
         ORDER BY added_at DESC, contact_id DESC LIMIT $4",
        &[
            &l.as_uuid(),
            &before_at,
            &before_id,
            &(i64::from(limit) + 1),
            &all,
            &inboxes,
        ],
    )
    .await?
    .iter()
    .map(|r| Ok((id(r, 0)?, get(r, 1)?)))
    .collect::<StoreResult<_>>()?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = more
        .then(|| rows.last())
        .flatten()
        .map(|(contact, at)| Cursor {
            keys: vec![*at],
            text: None,
            id: contact.as_uuid(),
        });
    let mut items = Vec::with_capacity(rows.len());
    for (contact, _) in rows {
        items.push(load_contact(tx, ws.as_uuid(), contact.as_uuid()).await?);
    }
    Ok(Page { items, next_cursor })
}
