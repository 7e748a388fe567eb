//! Scheduled replies: a reply written now to go at a chosen time, kept as a timer under its
//! conversation until then. When due it goes through the normal reply path, so the channel's
//! window and the compliance gate judge it then; a refusal is noted on the timeline.

use axum::extract::State;
use axum::http::StatusCode;
use parley_core::{ConversationId, Timestamp, UserId};
use parley_store::{NewTimer, Principal, StoreError, TimerKeys, TimerRow};
use serde::{Deserialize, Serialize};

use crate::conversations::compose::ReplyRequest;
use crate::conversations::replies::ReplyError;
use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::jobs::timers::SCHEDULED_SEND_KIND;
use crate::state::App;

/// How far ahead a reply may be scheduled.
const MAX_AHEAD_MS: i64 = 366 * 86_400_000;

/// Why a scheduled reply was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("send_at must be in the future")]
    InThePast,
    #[error("send_at may be at most a year ahead")]
    TooFar,
    #[error("give body, send_at or both")]
    NothingToChange,
    #[error("only a text reply's body can be edited")]
    NotText,
    #[error(transparent)]
    Reply(#[from] ReplyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        match e {
            ScheduleError::InThePast | ScheduleError::TooFar => {
                ApiError::invalid("send_at", e.to_string())
            }
            ScheduleError::NotText => ApiError::invalid("body", e.to_string()),
            ScheduleError::NothingToChange => {
                ApiError::bad_request("nothing_to_change", e.to_string())
            }
            ScheduleError::Reply(e) => e.into(),
            ScheduleError::Store(e) => e.into(),
        }
    }
}

/// What a scheduled reply's timer carries.
#[derive(Serialize, Deserialize)]
struct Pending {
    conversation_id: ConversationId,
    id: uuid::Uuid,
    author_id: UserId,
    created_at: Timestamp,
    request: ReplyRequest,
}

/// A reply waiting for its time.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ScheduledView {
    pub id: uuid::Uuid,
    pub conversation_id: ConversationId,
    pub send_at: Timestamp,
    pub body: Option<String>,
    pub purpose: Option<parley_core::consent::Purpose>,
    pub author_id: UserId,
    pub created_at: Timestamp,
}

/// A conversation's scheduled replies, the soonest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ScheduledPage {
    pub items: Vec<ScheduledView>,
}

/// An edit of a scheduled reply.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledPatch {
    #[serde(default)]
    pub body: Option<String>,
    /// When it goes (RFC 3339), in the future and at most a year ahead.
    #[serde(default)]
    pub send_at: Option<Timestamp>,
}

fn key(conv: ConversationId, id: uuid::Uuid) -> String {
    format!("conv:{conv}:scheduled:{id}")
}

fn view(t: &TimerRow) -> Option<ScheduledView> {
    let p: Pending = serde_json::from_value(t.payload.clone()).ok()?;
    Some(ScheduledView {
        id: p.id,
        conversation_id: p.conversation_id,
        send_at: t.due_at,
        body: p.request.body,
        purpose: p.request.purpose,
        author_id: p.author_id,
        created_at: p.created_at,
    })
}

fn check_time(app: &App, at: Timestamp) -> Result<(), ScheduleError> {
    let now = app.now().0;
    if at.0 <= now {
        return Err(ScheduleError::InThePast);
    }
    if at.0 > now + MAX_AHEAD_MS {
        return Err(ScheduleError::TooFar);
    }
    Ok(())
}

/// Refuses now what could never be sent (an empty reply, unknown files): the same checks as a
/// reply sent at once, but the window and the gate, which are judged when it is due.
async fn check_reply(
    app: &App,
    p: &Principal,
    id: ConversationId,
    req: &ReplyRequest,
) -> Result<(), ScheduleError> {
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
    let ids = req.attachments.as_deref().unwrap_or_default();
    let files = crate::conversations::attachments::for_reply(app, &inbox, ids)
        .await
        .map_err(ReplyError::from)?;
    crate::conversations::compose::compose(&inbox, req, &files).map_err(ReplyError::from)?;
    Ok(())
}

async fn store(
    app: &App,
    p: &Principal,
    pending: &Pending,
    at: Timestamp,
) -> Result<ScheduledView, ScheduleError> {
    let timer = NewTimer {
        workspace: p.workspace_id,
        key: key(pending.conversation_id, pending.id),
        kind: SCHEDULED_SEND_KIND.into(),
        due_at: at,
        payload: serde_json::to_value(pending).map_err(|e| StoreError::Other(e.into()))?,
    };
    crate::jobs::timers::set(app, timer.clone()).await?;
    Ok(ScheduledView {
        id: pending.id,
        conversation_id: pending.conversation_id,
        send_at: at,
        body: pending.request.body.clone(),
        purpose: pending.request.purpose,
        author_id: pending.author_id,
        created_at: pending.created_at,
    })
}

