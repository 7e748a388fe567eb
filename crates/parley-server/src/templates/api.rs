//! The templates API: listing (any member), creating, editing and deleting (admins), each text
//! checked against the fields it may use; previews for a conversation or a sample contact.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::ids::{ConversationId, TemplateId};
use parley_core::sms::Encoding;
use parley_core::template::Template;
use parley_core::{Invalid, Timestamp};
use parley_store::{NewTemplate, Principal, TemplateRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::account::audit::audit;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::App;
use crate::templates::{fields, RenderedTemplate, Target, TemplateError};
use crate::views::Items;

/// The longest shortcut and text, and the longest name.
pub(crate) const MAX_SHORTCUT_CHARS: usize = 32;
pub(crate) const MAX_BODY_CHARS: usize = 4096;
const MAX_NAME_CHARS: usize = 100;

#[derive(Serialize, schemars::JsonSchema)]
pub struct TemplateView {
    id: TemplateId,
    name: String,
    shortcut: String,
    body: String,
    /// Channels it may be used on (`sms`, `whatsapp`, `email`, …); empty: every channel.
    channels: Vec<String>,
    /// The merge fields its text uses.
    fields: Vec<String>,
    /// How often it was used (sent from the composer, an automation or the API), and when last.
    uses: u64,
    last_used_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<TemplateRow> for TemplateView {
    fn from(r: TemplateRow) -> Self {
        let fields = Template::parse(&r.body)
            .map(|t| t.fields().into_iter().map(String::from).collect())
            .unwrap_or_default();
        Self {
            id: r.id,
            name: r.name,
            shortcut: r.shortcut,
            body: r.body,
            channels: r.channels,
            fields,
            uses: r.uses,
            last_used_at: r.last_used_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// Defaults to the shortcut.
    #[serde(default)]
    name: Option<String>,
    shortcut: String,
    body: String,
    #[serde(default)]
    channels: Vec<String>,
}

/// `GET /api/v1/templates`.
pub async fn list(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<TemplateView>>> {
    let rows = app.store.list_templates(p.workspace_id).await?;
    Ok(Json(Items {
        items: rows.into_iter().map(TemplateView::from).collect(),
    }))
}

/// `POST /api/v1/templates` (admins).
pub async fn create(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<TemplateRequest>,
) -> ApiResult<(StatusCode, Json<TemplateView>)> {
    require_admin(&p)?;
    let t = check(&app, &p, req).await?;
    let row = app
        .store
        .create_template(p.workspace_id, &t, app.now())
        .await?;
    let detail = json!({ "shortcut": row.shortcut });
    audit(&app, &p, &headers, "template.create", row.id, detail).await;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// `PATCH /api/v1/templates/{id}` (admins): the whole template as it should be.
pub async fn update(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<TemplateId>,
    Json(req): Json<TemplateRequest>,
) -> ApiResult<Json<TemplateView>> {
    require_admin(&p)?;
    crate::templates::template(&app, p.workspace_id, id).await?;
    let t = check(&app, &p, req).await?;
    let row = app
        .store
        .update_template(p.workspace_id, id, &t, app.now())
        .await?;
    let detail = json!({ "shortcut": row.shortcut });
    audit(&app, &p, &headers, "template.update", id, detail).await;
    Ok(Json(row.into()))
}

/// `DELETE /api/v1/templates/{id}` (admins).
pub async fn delete(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<TemplateId>,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    app.store.delete_template(p.workspace_id, id).await?;
    audit(&app, &p, &headers, "template.delete", id, json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A shortcut as stored: without its slash, lower case, 1 to 32 letters, digits, `-` or `_`.
pub(crate) fn shortcut(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim().trim_start_matches('/').to_lowercase();
    let word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    if s.is_empty() || s.chars().count() > MAX_SHORTCUT_CHARS || !s.chars().all(word) {
        return Err(Invalid::new(
            "shortcut",
            format!(
                "a shortcut is 1 to {MAX_SHORTCUT_CHARS} letters, digits, - or _ (got {raw:?})"
            ),
        ));
    }
    Ok(s)
}

/// The channel names a template may be limited to (`sms` for Twilio inboxes).
fn channel(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim().to_lowercase();
    parley_channels::kind::ChannelKind::ALL
        .iter()
        .map(|k| k.consent_channel())
        .find(|c| *c == name || (name == "twilio" && *c == "sms"))
        .map(String::from)
        .ok_or_else(|| Invalid::new("channels", format!("{raw:?} is not a channel")))
}

/// Checks a text: it parses, and every field it uses is built in or one of `custom`.
pub(crate) fn check_body(body: &str, custom: &[String]) -> Result<String, Invalid> {
    let body = body.trim().to_string();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        return Err(Invalid::new(
            "body",
            format!("the text must be 1 to {MAX_BODY_CHARS} characters"),
        ));
    }
    let parsed = Template::parse(&body).map_err(|e| Invalid::new("body", e.reason))?;
    parsed
        .check(custom.iter().map(String::as_str))
        .map_err(|e| Invalid::new("body", e.reason))?;
    Ok(body)
}

/// Parses a request into a template the store takes.
async fn check(app: &App, p: &Principal, req: TemplateRequest) -> Result<NewTemplate, ApiError> {
    let ws = app.store.workspace(p.workspace_id).await?;
    let shortcut = shortcut(&req.shortcut)?;
    let body = check_body(&req.body, &fields::declared(&ws))?;
    let name = req.name.as_deref().map(str::trim).unwrap_or_default();
    let name = if name.is_empty() {
        shortcut.clone()
    } else {
        name.to_string()
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            "name",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let mut channels = req
        .channels
        .iter()
        .map(|c| channel(c))
        .collect::<Result<Vec<_>, _>>()?;
    channels.sort();
    channels.dedup();
    Ok(NewTemplate {
        name,
        shortcut,
        body,
        channels,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    conversation_id: ConversationId,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewTextRequest {
    body: String,
    /// The conversation to render for; without it, a sample contact.
    #[serde(default)]
    conversation_id: Option<ConversationId>,
    /// For a sample contact: the channel to count for (`sms` shows segments).
    #[serde(default)]
    channel: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct PreviewView {
    text: String,
    /// The merge fields that had no value and used their fallback (or nothing).
    fell_back: Vec<String>,
    /// On SMS: how the text is encoded and how many segments it costs.
    #[serde(skip_serializing_if = "Option::is_none")]
    sms: Option<SmsView>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct SmsView {
    encoding: Encoding,
    segments: usize,
    characters: usize,
}

fn preview_view(r: RenderedTemplate, sms: bool) -> PreviewView {
    let sms = sms.then(|| {
        let s = parley_core::sms::segments(&r.text);
        SmsView {
            encoding: s.encoding,
            segments: s.segments,
            characters: r.text.chars().count(),
        }
    });
    PreviewView {
        text: r.text,
        fell_back: r.fell_back,
        sms,
    }
}

/// The conversation, when the caller may see it.
async fn visible(app: &App, p: &Principal, id: ConversationId) -> Result<Target, TemplateError> {
    app.store.conversation(&p.scope(), id).await?;
    Ok(Target::load(app, p.workspace_id, id).await?)
}

fn is_sms(target: &Target) -> bool {
    crate::compliance::consent_channel(&target.inbox) == "sms"
}

/// `POST /api/v1/templates/{id}/preview`: the template rendered for a conversation, uncounted.
pub async fn preview(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<TemplateId>,
    Json(req): Json<PreviewRequest>,
) -> ApiResult<Json<PreviewView>> {
    let row = crate::templates::template(&app, p.workspace_id, id).await?;
    let target = visible(&app, &p, req.conversation_id).await?;
    if !crate::templates::allowed(&row.channels, &target.inbox) {
        return Err(TemplateError::Channel(row.name).into());
    }
    let r = crate::templates::render_text(&app, &row.body, &target, Some(p.user_id)).await?;
    Ok(Json(preview_view(r, is_sms(&target))))
}

/// `POST /api/v1/templates/preview`: an unsaved text rendered for a conversation or a sample
/// contact (the settings screen's live preview). The text is checked as saving would check it.
pub async fn preview_text(
    State(app): State<App>,
    Auth(p): Auth,
    Json(req): Json<PreviewTextRequest>,
) -> ApiResult<Json<PreviewView>> {
    let ws = app.store.workspace(p.workspace_id).await?;
    let declared = fields::declared(&ws);
    let body = check_body(&req.body, &declared)?;
    let target = match req.conversation_id {
        Some(id) => visible(&app, &p, id).await?,
        None => {
            let kind = req.channel.as_deref().map(channel).transpose()?;
            crate::templates::sample::target(&ws, kind.as_deref(), &declared, app.now())
        }
    };
    let r = crate::templates::render_text(&app, &body, &target, Some(p.user_id)).await?;
    Ok(Json(preview_view(r, is_sms(&target))))
}
