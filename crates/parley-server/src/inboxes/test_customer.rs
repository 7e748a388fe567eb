//! The test customer: an admin writes to an inbox as a customer would, through the one inbound
//! path, and sees what Parley answers. Deliveries to that synthetic customer never reach a
//! provider; the dispatcher records them as delivered (`intercept`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_channels::SendOutcome;
use parley_core::contact::IdentityKind;
use parley_core::message::{DeliveryStatus, Direction, SenderKind};
use parley_core::{ContactId, ConversationId, InboxId, MessageId, Timestamp};
use parley_store::{
    DeliveryReport, InboundMessage, InboxRow, NewContact, NewIdentity, OutboxJob, Principal, Scope,
    StoreError,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::audit::audit;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::App;

/// How a test customer's channel id starts; the rest is the admin's user id.
pub const PREFIX: &str = "test:";
/// The test customer's name, as agents see it.
pub const NAME: &str = "Test customer";
/// The contact field that marks a test contact (`true`), shown with the contact's fields.
pub const FLAG: &str = "test_customer";
/// The longest text the panel sends, in characters.
const MAX_TEXT: usize = 4096;
/// How many of the newest timeline entries the panel reads.
const RECENT: u32 = 100;

/// Why a test message could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum TestCustomerError {
    #[error("{0}")]
    Text(&'static str),
    #[error("this inbox's channel kind is not known to this server")]
    Kind,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TestCustomerError> for ApiError {
    fn from(e: TestCustomerError) -> Self {
        match e {
            TestCustomerError::Text(m) => ApiError::invalid("text", m),
            TestCustomerError::Kind => ApiError::Unprocessable {
                code: "unknown_channel",
                message: e.to_string(),
                field: None,
            },
            TestCustomerError::Store(e) => e.into(),
        }
    }
}

/// `POST /api/v1/inboxes/{id}/test-customer/messages`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TestMessageRequest {
    /// What the test customer writes.
    pub text: String,
}

/// The test customer's message, as stored.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TestSentView {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub contact_id: ContactId,
}

/// The admin's test customer in an inbox: its conversation and the newest messages both ways.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TestCustomerView {
    pub inbox_id: InboxId,
    /// Always `true`: this contact is a test customer, and nothing sent to it leaves Parley.
    pub test: bool,
    /// `null` until the admin first writes (and after a reset).
    pub contact_id: Option<ContactId>,
    pub conversation_id: Option<ConversationId>,
    /// Oldest first, at most the last 100 entries of the timeline.
    pub messages: Vec<TestMessageView>,
}

/// One message of the test conversation with its current delivery status.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TestMessageView {
    pub id: MessageId,
    pub direction: Direction,
    pub sender_kind: SenderKind,
    pub body: String,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub created_at: Timestamp,
}

/// The admin's test identity in `inbox`: its kind follows the inbox's channel.
fn identity(p: &Principal, inbox: &InboxRow) -> Result<(IdentityKind, String), TestCustomerError> {
    let kind = crate::inboxes::channels::kind_of(inbox).ok_or(TestCustomerError::Kind)?;
    Ok((kind.identity_kind(), format!("{PREFIX}{}", p.user_id.0)))
}

/// Whether a contact is a test customer (see `FLAG`).
fn is_test_contact(custom_fields: &serde_json::Map<String, Value>) -> bool {
    custom_fields.get(FLAG) == Some(&Value::Bool(true))
}

/// The test contact of an identity, made (named and flagged) before its first message so that no
/// answer to that message can find it unflagged.
async fn test_contact(
    app: &App,
    inbox: &InboxRow,
    (kind, external_id): &(IdentityKind, String),
) -> Result<(), StoreError> {
    let found = app
        .store
        .identity_conversation(inbox.id, *kind, external_id)
        .await?;
    if found.is_some() {
        return Ok(());
    }
    let mut custom_fields = serde_json::Map::new();
    custom_fields.insert(FLAG.into(), Value::Bool(true));
    let contact = NewContact {
        name: Some(NAME.into()),
        email: None,
        phone: None,
        custom_fields,
        identities: vec![NewIdentity {
            kind: *kind,
            inbox_id: Some(inbox.id),
            external_id: external_id.clone(),
        }],
    };
    match app
        .store
        .create_contact(inbox.workspace_id, contact, app.now())
        .await
    {
        // Made by a message sent at the same time.
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes `text` into `inbox` as the admin's test customer wrote it, through `inbound::ingest`.
pub async fn write(
    app: &App,
    p: &Principal,
    inbox: &InboxRow,
    text: &str,
) -> Result<TestSentView, TestCustomerError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(TestCustomerError::Text("must not be empty"));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(TestCustomerError::Text("must be at most 4096 characters"));
    }
    let who = identity(p, inbox)?;
    test_contact(app, inbox, &who).await?;
    let msg = InboundMessage {
        inbox_id: inbox.id,
        identity_kind: who.0,
        sender_external_id: who.1,
        sender_name: Some(NAME.into()),
        sender_email: None,
        sender_phone: None,
        external_id: Some(format!("test-{}", uuid::Uuid::now_v7())),
        body: text.to_string(),
        at: app.now(),
        thread: None,
        meta: None,
        keyword: None,
        survey: None,
    };
    let out = crate::inbound::ingest(app, inbox, msg).await?;
    Ok(TestSentView {
        conversation_id: out.conversation_id,
        message_id: out.message_id,
        contact_id: out.contact_id,
    })
}

