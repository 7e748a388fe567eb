//! Writing a conversation's rows: timeline events, messages, a new conversation and the columns of
//! one that changed. Shared by the inbound path, agents' commands, contacts and the outbox.

use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, MessageId, Timestamp, WorkspaceId,
};
use parley_store::*;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Params};

use crate::accounts::new_id;
use crate::db::sql_err;
use crate::rows::{self, scope_filter, CONVERSATION_COLS, CONVERSATION_FROM};

#[expect(
    clippy::too_many_arguments,
    reason = "one column each; a struct would only be unpacked again"
)]
pub(crate) fn insert_event(
    c: &Connection,
    events: &mut Vec<Published>,
    ws: WorkspaceId,
    inbox: InboxId,
    conv: Option<ConversationId>,
    kind: &str,
    message: Option<MessageId>,
    at: Timestamp,
    data: String,
) -> StoreResult<i64> {
    c.prepare_cached(
        "INSERT INTO event (workspace_id, inbox_id, conversation_id, kind, message_id, at, data) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, parley_seal(?7, 'event:' || ?1 || ':' || ?4 || ':' || ?6))",
    )
    .map_err(sql_err)?
    .execute(params![
        ws.to_string(),
        inbox.to_string(),
        conv.map(|c| c.to_string()),
        kind,
        message.map(|m| m.to_string()),
        at.0,
        data
    ])
    .map_err(sql_err)?;
    let seq = c.last_insert_rowid();
    events.push(Published {
        seq,
        workspace_id: ws,
        inbox_id: inbox,
        conversation_id: conv,
        kind: kind.to_string(),
        at,
        data,
    });
    Ok(seq)
}

pub(crate) fn load_conversation_by<P: Params>(
    c: &Connection,
    cond: &str,
    p: P,
) -> StoreResult<ConversationView> {
    c.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLS} FROM {CONVERSATION_FROM} WHERE {cond}"
    ))
    .map_err(sql_err)?
    .query_row(p, rows::conversation)
    .optional()
    .map_err(sql_err)?
    .ok_or(StoreError::NotFound)
}

pub(crate) fn load_scoped(
    c: &Connection,
    scope: &Scope,
    id: ConversationId,
) -> StoreResult<ConversationView> {
    let cond = format!(
        "c.id = ?1 AND c.workspace_id = ?2{}",
        scope_filter(scope, "c.inbox_id")
    );
    load_conversation_by(c, &cond, [id.to_string(), scope.workspace.to_string()])
}

/// Writes the columns of a conversation that changed between `before` and `v`. Only changed columns
/// are set, so SQLite maintains only the indexes that really moved (most messages touch one).
pub(crate) fn save_conversation(
    c: &Connection,
    before: &ConversationView,
    v: &ConversationView,
) -> StoreResult<()> {
    let mut sets: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut set = |col: &str, val: Value| {
        args.push(val);
        let n = args.len();
        sets.push(if col == "last_message" {
            format!("{col} = parley_seal(?{n}, 'conversation:' || id || ':preview')")
        } else {
            format!("{col} = ?{n}")
        });
    };
    let text = |s: String| Value::Text(s);
    let opt_text = |s: Option<String>| s.map_or(Value::Null, Value::Text);
    let opt_int = |i: Option<i64>| i.map_or(Value::Null, Value::Integer);
    if before.status != v.status {
        set("status", text(v.status.as_str().into()));
    }
    if before.snoozed_until != v.snoozed_until {
        set("snoozed_until", opt_int(v.snoozed_until.map(|t| t.0)));
        // The wake-up timer moves with the snooze, in the same transaction.
        crate::timers::follow_snooze(c, v.id, v.snoozed_until)?;
    }
    if before.assignee_id != v.assignee_id {
        set(
            "assignee_id",
            opt_text(v.assignee_id.map(|a| a.to_string())),
        );
    }
    if before.team_id != v.team_id {
        set("team_id", opt_text(v.team_id.map(|t| t.to_string())));
    }
    if before.priority != v.priority {
        set("priority", Value::Integer(v.priority.rank()));
    }
    if before.labels != v.labels {
        set(
            "labels",
            text(serde_json::to_string(&v.labels).unwrap_or_else(|_| "[]".into())),
        );
    }
    if before.waiting_since != v.waiting_since {
        set("waiting_since", opt_int(v.waiting_since.map(|t| t.0)));
        set("waiting_key", Value::Integer(v.waiting_key()));
    }
    if before.first_reply_at != v.first_reply_at {
        set("first_reply_at", opt_int(v.first_reply_at.map(|t| t.0)));
    }
    if before.last_activity_at != v.last_activity_at {
        set("last_activity_at", Value::Integer(v.last_activity_at.0));
    }
    if before.last_message != v.last_message {
        set("last_message", opt_text(v.last_message.clone()));
    }
    if before.identity_id != v.identity_id {
        set("identity_id", text(v.identity_id.to_string()));
    }
    if !sets.is_empty() {
        args.push(text(v.id.to_string()));
        let sql = format!(
            "UPDATE conversation SET {} WHERE id = ?{}",
            sets.join(", "),
            args.len()
        );
        c.prepare_cached(&sql)
            .map_err(sql_err)?
            .execute(params_from_iter(args))
            .map_err(sql_err)?;
    }
    if before.labels != v.labels {
        c.execute(
            "DELETE FROM conversation_label WHERE conversation_id = ?1",
            [v.id.to_string()],
        )
        .map_err(sql_err)?;
        for l in &v.labels {
            c.execute(
                "INSERT INTO conversation_label (conversation_id, label) VALUES (?1, ?2)",
                [v.id.to_string(), l.clone()],
            )
            .map_err(sql_err)?;
        }
    }
    Ok(())
}

