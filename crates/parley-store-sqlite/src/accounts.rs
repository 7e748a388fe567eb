//! The `Accounts` store: workspaces, users and their memberships; sessions, tokens and the logs
//! of access changes and administrative actions in `access`.

pub(crate) mod access;

use async_trait::async_trait;
use parley_core::role::Role;
use parley_core::{Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::db::sql_err;
use crate::rows::{self, is_unique_violation, member_inboxes, ts, uid, USER_COLS};
use crate::SqliteStore;
use access::log_access_change;

#[async_trait]
impl Accounts for SqliteStore {
    async fn is_empty(&self) -> StoreResult<bool> {
        self.db.read(|c| Ok(workspace(c, None)?.is_none())).await
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
            .write(move |c, _| {
                let ws = WorkspaceRow {
                    id: new_id().into(),
                    name: name.to_string(),
                    timezone: tz.to_string(),
                    settings: serde_json::json!({}),
                    created_at: at,
                };
                c.execute(
                    sql::accounts::INSERT_WORKSPACE,
                    params![ws.id.to_string(), ws.name, ws.timezone, at.0],
                )
                .map_err(sql_err)?;
                let user = create_user(c, ws.id, admin, at)?;
                Ok((ws, user))
            })
            .await
    }

    async fn workspace(&self, ws: WorkspaceId) -> StoreResult<WorkspaceRow> {
        self.db
            .read(move |c| workspace(c, Some(ws))?.ok_or(StoreError::NotFound))
            .await
    }

    async fn first_workspace(&self) -> StoreResult<Option<WorkspaceRow>> {
        self.db.read(|c| workspace(c, None)).await
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<WorkspaceRow>> {
        self.db
            .read(|c| {
                let ids: Vec<WorkspaceId> = c
                    .prepare_cached(sql::accounts::WORKSPACE_IDS)
                    .map_err(sql_err)?
                    .query_map([], |r| uid(r, 0))
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql_err)?;
                ids.into_iter()
                    .map(|id| workspace(c, Some(id))?.ok_or(StoreError::NotFound))
                    .collect()
            })
            .await
    }

    async fn set_workspace_settings(
        &self,
        ws: WorkspaceId,
        settings: serde_json::Value,
    ) -> StoreResult<WorkspaceRow> {
        self.db
            .write(move |c, _| {
                let n = c
                    .execute(
                        sql::accounts::SET_WORKSPACE_SETTINGS,
                        params![settings.to_string(), ws.to_string()],
                    )
                    .map_err(sql_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                workspace(c, Some(ws))?.ok_or(StoreError::NotFound)
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
            .write(move |c, _| create_user(c, ws, user, at))
            .await
    }

    async fn list_users(&self, ws: WorkspaceId) -> StoreResult<Vec<UserView>> {
        self.db.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {USER_COLS} FROM users u JOIN membership m ON m.user_id = u.id WHERE m.workspace_id = ?1 ORDER BY u.name, u.id"
                ))
                .map_err(sql_err)?;
            let rows = stmt
                .query_map([ws.to_string()], rows::user)
                .map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)
        }).await
    }

    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        patch: UserPatch,
    ) -> StoreResult<UserView> {
        self.db
            .write(move |c, _| {
                user(c, ws, id)?;
                if let Some(name) = patch.name {
                    c.execute(sql::accounts::SET_USER_NAME, params![name, id.to_string()])
                        .map_err(sql_err)?;
                }
                if let Some(hash) = patch.password_hash {
                    c.execute(
                        sql::accounts::SET_USER_PASSWORD,
                        params![hash, id.to_string()],
                    )
                    .map_err(sql_err)?;
                    c.execute(sql::accounts::DELETE_USER_SESSIONS, [id.to_string()])
                        .map_err(sql_err)?;
                    log_access_change(c, ws, id)?;
                }
                if let Some(role) = patch.role {
                    if role != Role::Admin
                        && user(c, ws, id)?.role == Role::Admin
                        && admin_count(c, ws)? <= 1
                    {
                        return Err(plan::last_admin());
                    }
                    c.execute(
                        sql::accounts::SET_MEMBERSHIP_ROLE,
                        params![role.as_str(), ws.to_string(), id.to_string()],
                    )
                    .map_err(sql_err)?;
                    log_access_change(c, ws, id)?;
                }
                user(c, ws, id)
            })
            .await
    }

    async fn remove_user(&self, ws: WorkspaceId, id: UserId) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                let u = user(c, ws, id)?;
                if u.role == Role::Admin && admin_count(c, ws)? <= 1 {
                    return Err(plan::last_admin());
                }
                let (w, i) = (ws.to_string(), id.to_string());
                c.execute(sql::accounts::LEAVE_INBOXES, [&w, &i])
                    .map_err(sql_err)?;
                c.execute(sql::accounts::LEAVE_TEAMS, [&w, &i])
                    .map_err(sql_err)?;
                c.execute(sql::accounts::DELETE_MEMBER_SESSIONS, [&w, &i])
                    .map_err(sql_err)?;
                c.execute(sql::accounts::REVOKE_MEMBER_TOKENS, [&w, &i])
                    .map_err(sql_err)?;
                c.execute(sql::accounts::DELETE_MEMBERSHIP, [&w, &i])
                    .map_err(sql_err)?;
                log_access_change(c, ws, id)?;
                Ok(())
            })
            .await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<(Principal, String)>> {
        let email = email.to_owned();
        self.db
            .read(move |c| {
                let row = c
                    .prepare_cached(sql::accounts::CREDENTIALS_BY_EMAIL)
                    .map_err(sql_err)?
                    .query_row([email], |r| {
                        Ok((
                            uid::<UserId>(r, 0)?,
                            uid::<WorkspaceId>(r, 1)?,
                            r.get::<_, String>(2)?,
                        ))
                    })
                    .optional()
                    .map_err(sql_err)?;
                match row {
                    Some((user, ws, hash)) => Ok(Some((principal(c, ws, user)?, hash))),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn principal(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Principal> {
        self.db.read(move |c| principal(c, ws, user)).await
    }
}

pub(crate) fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

pub(crate) fn workspace(
    c: &Connection,
    id: Option<WorkspaceId>,
) -> StoreResult<Option<WorkspaceRow>> {
    let (sql, arg) = match id {
        Some(id) => (sql::accounts::WORKSPACE, id.to_string()),
        None => ("SELECT id, name, timezone, created_at, settings FROM workspace WHERE ?1 = ?1 ORDER BY created_at LIMIT 1", String::new()),
    };
    c.prepare_cached(sql)
        .map_err(sql_err)?
        .query_row([arg], |r| {
            Ok(WorkspaceRow {
                id: uid(r, 0)?,
                name: r.get(1)?,
                timezone: r.get(2)?,
                created_at: ts(r, 3)?,
                settings: serde_json::from_str(&r.get::<_, String>(4)?)
                    .unwrap_or_else(|_| serde_json::json!({})),
            })
        })
        .optional()
        .map_err(sql_err)
}

pub(crate) fn create_user(
    c: &Connection,
    ws: WorkspaceId,
    u: NewUser,
    at: Timestamp,
) -> StoreResult<UserView> {
    let id: UserId = new_id().into();
    c.execute(
        sql::accounts::INSERT_USER,
        params![
            id.to_string(),
            u.email,
            u.name,
            u.password_hash,
            at.0,
            u.bot
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict("a user with this email exists".into())
        } else {
            sql_err(e)
        }
    })?;
    c.execute(
        sql::accounts::INSERT_MEMBERSHIP,
        params![ws.to_string(), id.to_string(), u.role.as_str(), at.0],
    )
    .map_err(sql_err)?;
    Ok(UserView {
        id,
        email: u.email,
        name: u.name,
        role: u.role,
        bot: u.bot,
        created_at: at,
    })
}

pub(crate) fn user(c: &Connection, ws: WorkspaceId, id: UserId) -> StoreResult<UserView> {
    c.prepare_cached(&format!(
        "SELECT {USER_COLS} FROM users u JOIN membership m ON m.user_id = u.id WHERE m.workspace_id = ?1 AND u.id = ?2"
    ))
    .map_err(sql_err)?
    .query_row([ws.to_string(), id.to_string()], rows::user)
    .optional()
    .map_err(sql_err)?
    .ok_or(StoreError::NotFound)
}

fn admin_count(c: &Connection, ws: WorkspaceId) -> StoreResult<i64> {
    c.query_row(sql::accounts::COUNT_ADMINS, [ws.to_string()], |r| r.get(0))
        .map_err(sql_err)
}

pub(crate) fn principal(c: &Connection, ws: WorkspaceId, id: UserId) -> StoreResult<Principal> {
    let u = user(c, ws, id)?;
    Ok(Principal {
        user_id: u.id,
        workspace_id: ws,
        role: u.role,
        email: u.email,
        name: u.name,
        bot: u.bot,
        inboxes: member_inboxes(c, &id.to_string())?,
    })
}
