//! Inbound webhooks. Each verifies the provider's signature over the raw body (403, nothing
//! stored), parses (400, nothing stored), hands the message to `inbound::ingest`, and answers only
//! after the commit.

use axum::extract::OriginalUri;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_channels::{api, twilio, ChannelKind, InboundError};
use parley_core::contact::{parse_external_id, parse_name, Email, IdentityKind, Phone};
use parley_core::message::{parse_body, DeliveryStatus};
use parley_core::InboxId;
use parley_store::{DeliveryReport, InboundMessage};
use serde_json::{json, Value};

use crate::error::{error_body, ApiError, ApiResult, Json, Path, RawBody};
use crate::state::App;

/// The body the API channel's hook takes, as the document shows it (`parley_channels::api` reads it).
pub struct ApiHookBody;

impl schemars::JsonSchema for ApiHookBody {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ApiHookBody".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::Schema::try_from(api_hook_schema()).unwrap_or_default()
    }
}

pub(crate) fn api_hook_schema() -> Value {
    use crate::routes::{obj, string};
    let contact = obj(
        &[("id", string())],
        &[("name", string()), ("email", string()), ("phone", string())],
    );
    obj(
        &[("contact", contact), ("text", string())],
        &[
            ("id", string()),
            ("timestamp", json!({"type":"string","format":"date-time"})),
        ],
    )
}

pub(crate) fn refuse(e: InboundError) -> Response {
    match e {
        InboundError::BadSignature => {
            error_body(StatusCode::FORBIDDEN, "bad_signature", &e.to_string(), None)
        }
        InboundError::Malformed(m) => error_body(StatusCode::BAD_REQUEST, "malformed", &m, None),
    }
}

pub(crate) fn malformed(e: parley_core::Invalid) -> Response {
    refuse(InboundError::Malformed(e.to_string()))
}

pub async fn api_hook(
    State(app): State<App>,
    Path(inbox_id): Path<InboxId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let inbox = app
        .store
        .inbox_for_hook(inbox_id)
        .await?
        .filter(|i| crate::channels::kind_of(i) == Some(ChannelKind::Api))
        .ok_or(ApiError::NotFound)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let checked = api::verify_post(
        &inbox.secret,
        header(api::SIGNATURE_HEADER),
        header(api::TIMESTAMP_HEADER),
        &body,
        app.now().0.div_euclid(1000),
    );
    if let Err(e) = checked {
        let code = match e {
            api::PostRefusal::BadSignature => "bad_signature",
            api::PostRefusal::BadTimestamp => "bad_timestamp",
            api::PostRefusal::Stale(_) => "stale_timestamp",
        };
        return Ok(error_body(
            StatusCode::FORBIDDEN,
            code,
            &e.to_string(),
            None,
        ));
    }
    let m = match api::parse(&body) {
        Ok(m) => m,
        Err(e) => return Ok(refuse(e)),
    };
    let now = app.now();
    let parsed = (|| {
        Ok::<_, parley_core::Invalid>(InboundMessage {
            meta: None,
            thread: None,
            keyword: None,
            inbox_id,
            identity_kind: IdentityKind::Api,
            sender_external_id: parse_external_id("contact.id", &m.contact.id)?,
            sender_name: m
                .contact
                .name
                .as_deref()
                .map(|n| parse_name("contact.name", n))
                .transpose()?,
            sender_email: m
                .contact
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()?
                .map(Email::into_string),
            sender_phone: m
                .contact
                .phone
                .as_deref()
                .map(Phone::parse)
                .transpose()?
                .map(Phone::into_string),
            external_id: m
                .id
                .as_deref()
                .map(|i| parse_external_id("id", i))
                .transpose()?,
            body: parse_body("text", &m.text)?,
            // A provider's clock may run ahead of ours; the timeline never shows the future.
            at: m.timestamp.map_or(now, |t| t.min(now)),
        })
    })();
    let msg = match parsed {
        Ok(msg) => msg,
        Err(e) => return Ok(malformed(e)),
    };
    let out = crate::inbound::ingest(&app, &inbox, msg).await?;
    Ok((
        StatusCode::OK,
        Json(json!({
            "message_id": out.message_id,
            "conversation_id": out.conversation_id,
            "contact_id": out.contact_id,
            "duplicate": out.duplicate,
        })),
    )
        .into_response())
}

