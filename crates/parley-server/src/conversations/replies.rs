//! Writing to the customer: a reply, a conversation started by the business, and what the
//! conversation's channel allows now. Every message passes the channel's window and the
//! compliance gate before it is queued.

use axum::extract::State;
use axum::http::StatusCode;
use parley_channels::meta::WindowVerdict;
use parley_core::consent::Purpose;
use parley_core::message::parse_body;
use parley_core::{ContactId, ConversationId, InboxId};
use parley_store::{Command, ConversationQuery, Principal, StoreError};
use serde::Deserialize;

use crate::compliance::ComplianceError;
use crate::conversations::attachments::AttachmentError;
use crate::conversations::commands::{self, CommandError};
use crate::conversations::compose::{ComposeError, ReplyRequest};
use crate::conversations::views::{ChannelView, SentView, WindowView};
use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::inboxes::channels::WindowError;
use crate::state::App;
use crate::views::Sorted;

/// Why a reply or a conversation the business starts was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Invalid(#[from] parley_core::Invalid),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error(transparent)]
    Compliance(#[from] ComplianceError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Template(#[from] crate::templates::TemplateError),
}

impl From<ReplyError> for ApiError {
    fn from(e: ReplyError) -> Self {
        match e {
            ReplyError::Store(e) => e.into(),
            ReplyError::Invalid(e) => e.into(),
            ReplyError::Compose(e) => e.into(),
            ReplyError::Attachment(e) => e.into(),
            ReplyError::Window(e) => e.into(),
            ReplyError::Compliance(e) => e.into(),
            ReplyError::Command(e) => e.into(),
            ReplyError::Template(e) => e.into(),
        }
    }
}

impl From<ComposeError> for ApiError {
    fn from(e: ComposeError) -> Self {
        ApiError::invalid(e.field(), e.to_string())
    }
}

/// `POST /api/v1/conversations/{id}/messages`: a reply, queued for delivery, or with `send_at`
/// kept to go then.
pub async fn reply(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(mut req): Json<ReplyRequest>,
) -> ApiResult<(StatusCode, Json<SentView>)> {
    let used = fill_template(&app, &p, id, &mut req).await?;
    let sent = match req.send_at {
        Some(at) => {
            let scheduled =
                crate::conversations::scheduled::schedule(&app, &p, id, req, at).await?;
            SentView {
                compliance: serde_json::json!({ "verdict": "scheduled" }),
                conversation: app.store.conversation(&p.scope(), id).await?.into(),
                message: None,
                scheduled: Some(scheduled),
            }
        }
        None => send_reply(&app, &p, id, &req).await?,
    };
    if let Some(t) = used {
        // The reply is committed: a count that fails to be written must not turn it into an error.
        if let Err(e) = app
            .store
            .count_template_use(p.workspace_id, t, app.now())
            .await
        {
            tracing::warn!(error = %e, "a template's use was not counted");
        }
    }
    Ok((StatusCode::CREATED, Json(sent)))
}

/// Puts the text of the reply's `template_id`, rendered for the conversation, in its body;
/// answers the template to count once the reply is queued.
async fn fill_template(
    app: &App,
    p: &Principal,
    id: ConversationId,
    req: &mut ReplyRequest,
) -> Result<Option<parley_core::TemplateId>, ReplyError> {
    let Some(t) = req.template_id else {
        return Ok(None);
    };
    let written = req.body.as_deref().is_some_and(|b| !b.trim().is_empty());
    if written || req.template.is_some() {
        let why = "send a template_id or a body (or a WhatsApp template), not both";
        return Err(parley_core::Invalid::new("template_id", why).into());
    }
    app.store.conversation(&p.scope(), id).await?;
    let row = crate::templates::template(app, p.workspace_id, t)
        .await
        .map_err(|e| match e {
            crate::templates::TemplateError::NotFound => {
                ReplyError::Invalid(parley_core::Invalid::new("template_id", "no such template"))
            }
            e => e.into(),
        })?;
    let rendered =
        crate::templates::render_row(app, p.workspace_id, &row, id, Some(p.user_id)).await?;
    req.body = Some(rendered.text);
    Ok(Some(t))
}

