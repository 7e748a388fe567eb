//! The `Accounts` store: workspaces, users and their memberships; sessions, tokens and the logs
//! of access changes and administrative actions in `access`.

pub(crate) mod access;

use async_trait::async_trait;
use parley_core::role::Role;
use parley_core::{Timestamp, UserId, WorkspaceId};
use parley_store::*;
use tokio_postgres::Row;

use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{self, get, id, is_unique_violation, member_inboxes, pg_err, ts};
use crate::PostgresStore;
use access::log_access_change;

#[async_trait]
impl Accounts for PostgresStore {
    async fn is_empty(&self) -> StoreResult<bool> {
        self.db
            .run(|tx| Box::pin(async move { Ok(workspace(tx, None).await?.is_none()) }))
            .await
    }

    async fn create_workspace(
        &self,
        name: &str,
        timezone: &str,
        admin: NewUser,
        at: Timestamp,
    ) -> StoreResult<(WorkspaceRow, UserView)> {
        let (name, tz) = (name.to_owned(), timezone.to_owned());
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let ws = WorkspaceRow {
                        id: new_id().into(),
                        name: name.to_string(),
                        timezone: tz.to_string(),
                        settings: serde_json::json!({}),
                        created_at: at,
                    };
                    exec(
                        tx,
                        sql::accounts::INSERT_WORKSPACE,
                        &[&ws.id.as_uuid(), &ws.name, &ws.timezone, &at.0],
                    )
                    .await?;
                    let user = create_user(tx, ws.id, admin, at).await?;
                    Ok((ws, user))
                })
            })
            .await
    }

    async fn workspace(&self, ws: WorkspaceId) -> StoreResult<WorkspaceRow> {
        self.db
            .run(move |tx| {
                Box::pin(async move { workspace(tx, Some(ws)).await?.ok_or(StoreError::NotFound) })
            })
            .await
    }

    async fn first_workspace(&self) -> StoreResult<Option<WorkspaceRow>> {
        self.db.run(|tx| Box::pin(workspace(tx, None))).await
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<WorkspaceRow>> {
        self.db
            .run(|tx| {
                Box::pin(async move {
                    let rows = query(tx, sql::accounts::WORKSPACE_IDS, &[]).await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let ws = workspace(tx, Some(id(r, 0)?)).await?;
                        out.push(ws.ok_or(StoreError::NotFound)?);
                    }
                    Ok(out)
                })
            })
            .await
    }

    async fn set_workspace_settings(
        &self,
        ws: WorkspaceId,
        settings: serde_json::Value,
    ) -> StoreResult<WorkspaceRow> {
        self.db
            .write(move |tx, _| {
                Box::pin(async move {
                    let n = exec(
                        tx,
                        sql::accounts::SET_WORKSPACE_SETTINGS,
                        &[&settings.to_string(), &ws.as_uuid()],
                    )
                    .await?;
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    workspace(tx, Some(ws)).await?.ok_or(StoreError::NotFound)
                })
            })
            .await
    }

    async fn create_user(
        &self,
        ws: WorkspaceId,
        user: NewUser,
        at: Timestamp,
    ) -> StoreResult<UserView> {
        self.db
            .run(move |tx| Box::pin(create_user(tx, ws, user, at)))
            .await
    }

    async fn list_users(&self, ws: WorkspaceId) -> StoreResult<Vec<UserView>> {
        self.db.run(move |tx| Box::pin(async move {
            query(
                tx,
                &format!(
                    "SELECT {} FROM users u JOIN membership m ON m.user_id = u.id WHERE m.workspace_id = $1 \
                     ORDER BY u.name COLLATE \"C\", u.id",
                    rows::USER_COLS
                ),
                &[&ws.as_uuid()],
            )
            .await?
            .iter()
            .map(rows::user)
            .collect()
        })).await
    }

    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        patch: UserPatch,
    ) -> StoreResult<UserView> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    if patch.role.is_some() {
                        lock_workspace(tx, ws).await?;
                    }
                    let revokes = patch.role.is_some() || patch.password_hash.is_some();
                    user(tx, ws, id).await?;
                    let uid = id.as_uuid();
                    if let Some(name) = patch.name {
                        exec(tx, sql::accounts::SET_USER_NAME, &[&name, &uid]).await?;
                    }
                    if let Some(hash) = patch.password_hash {
                        exec(tx, sql::accounts::SET_USER_PASSWORD, &[&hash, &uid]).await?;
                        exec(tx, sql::accounts::DELETE_USER_SESSIONS, &[&uid]).await?;
                    }
                    if let Some(role) = patch.role {
                        if role != Role::Admin
                            && user(tx, ws, id).await?.role == Role::Admin
                            && admin_count(tx, ws).await? <= 1
                        {
                            return Err(plan::last_admin());
                        }
                        exec(
                            tx,
                            sql::accounts::SET_MEMBERSHIP_ROLE,
                            &[&role.as_str(), &ws.as_uuid(), &uid],
                        )
                        .await?;
                    }
                    if revokes {
                        log_access_change(tx, ws, id).await?;
                    }
                    user(tx, ws, id).await
                })
            })
            .await
    }

    async fn remove_user(&self, ws: WorkspaceId, id: UserId) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    lock_workspace(tx, ws).await?;
                    let u = user(tx, ws, id).await?;
                    if u.role == Role::Admin && admin_count(tx, ws).await? <= 1 {
                        return Err(plan::last_admin());
                    }
                    let (w, i) = (ws.as_uuid(), id.as_uuid());
                    for sql in [
                        sql::accounts::LEAVE_INBOXES,
                        sql::accounts::LEAVE_TEAMS,
                        sql::accounts::DELETE_MEMBER_SESSIONS,
                        sql::accounts::REVOKE_MEMBER_TOKENS,
                        sql::accounts::DELETE_MEMBERSHIP,
                    ] {
                        exec(tx, sql, &[&w, &i]).await?;
                    }
                    log_access_change(tx, ws, id).await
                })
            })
            .await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<(Principal, String)>> {
        let email = email.to_owned();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let row = query_opt(tx, sql::accounts::CREDENTIALS_BY_EMAIL, &[&email]).await?;
                    let Some(row) = row else { return Ok(None) };
                    let (user, ws, hash): (UserId, WorkspaceId, String) =
                        (id(&row, 0)?, id(&row, 1)?, get(&row, 2)?);
                    Ok(Some((principal(tx, ws, user).await?, hash)))
                })
            })
            .await
    }

    async fn principal(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Principal> {
        self.db
            .run(move |tx| Box::pin(principal(tx, ws, user)))
            .await
    }
}

