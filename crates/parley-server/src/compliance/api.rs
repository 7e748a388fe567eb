//! Compliance administration: the workspace's texting rules, the report of numbers silent long
//! enough to have been reassigned (and their purge), the export of a contact's consent ledger,
//! and the erasure of a contact.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use parley_core::contact::IdentityKind;
use parley_core::ContactId;
use parley_store::ContactPatch;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::compliance::Settings;
use crate::conversations::exports;
use crate::http::caller::{require_admin, require_supervisor, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::state::App;

const DAY_MS: i64 = 86_400_000;

fn settings_body(ws: &parley_store::WorkspaceRow) -> Value {
    let s = Settings::of(ws);
    json!({
        "settings": s,
        "texts": {
            "help": s.help_text(ws),
            "opt_out_confirmation": s.opt_out_text(ws),
            "opt_in_confirmation": s.opt_in_text(ws),
            "confirm_request": s.confirm_request_text(ws),
            "opt_out_footer": crate::compliance::OPT_OUT_FOOTER,
        },
    })
}

/// `GET /api/v1/compliance/settings`: the rules and the texts they produce.
pub async fn get_settings(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Value>> {
    let ws = app.store.workspace(p.workspace_id).await?;
    Ok(Json(settings_body(&ws)))
}

/// `PUT /api/v1/compliance/settings`: replaces the rules; fields left out take their defaults.
pub async fn put_settings(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(new): Json<Settings>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(settings_body(&ws)))
}

/// `GET /api/v1/retention`: the retention period and what the next run will empty.
pub async fn retention(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Value>> {
    require_admin(&p)?;
    let ws = app.store.workspace(p.workspace_id).await?;
    let days = Settings::of(&ws).retention_days;
    if days == 0 {
        return Ok(Json(
            json!({ "retention_days": 0, "cutoff": null, "next": { "messages": 0, "oldest": null } }),
        ));
    }
    let cutoff = app.now().plus_millis(-i64::from(days) * DAY_MS);
    let (messages, oldest) = app.store.expiring_messages(ws.id, cutoff).await?;
    Ok(Json(json!({
        "retention_days": days,
        "cutoff": cutoff,
        "next": { "messages": messages, "oldest": oldest },
    })))
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
) -> ApiResult<Json<Value>> {
    require_supervisor(&p)?;
    let limit = crate::http::query::limit(q.limit, 100, 1000)?;
    let ws = app.store.workspace(p.workspace_id).await?;
    let days = Settings::of(&ws).inactivity_days;
    if days == 0 {
        return Ok(Json(
            json!({ "inactivity_days": 0, "silent_since": null, "items": [] }),
        ));
    }
    let now = app.now();
    let cutoff = now.plus_millis(-i64::from(days) * DAY_MS);
    let items: Vec<Value> = app
        .store
        .inactive_contacts(ws.id, cutoff, limit)
        .await?
        .into_iter()
        .map(|c| {
            let last = c.last_inbound_at.unwrap_or(c.created_at);
            let mut v = json!(c);
            v["days_silent"] = json!((now.0 - last.0) / DAY_MS);
            v
        })
        .collect();
    Ok(Json(
        json!({ "inactivity_days": days, "silent_since": cutoff, "items": items }),
    ))
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
) -> ApiResult<Json<Value>> {
    require_admin(&p)?;
    if req.contact_ids.is_empty() || req.contact_ids.len() > 1000 {
        return Err(ApiError::invalid(
            "contact_ids",
            "must list 1 to 1000 contacts from the inactive report",
        ));
    }
    let ws = app.store.workspace(p.workspace_id).await?;
    let days = Settings::of(&ws).inactivity_days;
    let cutoff = app.now().plus_millis(-i64::from(days) * DAY_MS);
    let listed = if days == 0 {
        Vec::new()
    } else {
        app.store.inactive_contacts(ws.id, cutoff, 100_000).await?
    };
    // Every id is checked before anything changes.
    if let Some(id) = req
        .contact_ids
        .iter()
        .find(|id| !listed.iter().any(|c| c.id == **id))
    {
        return Err(ApiError::Unprocessable {
            code: "not_inactive",
            message: format!(
                "contact {id} is not on the inactive report (it wrote recently, has no phone, or does not exist)"
            ),
            field: Some("contact_ids"),
        });
    }
    for id in &req.contact_ids {
        let contact = app.store.contact(&p.scope(), *id).await?;
        for ident in contact
            .identities
            .iter()
            .filter(|i| matches!(i.kind, IdentityKind::Phone | IdentityKind::Whatsapp))
        {
            app.store.remove_identity(ws.id, *id, ident.id).await?;
        }
        let patch = ContactPatch {
            phone: Some(None),
            ..ContactPatch::default()
        };
        app.store
            .update_contact(ws.id, *id, patch, app.now())
            .await?;
    }
    crate::account::audit::audit(
        &app,
        &p,
        &headers,
        "compliance.purge",
        ws.id,
        json!({ "contact_ids": req.contact_ids }),
    )
    .await;
    Ok(Json(json!({ "purged": req.contact_ids.len() })))
}

/// `DELETE /api/v1/contacts/{id}`: erases the contact (GDPR/CCPA). Their name, addresses,
/// fields and files go and their conversations stay anonymised; their revocations stay, so a
/// number that opted out is still refused if it comes back. Audited without personal data.
pub async fn erase_contact(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<Value>> {
    require_admin(&p)?;
    let done = app
        .store
        .erase_contact(p.workspace_id, id, app.now())
        .await?;
    let mut files_left = 0;
    for (inbox, file) in &done.attachments {
        if let Err(e) =
            crate::conversations::attachments::delete(&app, p.workspace_id, *inbox, file).await
        {
            files_left += 1;
            tracing::warn!(error = %e, contact = %id, "could not delete an erased contact's file");
        }
    }
    let mut body = serde_json::to_value(&done).unwrap_or_default();
    body["files_deleted"] = json!(done.attachments.len() - files_left);
    body["files_left"] = json!(files_left);
    // A repeated erasure changes nothing and is not audited again.
    if !done.repeated {
        crate::account::audit::audit(&app, &p, &headers, "contact.erase", id, body.clone()).await;
    }
    Ok(Json(json!({ "erasure": body })))
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
    crate::account::audit::audit(
        &app,
        &p,
        &headers,
        "consent.export",
        id,
        json!({ "format": format, "entries": ledger.len() }),
    )
    .await;
    let mut csv = String::from("at,purpose,action,source,channel,evidence\r\n");
    for e in &ledger {
        exports::csv_line(
            &mut csv,
            &[
                e.at.to_rfc3339(),
                e.purpose.as_str().to_string(),
                e.action.as_str().to_string(),
                e.source.clone(),
                e.channel.clone().unwrap_or_else(|| "all".into()),
                e.evidence.to_string(),
            ],
        );
    }
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
    crate::account::audit::audit(
        &app,
        &p,
        &headers,
        "audit.export",
        p.workspace_id,
        json!({ "format": format, "entries": entries.len() }),
    )
    .await;
    let mut csv = String::from("at,actor_id,action,target,ip,detail\r\n");
    for e in &entries {
        exports::csv_line(
            &mut csv,
            &[
                e.at.to_rfc3339(),
                e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                e.action.clone(),
                e.target.clone(),
                e.ip.clone().unwrap_or_default(),
                e.detail.to_string(),
            ],
        );
    }
    let body = json!({ "exported_at": app.now(), "items": entries });
    Ok(exports::download(format, "audit", body, csv))
}
