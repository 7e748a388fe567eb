//! Workspace-wide settings the app's settings screens show that have no other home: saved replies
//! (a view of the templates), SLA policies (how soon customers must be answered) and the state of
//! encryption at rest.

use axum::extract::State;
use axum::http::HeaderMap;
use parley_core::sla::{self, SlaPolicy};
use parley_store::{NewTemplate, Principal, StoreError, TemplateRow, WorkspaceRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::account::views::EncryptionView;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::state::App;

/// How many saved replies a workspace keeps.
const MAX_REPLIES: usize = 500;

/// Why a settings change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value the settings cannot hold, naming its field.
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Invalid(#[from] parley_core::Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl SettingsError {
    fn field(field: &'static str, message: impl Into<String>) -> Self {
        SettingsError::Field {
            field,
            message: message.into(),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Field { field, message } => ApiError::invalid(field, message),
            SettingsError::Invalid(e) => e.into(),
            SettingsError::Store(e) => e.into(),
            SettingsError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// One saved reply: the shortcut an agent types after `/`, and the text it inserts. Fields in
/// alphabetical order, the order the answers have always had. Saved replies are a view of the
/// templates (`/api/v1/templates`): their shortcuts and texts.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedReply {
    pub body: String,
    pub shortcut: String,
}

/// The saved replies, as `GET` and `PUT /api/v1/replies` answer them.
#[derive(Serialize, schemars::JsonSchema)]
pub struct RepliesView {
    items: Vec<SavedReply>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepliesRequest {
    #[schemars(length(max = MAX_REPLIES))]
    items: Vec<SavedReply>,
}

fn replies_of(rows: Vec<TemplateRow>) -> RepliesView {
    RepliesView {
        items: rows
            .into_iter()
            .map(|r| SavedReply {
                body: r.body,
                shortcut: r.shortcut,
            })
            .collect(),
    }
}

/// `GET /api/v1/replies`: the workspace's templates as saved replies, by shortcut.
pub async fn list_replies(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<RepliesView>> {
    Ok(Json(replies_of(
        app.store.list_templates(p.workspace_id).await?,
    )))
}

/// Checks a new list: shortcuts are unique words, texts are templates using known fields.
fn parse_replies(
    items: Vec<SavedReply>,
    custom: &[String],
) -> Result<Vec<NewTemplate>, SettingsError> {
    if items.len() > MAX_REPLIES {
        return Err(SettingsError::field(
            "items",
            format!("at most {MAX_REPLIES} saved replies"),
        ));
    }
    let mut out: Vec<NewTemplate> = Vec::with_capacity(items.len());
    for r in items {
        let shortcut = crate::templates::api::shortcut(&r.shortcut)?;
        let body = crate::templates::api::check_body(&r.body, custom).map_err(|e| {
            SettingsError::field("body", format!("the text of /{shortcut}: {}", e.reason))
        })?;
        if out.iter().any(|o| o.shortcut == shortcut) {
            return Err(SettingsError::field(
                "shortcut",
                format!("/{shortcut} is listed twice"),
            ));
        }
        out.push(NewTemplate {
            name: String::new(),
            shortcut,
            body,
            channels: Vec::new(),
        });
    }
    Ok(out)
}

/// `PUT /api/v1/replies`: replaces the saved replies (admins): templates whose shortcut is listed
/// take the new text and keep their name, channels and count; the others go.
pub async fn put_replies(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<RepliesRequest>,
) -> ApiResult<Json<RepliesView>> {
    require_admin(&p)?;
    let ws = app.store.workspace(p.workspace_id).await?;
    let items = parse_replies(req.items, &crate::templates::fields::declared(&ws))?;
    let before = app.store.list_templates(ws.id).await?.len();
    let rows = app
        .store
        .replace_templates(ws.id, &items, app.now())
        .await?;
    let detail = json!({ "before": before, "after": rows.len() });
    crate::account::audit::audit(&app, &p, &headers, "settings.replies", ws.id, detail).await;
    Ok(Json(replies_of(rows)))
}

/// How many entries a settings part held before a change (none when it was not a list).
fn count_of(before: Option<&Value>) -> usize {
    before.and_then(|b| b.as_array().map(Vec::len)).unwrap_or(0)
}

/// Replaces one part of the workspace's settings document (`compliance`, `replies`, …), leaving
/// the others as they are; audited as `settings.<part>` with what `detail` makes of the part's
/// previous value. Answers the workspace as stored.
pub(crate) async fn set_settings_part(
    app: &App,
    p: &Principal,
    headers: &HeaderMap,
    part: &str,
    value: Value,
    detail: impl FnOnce(Option<&Value>) -> Value,
) -> Result<WorkspaceRow, StoreError> {
    let ws = app.store.workspace(p.workspace_id).await?;
    let mut doc = if ws.settings.is_object() {
        ws.settings.clone()
    } else {
        json!({})
    };
    let before = doc.get(part).cloned();
    doc[part] = value;
    let ws = app.store.set_workspace_settings(ws.id, doc).await?;
    app.forget_workspace(ws.id);
    let detail = detail(before.as_ref());
    crate::account::audit::audit(app, p, headers, &format!("settings.{part}"), ws.id, detail).await;
    Ok(ws)
}

/// The SLA policies, as `GET` and `PUT /api/v1/sla` answer them.
#[derive(Serialize, schemars::JsonSchema)]
pub struct SlaView {
    policies: Vec<SlaPolicy>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaRequest {
    #[schemars(length(max = sla::MAX_POLICIES))]
    policies: Vec<SlaPolicy>,
}

/// `GET /api/v1/sla`: the SLA policies; the first whose inbox and priority match a conversation
/// sets how soon its customer must be answered.
pub async fn get_sla(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<SlaView>> {
    let ws = app.workspace(p.workspace_id).await?;
    Ok(Json(SlaView {
        policies: ws.sla.to_vec(),
    }))
}

/// `PUT /api/v1/sla`: replaces the SLA policies (admins). Every inbox named must exist.
pub async fn put_sla(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<SlaRequest>,
) -> ApiResult<Json<SlaView>> {
    require_admin(&p)?;
    let ws = replace_sla(&app, &p, req.policies, &headers).await?;
    Ok(Json(SlaView {
        policies: crate::state::sla_of(&ws),
    }))
}

/// Checks and stores new SLA policies, audited with how many there were and are.
async fn replace_sla(
    app: &App,
    p: &Principal,
    policies: Vec<SlaPolicy>,
    headers: &HeaderMap,
) -> Result<WorkspaceRow, SettingsError> {
    let policies = sla::check_policies(policies)?;
    let inboxes = app.store.list_inboxes(&p.scope()).await?;
    if let Some(missing) = policies
        .iter()
        .filter_map(|x| x.inbox_id)
        .find(|id| !inboxes.iter().any(|i| i.id == *id))
    {
        return Err(SettingsError::field(
            "inbox_id",
            format!("no inbox {missing} in this workspace"),
        ));
    }
    let count = policies.len();
    let value = serde_json::to_value(&policies).map_err(anyhow::Error::from)?;
    let ws = set_settings_part(
        app,
        p,
        headers,
        "sla",
        value,
        |before| json!({ "before": count_of(before), "after": count }),
    )
    .await?;
    Ok(ws)
}

/// `GET /api/v1/survey`: whether resolving a conversation sends the customer a satisfaction
/// survey, and its message.
pub async fn get_survey(
    State(app): State<App>,
    Auth(p): Auth,
) -> ApiResult<Json<crate::conversations::survey::SurveySettings>> {
    let ws = app.workspace(p.workspace_id).await?;
    Ok(Json(crate::conversations::survey::SurveySettings::of(
        &ws.row,
    )))
}

/// `PUT /api/v1/survey`: turns the survey on or off and sets its message (admins).
pub async fn put_survey(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<crate::conversations::survey::SurveySettings>,
) -> ApiResult<Json<crate::conversations::survey::SurveySettings>> {
    require_admin(&p)?;
    let settings = req.check()?;
    let enabled = settings.enabled;
    let ws = set_settings_part(
        &app,
        &p,
        &headers,
        "survey",
        serde_json::to_value(&settings).map_err(|e| ApiError::Internal(e.into()))?,
        |_| json!({ "enabled": enabled }),
    )
    .await?;
    Ok(Json(crate::conversations::survey::SurveySettings::of(&ws)))
}

/// `GET /api/v1/encryption`: whether values are sealed at rest, under which data keys.
pub async fn encryption(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<EncryptionView>> {
    require_admin(&p)?;
    Ok(Json(match app.store.keyring() {
        None => EncryptionView {
            current_key: None,
            data_keys: Vec::new(),
            enabled: false,
        },
        Some(k) => EncryptionView {
            current_key: Some(k.current()),
            data_keys: k.ids(),
            enabled: true,
        },
    }))
}
