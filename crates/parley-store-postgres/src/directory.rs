//! The `Directory` store: teams and inboxes, and who belongs to them.

use async_trait::async_trait;
use parley_core::{InboxId, TeamId, Timestamp, UserId, WorkspaceId};
use parley_store::crypt;
use parley_store::*;

use crate::accounts::{new_id, user};
use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{
    self, get, id, is_unique_violation, pg_err, scope_params, ts, INBOX_COLS, USER_COLS,
};
use crate::PostgresStore;

#[async_trait]
impl Directory for PostgresStore {
    async fn create_team(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<TeamView> {
        let name = name.to_owned();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let t: TeamId = new_id().into();
                    let stmt = tx
                        .prepare_cached(sql::directory::INSERT_TEAM)
                        .await
                        .map_err(pg_err)?;
                    tx.execute(&stmt, &[&t.as_uuid(), &ws.as_uuid(), &name, &at.0])
                        .await
                        .map_err(team_conflict)?;
                    self::team(tx, ws, t).await
                })
            })
            .await
    }

    async fn list_teams(&self, ws: WorkspaceId) -> StoreResult<Vec<TeamView>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let ids: Vec<TeamId> = query(
                tx,
                "SELECT id FROM team WHERE workspace_id = $1 ORDER BY name COLLATE \"C\", id",
                &[&ws.as_uuid()],
            )
            .await?
            .iter()
            .map(|r| id(r, 0))
            .collect::<StoreResult<_>>()?;
                    let mut out = Vec::with_capacity(ids.len());
                    for t in ids {
                        out.push(team(tx, ws, t).await?);
                    }
                    Ok(out)
                })
            })
            .await
    }

    async fn rename_team(&self, ws: WorkspaceId, id: TeamId, name: &str) -> StoreResult<TeamView> {
        let name = name.to_owned();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    self::team(tx, ws, id).await?;
                    let stmt = tx
                        .prepare_cached(sql::directory::SET_TEAM_NAME)
                        .await
                        .map_err(pg_err)?;
                    tx.execute(&stmt, &[&name, &id.as_uuid()])
                        .await
                        .map_err(team_conflict)?;
                    self::team(tx, ws, id).await
                })
            })
            .await
    }

    async fn delete_team(&self, ws: WorkspaceId, id: TeamId) -> StoreResult<()> {
        self.db
            .write(move |tx, _| {
                Box::pin(async move {
                    // Runs under the event lock: it rewrites conversations, whose state `act` reads and writes back.
                    self::team(tx, ws, id).await?;
                    exec(tx, sql::directory::UNASSIGN_TEAM, &[&id.as_uuid()]).await?;
                    exec(tx, sql::directory::DELETE_TEAM, &[&id.as_uuid()]).await?;
                    Ok(())
                })
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
            .run(move |tx| Box::pin(async move {
                self::team(tx, ws, team).await?;
                self::user(tx, ws, user).await.map_err(plan::no_such_user)?;
                let sql = if member {
                    "INSERT INTO team_member (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                } else {
                    sql::directory::DELETE_TEAM_MEMBER
                };
                exec(tx, sql, &[&team.as_uuid(), &user.as_uuid()]).await?;
                self::team(tx, ws, team).await
            }))
            .await
    }

    async fn create_inbox(
        &self,
        ws: WorkspaceId,
        inbox: NewInbox,
        at: Timestamp,
    ) -> StoreResult<InboxRow> {
        self.db
            .run(move |tx| Box::pin(async move {
                let row = InboxRow {
                    id: new_id().into(),
                    workspace_id: ws,
                    name: inbox.name,
                    kind: inbox.kind,
                    settings: inbox.settings,
                    secret: inbox.secret,
                    created_at: at,
                };
                let settings = crypt::seal_inbox_settings(tx.keys(), row.id, &row.settings);
                let secret = crypt::seal_inbox_secret(tx.keys(), row.id, &row.secret);
                exec(
                    tx,
                    "INSERT INTO inbox (id, workspace_id, name, kind, settings, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &row.id.as_uuid(),
                        &ws.as_uuid(),
                        &row.name,
                        &row.kind,
                        &settings,
                        &secret,
                        &at.0,
                    ],
                )
                .await?;
                Ok(row)
            }))
            .await
    }

    async fn list_inboxes(&self, scope: &Scope) -> StoreResult<Vec<InboxRow>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move {
                let (all, inboxes) = scope_params(&scope);
                query(
                    tx,
                    &format!(
                        "SELECT {INBOX_COLS} FROM inbox WHERE workspace_id = $1 AND ($2 OR id = ANY($3)) \
                         ORDER BY name COLLATE \"C\", id"
                    ),
                    &[&scope.workspace.as_uuid(), &all, &inboxes],
                )
                .await?
                .iter()
                .map(|r| rows::inbox(tx.keys(), r))
                .collect()
            }))
            .await
    }

    async fn inbox(&self, scope: &Scope, id: InboxId) -> StoreResult<InboxRow> {
        if !scope.can_see(id) {
            return Err(StoreError::NotFound);
        }
        let ws = scope.workspace;
        self.db.run(move |tx| Box::pin(inbox(tx, ws, id))).await
    }

    async fn update_inbox(
        &self,
        ws: WorkspaceId,
        id: InboxId,
        patch: InboxPatch,
    ) -> StoreResult<InboxRow> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    self::inbox(tx, ws, id).await?;
                    if let Some(name) = patch.name {
                        exec(tx, sql::directory::SET_INBOX_NAME, &[&name, &id.as_uuid()]).await?;
                    }
                    if let Some(settings) = patch.settings {
                        exec(
                            tx,
                            "UPDATE inbox SET settings = $1 WHERE id = $2",
                            &[
                                &crypt::seal_inbox_settings(tx.keys(), id, &settings),
                                &id.as_uuid(),
                            ],
                        )
                        .await?;
                    }
                    if let Some(secret) = patch.secret {
                        exec(
                            tx,
                            "UPDATE inbox SET secret = $1 WHERE id = $2",
                            &[
                                &crypt::seal_inbox_secret(tx.keys(), id, &secret),
                                &id.as_uuid(),
                            ],
                        )
                        .await?;
                    }
                    self::inbox(tx, ws, id).await
                })
            })
            .await
    }

    async fn inbox_for_hook(&self, id: InboxId) -> StoreResult<Option<InboxRow>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    query_opt(
                        tx,
                        &format!("SELECT {INBOX_COLS} FROM inbox WHERE id = $1"),
                        &[&id.as_uuid()],
                    )
                    .await?
                    .as_ref()
                    .map(|r| rows::inbox(tx.keys(), r))
                    .transpose()
                })
            })
            .await
    }

    async fn inboxes_of_kind(&self, kind: &str) -> StoreResult<Vec<InboxRow>> {
        let kind = kind.to_string();
        self.db
            .run(move |tx| Box::pin(async move {
                query(
                    tx,
                    &format!("SELECT {INBOX_COLS} FROM inbox WHERE kind = $1 ORDER BY created_at, id"),
                    &[&kind],
                )
                .await?
                .iter()
                .map(|r| rows::inbox(tx.keys(), r))
                .collect()
            }))
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
            .run(move |tx| Box::pin(async move {
                self::inbox(tx, ws, inbox).await?;
                self::user(tx, ws, user).await.map_err(plan::no_such_user)?;
                let sql = if member {
                    "INSERT INTO inbox_member (inbox_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                } else {
                    sql::directory::DELETE_INBOX_MEMBER
                };
                exec(tx, sql, &[&inbox.as_uuid(), &user.as_uuid()]).await?;
                crate::accounts::access::log_access_change(tx, ws, user).await
            }))
            .await
    }

    async fn inbox_members(&self, ws: WorkspaceId, inbox: InboxId) -> StoreResult<Vec<UserView>> {
        self.db
            .run(move |tx| Box::pin(async move {
                self::inbox(tx, ws, inbox).await?;
                query(
                    tx,
                    &format!(
                        "SELECT {USER_COLS} FROM inbox_member im JOIN users u ON u.id = im.user_id \
                         JOIN membership m ON m.user_id = u.id AND m.workspace_id = $1 WHERE im.inbox_id = $2 \
                         ORDER BY u.name COLLATE \"C\", u.id"
                    ),
                    &[&ws.as_uuid(), &inbox.as_uuid()],
                )
                .await?
                .iter()
                .map(rows::user)
                .collect()
            }))
            .await
    }
}

fn team_conflict(e: tokio_postgres::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict("a team with this name exists".into())
    } else {
        pg_err(e)
    }
}

pub(crate) async fn team(tx: &Tx<'_>, ws: WorkspaceId, t: TeamId) -> StoreResult<TeamView> {
    let row = query_opt(tx, sql::directory::TEAM, &[&ws.as_uuid(), &t.as_uuid()])
        .await?
        .ok_or(StoreError::NotFound)?;
    let members = query(tx, sql::directory::TEAM_MEMBERS, &[&t.as_uuid()])
        .await?
        .iter()
        .map(|r| id(r, 0))
        .collect::<StoreResult<_>>()?;
    Ok(TeamView {
        id: id(&row, 0)?,
        name: get(&row, 1)?,
        members,
        created_at: ts(&row, 2)?,
    })
}

pub(crate) async fn inbox(tx: &Tx<'_>, ws: WorkspaceId, i: InboxId) -> StoreResult<InboxRow> {
    let row = query_opt(
        tx,
        &format!("SELECT {INBOX_COLS} FROM inbox WHERE workspace_id = $1 AND id = $2"),
        &[&ws.as_uuid(), &i.as_uuid()],
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    rows::inbox(tx.keys(), &row)
}
