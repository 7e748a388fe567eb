//! The conversation list: filtered, sorted and paged, with each one's SLA and whether it is
//! unread for the caller; the counts of each view; one conversation.

use axum::extract::State;
use parley_core::conversation::{parse_label, Priority, Status};
use parley_core::{ConversationId, InboxId, TeamId, Timestamp, UserId};
use parley_store::{AssigneeFilter, ConversationQuery, Principal, Sort};
use serde::Deserialize;

use crate::conversations::views::{ConversationPage, CountsView};
use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::state::App;
use crate::views::ConversationView;
use crate::views::Sorted;

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    assignee: Option<String>,
    inbox: Option<String>,
    team: Option<String>,
    label: Option<String>,
    priority: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

fn parse_id<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ApiError> {
    v.parse()
        .map_err(|_| bad_query(format!("{name} must be an id")))
}

fn list_query(p: &Principal, q: ListQuery) -> Result<ConversationQuery, ApiError> {
    let mut out = ConversationQuery {
        limit: crate::http::query::limit(q.limit, 25, 100)?,
        ..Default::default()
    };
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty() && *s != "all") {
        out.statuses = s
            .split(',')
            .map(|x| {
                Status::parse(x.trim()).ok_or_else(|| {
                    bad_query("status must be open, pending, snoozed, resolved or all")
                })
            })
            .collect::<Result<_, _>>()?;
    }
    out.assignee = match q.assignee.as_deref() {
        None | Some("anyone") | Some("any") => AssigneeFilter::Anyone,
        Some("me") => AssigneeFilter::User(p.user_id),
        Some("none") => AssigneeFilter::Nobody,
        Some(id) => AssigneeFilter::User(
            parse_id::<UserId>("assignee", id)
                .map_err(|_| bad_query("assignee must be me, none, anyone or a user id"))?,
        ),
    };
    out.inbox = q
        .inbox
        .as_deref()
        .map(|v| parse_id::<InboxId>("inbox", v))
        .transpose()?;
    out.team = q
        .team
        .as_deref()
        .map(|v| parse_id::<TeamId>("team", v))
        .transpose()?;
    out.label = q
        .label
        .as_deref()
        .map(|l| parse_label(l).map_err(|e| bad_query(format!("label: {}", e.reason))))
        .transpose()?;
    out.priority = q
        .priority
        .as_deref()
        .map(|v| {
            Priority::parse(v)
                .ok_or_else(|| bad_query("priority must be urgent, high, normal or low"))
        })
        .transpose()?;
    out.sort = match q.sort.as_deref() {
        None | Some("waiting") => Sort::Waiting,
        Some("activity") | Some("newest") => Sort::Activity,
        Some("priority") => Sort::Priority,
        Some(_) => return Err(bad_query("sort must be waiting, activity or priority")),
    };
    out.cursor = crate::http::query::cursor(q.cursor.as_deref())?;
    Ok(out)
}

/// `GET /api/v1/conversations/counts`: how many conversations each view of the inbox holds for
/// the caller (mine, unassigned, by status; open ones by inbox, team and label).
pub async fn counts(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Sorted<CountsView>>> {
    let counts = app.store.conversation_counts(&p.scope()).await?;
    Ok(Json(Sorted(counts.into())))
}

/// `GET /api/v1/conversations`: a page of the conversations the caller may see.
pub async fn list_conversations(
    State(app): State<App>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<ConversationPage>> {
    let query = list_query(&p, q)?;
    Ok(Json(conversation_page(&app, &p, &query).await?))
}

/// A page of the list, each conversation with its SLA and whether it is unread for the caller:
/// the customer is waiting and something happened since they last opened it.
async fn conversation_page(
    app: &App,
    p: &Principal,
    query: &ConversationQuery,
) -> ApiResult<ConversationPage> {
    let page = app
        .store
        .list_conversations(&p.scope(), query)
        .await
        .map_err(|e| match e {
            parley_store::StoreError::Invalid {
                field: "cursor", ..
            } => ApiError::bad_request("invalid_cursor", "the cursor belongs to another sort"),
            other => other.into(),
        })?;
    let ids: Vec<ConversationId> = page.items.iter().map(|c| c.id).collect();
    let seen = app.store.seen_at(&p.scope(), &ids).await?;
    let ws = app.workspace(p.workspace_id).await?;
    let now = app.now();
    let items = page
        .items
        .into_iter()
        .map(|c| {
            let unread = c.waiting_since.is_some()
                && seen.get(&c.id).is_none_or(|s| *s < c.last_activity_at);
            ConversationView {
                unread: Some(unread),
                ..with_sla(&ws.sla, c, now)
            }
        })
        .collect();
    Ok(ConversationPage {
        items,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    })
}

/// `GET /api/v1/conversations/{id}`: one conversation, with its SLA.
pub async fn get_conversation(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<ConversationView>> {
    let conv = app.store.conversation(&p.scope(), id).await?;
    let ws = app.workspace(p.workspace_id).await?;
    Ok(Json(with_sla(&ws.sla, conv, app.now())))
}

/// A conversation as the API shows it, with `sla`: the answer its waiting customer is owed under
/// the workspace's policies and by when (`null` when none is).
fn with_sla(
    policies: &[parley_core::sla::SlaPolicy],
    c: parley_store::ConversationView,
    now: Timestamp,
) -> ConversationView {
    let due = parley_core::sla::due(
        policies,
        c.inbox_id,
        c.priority,
        c.status,
        c.waiting_since,
        c.first_reply_at,
        now,
    );
    ConversationView {
        sla: Some(due),
        ..c.into()
    }
}