pub(crate) fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

fn workspace_row(r: &Row) -> StoreResult<WorkspaceRow> {
    Ok(WorkspaceRow {
        id: id(r, 0)?,
        name: get(r, 1)?,
        timezone: get(r, 2)?,
        created_at: ts(r, 3)?,
        settings: serde_json::from_str(&get::<String>(r, 4)?)
            .unwrap_or_else(|_| serde_json::json!({})),
    })
}

pub(crate) async fn workspace(
    tx: &Tx<'_>,
    ws: Option<WorkspaceId>,
) -> StoreResult<Option<WorkspaceRow>> {
    let row = match ws {
        Some(ws) => {
            query_opt(
                tx,
                sql::accounts::WORKSPACE,
                &[&ws.as_uuid()],
            )
            .await?
        }
        None => query_opt(
            tx,
            "SELECT id, name, timezone, created_at, settings FROM workspace ORDER BY created_at, id LIMIT 1",
            &[],
        )
        .await?,
    };
    row.as_ref().map(workspace_row).transpose()
}

pub(crate) async fn create_user(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    u: NewUser,
    at: Timestamp,
) -> StoreResult<UserView> {
    let id: UserId = new_id().into();
    let stmt = tx
        .prepare_cached(sql::accounts::INSERT_USER)
        .await
        .map_err(pg_err)?;
    tx.execute(
        &stmt,
        &[
            &id.as_uuid(),
            &u.email,
            &u.name,
            &u.password_hash,
            &at.0,
            &u.bot,
        ],
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict("a user with this email exists".into())
        } else {
            pg_err(e)
        }
    })?;
    exec(
        tx,
        sql::accounts::INSERT_MEMBERSHIP,
        &[&ws.as_uuid(), &id.as_uuid(), &u.role.as_str(), &at.0],
    )
    .await?;
    Ok(UserView {
        id,
        email: u.email,
        name: u.name,
        role: u.role,
        bot: u.bot,
        created_at: at,
    })
}

pub(crate) async fn user(tx: &Tx<'_>, ws: WorkspaceId, id: UserId) -> StoreResult<UserView> {
    let row = query_opt(
        tx,
        &format!(
            "SELECT {} FROM users u JOIN membership m ON m.user_id = u.id WHERE m.workspace_id = $1 AND u.id = $2",
            rows::USER_COLS
        ),
        &[&ws.as_uuid(), &id.as_uuid()],
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    rows::user(&row)
}

/// Locks the workspace row, so two changes that each check "is there another admin?" take turns.
async fn lock_workspace(tx: &Tx<'_>, ws: WorkspaceId) -> StoreResult<()> {
    query_opt(
        tx,
        "SELECT id FROM workspace WHERE id = $1 FOR UPDATE",
        &[&ws.as_uuid()],
    )
    .await?;
    Ok(())
}

async fn admin_count(tx: &Tx<'_>, ws: WorkspaceId) -> StoreResult<i64> {
    let rows = query(tx, sql::accounts::COUNT_ADMINS, &[&ws.as_uuid()]).await?;
    rows.first().map_or(Ok(0), |r| get(r, 0))
}

pub(crate) async fn principal(tx: &Tx<'_>, ws: WorkspaceId, id: UserId) -> StoreResult<Principal> {
    let u = user(tx, ws, id).await?;
    Ok(Principal {
        user_id: u.id,
        workspace_id: ws,
        role: u.role,
        email: u.email,
        name: u.name,
        bot: u.bot,
        inboxes: member_inboxes(tx, id.as_uuid()).await?,
    })
}
