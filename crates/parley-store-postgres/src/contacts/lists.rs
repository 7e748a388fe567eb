//! Contact lists: named groups of contacts, and who is on them.

use async_trait::async_trait;
use parley_core::{ContactId, ListId, Timestamp, WorkspaceId};
use parley_store::*;
use tokio_postgres::Row;

use crate::accounts::new_id;
use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{get, id, is_unique_violation, load_contact, pg_err, ts};
use crate::PostgresStore;

#[async_trait]
impl Lists for PostgresStore {
    async fn create_list(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let l: ListId = new_id().into();
                    let stmt = tx
                        .prepare_cached(sql::contacts::INSERT_LIST)
                        .await
                        .map_err(pg_err)?;
                    tx.execute(&stmt, &[&l.as_uuid(), &ws.as_uuid(), &name, &at.0])
                        .await
                        .map_err(name_conflict)?;
                    load_list(tx, ws, l).await
                })
            })
            .await
    }

    async fn list_lists(&self, ws: WorkspaceId) -> StoreResult<Vec<ListView>> {
        self.db
            .run(move |tx| Box::pin(async move {
    query(
        tx,
        &format!("SELECT {LIST_COLS} FROM contact_list l WHERE l.workspace_id = $1 ORDER BY l.name COLLATE \"C\", l.id"),
        &[&ws.as_uuid()],
    )
    .await?
    .iter()
    .map(list_row)
    .collect()
}))
            .await
    }

    async fn rename_list(&self, ws: WorkspaceId, id: ListId, name: &str) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    load_list(tx, ws, id).await?;
                    let stmt = tx
                        .prepare_cached(sql::contacts::SET_LIST_NAME)
                        .await
                        .map_err(pg_err)?;
                    tx.execute(&stmt, &[&name, &id.as_uuid()])
                        .await
                        .map_err(name_conflict)?;
                    load_list(tx, ws, id).await
                })
            })
            .await
    }

    async fn delete_list(&self, ws: WorkspaceId, id: ListId) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    load_list(tx, ws, id).await?;
                    exec(tx, sql::contacts::DELETE_LIST, &[&id.as_uuid()]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn set_list_member(
        &self,
        ws: WorkspaceId,
        list: ListId,
        contact: ContactId,
        member: bool,
        at: Timestamp,
    ) -> StoreResult<ListView> {
        self.db
            .run(move |tx| Box::pin(async move {
    load_list(tx, ws, list).await?;
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
            &[&list.as_uuid(), &contact.as_uuid(), &at.0],
        )
        .await?;
    } else {
        exec(
            tx,
            sql::contacts::DELETE_LIST_MEMBER,
            &[&list.as_uuid(), &contact.as_uuid()],
        )
        .await?;
    }
    load_list(tx, ws, list).await
}))
            .await
    }

    async fn contact_lists(&self, scope: &Scope, contact: ContactId) -> StoreResult<Vec<ListView>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let ws = scope.workspace;
                    crate::rows::visible_contact(tx, &scope, contact).await?;
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
                })
            })
            .await
    }

    async fn list_members(
        &self,
        scope: &Scope,
        list: ListId,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Page<ContactView>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move {
    let ws = scope.workspace;
    let (all, inboxes) = crate::rows::contact_params(&scope);
    load_list(tx, ws, list).await?;
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
            &list.as_uuid(),
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
}))
            .await
    }
}

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

async fn load_list(tx: &Tx<'_>, ws: WorkspaceId, l: ListId) -> StoreResult<ListView> {
    let row = query_opt(
        tx,
        &format!("SELECT {LIST_COLS} FROM contact_list l WHERE l.workspace_id = $1 AND l.id = $2"),
        &[&ws.as_uuid(), &l.as_uuid()],
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    list_row(&row)
}
