//! Templates: saved texts with merge fields (`{{first_name | there}}`), rendered the same in the
//! composer, in automations and in the API, from a context assembled here.

pub mod api;
pub mod fields;
mod sample;

use std::collections::HashMap;

use parley_core::ids::{ConversationId, TeamId, TemplateId, UserId, WorkspaceId};
use parley_core::template::Template;
use parley_store::{ContactView, InboxRow, Scope, StoreError, TemplateRow, UserView};

use crate::http::error::ApiError;
use crate::http::routes::route;
use crate::state::App;

/// A template rendered for one conversation.
#[derive(Debug, Clone)]
pub struct RenderedTemplate {
    pub text: String,
    /// The merge fields that had no value and used their fallback (or nothing).
    pub fell_back: Vec<String>,
}

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("no such template")]
    NotFound,
    /// The template may not be used on the conversation's channel.
    #[error("the template {0:?} may not be used on this channel")]
    Channel(String),
    /// The template's text or a field of the request is not acceptable, naming the field.
    #[error(transparent)]
    Invalid(#[from] parley_core::Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TemplateError> for ApiError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::NotFound => ApiError::NotFound,
            TemplateError::Channel(_) => ApiError::invalid("template_id", e.to_string()),
            TemplateError::Invalid(e) => e.into(),
            TemplateError::Store(e) => e.into(),
        }
    }
}

/// The templates' routes: listing and editing them, the fields they may use, and previews.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::http::routes::Answer;
    use crate::views::Items;
    vec![
        route!(get "/api/v1/templates" => api::list, "templates", Member, "Templates: texts with merge fields (`{{first_name | there}}`) agents insert by `/shortcut`, by shortcut", response = Items<api::TemplateView>),
        route!(post "/api/v1/templates" => api::create, "templates", Admin, "Create a template; a field that is neither built in nor a declared contact field is refused, naming it", body = api::TemplateRequest, created = api::TemplateView),
        route!(get "/api/v1/templates/fields" => fields::get_fields, "templates", Member, "The merge fields templates may use: the built-in ones and the contact fields the workspace declared", response = fields::FieldsView),
        route!(put "/api/v1/templates/fields" => fields::put_fields, "templates", Admin, "Declare the contact custom fields (by key) templates may use", body = fields::FieldsRequest, response = fields::FieldsView),
        route!(post "/api/v1/templates/preview" => api::preview_text, "templates", Member, "Render an unsaved template's text for a conversation, or for a sample contact when none is named", body = api::PreviewTextRequest, response = api::PreviewView),
        route!(patch "/api/v1/templates/{id}" => api::update, "templates", Admin, "Change a template's name, shortcut, text or channels; its use count stays", body = api::TemplateRequest, response = api::TemplateView),
        route!(delete "/api/v1/templates/{id}" => api::delete, "templates", Admin, "Delete a template", answer = Answer::NoContent),
        route!(post "/api/v1/templates/{id}/preview" => api::preview, "templates", Member, "Render a template for a conversation: the text, the fields that fell back, and on SMS its encoding and segments", body = api::PreviewRequest, response = api::PreviewView),
    ]
}

/// Renders template `id` for conversation `conv`, as `agent` would send it (`None`: an
/// automation), and counts the use.
pub async fn render_for(
    app: &App,
    ws: WorkspaceId,
    id: TemplateId,
    conv: ConversationId,
    agent: Option<UserId>,
) -> Result<RenderedTemplate, TemplateError> {
    let row = template(app, ws, id).await?;
    let rendered = render_row(app, ws, &row, conv, agent).await?;
    app.store.count_template_use(ws, id, app.now()).await?;
    Ok(rendered)
}

/// A workspace's template, `NotFound` when it has none by that id.
pub(crate) async fn template(
    app: &App,
    ws: WorkspaceId,
    id: TemplateId,
) -> Result<TemplateRow, TemplateError> {
    app.store.template(ws, id).await.map_err(|e| match e {
        StoreError::NotFound => TemplateError::NotFound,
        e => e.into(),
    })
}

