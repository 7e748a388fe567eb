//! Reading conversations: filtered lists with keyset pagination, timelines, and the event feed a
//! client replays after a reconnect.

use parley_core::message::DeliveryStatus;
use parley_core::ConversationId;
use parley_store::*;
use tokio_postgres::types::ToSql;

use crate::conversations::load_scoped;
use crate::db::{query, Tx};
use crate::rows::{
    self, get, pg_err, scope_params, CONVERSATION_COLS, CONVERSATION_FROM, EVENT_COLS,
};

/// Query parameters collected while building SQL; `push` returns the placeholder to write.
#[derive(Default)]
struct Params(Vec<Box<dyn ToSql + Sync + Send>>);

impl Params {
    fn push(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The WHERE clause for a query's filters (without the cursor).
fn filters(scope: &Scope, q: &ConversationQuery, p: &mut Params) -> String {
    let (all, inboxes) = scope_params(scope);
    let mut sql = format!(
        "c.workspace_id = {} AND ({} OR c.inbox_id = ANY({}))",
        p.push(scope.workspace.as_uuid()),
        p.push(all),
        p.push(inboxes)
    );
    if !q.statuses.is_empty() {
        let statuses: Vec<String> = q.statuses.iter().map(|s| s.as_str().to_owned()).collect();
        sql += &format!(" AND c.status = ANY({})", p.push(statuses));
    }
    match q.assignee {
        AssigneeFilter::Anyone => {}
        AssigneeFilter::Nobody => sql += " AND c.assignee_id IS NULL",
        AssigneeFilter::User(u) => sql += &format!(" AND c.assignee_id = {}", p.push(u.as_uuid())),
    }
    for (col, v) in [
        ("c.inbox_id", q.inbox.map(|i| i.as_uuid())),
        ("c.team_id", q.team.map(|t| t.as_uuid())),
        ("c.contact_id", q.contact.map(|t| t.as_uuid())),
    ] {
        if let Some(v) = v {
            sql += &format!(" AND {col} = {}", p.push(v));
        }
    }
    if let Some(prio) = q.priority {
        sql += &format!(" AND c.priority = {}", p.push(prio.rank()));
    }
    if let Some(l) = &q.label {
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM conversation_label l WHERE l.conversation_id = c.id AND l.label = {})",
            p.push(l.clone())
        );
    }
    sql
}

pub(crate) async fn list(
    tx: &Tx<'_>,
    scope: &Scope,
    q: &ConversationQuery,
) -> StoreResult<Page<ConversationView>> {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT {CONVERSATION_COLS} FROM {CONVERSATION_FROM} WHERE {}",
        filters(scope, q, &mut p)
    );
    let (keys, order): (&[&str], &str) = match q.sort {
        Sort::Waiting => (&["c.waiting_key"], "c.waiting_key ASC, c.id ASC"),
        Sort::Activity => (
            &["c.last_activity_at"],
            "c.last_activity_at DESC, c.id DESC",
        ),
        Sort::Priority => (
            &["c.priority", "c.waiting_key"],
            "c.priority ASC, c.waiting_key ASC, c.id ASC",
        ),
    };
    if let Some(cur) = &q.cursor {
        if cur.keys.len() != keys.len() {
            return Err(StoreError::Invalid {
                field: "cursor",
                reason: "belongs to another sort".into(),
            });
        }
        // A row comparison (k1, k2, id) > ($1, $2, $3): PostgreSQL walks the matching index with it.
        let op = if q.sort == Sort::Activity { "<" } else { ">" };
        let values: Vec<String> = cur.keys.iter().map(|k| p.push(*k)).collect();
        sql += &format!(
            " AND ({}, c.id) {op} ({}, {})",
            keys.join(", "),
            values.join(", "),
            p.push(cur.id)
        );
    }
    sql += &format!(" ORDER BY {order} LIMIT {}", p.push(i64::from(q.limit) + 1));
    // Built per filter combination; a one-off statement keeps the cache small.
    let items: Vec<ConversationView> = tx
        .query(sql.as_str(), &p.refs())
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| rows::conversation(tx.keys(), r))
        .collect::<StoreResult<_>>()?;
    Ok(plan::pages::conversations(items, q))
}

