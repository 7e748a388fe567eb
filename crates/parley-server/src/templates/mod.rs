//! Templates: saved texts with merge fields (`{{first_name | there}}`), rendered the same in the
//! composer, in automations and in the API, from a context assembled here.

use parley_core::ids::{ConversationId, TemplateId, UserId, WorkspaceId};
use parley_store::StoreError;

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
    #[error(transparent)]
    Store(#[from] StoreError),
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
    let _ = (app, ws, id, conv, agent);
    Err(TemplateError::NotFound)
}
