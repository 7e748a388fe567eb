//! Contacts: create, change, search, identities on each channel, and merging duplicates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parley_core::contact::{
    parse_custom_fields, parse_external_id, parse_name, Email, IdentityKind, Phone,
};
use parley_core::{ContactId, IdentityId, InboxId};
use parley_store::{
    ContactPatch, ConversationQuery, NewContact, NewIdentity, Principal, Scope, Sort,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::account::auth::Auth;
use crate::http::error::{ApiResult, Json, Path, Query};
use crate::http::routes::double_option;
use crate::state::App;
use crate::views::{ContactPage, ContactView, ConversationView, Items};

/// The scope an agent reads contacts in: those with a conversation in an inbox they work, or
/// every contact when the workspace lets every agent see them. Supervisors and admins see all.
pub(crate) async fn contact_scope(app: &App, p: &Principal) -> ApiResult<Scope> {
    let mut scope = p.scope();
    if !scope.sees_all_contacts() {
        let ws = app.store.workspace(p.workspace_id).await?;
        scope.all_contacts =
            crate::compliance::settings::Settings::of(&ws).contacts_visible_to_all_agents;
    }
    Ok(scope)
}

/// `NotFound` for a contact the caller may not see (or that does not exist): the check before
/// a change or a read of what hangs off the contact.
pub(crate) async fn visible(app: &App, p: &Principal, id: ContactId) -> ApiResult<()> {
    app.store.contact(&contact_scope(app, p).await?, id).await?;
    Ok(())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityRequest {
    kind: IdentityKind,
    external_id: String,
    #[serde(default)]
    inbox_id: Option<InboxId>,
}

/// Validates an identity: phones and emails are normalised so the same person resolves to one contact.
fn parse_identity(req: IdentityRequest) -> Result<NewIdentity, parley_core::Invalid> {
    let external_id = match req.kind {
        IdentityKind::Phone | IdentityKind::Whatsapp => Phone::parse(&req.external_id)
            .map(Phone::into_string)
            .or_else(|e| {
                if req.kind == IdentityKind::Whatsapp {
                    parse_external_id("external_id", &req.external_id)
                } else {
                    Err(e)
                }
            })?,
        IdentityKind::Email => Email::parse(&req.external_id)?.into_string(),
        _ => parse_external_id("external_id", &req.external_id)?,
    };
    Ok(NewIdentity {
        kind: req.kind,
        inbox_id: req.inbox_id,
        external_id,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContactRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    custom_fields: Option<Value>,
    #[serde(default)]
    identities: Vec<IdentityRequest>,
}

pub async fn create_contact(
    State(app): State<App>,
    Auth(p): Auth,
    Json(req): Json<CreateContactRequest>,
) -> ApiResult<Response> {
    let contact = NewContact {
        name: req
            .name
            .as_deref()
            .map(|n| parse_name("name", n))
            .transpose()?,
        email: req
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()?
            .map(Email::into_string),
        phone: req
            .phone
            .as_deref()
            .map(Phone::parse)
            .transpose()?
            .map(Phone::into_string),
        custom_fields: req
            .custom_fields
            .as_ref()
            .map(parse_custom_fields)
            .transpose()?
            .unwrap_or_default(),
        identities: req
            .identities
            .into_iter()
            .map(parse_identity)
            .collect::<Result<_, _>>()?,
    };
    if contact.identities.len() > 50 {
        return Err(crate::http::error::ApiError::invalid(
            "identities",
            "at most 50",
        ));
    }
    let view = app
        .store
        .create_contact(p.workspace_id, contact, app.now())
        .await?;
    Ok((StatusCode::CREATED, Json(ContactView::from(view))).into_response())
}

pub async fn get_contact(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Response> {
    let scope = contact_scope(&app, &p).await?;
    Ok(Json(ContactView::from(app.store.contact(&scope, id).await?)).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactRequest {
    #[serde(default, deserialize_with = "double_option")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    phone: Option<Option<String>>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    custom_fields: Option<Value>,
}

pub async fn update_contact(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<UpdateContactRequest>,
) -> ApiResult<Response> {
    let patch = ContactPatch {
        name: req
            .name
            .map(|n| n.map(|n| parse_name("name", &n)).transpose())
            .transpose()?,
        email: req
            .email
            .map(|e| {
                e.map(|e| Email::parse(&e).map(Email::into_string))
                    .transpose()
            })
            .transpose()?,
        phone: req
            .phone
            .map(|e| {
                e.map(|e| Phone::parse(&e).map(Phone::into_string))
                    .transpose()
            })
            .transpose()?,
        custom_fields: req
            .custom_fields
            .as_ref()
            .map(parse_custom_fields)
            .transpose()?,
    };
    visible(&app, &p, id).await?;
    let view = app
        .store
        .update_contact(p.workspace_id, id, patch, app.now())
        .await?;
    Ok(Json(ContactView::from(view)).into_response())
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

pub async fn search_contacts(
    State(app): State<App>,
    Auth(p): Auth,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<ContactPage>> {
    let limit = crate::http::routes::limit(q.limit, 25, 100)?;
    let cursor = crate::http::routes::cursor(q.cursor.as_deref())?;
    let text = q.q.unwrap_or_default();
    if text.len() > 200 {
        return Err(crate::http::error::ApiError::bad_request(
            "invalid_query",
            "q must be at most 200 characters",
        ));
    }
    let scope = contact_scope(&app, &p).await?;
    let page = app
        .store
        .search_contacts(&scope, &text, cursor, limit)
        .await?;
    Ok(Json(ContactPage {
        items: page.items.into_iter().map(ContactView::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

pub async fn add_identity(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<IdentityRequest>,
) -> ApiResult<Response> {
    let identity = parse_identity(req)?;
    visible(&app, &p, id).await?;
    let view = app
        .store
        .add_identity(p.workspace_id, id, identity, app.now())
        .await?;
    Ok((StatusCode::CREATED, Json(ContactView::from(view))).into_response())
}

pub async fn remove_identity(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, identity)): Path<(ContactId, IdentityId)>,
) -> ApiResult<Response> {
    visible(&app, &p, id).await?;
    let view = app
        .store
        .remove_identity(p.workspace_id, id, identity)
        .await?;
    Ok(Json(ContactView::from(view)).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    contact_id: ContactId,
}

pub async fn merge_contact(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<MergeRequest>,
) -> ApiResult<Response> {
    visible(&app, &p, id).await?;
    visible(&app, &p, req.contact_id).await?;
    let view = app
        .store
        .merge_contacts(p.workspace_id, id, req.contact_id, p.user_id, app.now())
        .await?;
    Ok(Json(ContactView::from(view)).into_response())
}

pub async fn contact_conversations(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<Items<ConversationView>>> {
    visible(&app, &p, id).await?;
    let q = ConversationQuery {
        contact: Some(id),
        sort: Sort::Activity,
        limit: 100,
        ..Default::default()
    };
    let page = app.store.list_conversations(&p.scope(), &q).await?;
    Ok(Json(Items {
        items: page.items.into_iter().map(ConversationView::from).collect(),
    }))
}

/// `GET /api/v1/contacts/{id}/consent`: the consent ledger, and the channels the contact opted
/// out of.
pub async fn contact_consent(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<Value>> {
    // Evidence quoting a message of an inbox the caller does not work comes back as a placeholder.
    let scope = contact_scope(&app, &p).await?;
    let history = app.store.consent_history(&scope, id).await?;
    let entries: Vec<_> = history.iter().map(|e| e.entry()).collect();
    let mut channels: Vec<&str> = history
        .iter()
        .filter_map(|e| e.channel.as_deref())
        .collect();
    channels.sort_unstable();
    channels.dedup();
    let opted_out: Vec<&str> = channels
        .into_iter()
        .filter(|c| !parley_core::consent::may_reply(&entries, c))
        .collect();
    // A message that may have been a revocation, not yet reviewed: the newest informational
    // entry is one Parley recorded as probable.
    let review = history
        .iter()
        .rev()
        .find(|e| e.purpose == parley_core::consent::Purpose::Informational)
        .filter(|e| e.source == "probable_keyword")
        .map(|e| json!({ "at": e.at, "text": e.evidence["text"], "message_id": e.evidence["message_id"] }));
    // Where each purpose stands on each channel, as the gate sees it.
    let mut states = json!({});
    for c in crate::compliance::settings::CHANNELS {
        for purpose in parley_core::consent::Purpose::ALL {
            states[c][purpose.as_str()] = json!(parley_core::consent::state(&entries, purpose, c));
        }
    }
    Ok(Json(json!({
        "opted_out": opted_out,
        "probable_revocation": review,
        "states": states,
        "history": history,
    })))
}

/// Sources an agent may record consent from (the customer's own messages are recorded by Parley).
const AGENT_SOURCES: [&str; 6] = ["agent", "web_form", "api", "import", "pos", "ivr"];

/// Subscriptions from these sources wait for the customer's CONFIRM under double opt-in.
const UNCONFIRMED_SOURCES: [&str; 3] = ["web_form", "api", "import"];

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
    headers: axum::http::HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<RecordConsentRequest>,
) -> ApiResult<Response> {
    use parley_core::consent::{Action, Purpose};
    visible(&app, &p, id).await?;
    let purpose = Purpose::parse(&req.purpose).ok_or_else(|| {
        crate::http::error::ApiError::invalid(
            "purpose",
            "must be conversational, informational or promotional",
        )
    })?;
    let action = Action::parse(&req.action)
        .filter(|a| *a != Action::Request)
        .ok_or_else(|| {
            crate::http::error::ApiError::invalid("action", "must be grant or revoke")
        })?;
    let source = req.source.unwrap_or_else(|| "agent".into());
    if !AGENT_SOURCES.contains(&source.as_str()) {
        return Err(crate::http::error::ApiError::invalid(
            "source",
            format!("must be one of: {}", AGENT_SOURCES.join(", ")),
        ));
    }
    let known = crate::compliance::settings::CHANNELS;
    if let Some(c) = &req.channel {
        if !known.contains(&c.as_str()) {
            return Err(crate::http::error::ApiError::invalid(
                "channel",
                format!("must be one of: {}", known.join(", ")),
            ));
        }
    }
    if action == Action::Grant
        && purpose == Purpose::Promotional
        && !parley_core::compliance::is_written(&source)
    {
        return Err(crate::http::error::ApiError::Unprocessable {
            code: "written_consent_required",
            message: "promotional messages need written consent: record it with the form, import or signed record (source web_form, import, api, pos or ivr) and its evidence".into(),
            field: Some("source"),
        });
    }
    let evidence = json!({ "recorded_by": p.user_id, "detail": req.evidence });
    if evidence.to_string().len() > 16 * 1024 {
        return Err(crate::http::error::ApiError::invalid(
            "evidence",
            "must be at most 16 KB",
        ));
    }
    let ws = app.store.workspace(p.workspace_id).await?;
    let double_opt_in = crate::compliance::settings::Settings::of(&ws).double_opt_in
        && action == Action::Grant
        && purpose != Purpose::Conversational
        && UNCONFIRMED_SOURCES.contains(&source.as_str())
        && req.channel.as_deref().is_none_or(|c| c == "sms");
    let (e, confirmation) = if double_opt_in {
        let (e, c) = crate::compliance::notices::request_subscription(
            &app, &ws, id, purpose, &source, evidence,
        )
        .await?;
        (e, Some(c))
    } else {
        // Shown on the contact's latest conversation, where the agent is looking.
        let latest = app
            .store
            .list_conversations(
                &p.scope(),
                &ConversationQuery {
                    contact: Some(id),
                    sort: Sort::Activity,
                    limit: 1,
                    ..ConversationQuery::default()
                },
            )
            .await?
            .items
            .into_iter()
            .next()
            .map(|c| c.id);
        let e = app
            .store
            .record_consent(
                p.workspace_id,
                parley_store::NewConsent {
                    contact: id,
                    purpose,
                    action,
                    source,
                    channel: req.channel,
                    evidence,
                    at: app.now(),
                    conversation: latest,
                },
            )
            .await?;
        (e, None)
    };
    crate::account::api::audit(
        &app,
        &p,
        &headers,
        "consent.record",
        id,
        json!({ "purpose": e.purpose, "action": e.action, "source": e.source }),
    )
    .await;
    let mut body = json!(e);
    if let Some(c) = confirmation {
        body["confirmation"] = json!(c);
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/v1/contacts/{id}/block`: the contact's messages are still kept (an opt-out in them
/// still counts) but no longer reopen a conversation or wait for an answer; their conversations
/// still open in inboxes the caller works are resolved. Supervisors and admins; audited.
pub async fn block_contact(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<Value>> {
    crate::account::auth::require_supervisor(&p)?;
    let now = app.now();
    let k = app
        .store
        .set_contact_blocked(p.workspace_id, id, Some(now), now)
        .await?;
    let q = ConversationQuery {
        contact: Some(id),
        sort: Sort::Activity,
        limit: 100,
        ..Default::default()
    };
    let mut resolved = 0;
    for c in app.store.list_conversations(&p.scope(), &q).await?.items {
        if c.status != parley_core::conversation::Status::Resolved {
            crate::conversations::api::set_status(
                &app,
                &p,
                c.id,
                parley_core::conversation::Status::Resolved,
                None,
            )
            .await?;
            resolved += 1;
        }
    }
    crate::account::api::audit(
        &app,
        &p,
        &headers,
        "contact.block",
        id,
        json!({ "resolved": resolved }),
    )
    .await;
    Ok(Json(json!({ "contact": k, "resolved": resolved })))
}

/// `DELETE /api/v1/contacts/{id}/block`: their messages reopen conversations again.
pub async fn unblock_contact(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<Value>> {
    crate::account::auth::require_supervisor(&p)?;
    let k = app
        .store
        .set_contact_blocked(p.workspace_id, id, None, app.now())
        .await?;
    crate::account::api::audit(&app, &p, &headers, "contact.unblock", id, json!({})).await;
    Ok(Json(json!({ "contact": k })))
}
