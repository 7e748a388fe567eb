//! `POST /hooks/call/{inbox}`: a phone system tells Parley a customer called (answered or
//! missed). Signed like the API channel; the call lands once on the caller's conversation as a
//! `call` event, and rules may react to it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_channels::ChannelKind;
use parley_core::contact::{IdentityKind, Phone};
use parley_core::{InboxId, Timestamp};
use parley_store::{CallOutcome, InboundCall, InboxRow, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::automations::{react, Happened};
use crate::http::error::{error_body, ApiError, ApiResult};
use crate::http::extract::{Json, Path, RawBody};
use crate::state::App;

const MAX_ID_BYTES: usize = 200;

/// A phone system's call notification.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CallHookBody {
    /// The caller's number, E.164 (`+15558675310`).
    pub from: String,
    /// When the call came in (RFC 3339); now when left out.
    #[serde(default)]
    pub at: Option<Timestamp>,
    /// Whether someone picked up; `false` is a missed call.
    pub answered: bool,
    #[serde(default)]
    pub duration_secs: Option<u32>,
    /// The phone system's id for the call: a notification sent again with the same id is
    /// stored once.
    #[serde(default)]
    pub id: Option<String>,
}

/// Why a call notification was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No such inbox, or one whose channel takes no calls (only SMS numbers and API inboxes do).
    #[error("not found")]
    NotFound,
    #[error("the X-Parley-Signature header does not match the body")]
    BadSignature,
    #[error("{0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NotFound => ApiError::NotFound,
            CallError::BadSignature => ApiError::Forbidden(e.to_string()),
            CallError::Malformed(m) => ApiError::bad_request("malformed_call", m),
            CallError::Store(e) => e.into(),
        }
    }
}

/// The identity a caller is known by in an inbox that takes calls: a Twilio number's callers
/// are the phone numbers its texts come from; an API inbox's, the number as the customer's id.
fn caller_identity(inbox: &InboxRow) -> Option<IdentityKind> {
    match crate::inboxes::channels::channel_of(inbox)?.kind() {
        ChannelKind::Twilio => Some(IdentityKind::Phone),
        ChannelKind::Api => Some(IdentityKind::Api),
        _ => None,
    }
}

/// Checks a notification's signature (under the inbox's secret: the API inbox's, a Twilio
/// number's auth token) and reads it (a call with no time came `now`); nothing is stored before
/// both pass.
fn read(
    inbox: &InboxRow,
    signature: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> Result<InboundCall, CallError> {
    let kind = caller_identity(inbox).ok_or(CallError::NotFound)?;
    parley_channels::api::verify(&inbox.secret, signature, body)
        .map_err(|_| CallError::BadSignature)?;
    let call: CallHookBody =
        serde_json::from_slice(body).map_err(|e| CallError::Malformed(e.to_string()))?;
    let from = Phone::parse(&call.from).map_err(|e| CallError::Malformed(e.to_string()))?;
    if call
        .id
        .as_ref()
        .is_some_and(|id| id.trim().is_empty() || id.len() > MAX_ID_BYTES)
    {
        return Err(CallError::Malformed(format!(
            "id: 1 to {MAX_ID_BYTES} bytes"
        )));
    }
    Ok(InboundCall {
        inbox_id: inbox.id,
        identity_kind: kind,
        from: from.as_str().to_string(),
        external_id: call.id.clone(),
        at: call.at.unwrap_or(now),
        data: json!({
            "answered": call.answered,
            "duration_secs": call.duration_secs,
            "call_id": call.id,
        }),
    })
}

/// Records a call on the caller's conversation, then lets the workspace's rules react to it.
pub async fn record(
    app: &App,
    inbox: &InboxRow,
    call: InboundCall,
) -> Result<CallOutcome, CallError> {
    let (from, at, answered) = (call.from.clone(), call.at, call.data["answered"] == true);
    let out = app.store.record_call(call).await?;
    if let (false, Some(conv)) = (out.duplicate, out.conversation_id) {
        let what = Happened::Call { from, at, answered };
        // The call is stored and acknowledged either way: a rule that fails is logged, not retried.
        if let Err(e) = react(app, inbox.workspace_id, conv, what).await {
            tracing::warn!(error = %e, conversation = %conv, "rules did not run for a call");
        }
    }
    Ok(out)
}

/// `POST /hooks/call/{inbox_id}`: a call notification, `X-Parley-Signature: sha256=HMAC(secret,
/// body)`. 403 on a bad signature, 400 on a malformed body; nothing is stored then.
pub async fn receive_call(
    State(app): State<App>,
    Path(inbox_id): Path<InboxId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let inbox = app.hook_inbox(inbox_id).await?.ok_or(ApiError::NotFound)?;
    let signature = headers
        .get("x-parley-signature")
        .and_then(|v| v.to_str().ok());
    let call = match read(&inbox, signature, &body, app.now()) {
        Ok(call) => call,
        Err(e @ CallError::BadSignature) => {
            return Ok(error_body(
                StatusCode::FORBIDDEN,
                "bad_signature",
                &e.to_string(),
                None,
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let out = record(&app, &inbox, call).await?;
    Ok((
        StatusCode::OK,
        Json(json!({
            "conversation_id": out.conversation_id,
            "contact_id": out.contact_id,
            "duplicate": out.duplicate,
        })),
    )
        .into_response())
}