/// Schedules a reply (`send_at` taken out of the request) to go at `at`.
pub(crate) async fn schedule(
    app: &App,
    p: &Principal,
    id: ConversationId,
    mut request: ReplyRequest,
    at: Timestamp,
) -> Result<ScheduledView, ScheduleError> {
    check_time(app, at)?;
    request.send_at = None;
    check_reply(app, p, id, &request).await?;
    let pending = Pending {
        conversation_id: id,
        id: uuid::Uuid::now_v7(),
        author_id: p.user_id,
        created_at: app.now(),
        request,
    };
    store(app, p, &pending, at).await
}

/// The scheduled reply `sid` of the conversation, if the caller may see the conversation.
async fn find(
    app: &App,
    p: &Principal,
    id: ConversationId,
    sid: uuid::Uuid,
) -> Result<(TimerRow, Pending), ScheduleError> {
    app.store.conversation(&p.scope(), id).await?;
    let t = app
        .store
        .timer(p.workspace_id, key(id, sid))
        .await?
        .ok_or(StoreError::NotFound)?;
    let pending =
        serde_json::from_value(t.payload.clone()).map_err(|e| StoreError::Other(e.into()))?;
    Ok((t, pending))
}

/// `GET /api/v1/conversations/{id}/scheduled`
pub async fn list_scheduled(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<ScheduledPage>> {
    app.store.conversation(&p.scope(), id).await?;
    let prefix = format!("conv:{id}:scheduled:");
    let rows = app.store.timers_with_prefix(p.workspace_id, prefix).await?;
    Ok(Json(ScheduledPage {
        items: rows.iter().filter_map(view).collect(),
    }))
}

/// `PATCH /api/v1/conversations/{id}/scheduled/{scheduled_id}`: a new body, time or both.
pub async fn edit_scheduled(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, sid)): Path<(ConversationId, uuid::Uuid)>,
    Json(patch): Json<ScheduledPatch>,
) -> ApiResult<Json<ScheduledView>> {
    Ok(Json(edit(&app, &p, id, sid, patch).await?))
}

async fn edit(
    app: &App,
    p: &Principal,
    id: ConversationId,
    sid: uuid::Uuid,
    patch: ScheduledPatch,
) -> Result<ScheduledView, ScheduleError> {
    if patch.body.is_none() && patch.send_at.is_none() {
        return Err(ScheduleError::NothingToChange);
    }
    let (t, mut pending) = find(app, p, id, sid).await?;
    let at = patch.send_at.unwrap_or(t.due_at);
    check_time(app, at)?;
    if let Some(body) = patch.body {
        if pending.request.template.is_some() {
            return Err(ScheduleError::NotText);
        }
        pending.request.body = Some(body);
        check_reply(app, p, id, &pending.request).await?;
    }
    // Set again under its key: the worker that may hold the old one finds it taken.
    store(app, p, &pending, at).await
}

/// `DELETE /api/v1/conversations/{id}/scheduled/{scheduled_id}`: it will not go.
pub async fn cancel_scheduled(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, sid)): Path<(ConversationId, uuid::Uuid)>,
) -> ApiResult<StatusCode> {
    app.store.conversation(&p.scope(), id).await?;
    let keys = TimerKeys::Exactly(key(id, sid));
    match crate::jobs::timers::cancel(&app, p.workspace_id, keys).await? {
        0 => Err(ApiError::NotFound),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// Sends a scheduled reply whose time came, as its author, through the normal reply path. A
/// refusal (an opt-out since, a closed window) is noted on the timeline; it is not tried again.
pub async fn send_due(app: &App, timer: &TimerRow) -> Result<(), StoreError> {
    let Ok(pending) = serde_json::from_value::<Pending>(timer.payload.clone()) else {
        tracing::warn!(key = %timer.key, "a scheduled reply that cannot be read");
        return Ok(());
    };
    // Edited or cancelled since the claim: the edit has its own timer; nothing goes twice.
    if !app.store.take_timer(timer.id).await? {
        return Ok(());
    }
    let p = app
        .store
        .principal(timer.workspace_id, pending.author_id)
        .await?;
    let id = pending.conversation_id;
    let Err(e) = crate::conversations::replies::send_reply(app, &p, id, &pending.request).await
    else {
        return Ok(());
    };
    tracing::info!(error = %e, conversation = %id, "a scheduled reply was refused when due");
    let body = format!(
        "The reply scheduled for {} was not sent: {e}",
        timer.due_at.to_rfc3339()
    );
    let note = parley_store::Command::Note {
        body,
        mentions: Vec::new(),
    };
    crate::conversations::commands::run(app, &p, id, note)
        .await
        .map(drop)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("{e}")))
}
