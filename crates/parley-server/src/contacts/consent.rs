//! A contact's consent over HTTP: their ledger and where they stand, and what an agent records
//! in it. The ledger's errors become answers here.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::ContactId;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{contact_scope, visible};
use super::ledger::{self, ConsentError, Recording};
use super::views::{ConsentRecordedView, ConsentView};
use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::App;

impl From<ConsentError> for ApiError {
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::Invalid { field, message } => ApiError::invalid(field, message),
            ConsentError::WrittenConsentRequired => ApiError::Unprocessable {
                code: "written_consent_required",
                message: e.to_string(),
                field: Some("source"),
            },
            ConsentError::Compliance(e) => e.into(),
            ConsentError::Store(e) => e.into(),
        }
    }
}

/// `GET /api/v1/contacts/{id}/consent`: the consent ledger, and the channels the contact opted
/// out of.
pub async fn contact_consent(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<ConsentView>> {
    // Evidence quoting a message of an inbox the caller does not work comes back as a placeholder.
    let scope = contact_scope(&app, &p).await?;
    let history = app.store.consent_history(&scope, id).await?;
    Ok(Json(ledger::summary(history)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsentRequest {
    purpose: String,
    action: String,
    #[serde(default)]
    source: Option<String>,
    /// `sms`, `whatsapp`, …; absent: every channel.
    #[serde(default)]
    channel: Option<String>,
    /// What proves it (the form payload, a note of the call).
    #[serde(default)]
    evidence: Option<Value>,
}

/// `POST /api/v1/contacts/{id}/consent`: an agent records a grant or revocation (the customer
/// said so on the phone, signed a form), or clears a probable revocation after reviewing it.
pub async fn record_consent(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<RecordConsentRequest>,
) -> ApiResult<(StatusCode, Json<ConsentRecordedView>)> {
    visible(&app, &p, id).await?;
    let r = Recording::parse(
        &req.purpose,
        &req.action,
        req.source,
        req.channel,
        req.evidence,
    )?;
    let e = ledger::record(&app, &p, id, r).await?;
    let detail = json!({ "purpose": e.purpose, "action": e.action, "source": e.source });
    crate::account::audit::audit(&app, &p, &headers, "consent.record", id, detail).await;
    Ok((StatusCode::CREATED, Json(e)))
}
