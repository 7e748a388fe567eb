//! Templates: saved texts with merge fields, by shortcut, with how often each is used.

use async_trait::async_trait;
use parley_core::{TemplateId, Timestamp, WorkspaceId};
use parley_store::plan::templates::{channels_json, replace, sort};
use parley_store::*;
use tokio_postgres::Row;

use crate::accounts::new_id;
use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{get, id, is_unique_violation, json, opt_ts, pg_err, ts};
use crate::PostgresStore;

#[async_trait]
impl Templates for PostgresStore {
    async fn create_template(
        &self,
        ws: WorkspaceId,
        t: &NewTemplate,
        at: Timestamp,
    ) -> StoreResult<TemplateRow> {
        let t = t.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let id = insert(tx, ws, &t, at).await?;
                    load(tx, ws, id).await
                })
            })
            .await
    }

    async fn list_templates(&self, ws: WorkspaceId) -> StoreResult<Vec<TemplateRow>> {
        self.db
            .run(move |tx| Box::pin(async move { all(tx, ws).await }))
            .await
    }

    async fn template(&self, ws: WorkspaceId, id: TemplateId) -> StoreResult<TemplateRow> {
        self.db
            .run(move |tx| Box::pin(async move { load(tx, ws, id).await }))
            .await
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
            .run(move |tx| {
                Box::pin(async move {
                    load(tx, ws, id).await?;
                    update(tx, ws, id, &t, at).await?;
                    load(tx, ws, id).await
                })
            })
            .await
    }

    async fn delete_template(&self, ws: WorkspaceId, id: TemplateId) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let n =
                        exec(tx, sql::templates::DELETE, &[&id.as_uuid(), &ws.as_uuid()]).await?;
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    exec(
                        tx,
                        sql::templates::COUNT_USE,
                        &[&at.0, &id.as_uuid(), &ws.as_uuid()],
                    )
                    .await?;
                    load(tx, ws, id).await
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    let plan = replace(&all(tx, ws).await?, &items);
                    for id in plan.delete {
                        exec(tx, sql::templates::DELETE, &[&id.as_uuid(), &ws.as_uuid()]).await?;
                    }
                    for (id, t) in plan.update {
                        update(tx, ws, id, &t, at).await?;
                    }
                    for t in plan.insert {
                        insert(tx, ws, &t, at).await?;
                    }
                    all(tx, ws).await
                })
            })
            .await
    }
}

async fn insert(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    t: &NewTemplate,
    at: Timestamp,
) -> StoreResult<TemplateId> {
    let id: TemplateId = new_id().into();
    let stmt = tx
        .prepare_cached(sql::templates::INSERT)
        .await
        .map_err(pg_err)?;
    tx.execute(
        &stmt,
        &[
            &id.as_uuid(),
            &ws.as_uuid(),
            &t.name,
            &t.shortcut,
            &t.body,
            &channels_json(&t.channels),
            &at.0,
        ],
    )
    .await
    .map_err(shortcut_conflict)?;
    Ok(id)
}

async fn update(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    id: TemplateId,
    t: &NewTemplate,
    at: Timestamp,
) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(sql::templates::UPDATE)
        .await
        .map_err(pg_err)?;
    tx.execute(
        &stmt,
        &[
            &t.name,
            &t.shortcut,
            &t.body,
            &channels_json(&t.channels),
            &at.0,
            &id.as_uuid(),
            &ws.as_uuid(),
        ],
    )
    .await
    .map_err(shortcut_conflict)?;
    Ok(())
}

async fn all(tx: &Tx<'_>, ws: WorkspaceId) -> StoreResult<Vec<TemplateRow>> {
    let mut rows = query(tx, sql::templates::ALL, &[&ws.as_uuid()])
        .await?
        .iter()
        .map(row)
        .collect::<StoreResult<Vec<_>>>()?;
    sort(&mut rows);
    Ok(rows)
}

async fn load(tx: &Tx<'_>, ws: WorkspaceId, id: TemplateId) -> StoreResult<TemplateRow> {
    query_opt(tx, sql::templates::ONE, &[&id.as_uuid(), &ws.as_uuid()])
        .await?
        .as_ref()
        .map(row)
        .unwrap_or(Err(StoreError::NotFound))
}

fn shortcut_conflict(e: tokio_postgres::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict("a template with this shortcut exists".into())
    } else {
        pg_err(e)
    }
}

fn row(r: &Row) -> StoreResult<TemplateRow> {
    Ok(TemplateRow {
        id: id(r, 0)?,
        workspace_id: id(r, 1)?,
        name: get(r, 2)?,
        shortcut: get(r, 3)?,
        body: get(r, 4)?,
        channels: json(r, 5)?,
        uses: get::<i64>(r, 6)?.max(0) as u64,
        last_used_at: opt_ts(r, 7)?,
        created_at: ts(r, 8)?,
        updated_at: ts(r, 9)?,
    })
}
