//! The one webhook handler every provider posts to (`/hooks/{kind}/{inbox}`): the inbox's
//! channel verifies (403, nothing stored) and parses (400, nothing stored) the delivery, each
//! message goes through `inbound::ingest`, reports and reads are recorded, and the provider is
//! answered as its channel says, only after the commit.

use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_channels::channel::{
    Answer, Checked, Delivered, Delivery, InboundFile, Incoming, Refusal,
};
use parley_channels::rich::{ReadWatermark, StatusReport};
use parley_channels::Channel;
use parley_core::{InboxId, Timestamp};
use parley_store::{DeliveryReport, InboundMessage, InboundOutcome, InboxRow, Scope, StoreError};
use serde_json::{json, Value};

use crate::conversations::attachments::Attachment;
use crate::http::error::{error_body, ApiError, ApiResult};
use crate::http::extract::{Json, Path, RawBody};
use crate::inboxes::channels::channel_of;
use crate::state::App;

/// The API channel's request body, for the OpenAPI document.
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
    use crate::http::openapi::{obj, string};
    let contact = obj(
        &[("id", string())],
        &[("name", string()), ("email", string()), ("phone", string())],
    );
    obj(
        &[("contact", contact), ("text", string())],
        &[
            ("id", string()),
            ("timestamp", json!({"type":"string","format":"date-time"})),
            ("automated", json!({"type":"boolean"})),
        ],
    )
}

fn refuse(r: Refusal) -> Response {
    let status = match r.forbidden {
        true => StatusCode::FORBIDDEN,
        false => StatusCode::BAD_REQUEST,
    };
    error_body(status, r.code, &r.message, None)
}

/// POST on an inbox's webhook, whatever its channel.
pub async fn receive(
    State(app): State<App>,
    Path(inbox_id): Path<InboxId>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let inbox = app
        .hook_inbox(inbox_id)
        .await?
        .filter(|i| uri.path().starts_with(&format!("/hooks/{}/", i.kind)))
        .ok_or(ApiError::NotFound)?;
    let channel = channel_of(&inbox).ok_or(ApiError::NotFound)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = app.now();
    let verified = channel.verify_delivery(&Delivery {
        header: &header,
        body: &body,
        public_url: &app.config.public_url,
        path: uri.path(),
        query: uri.query(),
        now,
    });
    let parsed = match verified.and_then(|()| channel.parse_delivery(&body)) {
        Ok(p) => p,
        Err(r) => return Ok(refuse(r)),
    };
    answer_tap(&app, &channel, &body);
    let same_app = |other: &Channel<'_>| other.verify(header, &body).is_ok();
    let routed = route(&app, &inbox, &channel, parsed.events, same_app).await?;
    // Everything is checked before anything is stored, so a bad delivery stores nothing.
    let batches = match Batch::check_all(&channel, routed, now) {
        Ok(batches) => batches,
        Err(e) => return Ok(refuse(e.into())),
    };
    let mut stored = None;
    for (target, batch) in batches {
        stored = batch.store(&app, &target, &channel, now).await?.or(stored);
    }
    Ok(answer(parsed.answer, stored))
}

/// Answers a Telegram button tap beside the webhook's own work, so the delivery waits for
/// nothing; a refusal is only logged, as the tap is stored anyway.
fn answer_tap(app: &App, channel: &Channel<'_>, body: &[u8]) {
    if let Some(tap) = channel.tap_answer(body) {
        let http = app.http.clone();
        tokio::spawn(async move {
            if let Err(e) = tap.send(&http).await {
                tracing::warn!(error = %e, "Telegram did not take the answer to a button tap");
            }
        });
    }
}

/// What the provider is answered once the delivery is stored, as its channel says: Twilio's
/// empty TwiML, the API channel's stored message, or a plain `ok`.
fn answer(answer: Answer, stored: Option<InboundOutcome>) -> Response {
    match (answer, stored) {
        (Answer::Twiml, _) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "text/xml")],
            r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#,
        )
            .into_response(),
        (Answer::Stored, Some(out)) => (
            StatusCode::OK,
            Json(json!({
                "message_id": out.message_id,
                "conversation_id": out.conversation_id,
                "contact_id": out.contact_id,
                "duplicate": out.duplicate,
            })),
        )
            .into_response(),
        (Answer::Ok | Answer::Stored, _) => {
            (StatusCode::OK, axum::Json(json!({ "ok": true }))).into_response()
        }
    }
}

