//! The `Access` store: sign-in sessions, API tokens, the access-change log and the audit log.

use async_trait::async_trait;
use parley_core::{Timestamp, TokenId, UserId, WorkspaceId};
use parley_store::*;
use rusqlite::{params, Connection, OptionalExtension};

use super::{new_id, principal};
use crate::db::sql_err;
use crate::rows::{self, opt_ts, ts, uid};
use crate::SqliteStore;

#[async_trait]
impl Access for SqliteStore {
    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                c.execute(
                    sql::accounts::INSERT_SESSION,
                    params![
                        session.token_hash,
                        session.user_id.to_string(),
                        session.workspace_id.to_string(),
                        session.csrf_token,
                        session.created_at.0,
                        session.expires_at.0
                    ],
                )
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn session_principal(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(Principal, String)>> {
        let hash = token_hash.to_owned();
        self.db
            .read(move |c| {
                let row = c
                    .prepare_cached(sql::accounts::LIVE_SESSION)
                    .map_err(sql_err)?
                    .query_row(params![hash, now.0], |r| {
                        Ok((
                            uid::<UserId>(r, 0)?,
                            uid::<WorkspaceId>(r, 1)?,
                            r.get::<_, String>(2)?,
                        ))
                    })
                    .optional()
                    .map_err(sql_err)?;
                let Some((user, ws, csrf)) = row else {
                    return Ok(None);
                };
                Ok(principal_if_member(c, ws, user)?.map(|p| (p, csrf)))
            })
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let hash = token_hash.to_owned();
        self.db
            .write(move |c, _| {
                let owner = c
                    .prepare_cached(
                        "SELECT workspace_id, user_id FROM session WHERE token_hash = ?1",
                    )
                    .map_err(sql_err)?
                    .query_row([&hash], |r| {
                        Ok((uid::<WorkspaceId>(r, 0)?, uid::<UserId>(r, 1)?))
                    })
                    .optional()
                    .map_err(sql_err)?;
                if let Some((ws, user)) = owner {
                    c.execute("DELETE FROM session WHERE token_hash = ?1", [&hash])
                        .map_err(sql_err)?;
                    log_access_change(c, ws, user)?;
                }
                Ok(())
            })
            .await
    }

    async fn create_token(
        &self,
        ws: WorkspaceId,
        user: UserId,
        name: &str,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<TokenView> {
        let (name, hash) = (name.to_owned(), token_hash.to_owned());
        self.db
            .write(move |c, _| {
                let id = new_id();
                c.execute(
                    sql::accounts::INSERT_API_TOKEN,
                    params![
                        id.to_string(),
                        ws.to_string(),
                        user.to_string(),
                        name,
                        hash,
                        at.0
                    ],
                )
                .map_err(sql_err)?;
                Ok(TokenView {
                    id: id.into(),
                    name: name.to_string(),
                    created_at: at,
                    revoked_at: None,
                })
            })
            .await
    }

    async fn list_tokens(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Vec<TokenView>> {
        self.db
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(sql::accounts::USER_TOKENS)
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([ws.to_string(), user.to_string()], |r| {
                        Ok(TokenView {
                            id: uid(r, 0)?,
                            name: r.get(1)?,
                            created_at: ts(r, 2)?,
                            revoked_at: opt_ts(r, 3)?,
                        })
                    })
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await
    }

    async fn revoke_token(
        &self,
        ws: WorkspaceId,
        user: UserId,
        id: TokenId,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                let n = c
                    .execute(
                        sql::accounts::REVOKE_TOKEN,
                        params![at.0, ws.to_string(), user.to_string(), id.to_string()],
                    )
                    .map_err(sql_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                log_access_change(c, ws, user)
            })
            .await
    }

    async fn token_principal(&self, token_hash: &str) -> StoreResult<Option<Principal>> {
        let hash = token_hash.to_owned();
        self.db
            .read(move |c| {
                let row = c
                    .prepare_cached(sql::accounts::LIVE_TOKEN)
                    .map_err(sql_err)?
                    .query_row([hash], |r| {
                        Ok((uid::<UserId>(r, 0)?, uid::<WorkspaceId>(r, 1)?))
                    })
                    .optional()
                    .map_err(sql_err)?;
                match row {
                    Some((user, ws)) => principal_if_member(c, ws, user),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn last_access_change(&self) -> StoreResult<i64> {
        self.db
            .read(|c| {
                c.prepare_cached(sql::accounts::LAST_ACCESS_CHANGE)
                    .map_err(sql_err)?
                    .query_row([], |r| r.get(0))
                    .map_err(sql_err)
            })
            .await
    }

    async fn access_changes(&self, after: i64, limit: u32) -> StoreResult<Vec<AccessChange>> {
        self.db
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(sql::accounts::ACCESS_CHANGES_AFTER)
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![after, limit], |r| {
                        Ok(AccessChange {
                            id: r.get(0)?,
                            workspace_id: uid(r, 1)?,
                            user_id: uid(r, 2)?,
                        })
                    })
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await
    }

    async fn record_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                c.execute(
                    sql::accounts::INSERT_AUDIT,
                    params![
                        entry.workspace_id.to_string(),
                        entry.actor_id.map(|a| a.to_string()),
                        entry.action,
                        entry.target,
                        entry.detail.to_string(),
                        entry.ip,
                        entry.at.0
                    ],
                )
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn list_audit(&self, ws: WorkspaceId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.db
            .read(move |c| {
                let mut stmt = c.prepare_cached(sql::accounts::AUDIT).map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![ws.to_string(), limit], |r| {
                        Ok(AuditEntry {
                            workspace_id: uid(r, 0)?,
                            actor_id: rows::opt_uid(r, 1)?,
                            action: r.get(2)?,
                            target: r.get(3)?,
                            detail: rows::json_col(r, 4)?,
                            ip: r.get(5)?,
                            at: ts(r, 6)?,
                        })
                    })
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await
    }
}

/// Adds to the access-change log that this user's open sockets must be checked again.
pub(crate) fn log_access_change(c: &Connection, ws: WorkspaceId, user: UserId) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO access_change (workspace_id, user_id, at) VALUES (?1, ?2, CAST(strftime('%s','now') AS INTEGER) * 1000)",
    )
    .map_err(sql_err)?
    .execute([ws.to_string(), user.to_string()])
    .map_err(sql_err)?;
    Ok(())
}

/// The principal of a credential's user, or `None` once the user left the workspace.
fn principal_if_member(
    c: &Connection,
    ws: WorkspaceId,
    user: UserId,
) -> StoreResult<Option<Principal>> {
    match principal(c, ws, user) {
        Ok(p) => Ok(Some(p)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
