//! Contact lists: named groups of contacts, and who is on them.

use async_trait::async_trait;
use parley_core::{ContactId, ListId, Timestamp, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::accounts::new_id;
use crate::db::sql_err;
use crate::rows::{is_unique_violation, load_contact, ts, uid};
use crate::SqliteStore;

#[async_trait]
impl Lists for SqliteStore {
    async fn create_list(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| {
                let id: ListId = new_id().into();
                c.execute(
                    sql::contacts::INSERT_LIST,
                    params![id.to_string(), ws.to_string(), name, at.0],
                )
                .map_err(name_conflict)?;
                load_list(c, ws, id)
            })
            .await
    }

    async fn list_lists(&self, ws: WorkspaceId) -> StoreResult<Vec<ListView>> {
        self.db
            .read(move |c| {
                c.prepare_cached(&format!(
        "SELECT {LIST_COLS} FROM contact_list l WHERE l.workspace_id = ?1 ORDER BY l.name, l.id"
    ))
                .map_err(sql_err)?
                .query_map([ws.to_string()], list_row)
                .map_err(sql_err)?
                .collect::<Result<_, _>>()
                .map_err(sql_err)
            })
            .await
    }

    async fn rename_list(&self, ws: WorkspaceId, id: ListId, name: &str) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| {
                load_list(c, ws, id)?;
                c.execute(sql::contacts::SET_LIST_NAME, params![name, id.to_string()])
                    .map_err(name_conflict)?;
                load_list(c, ws, id)
            })
            .await
    }

    async fn delete_list(&self, ws: WorkspaceId, id: ListId) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                load_list(c, ws, id)?;
                c.execute(sql::contacts::DELETE_LIST, [id.to_string()])
                    .map_err(sql_err)?;
                Ok(())
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
            .write(move |c, _| {
    load_list(c, ws, list)?;
    let found = load_contact(c, &ws.to_string(), &contact.to_string()).map_err(|e| match e {
        StoreError::NotFound => StoreError::Invalid {
            field: "contact_id",
            reason: "no such contact in this workspace".into(),
        },
        e => e,
    })?;
    if member {
        found.live()?;
        c.execute(
            "INSERT OR IGNORE INTO contact_list_member (list_id, contact_id, added_at) VALUES (?1, ?2, ?3)",
            params![list.to_string(), contact.to_string(), at.0],
        )
    } else {
        c.execute(
            sql::contacts::DELETE_LIST_MEMBER,
            [list.to_string(), contact.to_string()],
        )
    }
    .map_err(sql_err)?;
    load_list(c, ws, list)
})
            .await
    }

    async fn contact_lists(&self, scope: &Scope, contact: ContactId) -> StoreResult<Vec<ListView>> {
        let scope = scope.clone();
        self.db
            .read(move |c| {
                let ws = scope.workspace;
                crate::rows::visible_contact(c, &scope, contact)?;
                c.prepare_cached(&format!(
        "SELECT {LIST_COLS} FROM contact_list l JOIN contact_list_member x ON x.list_id = l.id \
         WHERE l.workspace_id = ?1 AND x.contact_id = ?2 ORDER BY l.name, l.id"
    ))
                .map_err(sql_err)?
                .query_map([ws.to_string(), contact.to_string()], list_row)
                .map_err(sql_err)?
                .collect::<Result<_, _>>()
                .map_err(sql_err)
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
            .read(move |c| {
                let ws = scope.workspace;
                load_list(c, ws, list)?;
                let (before_at, before_id) = match &cursor {
                    Some(cur) => (
                        cur.keys.first().copied().unwrap_or(i64::MAX),
                        cur.id.to_string(),
                    ),
                    None => (i64::MAX, String::new()),
                };
                let rows: Vec<(ContactId, i64)> = c
                    .prepare_cached(&format!(
                        "SELECT contact_id, added_at FROM contact_list_member WHERE list_id = ?1 \
             AND (?3 = '' OR added_at < ?2 OR (added_at = ?2 AND contact_id < ?3)){} \
             ORDER BY added_at DESC, contact_id DESC LIMIT ?4",
                        crate::rows::contact_filter(&scope, "contact_list_member.contact_id")
                    ))
                    .map_err(sql_err)?
                    .query_map(
                        params![list.to_string(), before_at, before_id, limit + 1],
                        |r| Ok((uid(r, 0)?, r.get(1)?)),
                    )
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)?;
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
                let items = rows
                    .iter()
                    .map(|(contact, _)| load_contact(c, &ws.to_string(), &contact.to_string()))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(Page { items, next_cursor })
            })
            .await
    }
}

fn name_conflict(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict("a list with this name exists".into())
    } else {
        sql_err(e)
    }
}

const LIST_COLS: &str = "l.id, l.name, l.created_at, (SELECT count(*) FROM contact_list_member m WHERE m.list_id = l.id)";

fn list_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListView> {
    Ok(ListView {
        id: uid(r, 0)?,
        name: r.get(1)?,
        created_at: ts(r, 2)?,
        size: r.get::<_, i64>(3)?.max(0) as u64,
    })
}

fn load_list(c: &Connection, ws: WorkspaceId, id: ListId) -> StoreResult<ListView> {
    c.prepare_cached(&format!(
        "SELECT {LIST_COLS} FROM contact_list l WHERE l.workspace_id = ?1 AND l.id = ?2"
    ))
    .map_err(sql_err)?
    .query_row([ws.to_string(), id.to_string()], list_row)
    .optional()
    .map_err(sql_err)?
    .ok_or(StoreError::NotFound)
}
