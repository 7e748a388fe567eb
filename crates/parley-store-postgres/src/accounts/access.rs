//! The `Access` store: sign-in sessions, API tokens, the access-change log and the audit log.

use async_trait::async_trait;
use parley_core::{Timestamp, TokenId, UserId, WorkspaceId};
use parley_store::*;

use super::{new_id, principal};
use crate::db::{exec, query, query_opt, Tx};
use crate::rows::{self, get, id, opt_ts, ts};
use crate::PostgresStore;

#[async_trait]
impl Access for PostgresStore {
    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    exec(
                        tx,
                        sql::accounts::INSERT_SESSION,
                        &[
                            &session.token_hash,
                            &session.user_id.as_uuid(),
                            &session.workspace_id.as_uuid(),
                            &session.csrf_token,
                            &session.created_at.0,
                            &session.expires_at.0,
                        ],
                    )
                    .await?;
                    Ok(())
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    let row = query_opt(tx, sql::accounts::LIVE_SESSION, &[&hash, &now.0]).await?;
                    let Some(row) = row else { return Ok(None) };
                    let csrf: String = get(&row, 2)?;
                    Ok(principal_if_member(tx, id(&row, 1)?, id(&row, 0)?)
                        .await?
                        .map(|p| (p, csrf)))
                })
            })
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let hash = token_hash.to_owned();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let owner = query_opt(
                        tx,
                        "DELETE FROM session WHERE token_hash = $1 RETURNING workspace_id, user_id",
                        &[&hash],
                    )
                    .await?;
                    if let Some(r) = owner {
                        log_access_change(tx, id(&r, 0)?, id(&r, 1)?).await?;
                    }
                    Ok(())
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    let id = new_id();
                    exec(
                        tx,
                        sql::accounts::INSERT_API_TOKEN,
                        &[&id, &ws.as_uuid(), &user.as_uuid(), &name, &hash, &at.0],
                    )
                    .await?;
                    Ok(TokenView {
                        id: id.into(),
                        name: name.to_string(),
                        created_at: at,
                        revoked_at: None,
                    })
                })
            })
            .await
    }

    async fn list_tokens(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Vec<TokenView>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    query(
                        tx,
                        sql::accounts::USER_TOKENS,
                        &[&ws.as_uuid(), &user.as_uuid()],
                    )
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(TokenView {
                            id: id(r, 0)?,
                            name: get(r, 1)?,
                            created_at: ts(r, 2)?,
                            revoked_at: opt_ts(r, 3)?,
                        })
                    })
                    .collect()
                })
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
            .run(move |tx| {
                Box::pin(async move {
                    let n = exec(
                        tx,
                        sql::accounts::REVOKE_TOKEN,
                        &[&at.0, &ws.as_uuid(), &user.as_uuid(), &id.as_uuid()],
                    )
                    .await?;
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    log_access_change(tx, ws, user).await
                })
            })
            .await
    }

    async fn token_principal(&self, token_hash: &str) -> StoreResult<Option<Principal>> {
        let hash = token_hash.to_owned();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let row = query_opt(tx, sql::accounts::LIVE_TOKEN, &[&hash]).await?;
                    match row {
                        Some(row) => principal_if_member(tx, id(&row, 1)?, id(&row, 0)?).await,
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn last_access_change(&self) -> StoreResult<i64> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let rows = query(tx, sql::accounts::LAST_ACCESS_CHANGE, &[]).await?;
                    rows.first().map_or(Ok(0), |r| get(r, 0))
                })
            })
            .await
    }

    async fn access_changes(&self, after: i64, limit: u32) -> StoreResult<Vec<AccessChange>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    query(
                        tx,
                        sql::accounts::ACCESS_CHANGES_AFTER,
                        &[&after, &i64::from(limit)],
                    )
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(AccessChange {
                            id: get(r, 0)?,
                            workspace_id: id(r, 1)?,
                            user_id: id(r, 2)?,
                        })
                    })
                    .collect()
                })
            })
            .await
    }

    async fn record_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    exec(
                        tx,
                        sql::accounts::INSERT_AUDIT,
                        &[
                            &entry.workspace_id.as_uuid(),
                            &entry.actor_id.map(|a| a.as_uuid()),
                            &entry.action,
                            &entry.target,
                            &entry.detail.to_string(),
                            &entry.ip,
                            &entry.at.0,
                        ],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn list_audit(&self, ws: WorkspaceId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    query(
                        tx,
                        sql::accounts::AUDIT,
                        &[&ws.as_uuid(), &i64::from(limit)],
                    )
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(AuditEntry {
                            workspace_id: id(r, 0)?,
                            actor_id: rows::opt_id(r, 1)?,
                            action: get(r, 2)?,
                            target: get(r, 3)?,
                            detail: rows::json(r, 4)?,
                            ip: get(r, 5)?,
                            at: ts(r, 6)?,
                        })
                    })
                    .collect()
                })
            })
            .await
    }
}

/// Orders the access-change log: taken just before appending to it and held until commit, so
/// ids grow in commit order and a reader resuming after an id misses nothing. Always the last
/// lock a transaction takes, so it cannot close a cycle.
const ACCESS_LOCK: i64 = 0x5041_524c_4143;

/// Adds to the access-change log that this user's open sockets must be checked again.
pub(crate) async fn log_access_change(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    user: UserId,
) -> StoreResult<()> {
    exec(tx, "SELECT pg_advisory_xact_lock($1)", &[&ACCESS_LOCK]).await?;
    exec(
        tx,
        "INSERT INTO access_change (workspace_id, user_id) VALUES ($1, $2)",
        &[&ws.as_uuid(), &user.as_uuid()],
    )
    .await?;
    Ok(())
}

/// The principal of a credential's user, or `None` once the user left the workspace.
async fn principal_if_member(
    tx: &Tx<'_>,
    ws: WorkspaceId,
    user: UserId,
) -> StoreResult<Option<Principal>> {
    match principal(tx, ws, user).await {
        Ok(p) => Ok(Some(p)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