/// The admin's test customer in `inbox` and the newest messages of its conversation.
pub async fn view(
    app: &App,
    p: &Principal,
    inbox: &InboxRow,
) -> Result<TestCustomerView, TestCustomerError> {
    let (kind, external_id) = identity(p, inbox)?;
    let found = app
        .store
        .identity_conversation(inbox.id, kind, &external_id)
        .await?;
    let mut view = TestCustomerView {
        inbox_id: inbox.id,
        test: true,
        contact_id: found.map(|f| f.0),
        conversation_id: found.and_then(|f| f.1),
        messages: Vec::new(),
    };
    if let Some(conv) = view.conversation_id {
        let entries = app.store.timeline(&p.scope(), conv, None, RECENT).await?;
        for e in entries
            .into_iter()
            .filter(|e| e.event.kind == "message.created")
        {
            let item = crate::conversations::views::TimelineItem::of(e)
                .map_err(|err| StoreError::Other(err.into()))?;
            let message = item.data.get("message").cloned().unwrap_or_default();
            let message =
                serde_json::from_value(message).map_err(|err| StoreError::Other(err.into()))?;
            view.messages.push(message);
        }
    }
    Ok(view)
}

/// Resets the admin's test customer in `inbox`: the contact is erased as any contact is (its
/// conversation stays, anonymised; its files go; its queued replies are cancelled), so the next
/// message starts afresh. Answers the erased contact, if there was one.
pub async fn reset(
    app: &App,
    p: &Principal,
    inbox: &InboxRow,
) -> Result<Option<ContactId>, TestCustomerError> {
    let (kind, external_id) = identity(p, inbox)?;
    let found = app
        .store
        .identity_conversation(inbox.id, kind, &external_id)
        .await?;
    let Some((contact, _)) = found else {
        return Ok(None);
    };
    crate::compliance::privacy::erase(app, p.workspace_id, contact).await?;
    Ok(Some(contact))
}

/// The dispatcher's one exception: a delivery to a test customer is not handed to any provider.
/// It is recorded as delivered under a made-up provider id (`test-…`). `None` for everyone else,
/// including a real customer whose channel id merely starts like a test one (no `FLAG`).
pub async fn intercept(app: &App, job: &OutboxJob) -> Option<SendOutcome> {
    if !job.identity.external_id.starts_with(PREFIX) {
        return None;
    }
    let scope = Scope::parley(job.inbox.workspace_id);
    let contact = match app.store.contact(&scope, job.contact_id).await {
        Ok(c) => c,
        Err(e) => {
            return Some(SendOutcome::Transient(format!(
                "could not read the contact: {e}"
            )))
        }
    };
    if !is_test_contact(&contact.custom_fields) {
        return None;
    }
    let provider_id = format!("test-{}", uuid::Uuid::now_v7());
    // Held by the store until the send below is recorded, as an early provider callback is.
    let report = DeliveryReport {
        inbox: job.inbox.id,
        provider_id: provider_id.clone(),
        status: DeliveryStatus::Delivered,
        error: None,
        at: app.now(),
    };
    if let Err(e) = app.store.record_delivery(report).await {
        return Some(SendOutcome::Transient(format!(
            "could not record the delivery: {e}"
        )));
    }
    Some(SendOutcome::Accepted {
        provider_id: Some(provider_id),
    })
}

/// The inbox an admin tests: one of the workspace's.
async fn admin_inbox(app: &App, p: &Principal, id: InboxId) -> ApiResult<InboxRow> {
    require_admin(p)?;
    Ok(app.store.inbox(&p.scope(), id).await?)
}

/// `POST /api/v1/inboxes/{id}/test-customer/messages`.
pub async fn send_test_message(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
    Json(req): Json<TestMessageRequest>,
) -> ApiResult<(StatusCode, Json<TestSentView>)> {
    let inbox = admin_inbox(&app, &p, id).await?;
    let sent = write(&app, &p, &inbox, &req.text).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

/// `GET /api/v1/inboxes/{id}/test-customer`.
pub async fn get_test_customer(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<TestCustomerView>> {
    let inbox = admin_inbox(&app, &p, id).await?;
    Ok(Json(view(&app, &p, &inbox).await?))
}

/// `DELETE /api/v1/inboxes/{id}/test-customer`.
pub async fn reset_test_customer(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<StatusCode> {
    let inbox = admin_inbox(&app, &p, id).await?;
    if let Some(contact) = reset(&app, &p, &inbox).await? {
        let detail = serde_json::json!({ "contact_id": contact });
        audit(&app, &p, &headers, "inbox.test_customer_reset", id, detail).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
