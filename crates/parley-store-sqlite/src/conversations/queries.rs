//! Reading conversations: filtered lists with keyset pagination, one message by id, the survey key.

use parley_core::WorkspaceId;
use parley_store::*;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use crate::db::sql_err;
use crate::rows::{self, scope_filter, CONVERSATION_COLS, CONVERSATION_FROM, MESSAGE_COLS};

pub(crate) fn list(
    c: &Connection,
    scope: &Scope,
    q: &ConversationQuery,
) -> StoreResult<Page<ConversationView>> {
    let mut sql =
        format!("SELECT {CONVERSATION_COLS} FROM {CONVERSATION_FROM} WHERE c.workspace_id = ?");
    let mut args: Vec<Value> = vec![Value::Text(scope.workspace.to_string())];
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
    let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
    let items: Vec<ConversationView> = stmt
        .query_map(params_from_iter(args), rows::conversation)
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    Ok(plan::pages::conversations(items, q))
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