/// The empty TwiML answer: Parley replies through the REST API, not in the webhook's answer.
fn twiml_ok() -> Response {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "text/xml")],
        r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#,
    )
        .into_response()
}

/// Twilio Programmable Messaging: inbound SMS/MMS and status callbacks, verified against the URL
/// Twilio called — the configured public URL, so it holds behind a reverse proxy.
pub async fn twilio_hook(
    State(app): State<App>,
    Path(inbox_id): Path<InboxId>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let inbox = app
        .hook_inbox(inbox_id)
        .await?
        .filter(|i| crate::channels::kind_of(i) == Some(ChannelKind::Twilio))
        .ok_or(ApiError::NotFound)?;
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let url = format!(
        "{}{}{query}",
        app.config.public_url.trim_end_matches('/'),
        uri.path()
    );
    let sig = headers
        .get(twilio::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = twilio::verify_form(&inbox.secret, &url, &body, sig) {
        return Ok(refuse(e));
    }
    let sms = match twilio::parse_form(&body) {
        Ok(twilio::Event::Message(m)) => m,
        Ok(twilio::Event::Status(st)) => {
            // Statuses that say nothing new (`receiving`, `received`) are acknowledged and dropped;
            // so is a report on a message we never sent (the store holds it for a while in case
            // the send is still being recorded).
            if let Some(status) = st.status {
                let error = (status == DeliveryStatus::Failed)
                    .then(|| twilio::failure_reason(st.error_code.as_deref()));
                let report = DeliveryReport {
                    inbox: inbox_id,
                    provider_id: st.message_sid,
                    status,
                    error,
                    at: app.now(),
                };
                app.store.record_delivery(report).await?;
            }
            return Ok(twiml_ok());
        }
        Err(e) => return Ok(refuse(e)),
    };
    let from = match Phone::parse(&sms.from) {
        Ok(p) => p.into_string(),
        Err(e) => return Ok(malformed(e)),
    };
    // Until attachments are stored, MMS media are kept as links in the text.
    let mut text = sms.body.clone();
    for (url, kind) in &sms.media {
        text.push_str(&format!("\n[{kind}] {url}"));
    }
    if text.trim().is_empty() {
        return Ok(twiml_ok());
    }
    let mut msg = InboundMessage {
        meta: None,
        thread: None,
        keyword: None,
        inbox_id,
        identity_kind: IdentityKind::Phone,
        sender_external_id: from.clone(),
        sender_name: None,
        sender_email: None,
        sender_phone: Some(from),
        external_id: Some(sms.message_sid.clone()),
        body: match parse_body("Body", &text) {
            Ok(b) => b,
            Err(e) => return Ok(malformed(e)),
        },
        at: app.now(),
    };
    let choice = crate::compose::answered_choice(
        &app,
        &inbox,
        IdentityKind::Phone,
        &msg.sender_external_id,
        &msg.body,
        None,
    )
    .await;
    // MMS media are fetched with the account's credentials and kept.
    let mut files = Vec::new();
    // A redelivered MMS is stored once; its media are not fetched again.
    let known = app
        .store
        .conversation_by_external_ids(inbox.id, std::slice::from_ref(&sms.message_sid))
        .await?
        .is_some();
    for (url, kind) in sms.media.iter().filter(|_| !known) {
        if let Some(a) = twilio_media(&app, &inbox, url, kind).await {
            msg.body = msg
                .body
                .replace(&format!("[{kind}] {url}"), &format!("[{kind}] attached"));
            files.push(a);
        }
    }
    msg.meta = crate::compose::inbound_meta(choice, &files);
    crate::inbound::ingest(&app, &inbox, msg).await?;
    Ok(twiml_ok())
}

/// Fetches an MMS's media through the inbox's channel (with the account's credentials, only
/// from Twilio).
async fn twilio_media(
    app: &App,
    inbox: &parley_store::InboxRow,
    url: &str,
    kind: &str,
) -> Option<crate::attachments::Attachment> {
    let media = parley_channels::rich::Media {
        kind: "file".into(),
        reference: url.to_string(),
        mime_type: Some(kind.to_string()),
        caption: None,
    };
    crate::attachments::fetch_media(app, inbox, &media).await
}