pub(crate) async fn timeline(
    tx: &Tx<'_>,
    scope: &Scope,
    conv: ConversationId,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<TimelineEntry>> {
    load_scoped(tx, scope, conv).await?;
    let sql = format!(
        "SELECT {EVENT_COLS}, m.status, m.error, m.id FROM event e LEFT JOIN message m ON m.id = e.message_id \
         WHERE e.conversation_id = $1 AND e.kind IN ('message.created', 'note.created', 'conversation.updated', 'consent.changed', 'survey.answered') \
         AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3"
    );
    let rows = query(
        tx,
        &sql,
        &[
            &conv.as_uuid(),
            &before.unwrap_or(i64::MAX),
            &i64::from(limit),
        ],
    )
    .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            let status: Option<&str> = get(r, 7)?;
            let message: Option<uuid::Uuid> = get(r, 9)?;
            let error = match message {
                Some(m) => parley_store::crypt::open_field(
                    tx.keys(),
                    &parley_store::crypt::aad("message", m, "error"),
                    get(r, 8)?,
                )?,
                None => None,
            };
            Ok(TimelineEntry {
                event: rows::event(tx.keys(), r)?,
                delivery: status.and_then(DeliveryStatus::parse).map(|s| (s, error)),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    out.reverse();
    Ok(out)
}

pub(crate) async fn events_since(
    tx: &Tx<'_>,
    scope: &Scope,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<Published>> {
    let (all, inboxes) = scope_params(scope);
    let sql = format!(
        "SELECT {EVENT_COLS} FROM event e WHERE e.workspace_id = $1 AND e.seq > $2 \
         AND ($3 OR e.inbox_id = ANY($4)) ORDER BY e.seq LIMIT $5"
    );
    query(
        tx,
        &sql,
        &[
            &scope.workspace.as_uuid(),
            &after,
            &all,
            &inboxes,
            &i64::from(limit),
        ],
    )
    .await?
    .iter()
    .map(|r| rows::event(tx.keys(), r))
    .collect()
}

pub(crate) async fn counts(tx: &Tx<'_>, scope: &Scope) -> StoreResult<ConversationCounts> {
    let (all, inboxes) = scope_params(scope);
    let ws = scope.workspace.as_uuid();
    let visible = "($2 OR c.inbox_id = ANY($3))";
    let mut out = ConversationCounts::default();
    let rows = query(
        tx,
        &format!(
            "SELECT c.status, COUNT(*), COUNT(*) FILTER (WHERE c.assignee_id = $4), \
             COUNT(*) FILTER (WHERE c.assignee_id IS NULL) \
             FROM conversation c WHERE c.workspace_id = $1 AND {visible} GROUP BY c.status"
        ),
        &[&ws, &all, &inboxes, &scope.user.as_uuid()],
    )
    .await?;
    for r in &rows {
        let (status, n, mine, unassigned): (String, i64, i64, i64) =
            (get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?);
        if status == "open" {
            (out.mine, out.unassigned) = (mine as u64, unassigned as u64);
        }
        out.statuses.insert(status, n as u64);
    }
    for (sql, into) in [
        (
            format!(
                "SELECT c.inbox_id::text, COUNT(*) FROM conversation c \
                 WHERE c.workspace_id = $1 AND c.status = 'open' AND {visible} GROUP BY c.inbox_id"
            ),
            &mut out.inboxes,
        ),
        (
            format!(
                "SELECT c.team_id::text, COUNT(*) FROM conversation c WHERE c.workspace_id = $1 \
                 AND c.status = 'open' AND c.team_id IS NOT NULL AND {visible} GROUP BY c.team_id"
            ),
            &mut out.teams,
        ),
        (
            format!(
                "SELECT l.label, COUNT(*) FROM conversation_label l JOIN conversation c ON c.id = l.conversation_id \
                 WHERE c.workspace_id = $1 AND c.status = 'open' AND {visible} GROUP BY l.label"
            ),
            &mut out.labels,
        ),
    ] {
        for r in &query(tx, &sql, &[&ws, &all, &inboxes]).await? {
            into.insert(get(r, 0)?, get::<i64>(r, 1)? as u64);
        }
    }
    Ok(out)
}
