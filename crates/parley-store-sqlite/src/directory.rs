//! The `Directory` store: teams and inboxes, and who belongs to them.

use async_trait::async_trait;
use parley_core::{InboxId, TeamId, Timestamp, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use crate::accounts::{new_id, user};
use crate::db::sql_err;
use crate::rows::{self, is_unique_violation, scope_filter, ts, uid, INBOX_COLS, USER_COLS};
use crate::SqliteStore;

#[async_trait]
impl Directory for SqliteStore {
    async fn create_team(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<TeamView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| {
                let id: TeamId = new_id().into();
                c.execute(
                    sql::directory::INSERT_TEAM,
                    params![id.to_string(), ws.to_string(), name, at.0],
                )
                .map_err(team_conflict)?;
                self::team(c, ws, id)
            })
            .await
    }

    async fn list_teams(&self, ws: WorkspaceId) -> StoreResult<Vec<TeamView>> {
        self.db
            .read(move |c| {
                let ids: Vec<TeamId> = c
                    .prepare_cached("SELECT id FROM team WHERE workspace_id = ?1 ORDER BY name, id")
                    .map_err(sql_err)?
                    .query_map([ws.to_string()], |r| uid(r, 0))
                    .map_err(sql_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sql_err)?;
                ids.into_iter().map(|id| team(c, ws, id)).collect()
            })
            .await
    }

    async fn rename_team(&self, ws: WorkspaceId, id: TeamId, name: &str) -> StoreResult<TeamView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| {
                self::team(c, ws, id)?;
                c.execute(sql::directory::SET_TEAM_NAME, params![name, id.to_string()])
                    .map_err(team_conflict)?;
                self::team(c, ws, id)
            })
            .await
    }

    async fn delete_team(&self, ws: WorkspaceId, id: TeamId) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                self::team(c, ws, id)?;
                c.execute(sql::directory::UNASSIGN_TEAM, [id.to_string()])
                    .map_err(sql_err)?;
                c.execute(sql::directory::DELETE_TEAM, [id.to_string()])
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn set_team_member(
        &self,
        ws: WorkspaceId,
        team: TeamId,
        user: UserId,
        member: bool,
    ) -> StoreResult<TeamView> {
        self.db
            .write(move |c, _| {
                self::team(c, ws, team)?;
                self::user(c, ws, user).map_err(plan::no_such_user)?;
                if member {
                    c.execute(
                        "INSERT OR IGNORE INTO team_member (team_id, user_id) VALUES (?1, ?2)",
                        [team.to_string(), user.to_string()],
                    )
                } else {
                    c.execute(
                        sql::directory::DELETE_TEAM_MEMBER,
                        [team.to_string(), user.to_string()],
                    )
                }
                .map_err(sql_err)?;
                self::team(c, ws, team)
            })
            .await
    }

    async fn create_inbox(
        &self,
        ws: WorkspaceId,
        inbox: NewInbox,
        at: Timestamp,
    ) -> StoreResult<InboxRow> {
        self.db
            .write(move |c, _| {
                let row = InboxRow {
                    id: new_id().into(),
                    workspace_id: ws,
                    name: inbox.name,
                    kind: inbox.kind,
                    settings: inbox.settings,
                    secret: inbox.secret,
                    created_at: at,
                };
                c.execute(
                    "INSERT INTO inbox (id, workspace_id, name, kind, settings, secret, created_at) \
                     VALUES (?1, ?2, ?3, ?4, parley_seal(?5, 'inbox:' || ?1 || ':settings'), parley_seal(?6, 'inbox:' || ?1 || ':secret'), ?7)",
                    params![row.id.to_string(), ws.to_string(), row.name, row.kind, row.settings.to_string(), row.secret, at.0],
                )
                .map_err(sql_err)?;
                Ok(row)
            })
            .await
    }

    async fn list_inboxes(&self, scope: &Scope) -> StoreResult<Vec<InboxRow>> {
        let scope = scope.clone();
        self.db
            .read(move |c| {
                let sql = format!(
                    "SELECT {INBOX_COLS} FROM inbox WHERE workspace_id = ?1{} ORDER BY name, id",
                    scope_filter(&scope, "id")
                );
                let mut stmt = c.prepare(&sql).map_err(sql_err)?;
                let rows = stmt
                    .query_map([scope.workspace.to_string()], rows::inbox)
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await
    }

    async fn inbox(&self, scope: &Scope, id: InboxId) -> StoreResult<InboxRow> {
        if !scope.can_see(id) {
            return Err(StoreError::NotFound);
        }
        let ws = scope.workspace;
        self.db.read(move |c| inbox(c, ws, id)).await
    }

    async fn update_inbox(
        &self,
        ws: WorkspaceId,
        id: InboxId,
        patch: InboxPatch,
    ) -> StoreResult<InboxRow> {
        self.db
            .write(move |c, _| {
                self::inbox(c, ws, id)?;
                if let Some(name) = patch.name {
                    c.execute(
                        sql::directory::SET_INBOX_NAME,
                        params![name, id.to_string()],
                    )
                    .map_err(sql_err)?;
                }
                if let Some(settings) = patch.settings {
                    c.execute(
                        "UPDATE inbox SET settings = parley_seal(?1, 'inbox:' || ?2 || ':settings') WHERE id = ?2",
                        params![settings.to_string(), id.to_string()],
                    )
                    .map_err(sql_err)?;
                }
                if let Some(secret) = patch.secret {
                    c.execute(
                        "UPDATE inbox SET secret = parley_seal(?1, 'inbox:' || ?2 || ':secret') WHERE id = ?2",
                        params![secret, id.to_string()],
                    )
                    .map_err(sql_err)?;
                }
                self::inbox(c, ws, id)
            })
            .await
    }

    async fn inbox_for_hook(&self, id: InboxId) -> StoreResult<Option<InboxRow>> {
        self.db.read(move |c| inbox_for_hook(c, id)).await
    }

    async fn inboxes_of_kind(&self, kind: &str) -> StoreResult<Vec<InboxRow>> {
        let kind = kind.to_string();
        self.db
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {INBOX_COLS} FROM inbox WHERE kind = ?1 ORDER BY created_at, id"
                ))
                .map_err(sql_err)?
                .query_map([kind], rows::inbox)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_err)
            })
            .await
    }

    async fn set_inbox_member(
        &self,
        ws: WorkspaceId,
        inbox: InboxId,
        user: UserId,
        member: bool,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                self::inbox(c, ws, inbox)?;
                self::user(c, ws, user).map_err(plan::no_such_user)?;
                if member {
                    c.execute(
                        "INSERT OR IGNORE INTO inbox_member (inbox_id, user_id) VALUES (?1, ?2)",
                        [inbox.to_string(), user.to_string()],
                    )
                } else {
                    c.execute(
                        sql::directory::DELETE_INBOX_MEMBER,
                        [inbox.to_string(), user.to_string()],
                    )
                }
                .map_err(sql_err)?;
                crate::accounts::access::log_access_change(c, ws, user)
            })
            .await
    }

    async fn inbox_members(&self, ws: WorkspaceId, inbox: InboxId) -> StoreResult<Vec<UserView>> {
        self.db.read(move |c| {
            self::inbox(c, ws, inbox)?;
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {USER_COLS} FROM inbox_member im JOIN users u ON u.id = im.user_id \
                     JOIN membership m ON m.user_id = u.id AND m.workspace_id = ?1 WHERE im.inbox_id = ?2 ORDER BY u.name, u.id"
                ))
                .map_err(sql_err)?;
            let rows = stmt
                .query_map([ws.to_string(), inbox.to_string()], rows::user)
                .map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)
        }).await
    }
}

