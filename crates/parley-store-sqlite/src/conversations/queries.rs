//! Reading conversations: the SQL of filtered lists with keyset pagination, a timeline's rows, the
//! counts by status, inbox, team and label, one message by id, the survey key.

use parley_core::message::DeliveryStatus;
use parley_core::WorkspaceId;
use parley_store::*;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;

use crate::db::sql_err;
use crate::rows::{self, scope_filter, CONVERSATION_COLS, CONVERSATION_FROM, MESSAGE_COLS};

/// The WHERE clause for a query's filters (without the cursor), its arguments pushed on `args`.
fn filters(scope: &Scope, q: &ConversationQuery, args: &mut Vec<Value>) -> String {
    let mut sql = String::from("c.workspace_id = ?");
    args.push(Value::Text(scope.workspace.to_string()));
    sql.push_str(&scope_filter(scope, "c.inbox_id"));
    if !q.statuses.is_empty() {
        let marks = vec!["?"; q.statuses.len()].join(",");
        sql.push_str(&format!(" AND c.status IN ({marks})"));
        args.extend(q.statuses.iter().map(|s| Value::Text(s.as_str().into())));
    }
    match q.assignee {
        AssigneeFilter::Anyone => {}
        AssigneeFilter::Nobody => sql.push_str(" AND c.assignee_id IS NULL"),
        AssigneeFilter::User(u) => {
            sql.push_str(" AND c.assignee_id = ?");
            args.push(Value::Text(u.to_string()));
        }
    }
    for (col, v) in [
        ("c.inbox_id", q.inbox.map(|i| i.to_string())),
        ("c.team_id", q.team.map(|t| t.to_string())),
        ("c.contact_id", q.contact.map(|t| t.to_string())),
    ] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(Value::Text(v));
        }
    }
    if let Some(p) = q.priority {
        sql.push_str(" AND c.priority = ?");
        args.push(Value::Integer(p.rank()));
    }
    if let Some(l) = &q.label {
        sql.push_str(" AND EXISTS (SELECT 1 FROM conversation_label l WHERE l.conversation_id = c.id AND l.label = ?)");
        args.push(Value::Text(l.clone()));
    }
    sql
}

/// The SELECT of a list's page (one row more than asked, to tell whether a next page exists) and
/// its arguments.
pub(crate) fn list_sql(scope: &Scope, q: &ConversationQuery) -> StoreResult<(String, Vec<Value>)> {
    let mut args: Vec<Value> = Vec::new();
    let mut sql = format!(
        "SELECT {CONVERSATION_COLS} FROM {CONVERSATION_FROM} WHERE {}",
        filters(scope, q, &mut args)
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
    let desc = q.sort == Sort::Activity;
    if let Some(cur) = &q.cursor {
        if cur.keys.len() != keys.len() {
            return Err(StoreError::Invalid {
                field: "cursor",
                reason: "belongs to another sort".into(),
            });
        }
        // (k1, k2, id) > (v1, v2, id0) written out, so both databases can use the index.
        let op = if desc { "<" } else { ">" };
        let mut cond = format!("c.id {op} ?");
        let mut cond_args = vec![Value::Text(cur.id.to_string())];
        for (col, v) in keys.iter().zip(&cur.keys).rev() {
            cond = format!("({col} {op} ? OR ({col} = ? AND {cond}))");
            let mut a = vec![Value::Integer(*v), Value::Integer(*v)];
            a.append(&mut cond_args);
            cond_args = a;
        }
        sql.push_str(&format!(" AND {cond}"));
        args.extend(cond_args);
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?"));
    args.push(Value::Integer(i64::from(q.limit) + 1));
    Ok((sql, args))
}

/// One timeline row: the event and, for a message, its delivery status and error.
pub(crate) fn timeline_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimelineEntry> {
    let status: Option<String> = r.get(7)?;
    let error: Option<String> = r.get(8)?;
    Ok(TimelineEntry {
        event: rows::event(r)?,
        delivery: status
            .and_then(|s| DeliveryStatus::parse(&s))
            .map(|s| (s, error)),
    })
}

/// The counts by status, with the open conversations assigned to the scope's user and to nobody.
pub(crate) fn count_statuses(c: &Connection, scope: &Scope) -> StoreResult<ConversationCounts> {
    let visible = scope_filter(scope, "c.inbox_id");
    let mut out = ConversationCounts::default();
    let rows: Vec<(String, i64, i64, i64)> = c
        .prepare_cached(&format!(
            "SELECT c.status, COUNT(*), COALESCE(SUM(c.assignee_id = ?2), 0), COALESCE(SUM(c.assignee_id IS NULL), 0) \
             FROM conversation c WHERE c.workspace_id = ?1{visible} GROUP BY c.status"
        ))
        .map_err(sql_err)?
        .query_map(params![scope.workspace.to_string(), scope.user.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)?;
    for (status, n, mine, unassigned) in rows {
        if status == "open" {
            (out.mine, out.unassigned) = (mine as u64, unassigned as u64);
        }
        out.statuses.insert(status, n as u64);
    }
    Ok(out)
}

/// Open conversations by inbox, by team and by label; `{visible}` stands for the scope's filter.
pub(crate) const OPEN_BY_INBOX: &str = "SELECT c.inbox_id, COUNT(*) FROM conversation c \
     WHERE c.workspace_id = ?1 AND c.status = 'open'{visible} GROUP BY c.inbox_id";
pub(crate) const OPEN_BY_TEAM: &str = "SELECT c.team_id, COUNT(*) FROM conversation c WHERE c.workspace_id = ?1 AND c.status = 'open' \
     AND c.team_id IS NOT NULL{visible} GROUP BY c.team_id";
pub(crate) const OPEN_BY_LABEL: &str = "SELECT l.label, COUNT(*) FROM conversation_label l JOIN conversation c ON c.id = l.conversation_id \
     WHERE c.workspace_id = ?1 AND c.status = 'open'{visible} GROUP BY l.label";

/// One of the `OPEN_BY_*` counts, of the conversations the scope sees.
pub(crate) fn count_open(
    c: &Connection,
    scope: &Scope,
    sql: &str,
) -> StoreResult<BTreeMap<String, u64>> {
    let sql = sql.replace("{visible}", &scope_filter(scope, "c.inbox_id"));
    c.prepare_cached(&sql)
        .map_err(sql_err)?
        .query_map([scope.workspace.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)
}

pub(crate) fn message(c: &Connection, id: &str) -> StoreResult<MessageView> {
    c.prepare_cached(&format!("SELECT {MESSAGE_COLS} FROM message WHERE id = ?1"))
        .map_err(sql_err)?
        .query_row([id], rows::message)
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound)
}

/// The workspace's survey key, when it has one.
pub(crate) fn stored_survey_key(c: &Connection, ws: WorkspaceId) -> StoreResult<Option<String>> {
    c.prepare_cached(
        "SELECT parley_open(secret, 'survey_key:' || id || ':secret') FROM survey_key WHERE id = ?1",
    )
    .map_err(sql_err)?
    .query_row([ws.to_string()], |r| r.get(0))
    .optional()
    .map_err(sql_err)
}
