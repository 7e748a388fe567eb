//! Reading conversations: the SQL of filtered lists with keyset pagination, a timeline's rows, and
//! the counts by status, inbox, team and label.

use parley_core::message::DeliveryStatus;
use parley_store::crypt::Keyring;
use parley_store::*;
use tokio_postgres::types::ToSql;

use crate::db::{query, Tx};
use crate::rows::{self, get, scope_params, CONVERSATION_COLS, CONVERSATION_FROM};

/// Query parameters collected while building SQL; `push` returns the placeholder to write.
#[derive(Default)]
pub(crate) struct Params(Vec<Box<dyn ToSql + Sync + Send>>);

impl Params {
    fn push(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    pub(crate) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
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

/// The SELECT of a list's page (one row more than asked, to tell whether a next page exists) and
/// its parameters.
pub(crate) fn list_sql(scope: &Scope, q: &ConversationQuery) -> StoreResult<(String, Params)> {
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
    Ok((sql, p))
}

/// One timeline row: the event and, for a message, its delivery status and error.
pub(crate) fn timeline_entry(
    keys: Option<&Keyring>,
    r: &tokio_postgres::Row,
) -> StoreResult<TimelineEntry> {
    let status: Option<&str> = get(r, 7)?;
    let message: Option<uuid::Uuid> = get(r, 9)?;
    let error = match message {
        Some(m) => parley_store::crypt::open_field(
            keys,
            &parley_store::crypt::aad("message", m, "error"),
            get(r, 8)?,
        )?,
        None => None,
    };
    Ok(TimelineEntry {
        event: rows::event(keys, r)?,
        delivery: status.and_then(DeliveryStatus::parse).map(|s| (s, error)),
    })
}

/// Open conversations the scope sees, by inbox.
pub(crate) const OPEN_BY_INBOX: &str = "SELECT c.inbox_id::text, COUNT(*) FROM conversation c \
     WHERE c.workspace_id = $1 AND c.status = 'open' AND ($2 OR c.inbox_id = ANY($3)) GROUP BY c.inbox_id";

/// Open conversations the scope sees, by team.
pub(crate) const OPEN_BY_TEAM: &str = "SELECT c.team_id::text, COUNT(*) FROM conversation c WHERE c.workspace_id = $1 \
     AND c.status = 'open' AND c.team_id IS NOT NULL AND ($2 OR c.inbox_id = ANY($3)) GROUP BY c.team_id";

/// Open conversations the scope sees, by label.
pub(crate) const OPEN_BY_LABEL: &str = "SELECT l.label, COUNT(*) FROM conversation_label l JOIN conversation c ON c.id = l.conversation_id \
     WHERE c.workspace_id = $1 AND c.status = 'open' AND ($2 OR c.inbox_id = ANY($3)) GROUP BY l.label";

/// The counts by status, with the open conversations assigned to the scope's user and to nobody.
pub(crate) async fn count_statuses(tx: &Tx<'_>, scope: &Scope) -> StoreResult<ConversationCounts> {
    let (all, inboxes) = scope_params(scope);
    let mut out = ConversationCounts::default();
    let rows = query(
        tx,
        "SELECT c.status, COUNT(*), COUNT(*) FILTER (WHERE c.assignee_id = $4), \
         COUNT(*) FILTER (WHERE c.assignee_id IS NULL) \
         FROM conversation c WHERE c.workspace_id = $1 AND ($2 OR c.inbox_id = ANY($3)) GROUP BY c.status",
        &[&scope.workspace.as_uuid(), &all, &inboxes, &scope.user.as_uuid()],
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
    Ok(out)
}

/// One of the `OPEN_BY_*` counts.
pub(crate) async fn count_open(
    tx: &Tx<'_>,
    scope: &Scope,
    sql: &str,
) -> StoreResult<std::collections::BTreeMap<String, u64>> {
    let (all, inboxes) = scope_params(scope);
    let ws = scope.workspace.as_uuid();
    query(tx, sql, &[&ws, &all, &inboxes])
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get::<i64>(r, 1)? as u64)))
        .collect()
}
