//! Contacts: create, read, change and search them, and list a contact's conversations. Who
//! may see which contact is decided here (`contact_scope`).

use axum::extract::State;
use axum::http::StatusCode;
use parley_core::contact::{parse_custom_fields, parse_name, Email, Phone};
use parley_core::ContactId;
use parley_store::{ContactPatch, ConversationQuery, NewContact, Principal, Scope, Sort};
use serde::Deserialize;
use serde_json::Value;

use super::identities::{parse_identity, IdentityRequest};
use crate::http::caller::Auth;
use crate::http::error::ApiResult;
use crate::http::extract::double_option;
use crate::http::extract::{Json, Path, Query};
use crate::state::App;
use crate::views::{ContactPage, ContactView, ConversationView, Items};

/// The scope an agent reads contacts in: those with a conversation in an inbox they work, or
/// every contact when the workspace lets every agent see them. Supervisors and admins see all.
pub(crate) async fn contact_scope(
    app: &App,
    p: &Principal,
) -> Result<Scope, parley_store::StoreError> {
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
pub(crate) async fn visible(
    app: &App,
    p: &Principal,
    id: ContactId,
) -> Result<(), parley_store::StoreError> {
    app.store.contact(&contact_scope(app, p).await?, id).await?;
    Ok(())
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

impl CreateContactRequest {
    /// The new contact, its fields and addresses checked and normalised.
    fn parse(self) -> Result<NewContact, parley_core::Invalid> {
        Ok(NewContact {
            name: self
                .name
                .as_deref()
                .map(|n| parse_name("name", n))
                .transpose()?,
            email: self
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()?
                .map(Email::into_string),
            phone: self
                .phone
                .as_deref()
                .map(Phone::parse)
                .transpose()?
                .map(Phone::into_string),
            custom_fields: self
                .custom_fields
                .as_ref()
                .map(parse_custom_fields)
                .transpose()?
                .unwrap_or_default(),
            identities: self
                .identities
                .into_iter()
                .map(parse_identity)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `POST /api/v1/contacts`: a new contact, with its addresses.
pub async fn create_contact(
    State(app): State<App>,
    Auth(p): Auth,
    Json(req): Json<CreateContactRequest>,
) -> ApiResult<(StatusCode, Json<ContactView>)> {
    let contact = req.parse()?;
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
    Ok((StatusCode::CREATED, Json(ContactView::from(view))))
}

/// `GET /api/v1/contacts/{id}`.
pub async fn get_contact(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<ContactView>> {
    let scope = contact_scope(&app, &p).await?;
    Ok(Json(ContactView::from(
        app.store.contact(&scope, id).await?,
    )))
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

impl UpdateContactRequest {
    /// The change, each field checked and normalised; `Some(None)` clears a field.
    fn parse(self) -> Result<ContactPatch, parley_core::Invalid> {
        Ok(ContactPatch {
            name: self
                .name
                .map(|n| n.map(|n| parse_name("name", &n)).transpose())
                .transpose()?,
            email: self
                .email
                .map(|e| {
                    e.map(|e| Email::parse(&e).map(Email::into_string))
                        .transpose()
                })
                .transpose()?,
            phone: self
                .phone
                .map(|e| {
                    e.map(|e| Phone::parse(&e).map(Phone::into_string))
                        .transpose()
                })
                .transpose()?,
            custom_fields: self
                .custom_fields
                .as_ref()
                .map(parse_custom_fields)
                .transpose()?,
        })
    }
}

/// `PATCH /api/v1/contacts/{id}`: null clears a field; custom fields merge.
pub async fn update_contact(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<UpdateContactRequest>,
) -> ApiResult<Json<ContactView>> {
    let patch = req.parse()?;
    visible(&app, &p, id).await?;
    let view = app
        .store
        .update_contact(p.workspace_id, id, patch, app.now())
        .await?;
    Ok(Json(ContactView::from(view)))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/contacts?q=`: contacts the caller sees, by name, phone or email.
pub async fn search_contacts(
    State(app): State<App>,
    Auth(p): Auth,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<ContactPage>> {
    let limit = crate::http::query::limit(q.limit, 25, 100)?;
    let cursor = crate::http::query::cursor(q.cursor.as_deref())?;
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

/// `GET /api/v1/contacts/{id}/conversations`: in inboxes the caller works.
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