/// Renders a stored template for a conversation without counting the use (previews); refused
/// when the template is limited to channels other than the conversation's.
pub(crate) async fn render_row(
    app: &App,
    ws: WorkspaceId,
    row: &TemplateRow,
    conv: ConversationId,
    agent: Option<UserId>,
) -> Result<RenderedTemplate, TemplateError> {
    let target = Target::load(app, ws, conv).await?;
    if !allowed(&row.channels, &target.inbox) {
        return Err(TemplateError::Channel(row.name.clone()));
    }
    render_text(app, &row.body, &target, agent).await
}

/// The conversation a template is rendered for, with its inbox and contact.
pub(crate) struct Target {
    pub id: ConversationId,
    pub inbox: InboxRow,
    pub contact: ContactView,
    /// The team handling it: its hours decide the expected wait.
    pub team: Option<TeamId>,
    /// The settings screen's sample: no real inbox to ask for the expected wait.
    pub sample: bool,
}

impl Target {
    /// Loads the conversation of the workspace (any inbox: the caller checked access).
    pub(crate) async fn load(
        app: &App,
        ws: WorkspaceId,
        id: ConversationId,
    ) -> Result<Target, StoreError> {
        let scope = Scope::parley(ws);
        let conv = app.store.conversation(&scope, id).await?;
        let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
        let contact = app.store.contact(&scope, conv.contact_id).await?;
        Ok(Target {
            id,
            inbox,
            contact,
            team: conv.team_id,
            sample: false,
        })
    }
}

/// Whether a template limited to `channels` (empty: all) may be used in `inbox`.
pub(crate) fn allowed(channels: &[String], inbox: &InboxRow) -> bool {
    let kind = crate::compliance::consent_channel(inbox);
    channels.is_empty() || channels.iter().any(|c| c == kind)
}

/// Renders `body` for a target, with the agent's name (`None`: an automation) and the inbox's
/// expected wait.
pub(crate) async fn render_text(
    app: &App,
    body: &str,
    target: &Target,
    agent: Option<UserId>,
) -> Result<RenderedTemplate, TemplateError> {
    let parsed = Template::parse(body)?;
    let ws = app.workspace(target.inbox.workspace_id).await?;
    let agent = match agent {
        Some(id) => app
            .store
            .list_users(ws.row.id)
            .await?
            .into_iter()
            .find(|u| u.id == id),
        None => None,
    };
    let mut values = contact_values(&target.contact);
    values.insert("conversation.id".into(), target.id.to_string());
    values.insert("inbox.name".into(), target.inbox.name.clone());
    values.insert("business_name".into(), ws.row.name.clone());
    agent_values(&mut values, agent.as_ref());
    if target.sample {
        values.insert("expected_wait".into(), "in about 10 minutes".into());
    } else if parsed.fields().contains(&"expected_wait") {
        let wait = crate::hours::wait_for(app, &target.inbox, target.team, app.now()).await?;
        values.insert("expected_wait".into(), wait);
    }
    let r = parsed.render(|k| values.get(k).cloned());
    Ok(RenderedTemplate {
        text: r.text,
        fell_back: r.fell_back,
    })
}

/// The contact's names (the first word is the first name, the rest the last) and custom fields,
/// by key; a field that is not text is written as JSON would write it.
pub(crate) fn contact_values(c: &ContactView) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in &c.custom_fields {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => continue,
            other => other.to_string(),
        };
        out.insert(k.clone(), text);
    }
    if let Some(name) = c.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        let (first, last) = name.split_once(char::is_whitespace).unwrap_or((name, ""));
        out.insert("name".into(), name.to_string());
        out.insert("first_name".into(), first.to_string());
        out.insert("last_name".into(), last.trim().to_string());
    }
    out
}

fn agent_values(values: &mut HashMap<String, String>, agent: Option<&UserView>) {
    if let Some(a) = agent {
        let first = a.name.split_whitespace().next().unwrap_or_default();
        values.insert("agent.first_name".into(), first.to_string());
        values.insert("agent.name".into(), a.name.clone());
    }
}
