//! Templates: saved texts with merge fields, by shortcut, with how often each is used.

use async_trait::async_trait;
use parley_core::{TemplateId, Timestamp, WorkspaceId};
use parley_store::plan::templates::{channels_json, replace, sort};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::accounts::new_id;
use crate::db::sql_err;
use crate::rows::{is_unique_violation, json_col, opt_ts, ts, uid};
use crate::SqliteStore;

#[async_trait]
impl Templates for SqliteStore {
    async fn create_template(
        &self,
        ws: WorkspaceId,
        t: &NewTemplate,
        at: Timestamp,
    ) -> StoreResult<TemplateRow> {
        let t = t.clone();
        self.db
            .write(move |c, _| {
                let id = insert(c, ws, &t, at)?;
                load(c, ws, id)
            })
            .await
    }

    async fn list_templates(&self, ws: WorkspaceId) -> StoreResult<Vec<TemplateRow>> {
        self.db.read(move |c| all(c, ws)).await
    }

    async fn template(&self, ws: WorkspaceId, id: TemplateId) -> StoreResult<TemplateRow> {
        self.db.read(move |c| load(c, ws, id)).await
    }

    async fn update_template(
        &self,
        ws: WorkspaceId,
        id: TemplateId,
        t: &NewTemplate,
        at: Timestamp,
    ) -> StoreResult<TemplateRow> {
        let t = t.clone();
        self.db
            .write(move |c, _| {
                load(c, ws, id)?;
                update(c, ws, id, &t, at)?;
                load(c, ws, id)
            })
            .await
    }

    async fn delete_template(&self, ws: WorkspaceId, id: TemplateId) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                let n = c
                    .execute(
                        sql::templates::DELETE,
                        params![id.to_string(), ws.to_string()],
                    )
                    .map_err(sql_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn count_template_use(
        &self,
        ws: WorkspaceId,
        id: TemplateId,
        at: Timestamp,
    ) -> StoreResult<TemplateRow> {
        self.db
            .write(move |c, _| {
                c.execute(
                    sql::templates::COUNT_USE,
                    params![at.0, id.to_string(), ws.to_string()],
                )
                .map_err(sql_err)?;
                load(c, ws, id)
            })
            .await
    }

    async fn replace_templates(
        &self,
        ws: WorkspaceId,
        items: &[NewTemplate],
        at: Timestamp,
    ) -> StoreResult<Vec<TemplateRow>> {
        let items = items.to_vec();
        self.db
            .write(move |c, _| {
                let plan = replace(&all(c, ws)?, &items);
                for id in plan.delete {
                    c.execute(
                        sql::templates::DELETE,
                        params![id.to_string(), ws.to_string()],
                    )
                    .map_err(sql_err)?;
                }
                for (id, t) in plan.update {
                    update(c, ws, id, &t, at)?;
                }
                for t in plan.insert {
                    insert(c, ws, &t, at)?;
                }
                all(c, ws)
            })
            .await
    }
}

fn insert(
    c: &Connection,
    ws: WorkspaceId,
    t: &NewTemplate,
    at: Timestamp,
) -> StoreResult<TemplateId> {
    let id: TemplateId = new_id().into();
    c.execute(
        sql::templates::INSERT,
        params![
            id.to_string(),
            ws.to_string(),
            t.name,
            t.shortcut,
            t.body,
            channels_json(&t.channels),
            at.0
        ],
    )
    .map_err(shortcut_conflict)?;
    Ok(id)
}

fn update(
    c: &Connection,
    ws: WorkspaceId,
    id: TemplateId,
    t: &NewTemplate,
    at: Timestamp,
) -> StoreResult<()> {
    c.execute(
        sql::templates::UPDATE,
        params![
            t.name,
            t.shortcut,
            t.body,
            channels_json(&t.channels),
            at.0,
            id.to_string(),
            ws.to_string()
        ],
    )
    .map_err(shortcut_conflict)?;
    Ok(())
}

fn all(c: &Connection, ws: WorkspaceId) -> StoreResult<Vec<TemplateRow>> {
    let mut rows: Vec<TemplateRow> = c
        .prepare_cached(sql::templates::ALL)
        .map_err(sql_err)?
        .query_map([ws.to_string()], row)
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    sort(&mut rows);
    Ok(rows)
}

fn load(c: &Connection, ws: WorkspaceId, id: TemplateId) -> StoreResult<TemplateRow> {
    c.prepare_cached(sql::templates::ONE)
        .map_err(sql_err)?
        .query_row(params![id.to_string(), ws.to_string()], row)
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)
}

fn shortcut_conflict(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict("a template with this shortcut exists".into())
    } else {
        sql_err(e)
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TemplateRow> {
    Ok(TemplateRow {
        id: uid(r, 0)?,
        workspace_id: uid(r, 1)?,
        name: r.get(2)?,
        shortcut: r.get(3)?,
        body: r.get(4)?,
        channels: json_col(r, 5)?,
        uses: r.get::<_, i64>(6)?.max(0) as u64,
        last_used_at: opt_ts(r, 7)?,
        created_at: ts(r, 8)?,
        updated_at: ts(r, 9)?,
    })
}