pub(crate) fn insert_conversation(
    c: &Connection,
    ws: WorkspaceId,
    v: &ConversationView,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO conversation (id, workspace_id, inbox_id, contact_id, identity_id, status, priority, labels, waiting_key, \
         last_activity_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]', ?8, ?9, ?9)",
    )
    .map_err(sql_err)?
    .execute(params![
        v.id.to_string(),
        ws.to_string(),
        v.inbox_id.to_string(),
        v.contact_id.to_string(),
        v.identity_id.to_string(),
        v.status.as_str(),
        v.priority.rank(),
        v.waiting_key(),
        v.created_at.0
    ])
    .map_err(sql_err)?;
    Ok(())
}

pub(crate) fn new_conversation(
    inbox: InboxId,
    contact: ContactId,
    contact_name: Option<String>,
    identity: IdentityId,
    at: Timestamp,
) -> ConversationView {
    ConversationView::new_thread(new_id().into(), inbox, contact, contact_name, identity, at)
}

pub(crate) fn insert_message(c: &Connection, ws: WorkspaceId, m: &MessageView) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO message (id, workspace_id, conversation_id, inbox_id, direction, sender_kind, sender_id, body, external_id, \
         status, error, created_at, updated_at, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, parley_seal(?8, 'message:' || ?1 || ':body'), ?9, \
         ?10, parley_seal(?11, 'message:' || ?1 || ':error'), ?12, ?12, parley_seal(?13, 'message:' || ?1 || ':meta'))",
    )
    .map_err(sql_err)?
    .execute(params![
        m.id.to_string(),
        ws.to_string(),
        m.conversation_id.to_string(),
        m.inbox_id.to_string(),
        m.direction.as_str(),
        m.sender_kind.as_str(),
        m.sender_id.map(|s| s.to_string()),
        m.body,
        m.external_id,
        m.status.as_str(),
        m.error,
        m.created_at.0,
        m.meta.as_ref().map(|v| v.to_string())
    ])
    .map_err(sql_err)?;
    Ok(())
}

pub(crate) fn record_conversation_event(
    c: &Connection,
    ws: WorkspaceId,
    id: ConversationId,
    kind: &'static str,
    data: serde_json::Value,
    at: Timestamp,
    events: &mut Vec<Published>,
) -> StoreResult<()> {
    let conv = load_conversation_by(
        c,
        "c.id = ?1 AND c.workspace_id = ?2",
        [id.to_string(), ws.to_string()],
    )?;
    let data = plan::events::conversation_event(data, &conv);
    insert_event(
        c,
        events,
        ws,
        conv.inbox_id,
        Some(conv.id),
        kind,
        None,
        at,
        data,
    )?;
    Ok(())
}