/// The parameters Meta's subscription handshake sends (read by `Channel::handshake`); others a
/// provider may add are let be.
#[derive(serde::Deserialize)]
pub struct HandshakeQuery {
    #[serde(rename = "hub.mode")]
    _mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    _verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    _challenge: Option<String>,
}

/// GET on a webhook: the subscription handshake of the channels that have one (answer the
/// challenge when the token matches).
pub async fn handshake(
    State(app): State<App>,
    Path(inbox_id): Path<InboxId>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let inbox = app.hook_inbox(inbox_id).await?.ok_or(ApiError::NotFound)?;
    let answer = channel_of(&inbox)
        .and_then(|c| c.handshake(query.as_deref().unwrap_or_default()))
        .ok_or(ApiError::NotFound)?;
    Ok(match answer {
        Ok(challenge) => (StatusCode::OK, challenge).into_response(),
        Err(e) => refuse(e.into()),
    })
}

/// Which inbox each event of a delivery is for. An event that names a number or page (Meta's)
/// goes to the inbox with that address in the called inbox's workspace, of the same kind,
/// provided its secret also verifies the delivery (the same app); one naming an address no such
/// inbox has is dropped, or kept by the called inbox where its channel says so. Events that name
/// nothing are the called inbox's.
async fn route(
    app: &App,
    inbox: &InboxRow,
    channel: &Channel<'_>,
    events: Vec<(Option<String>, Delivered)>,
    same_app: impl Fn(&Channel<'_>) -> bool,
) -> Result<Vec<(InboxRow, Vec<Delivered>)>, ApiError> {
    let home = channel.address();
    let mut out = vec![(inbox.clone(), Vec::new())];
    let mut workspace: Option<Vec<InboxRow>> = None;
    let address = |i: &InboxRow| channel_of(i).and_then(|c| c.address().map(str::to_string));
    for (named, event) in events {
        let named = match (named, home) {
            (Some(n), Some(home)) if n != home => n,
            _ => {
                out[0].1.push(event);
                continue;
            }
        };
        if let Some((_, list)) = out[1..]
            .iter_mut()
            .find(|(i, _)| address(i).as_deref() == Some(named.as_str()))
        {
            list.push(event);
            continue;
        }
        // Only a delivery for another number or page costs a look at the workspace's inboxes.
        let others = match &mut workspace {
            Some(others) => others,
            None => {
                let scope = Scope::parley(inbox.workspace_id);
                workspace.insert(app.store.list_inboxes(&scope).await?)
            }
        };
        let target = others.iter().find(|i| {
            channel_of(i).is_some_and(|c| {
                c.kind() == channel.kind() && c.address() == Some(named.as_str()) && same_app(&c)
            })
        });
        match target {
            Some(t) => out.push((t.clone(), vec![event])),
            None if channel.keeps_unaddressed() => out[0].1.push(event),
            None => {
                tracing::debug!(kind = %channel.kind(), "dropped a webhook event for a number or page no inbox has")
            }
        }
    }
    Ok(out)
}

/// One inbox's share of a delivery, checked and ready to store.
#[derive(Default)]
struct Batch {
    inbound: Vec<Incoming>,
    reports: Vec<StatusReport>,
    reads: Vec<ReadWatermark>,
}

impl Batch {
    /// Each inbox's share of a delivery, checked; the first event that does not pass refuses
    /// the whole delivery.
    fn check_all(
        channel: &Channel<'_>,
        routed: Vec<(InboxRow, Vec<Delivered>)>,
        now: Timestamp,
    ) -> Result<Vec<(InboxRow, Self)>, parley_core::Invalid> {
        routed
            .into_iter()
            .map(|(target, events)| Ok((target, Batch::check(channel, events, now)?)))
            .collect()
    }

    fn check(
        channel: &Channel<'_>,
        events: Vec<Delivered>,
        now: Timestamp,
    ) -> Result<Self, parley_core::Invalid> {
        let mut batch = Batch::default();
        for ev in events {
            match channel.check(ev, now)? {
                Some(Checked::Message(m)) => batch.inbound.push(m),
                Some(Checked::Status(s)) => batch.reports.push(s),
                Some(Checked::Read(w)) => batch.reads.push(w),
                None => {}
            }
        }
        Ok(batch)
    }

    /// Stores the batch; the outcome of its last message.
    async fn store(
        self,
        app: &App,
        inbox: &InboxRow,
        channel: &Channel<'_>,
        now: Timestamp,
    ) -> Result<Option<InboundOutcome>, StoreError> {
        let mut last = None;
        for m in self.inbound {
            last = Some(store_message(app, inbox, channel, m).await?);
        }
        for s in self.reports {
            let report = DeliveryReport {
                inbox: inbox.id,
                provider_id: s.provider_id,
                status: s.status,
                error: s.error,
                at: now,
            };
            app.store.record_delivery(report).await?;
        }
        // "Everything up to this time was read" applies to the replies of that customer's conversation.
        let identity_kind = channel.kind().identity_kind();
        for w in self.reads {
            let found = app
                .store
                .identity_conversation(inbox.id, identity_kind, &w.sender_id)
                .await?;
            if let Some((_, Some(conv))) = found {
                app.store
                    .read_until(conv, Timestamp(w.watermark), now)
                    .await?;
            }
        }
        Ok(last)
    }
}

/// Stores one customer message with the choice it answers and its files, through
/// `inbound::ingest`.
async fn store_message(
    app: &App,
    inbox: &InboxRow,
    channel: &Channel<'_>,
    m: Incoming,
) -> Result<InboundOutcome, StoreError> {
    let identity_kind = channel.kind().identity_kind();
    let mut msg = InboundMessage {
        meta: None,
        thread: None,
        keyword: None,
        survey: None,
        inbox_id: inbox.id,
        identity_kind,
        sender_external_id: m.sender_id,
        sender_name: m.sender_name,
        sender_email: m.sender_email,
        sender_phone: m.sender_phone,
        external_id: m.message_id,
        body: m.body,
        at: m.at,
    };
    let choice = match channel.answers_choices() {
        true => {
            crate::conversations::compose::answered_choice(
                app,
                inbox,
                identity_kind,
                &msg.sender_external_id,
                &msg.body,
                m.choice.as_deref(),
            )
            .await
        }
        false => None,
    };
    let files = fetch_files(app, inbox, &m.files, &mut msg).await?;
    msg.meta = crate::conversations::compose::inbound_meta(choice, &files);
    if let Some(token) = m.reply_token {
        // LINE's reply token lets the first answer go out free, for a short while.
        msg.meta.get_or_insert_with(|| json!({}))["line"] = json!({ "reply_token": token });
    }
    if m.automated {
        msg.meta.get_or_insert_with(|| json!({}))["automated"] = json!(true);
    }
    crate::inbound::ingest(app, inbox, msg).await
}

/// Fetches a message's files from the provider and names each in its text; a redelivered
/// message is stored once, so its files are not fetched again.
async fn fetch_files(
    app: &App,
    inbox: &InboxRow,
    wanted: &[InboundFile],
    msg: &mut InboundMessage,
) -> Result<Vec<Attachment>, StoreError> {
    let known = match (&msg.external_id, wanted.is_empty()) {
        (Some(id), false) => app
            .store
            .conversation_by_external_ids(inbox.id, std::slice::from_ref(id))
            .await?
            .is_some(),
        _ => false,
    };
    let mut files = Vec::new();
    for f in wanted.iter().filter(|_| !known) {
        if let Some(a) = crate::conversations::attachments::fetch_media(app, inbox, &f.media).await
        {
            let name = a.filename.as_deref().unwrap_or(&a.content_type);
            msg.body = msg.body.replace(&f.placeholder, &f.shown(name));
            files.push(a);
        }
    }
    Ok(files)
}
