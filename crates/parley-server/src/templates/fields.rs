//! The merge fields templates may use: the built-in ones and the contact custom fields the
//! workspace declares by key. Contact fields are sealed at rest, so the store cannot list the keys
//! contacts use; an admin declares them instead, and a template naming any other key is refused.

use axum::extract::State;
use axum::http::HeaderMap;
use parley_core::template::BUILT_IN;
use parley_store::WorkspaceRow;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::state::App;

/// How many contact fields a workspace may declare, and how long a key may be.
const MAX_FIELDS: usize = 200;
const MAX_KEY_CHARS: usize = 64;

/// The settings part holding the declared keys.
const PART: &str = "template_fields";

#[derive(Serialize, schemars::JsonSchema)]
pub struct FieldsView {
    /// Fields every template may use.
    built_in: Vec<&'static str>,
    /// Contact custom fields, by key, declared by an admin.
    custom: Vec<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldsRequest {
    #[schemars(length(max = MAX_FIELDS))]
    custom: Vec<String>,
}

/// The contact custom field keys the workspace declared.
pub(crate) fn declared(ws: &WorkspaceRow) -> Vec<String> {
    serde_json::from_value(ws.settings[PART].clone()).unwrap_or_default()
}

fn view(ws: &WorkspaceRow) -> FieldsView {
    FieldsView {
        built_in: BUILT_IN.to_vec(),
        custom: declared(ws),
    }
}

/// `GET /api/v1/templates/fields`.
pub async fn get_fields(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<FieldsView>> {
    let ws = app.store.workspace(p.workspace_id).await?;
    Ok(Json(view(&ws)))
}

/// `PUT /api/v1/templates/fields`: replaces the declared keys (admins). Templates already saved
/// keep working: a field no contact has renders its fallback.
pub async fn put_fields(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<FieldsRequest>,
) -> ApiResult<Json<FieldsView>> {
    require_admin(&p)?;
    let keys = check(req.custom)?;
    let count = keys.len();
    let ws = crate::account::workspace::set_settings_part(
        &app,
        &p,
        &headers,
        PART,
        json!(keys),
        |_| json!({ "after": count }),
    )
    .await?;
    Ok(Json(view(&ws)))
}

/// Keys are 1 to 64 letters, digits, `_`, `-` or `.`, not a built-in field; listed once, sorted.
fn check(keys: Vec<String>) -> Result<Vec<String>, ApiError> {
    if keys.len() > MAX_FIELDS {
        return Err(ApiError::invalid(
            "custom",
            format!("at most {MAX_FIELDS} fields"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    for k in keys {
        let k = k.trim().to_string();
        let ok = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
        if k.is_empty() || k.chars().count() > MAX_KEY_CHARS || !k.chars().all(ok) {
            return Err(ApiError::invalid(
                "custom",
                format!(
                    "a field key is 1 to {MAX_KEY_CHARS} letters, digits, _, - or . (got {k:?})"
                ),
            ));
        }
        if BUILT_IN.contains(&k.as_str()) {
            return Err(ApiError::invalid(
                "custom",
                format!("{k} is a built-in field"),
            ));
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out.sort();
    Ok(out)
}
