//! The agent commands over HTTP: note, assign, hand off, status, priority, labels, seen and
//! typing. Each handler reads its request, calls [`commands`] and answers the conversation.

use axum::extract::State;
use axum::http::StatusCode;
use parley_core::conversation::{Priority, Status};
use parley_core::{ConversationId, TeamId, Timestamp, UserId};
use serde::Deserialize;

use crate::conversations::commands::{self, CommandError};
use crate::conversations::views::NoteWrittenView;
use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::double_option;
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::views::ConversationView;
use crate::views::Sorted;

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let field = match e {
            CommandError::Invalid(e) => return e.into(),
            CommandError::Store(e) => return e.into(),
            CommandError::AssignsOthers | CommandError::HandsOffOthers => {
                return ApiError::forbidden(e.to_string())
            }
            CommandError::NothingToAssign => "assignee_id",
            CommandError::NoSuchTeam => "team_id",
            CommandError::NothingToChange => "priority",
            CommandError::TooManyLabels => "labels",
            CommandError::NotAUser(_) => "mentions",
        };
        ApiError::invalid(field, e.to_string())
    }
}

/// The conversation as a command left it.
type Changed = ApiResult<Json<ConversationView>>;

fn answer(conv: parley_store::ConversationView) -> Changed {
    Ok(Json(conv.into()))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    body: String,
    #[serde(default)]
    mentions: Vec<UserId>,
}

/// `POST /api/v1/conversations/{id}/notes`: an internal note; its mentions notify agents.
pub async fn note(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<NoteRequest>,
) -> ApiResult<(StatusCode, Json<Sorted<NoteWrittenView>>)> {
    let written = commands::write_note(&app, &p, id, &req.body, &req.mentions).await?;
    Ok((StatusCode::CREATED, Json(Sorted(written))))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[serde(default, deserialize_with = "double_option")]
    assignee_id: Option<Option<UserId>>,
    #[serde(default, deserialize_with = "double_option")]
    team_id: Option<Option<TeamId>>,
}

/// `POST /api/v1/conversations/{id}/assign`.
pub async fn assign(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<AssignRequest>,
) -> Changed {
    answer(commands::assign(&app, &p, id, req.assignee_id, req.team_id).await?)
}

/// `POST /api/v1/conversations/{id}/unassign`.
pub async fn unassign(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> Changed {
    answer(commands::assign(&app, &p, id, Some(None), None).await?)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    #[serde(default)]
    team_id: Option<TeamId>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/conversations/{id}/handoff`: see [`commands::handoff`].
pub async fn handoff(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<HandoffRequest>,
) -> Changed {
    answer(commands::handoff(&app, &p, id, req.team_id, req.note.as_deref()).await?)
}

/// `POST /api/v1/conversations/{id}/resolve`.
pub async fn resolve(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> Changed {
    answer(commands::set_status(&app, &p, id, Status::Resolved, None).await?)
}

/// `POST /api/v1/conversations/{id}/reopen`.
pub async fn reopen(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> Changed {
    answer(commands::set_status(&app, &p, id, Status::Open, None).await?)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeRequest {
    until: Timestamp,
}

/// `POST /api/v1/conversations/{id}/snooze`.
pub async fn snooze(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<SnoozeRequest>,
) -> Changed {
    answer(commands::set_status(&app, &p, id, Status::Snoozed, Some(req.until)).await?)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    snoozed_until: Option<Timestamp>,
}

/// `PATCH /api/v1/conversations/{id}`: priority, status or both.
pub async fn update_conversation(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<PatchRequest>,
) -> ApiResult<Json<Option<ConversationView>>> {
    let status = req.status.map(|s| (s, req.snoozed_until));
    let conv = commands::change(&app, &p, id, req.priority, status).await?;
    Ok(Json(conv.map(ConversationView::from)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsRequest {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// `POST /api/v1/conversations/{id}/labels`.
pub async fn change_labels(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<LabelsRequest>,
) -> Changed {
    answer(commands::relabel(&app, &p, id, &req.add, &req.remove).await?)
}

/// `DELETE /api/v1/conversations/{id}/labels/{label}`.
pub async fn remove_label(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, label)): Path<(ConversationId, String)>,
) -> Changed {
    answer(commands::relabel(&app, &p, id, &[], &[label]).await?)
}

/// `POST /api/v1/conversations/{id}/seen`: no longer unread for the caller.
pub async fn seen(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<StatusCode> {
    commands::mark_seen(&app, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    /// False while writing an internal note: only other agents are told.
    #[serde(default)]
    to_customer: Option<bool>,
}

/// `POST /api/v1/conversations/{id}/typing`: the body is optional; an empty one means a reply.
pub async fn typing(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let req: TypingRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TypingRequest::default()
    } else {
        crate::http::extract::parse_json(&body)?
    };
    let to_customer = req.to_customer.unwrap_or(true);
    crate::realtime::announce_typing(&app, &p, id, to_customer).await?;
    Ok(StatusCode::NO_CONTENT)
}
