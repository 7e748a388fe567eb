//! Compliance administration over HTTP: the workspace's texting rules, the report of numbers
//! silent long enough to have been reassigned (and their purge), the export of a contact's
//! consent ledger, and the erasure of a contact. Compliance's errors become answers here.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use parley_core::ContactId;
use serde::Deserialize;
use serde_json::json;

use super::settings::{InvalidSetting, Settings};
use super::views::{ErasedView, InactiveView, PurgedView, RetentionView, SettingsView};
use super::{privacy, ComplianceError};
use crate::conversations::exports;
use crate::http::caller::{require_admin, require_supervisor, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::state::App;

impl From<ComplianceError> for ApiError {
    fn from(e: ComplianceError) -> Self {
        match e {
            ComplianceError::Denied { code, reason } => ApiError::Unprocessable {
                code,
                message: reason,
                field: None,
            },
            ComplianceError::OptedOut => ApiError::Unprocessable {
                code: "opted_out",
                message: e.to_string(),
                field: None,
            },
            ComplianceError::NotInactive(_) => ApiError::Unprocessable {
                code: "not_inactive",
                message: e.to_string(),
                field: Some("contact_ids"),
            },
            ComplianceError::Store(e) => e.into(),
        }
    }
}

impl From<InvalidSetting> for ApiError {
    fn from(e: InvalidSetting) -> Self {
        ApiError::invalid(e.field, e.message)
    }
}

/// `GET /api/v1/compliance/settings`: the rules and the texts they produce.
pub async fn get_settings(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<SettingsView>> {
    let ws = app.store.workspace(p.workspace_id).await?;
    Ok(Json(SettingsView::of(&ws)))
}

/// `PUT /api/v1/compliance/settings`: replaces the rules; fields left out take their defaults.
pub async fn put_settings(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(new): Json<Settings>,
) -> ApiResult<Json<SettingsView>> {
    require_admin(&p)?;
    new.validate()?;
    let after = serde_json::to_value(&new).map_err(|e| ApiError::Internal(e.into()))?;
    let ws = crate::account::workspace::set_settings_part(
        &app,
        &p,
        &headers,
        "compliance",
        after.clone(),
        |before| json!({ "before": before, "after": after }),
    )
    .await?;
    Ok(Json(SettingsView::of(&ws)))
}

/// `GET /api/v1/retention`: the retention period and what the next run will empty.
pub async fn retention(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<RetentionView>> {
    require_admin(&p)?;
    let ws = app.store.workspace(p.workspace_id).await?;
    Ok(Json(privacy::retention_report(&app, &ws).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InactiveQuery {
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/compliance/inactive`: contacts whose number has been silent longer than the
/// workspace's inactivity period; their consent for business-initiated messages is suspended.
pub async fn inactive(
    State(app): State<App>,
    Auth(p): Auth,
    Query(q): Query<InactiveQuery>,
) -> ApiResult<Json<InactiveView>> {
    require_supervisor(&p)?;
    let limit = crate::http::query::limit(q.limit, 100, 1000)?;
    let ws = app.store.workspace(p.workspace_id).await?;
    Ok(Json(privacy::inactive_report(&app, &ws, limit).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    contact_ids: Vec<ContactId>,
}

/// `POST /api/v1/compliance/inactive/purge`: forgets the phone numbers of the listed inactive
/// contacts (their phone and WhatsApp addresses), so nothing can be sent to whoever has the
/// number now. The contacts, their history and their consent ledger stay.
pub async fn purge(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<PurgeRequest>,
) -> ApiResult<Json<PurgedView>> {
    require_admin(&p)?;
    if req.contact_ids.is_empty() || req.contact_ids.len() > 1000 {
        return Err(ApiError::invalid(
            "contact_ids",
            "must list 1 to 1000 contacts from the inactive report",
        ));
    }
    let ws = app.store.workspace(p.workspace_id).await?;
    privacy::forget_numbers(&app, &p.scope(), &ws, &req.contact_ids).await?;
    let detail = json!({ "contact_ids": req.contact_ids });
    crate::account::audit::audit(&app, &p, &headers, "compliance.purge", ws.id, detail).await;
    Ok(Json(PurgedView {
        purged: req.contact_ids.len(),
    }))
}

/// `DELETE /api/v1/contacts/{id}`: erases the contact (GDPR/CCPA). Their name, addresses,
/// fields and files go and their conversations stay anonymised; their revocations stay, so a
/// number that opted out is still refused if it comes back. Audited without personal data.
pub async fn erase_contact(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<ErasedView>> {
    require_admin(&p)?;
    let erasure = privacy::erase(&app, p.workspace_id, id).await?;
    // A repeated erasure changes nothing and is not audited again.
    if !erasure.repeated {
        let detail = json!(erasure);
        crate::account::audit::audit(&app, &p, &headers, "contact.erase", id, detail).await;
    }
    Ok(Json(ErasedView { erasure }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/contacts/{id}/consent/export?format=json|csv`: the contact's whole consent
/// ledger with its evidence, for auditors.
pub async fn export_consent(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    require_admin(&p)?;
    let format = exports::format_of(q.format.as_deref())?;
    // Admins only: every inbox, so the evidence is whole.
    let scope = p.scope();
    let contact = app.store.contact(&scope, id).await?;
    let ledger = app.store.consent_history(&scope, id).await?;
    let detail = json!({ "format": format, "entries": ledger.len() });
    crate::account::audit::audit(&app, &p, &headers, "consent.export", id, detail).await;
    let csv = privacy::consent_csv(&ledger);
    let body = json!({ "contact": contact, "exported_at": app.now(), "ledger": ledger });
    Ok(exports::download(
        format,
        &format!("consent-{id}"),
        body,
        csv,
    ))
}

/// `GET /api/v1/audit/export?format=json|csv`: the whole audit log (up to 100,000 entries, newest
/// first) for auditors; the export itself is audited.
pub async fn export_audit(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    require_admin(&p)?;
    let format = exports::format_of(q.format.as_deref())?;
    let entries = app.store.list_audit(p.workspace_id, 100_000).await?;
    let detail = json!({ "format": format, "entries": entries.len() });
    crate::account::audit::audit(&app, &p, &headers, "audit.export", p.workspace_id, detail).await;
    let csv = privacy::audit_csv(&entries);
    let body = json!({ "exported_at": app.now(), "items": entries });
    Ok(exports::download(format, "audit", body, csv))
}