fn team_conflict(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict("a team with this name exists".into())
    } else {
        sql_err(e)
    }
}

pub(crate) fn team(c: &Connection, ws: WorkspaceId, id: TeamId) -> StoreResult<TeamView> {
    let mut t = c
        .prepare_cached(sql::directory::TEAM)
        .map_err(sql_err)?
        .query_row([ws.to_string(), id.to_string()], |r| {
            Ok(TeamView {
                id: uid(r, 0)?,
                name: r.get(1)?,
                members: Vec::new(),
                created_at: ts(r, 2)?,
            })
        })
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)?;
    let mut stmt = c
        .prepare_cached(sql::directory::TEAM_MEMBERS)
        .map_err(sql_err)?;
    t.members = stmt
        .query_map([id.to_string()], |r| uid(r, 0))
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    Ok(t)
}

pub(crate) fn inbox(c: &Connection, ws: WorkspaceId, id: InboxId) -> StoreResult<InboxRow> {
    c.prepare_cached(&format!(
        "SELECT {INBOX_COLS} FROM inbox WHERE workspace_id = ?1 AND id = ?2"
    ))
    .map_err(sql_err)?
    .query_row([ws.to_string(), id.to_string()], rows::inbox)
    .optional()
    .map_err(sql_err)?
    .ok_or(StoreError::NotFound)
}

pub(crate) fn inbox_for_hook(c: &Connection, id: InboxId) -> StoreResult<Option<InboxRow>> {
    c.prepare_cached(&format!("SELECT {INBOX_COLS} FROM inbox WHERE id = ?1"))
        .map_err(sql_err)?
        .query_row([id.to_string()], rows::inbox)
        .optional()
        .map_err(sql_err)
}