/// Composes the reply for the conversation's channel, checks it against the channel's window
/// and the compliance gate, and queues it.
pub(crate) async fn send_reply(
    app: &App,
    p: &Principal,
    id: ConversationId,
    req: &ReplyRequest,
) -> Result<SentView, ReplyError> {
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
    let ids = req.attachments.as_deref().unwrap_or_default();
    let files = crate::conversations::attachments::for_reply(app, &inbox, ids).await?;
    let composed = crate::conversations::compose::compose(&inbox, req, &files)?;
    // A reply the channel would refuse (outside WhatsApp's or Messenger's window) is refused now,
    // with the reason, rather than failing later in the outbox.
    crate::inboxes::channels::check_reply(app, &scope, &inbox, id, composed.template, !p.bot)
        .await?;
    let facts = crate::compliance::gate::facts(app, &scope, Some(id)).await?;
    let purpose = req.purpose.unwrap_or(Purpose::Conversational);
    let admitted =
        crate::compliance::gate::admit(app, &inbox, conv.contact_id, purpose, facts, composed.body)
            .await?;
    let verdict = admitted.verdict();
    let (meta, body) = (admitted.meta(composed.meta), admitted.body);
    // A bot's reply is the bot's on the timeline.
    let cmd = if p.bot {
        Command::BotReply { meta, body }
    } else {
        Command::Reply { meta, body }
    };
    let out = commands::run(app, p, id, cmd).await?;
    Ok(SentView {
        compliance: verdict,
        conversation: out.conversation.into(),
        message: out.message.map(Into::into),
        scheduled: None,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    inbox_id: InboxId,
    contact_id: ContactId,
    body: String,
    /// Why the business writes: `informational` (default for a new conversation) or
    /// `promotional`; `conversational` only continues a conversation the customer started.
    #[serde(default)]
    purpose: Option<Purpose>,
}

/// `POST /api/v1/conversations`: the business writes to a contact in an inbox, continuing their
/// conversation there if they have one.
pub async fn create_conversation(
    State(app): State<App>,
    Auth(p): Auth,
    Json(req): Json<CreateConversationRequest>,
) -> ApiResult<(StatusCode, Json<SentView>)> {
    Ok((StatusCode::CREATED, Json(start(&app, &p, &req).await?)))
}

/// Checks the message against the channel's window (when a conversation goes on) and the
/// compliance gate, then starts or continues the conversation with it.
async fn start(
    app: &App,
    p: &Principal,
    req: &CreateConversationRequest,
) -> Result<SentView, ReplyError> {
    let body = parse_body("body", &req.body)?;
    let scope = p.scope();
    let inbox = app.store.inbox(&scope, req.inbox_id).await?;
    // Writing to a contact the caller may not see would make it visible to them.
    crate::contacts::api::visible(app, p, req.contact_id).await?;
    let query = ConversationQuery {
        inbox: Some(inbox.id),
        contact: Some(req.contact_id),
        limit: 1,
        ..Default::default()
    };
    let existing = app.store.list_conversations(&scope, &query).await?;
    let existing = existing.items.into_iter().next();
    if let Some(conv) = &existing {
        crate::inboxes::channels::check_reply(app, &scope, &inbox, conv.id, false, !p.bot).await?;
    }
    let facts = crate::compliance::gate::facts(app, &scope, existing.map(|c| c.id)).await?;
    // Starting a conversation is the business writing first.
    let purpose = req.purpose.unwrap_or(Purpose::Informational);
    let admitted =
        crate::compliance::gate::admit(app, &inbox, req.contact_id, purpose, facts, body).await?;
    let verdict = admitted.verdict();
    let (contact, sender) = (req.contact_id, p.user_id);
    let out =
        crate::compliance::gate::start_admitted(app, &scope, &inbox, contact, sender, admitted)
            .await?;
    Ok(SentView {
        compliance: verdict,
        conversation: out.conversation.into(),
        message: out.message.map(Into::into),
        scheduled: None,
    })
}

/// `GET /api/v1/conversations/{id}/channel`: what the conversation's channel can carry and
/// whether a free-form reply may be sent now, so the composer can say so before the agent writes.
pub async fn channel(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Sorted<ChannelView>>> {
    Ok(Json(Sorted(channel_now(&app, &p, id).await?)))
}

async fn channel_now(
    app: &App,
    p: &Principal,
    id: ConversationId,
) -> Result<ChannelView, StoreError> {
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
    let window = window_view(crate::inboxes::channels::window(app, &scope, &inbox, id).await?);
    let facts = crate::compliance::gate::facts(app, &scope, Some(id)).await?;
    let closed = matches!(window.state, "template_only" | "closed")
        .then(|| window.reason.clone())
        .flatten();
    let gate =
        crate::compliance::gate::preview(app, &inbox, conv.contact_id, facts, closed).await?;
    let capabilities = crate::inboxes::channels::kind_of(&inbox)
        .and_then(parley_channels::ChannelKind::capabilities)
        .map(Into::into);
    Ok(ChannelView {
        kind: inbox.kind,
        capabilities,
        window,
        compliance: gate,
    })
}

/// The customer-service window as the composer shows it (no window: always open).
fn window_view(verdict: Option<WindowVerdict>) -> WindowView {
    let (state, reason) = match verdict {
        None | Some(WindowVerdict::Open) => ("open", None),
        Some(WindowVerdict::HumanAgentTag) => (
            "human_agent",
            Some("Past the 24-hour window: a reply from a person goes out with Meta's HUMAN_AGENT tag (up to 7 days).".to_string()),
        ),
        Some(WindowVerdict::TemplateOnly { reason }) => ("template_only", Some(reason)),
        Some(WindowVerdict::Closed { reason }) => ("closed", Some(reason)),
    };
    WindowView { state, reason }
}
