//! The messaging apps as the server sees them: inbox settings for Telegram, WhatsApp, Messenger,
//! Instagram and LINE, the webhook handler they share (verify, parse, store), the customer-service
//! window that decides what an agent may send, and sending a reply through each.

use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_channels::channel::{Lookups, Needs};
use parley_channels::rich::{self, Event};
use parley_channels::{line, meta, telegram, Channel, ChannelKind, SendOutcome};
use parley_core::contact::IdentityKind;
use parley_core::message::{parse_body, Direction};
use parley_core::{ConversationId, InboxId, Timestamp};
use parley_store::{ConversationView, DeliveryReport, InboundMessage, InboxRow, OutboxJob, Scope};
use serde_json::{json, Value};

use crate::attachments;
use crate::error::{ApiError, ApiResult, Path, RawBody};
use crate::state::App;

pub use parley_channels::settings::Credentials;

/// The channel of an inbox, read from its stored kind; `None` for a kind this build does not
/// know.
pub fn kind_of(inbox: &InboxRow) -> Option<ChannelKind> {
    ChannelKind::parse(&inbox.kind)
}

/// Settings and secret of a new Twilio, Telegram, WhatsApp, Messenger, Instagram or LINE inbox.
/// Send credentials live under `credentials`, which the API never shows again.
pub fn settings(kind: &str, c: &Credentials<'_>) -> Result<(Value, String), ApiError> {
    let fresh = ChannelKind::parse(kind)
        .and_then(|k| parley_channels::settings::new_settings(k, c, crate::auth::random_token));
    let invalid =
        |e: parley_channels::settings::SettingsError| ApiError::invalid(e.field, e.message);
    match fresh {
        Some(made) => made.map_err(invalid),
        None => {
            // The address is checked first, whatever the kind, as for the kinds above.
            if let Some(url) = c.api_base_url {
                parley_channels::settings::http_url(url).map_err(invalid)?;
            }
            Err(ApiError::invalid(
            "kind",
            "must be one of: api, twilio, telegram, whatsapp, messenger, instagram, line, widget, email",
            ))
        }
    }
}

fn setting<'a>(inbox: &'a InboxRow, key: &str) -> &'a str {
    inbox
        .settings
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn credential<'a>(inbox: &'a InboxRow, key: &str) -> &'a str {
    inbox.settings["credentials"]
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn meta_channel(inbox: &InboxRow) -> Option<meta::Channel> {
    kind_of(inbox).and_then(ChannelKind::meta_channel)
}

fn identity_kind(kind: &str) -> IdentityKind {
    ChannelKind::parse(kind).map_or(IdentityKind::Line, ChannelKind::identity_kind)
}

/// When the customer last wrote in a conversation (the start of the channel's window).
pub(crate) async fn last_customer_message(
    app: &App,
    scope: &Scope,
    conversation: ConversationId,
) -> Result<Option<Timestamp>, ApiError> {
    let entries = app.store.timeline(scope, conversation, None, 200).await?;
    let inbound = Direction::Inbound.as_str();
    Ok(entries.iter().rev().find_map(|e| {
        let v: Value = serde_json::from_str(&e.event.data).ok()?;
        (e.event.kind == "message.created" && v["message"]["direction"] == inbound)
            .then_some(e.event.at)
    }))
}

/// What an agent may send in a conversation now, on channels with a customer-service window.
pub async fn window(
    app: &App,
    scope: &Scope,
    inbox: &InboxRow,
    conversation: ConversationId,
) -> Result<Option<meta::WindowVerdict>, ApiError> {
    window_for(app, scope, inbox, conversation, true).await
}

/// The window for a reply written by a person (`human`) or not (a bot, an automation): only a
/// person's reply may use Meta's HUMAN_AGENT tag past 24 hours.
async fn window_for(
    app: &App,
    scope: &Scope,
    inbox: &InboxRow,
    conversation: ConversationId,
    human: bool,
) -> Result<Option<meta::WindowVerdict>, ApiError> {
    let Some(channel) = meta_channel(inbox) else {
        return Ok(None);
    };
    let last = last_customer_message(app, scope, conversation).await?;
    Ok(Some(meta::window(
        channel,
        last.map(|t| t.0),
        app.now().0,
        human,
    )))
}

/// Refuses a free-form reply the channel would refuse, with the reason, before it is queued.
pub async fn check_reply(
    app: &App,
    scope: &Scope,
    inbox: &InboxRow,
    conversation: ConversationId,
    template: bool,
    human: bool,
) -> Result<(), ApiError> {
    match window_for(app, scope, inbox, conversation, human).await? {
        Some(meta::WindowVerdict::TemplateOnly { .. }) if template => Ok(()),
        Some(
            meta::WindowVerdict::TemplateOnly { reason } | meta::WindowVerdict::Closed { reason },
        ) => Err(ApiError::Unprocessable {
            code: "outside_window",
            message: reason,
            field: None,
        }),
        _ => Ok(()),
    }
}

/// The parameters Meta's subscription handshake sends (read by `meta::handshake`); others a
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

/// GET on a Meta webhook: the subscription handshake (answer the challenge when the token matches).
pub async fn meta_handshake(
    State(app): State<App>,
    Path(inbox_id): Path<InboxId>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let inbox = app
        .hook_inbox(inbox_id)
        .await?
        .filter(|i| meta_channel(i).is_some())
        .ok_or(ApiError::NotFound)?;
    match meta::handshake(
        query.as_deref().unwrap_or_default(),
        credential(&inbox, "verify_token"),
    ) {
        Ok(challenge) => Ok((StatusCode::OK, challenge).into_response()),
        Err(e) => Ok(crate::hooks::refuse(e)),
    }
}

/// POST on the webhook of a Telegram, WhatsApp, Messenger, Instagram or LINE inbox.
pub async fn channel_hook(
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
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = match inbox.kind.as_str() {
        "telegram" => telegram::verify(&inbox.secret, header(telegram::SECRET_HEADER)),
        "line" => line::verify(&inbox.secret, header(line::SIGNATURE_HEADER), &body),
        _ => meta::verify(&inbox.secret, header(meta::SIGNATURE_HEADER), &body),
    };
    if let Err(e) = verified {
        return Ok(crate::hooks::refuse(e));
    }
    let unnamed = |events: Vec<Event>| events.into_iter().map(|e| (None, e)).collect();
    let events = match inbox.kind.as_str() {
        "telegram" => telegram::parse(&body).map(unnamed),
        "line" => line::parse(&body).map(unnamed),
        "whatsapp" => meta::parse_whatsapp_routed(&body),
        _ => meta::parse_messenger_routed(&body),
    };
    let events = match events {
        Ok(e) => e,
        Err(e) => return Ok(crate::hooks::refuse(e)),
    };
    if kind_of(&inbox) == Some(ChannelKind::Telegram) {
        answer_tap(&app, &inbox, &body);
    }
    let same_app = |other: &InboxRow| {
        meta::verify(&other.secret, header(meta::SIGNATURE_HEADER), &body).is_ok()
    };
    let routed = route(&app, &inbox, events, same_app).await?;
    // Everything is checked before anything is stored, so a bad delivery stores nothing.
    let now = app.now();
    let mut batches = Vec::new();
    for (target, events) in routed {
        match Batch::check(&target, events, now) {
            Ok(batch) => batches.push((target, batch)),
            Err(e) => return Ok(crate::hooks::malformed(e)),
        }
    }
    for (target, batch) in batches {
        batch.store(&app, &target, now).await?;
    }
    Ok((StatusCode::OK, axum::Json(json!({ "ok": true }))).into_response())
}

/// Stops the spinner on a tapped Telegram button. The answer goes beside the webhook's own work,
/// so Telegram's delivery waits for nothing; a refusal is only logged, as the tap is stored anyway.
fn answer_tap(app: &App, inbox: &InboxRow, update: &[u8]) {
    let Some(id) = telegram::callback_query_id(update) else {
        return;
    };
    let http = app.http.clone();
    let base = setting(inbox, "api_base_url").to_string();
    let token = credential(inbox, "bot_token").to_string();
    tokio::spawn(async move {
        if let Err(e) = telegram::answer_callback(&http, &base, &token, &id).await {
            tracing::warn!(error = %e, "Telegram did not take the answer to a button tap");
        }
    });
}

/// Which inbox each event of a delivery is for. A Meta event names its WhatsApp number or its
/// page, and goes to the inbox of that number or page in the called inbox's workspace, provided
/// its app secret also verifies the delivery (the same Meta app); an event naming a number or
/// page no such inbox has is dropped. Events that name nothing (Telegram, LINE) are the called
/// inbox's.
async fn route(
    app: &App,
    inbox: &InboxRow,
    events: Vec<(Option<String>, Event)>,
    same_app: impl Fn(&InboxRow) -> bool,
) -> Result<Vec<(InboxRow, Vec<Event>)>, ApiError> {
    let field = match inbox.kind.as_str() {
        "whatsapp" => "phone_number_id",
        "messenger" | "instagram" => "page_id",
        _ => "",
    };
    let mut out = vec![(inbox.clone(), Vec::new())];
    let mut workspace: Option<Vec<InboxRow>> = None;
    for (named, event) in events {
        let named = match named {
            Some(n) if !field.is_empty() => n,
            _ => {
                out[0].1.push(event);
                continue;
            }
        };
        if let Some((_, list)) = out.iter_mut().find(|(i, _)| setting(i, field) == named) {
            list.push(event);
            continue;
        }
        // Only a delivery for another number or page costs a look at the workspace's inboxes.
        let others = match &mut workspace {
            Some(others) => others,
            None => {
                let scope =
                    Scope::system(inbox.workspace_id, parley_core::UserId(uuid::Uuid::nil()));
                workspace.insert(app.store.list_inboxes(&scope).await?)
            }
        };
        let target = others
            .iter()
            .find(|i| i.kind == inbox.kind && setting(i, field) == named && same_app(i));
        match target {
            Some(t) => out.push((t.clone(), vec![event])),
            // Instagram's entries name the Instagram account, which an inbox does not record (its
            // `page_id` is the Facebook Page that sends): one naming no inbox's page stays with the
            // inbox Meta called.
            None if inbox.kind == "instagram" => out[0].1.push(event),
            None => {
                tracing::debug!(kind = %inbox.kind, "dropped a webhook event for a number or page no inbox has")
            }
        }
    }
    Ok(out)
}

/// One inbox's share of a delivery, checked and ready to store.
#[derive(Default)]
struct Batch {
    /// Each message as stored, with what it arrived as (a tapped choice, files, a reply token).
    inbound: Vec<(InboundMessage, rich::Incoming)>,
    reports: Vec<DeliveryReport>,
    reads: Vec<rich::ReadWatermark>,
}

impl Batch {
    fn check(
        inbox: &InboxRow,
        events: Vec<Event>,
        now: Timestamp,
    ) -> Result<Self, parley_core::Invalid> {
        let mut batch = Batch::default();
        for ev in events {
            match ev {
                Event::Message(m) => {
                    if let Some(msg) = to_inbound(inbox, m.clone(), now)? {
                        batch.inbound.push((msg, m));
                    }
                }
                Event::Status(s) => batch.reports.push(DeliveryReport {
                    inbox: inbox.id,
                    provider_id: s.provider_id,
                    status: s.status,
                    error: s.error,
                    at: now,
                }),
                Event::Read(w) => batch.reads.push(w),
            }
        }
        Ok(batch)
    }

    async fn store(self, app: &App, inbox: &InboxRow, now: Timestamp) -> Result<(), ApiError> {
        for (mut msg, m) in self.inbound {
            let (tapped, media, reply_token) = (m.choice, m.media, m.reply_token);
            let choice = crate::compose::answered_choice(
                app,
                inbox,
                msg.identity_kind,
                &msg.sender_external_id,
                &msg.body,
                tapped.as_deref(),
            )
            .await;
            let mut files = Vec::new();
            // A redelivered message is stored once; its files are not fetched again.
            let known = match &msg.external_id {
                Some(id) => app
                    .store
                    .conversation_by_external_ids(inbox.id, std::slice::from_ref(id))
                    .await?
                    .is_some(),
                None => false,
            };
            for m in media.iter().filter(|_| !known) {
                if let Some(a) = attachments::fetch_media(app, inbox, m).await {
                    let shown = a.filename.clone().unwrap_or_else(|| a.content_type.clone());
                    msg.body = msg.body.replace(
                        &format!("[{}] {}", m.kind, m.reference),
                        &format!("[{}] {shown}", m.kind),
                    );
                    files.push(a);
                }
            }
            msg.meta = crate::compose::inbound_meta(choice, &files);
            if let Some(token) = reply_token {
                // LINE's reply token lets the first answer go out free, for a short while.
                msg.meta.get_or_insert_with(|| json!({}))["line"] = json!({ "reply_token": token });
            }
            crate::inbound::ingest(app, inbox, msg).await?;
        }
        for r in self.reports {
            app.store.record_delivery(r).await?;
        }
        // "Everything up to this time was read" applies to the replies of that customer's conversation.
        for w in self.reads {
            let found = app
                .store
                .identity_conversation(inbox.id, identity_kind(&inbox.kind), &w.sender_id)
                .await?;
            if let Some((_, Some(conv))) = found {
                app.store
                    .read_until(conv, Timestamp(w.watermark), now)
                    .await?;
            }
        }
        Ok(())
    }
}

/// A parsed customer message as the store takes it; `None` when there is nothing to show.
fn to_inbound(
    inbox: &InboxRow,
    m: rich::Incoming,
    now: Timestamp,
) -> Result<Option<InboundMessage>, parley_core::Invalid> {
    let mut text = m.text.clone();
    for media in &m.media {
        if !text.is_empty() {
            text.push('\n');
        }
        // Until attachments are fetched and stored, the timeline shows what arrived.
        text.push_str(&format!("[{}] {}", media.kind, media.reference));
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    let external = parley_core::contact::parse_external_id("sender", &m.sender_id)?;
    Ok(Some(InboundMessage {
        meta: None,
        thread: None,
        keyword: None,
        inbox_id: inbox.id,
        identity_kind: identity_kind(&inbox.kind),
        sender_external_id: external,
        sender_name: m.sender_name.filter(|n| !n.trim().is_empty()),
        sender_email: None,
        sender_phone: m
            .sender_phone
            .and_then(|p| parley_core::contact::Phone::parse(&p).ok())
            .map(|p| p.into_string()),
        external_id: Some(parley_core::contact::parse_external_id(
            "message_id",
            &m.message_id,
        )?),
        body: parse_body("text", &text)?,
        // A provider's clock may run ahead of ours; the timeline never shows the future.
        at: m.sent_at.map_or(now, |t| Timestamp(t.min(now.0))),
    }))
}

/// What a send through the inbox's channel needs from the store, as the channel asked.
pub async fn look_up(app: &App, job: &OutboxJob, needs: Needs) -> Result<Lookups, SendOutcome> {
    let mut lookups = Lookups::default();
    match needs {
        Needs::ReplyToken => lookups.reply_token = line_reply_token(app, job).await,
        Needs::Window => lookups.window = send_window(app, job).await,
        Needs::Mail => crate::email::reply_lookups(app, job, &mut lookups).await?,
        Needs::Nothing | Needs::InProcess => {}
    }
    Ok(lookups)
}

/// How long after the customer's message LINE's reply token is used: it works only briefly
/// (about half a minute has been seen), and a push is the fallback anyway.
const LINE_REPLY_TOKEN_MS: i64 = 20_000;

/// The reply token of the customer's last LINE message, when this reply is the first answer to
/// it and the token is fresh (it can be used once).
async fn line_reply_token(app: &App, job: &OutboxJob) -> Option<String> {
    let scope = Scope::system(
        job.inbox.workspace_id,
        parley_core::UserId(uuid::Uuid::nil()),
    );
    let entries = app
        .store
        .timeline(&scope, job.message.conversation_id, None, 20)
        .await
        .ok()?;
    let messages: Vec<Value> = entries
        .iter()
        .filter(|e| e.event.kind == "message.created")
        .filter_map(|e| serde_json::from_str::<Value>(&e.event.data).ok())
        .map(|v| v["message"].clone())
        .collect();
    let last_in = messages
        .iter()
        .rposition(|m| m["direction"] == Direction::Inbound.as_str())?;
    let first_reply = messages[last_in + 1..]
        .iter()
        .find(|m| m["direction"] == Direction::Outbound.as_str())?;
    if first_reply["id"] != job.message.id.to_string().as_str() {
        return None;
    }
    let at: Timestamp = serde_json::from_value(messages[last_in]["created_at"].clone()).ok()?;
    if app.now().0 - at.0 > LINE_REPLY_TOKEN_MS {
        return None;
    }
    messages[last_in]["meta"]["line"]["reply_token"]
        .as_str()
        .map(str::to_string)
}

/// The window of a queued Messenger or Instagram reply, judged when it is sent.
async fn send_window(app: &App, job: &OutboxJob) -> Option<meta::WindowVerdict> {
    let scope = Scope::system(
        job.inbox.workspace_id,
        parley_core::UserId(uuid::Uuid::nil()),
    );
    let last = last_customer_message(app, &scope, job.message.conversation_id)
        .await
        .ok()?;
    let channel = meta_channel(&job.inbox)?;
    let human = job.message.sender_kind == parley_core::message::SenderKind::Agent;
    Some(meta::window(channel, last.map(|t| t.0), app.now().0, human))
}

/// The interface to an inbox's channel; `None` for a kind this build does not know or settings
/// it cannot read.
pub fn channel_of(inbox: &InboxRow) -> Option<Channel<'_>> {
    let kind = kind_of(inbox)?;
    Channel::read(kind, &inbox.settings, &inbox.secret)
        .map_err(|e| tracing::warn!(error = %e, inbox = %inbox.id, "unreadable inbox settings"))
        .ok()
}

/// Asks the provider whether an inbox's credentials work, with a read that changes nothing:
/// Twilio's account, Telegram's `getMe`, the Graph API's phone number or page, LINE's bot info,
/// an email inbox's SMTP relay and IMAP mailbox. `None` for kinds with nothing to ask (API,
/// widget).
pub async fn test_connection(app: &App, inbox: &InboxRow) -> Option<Result<String, String>> {
    channel_of(inbox)?.test_connection(&app.http).await
}

/// A WhatsApp inbox's approved templates, as the composer offers them: name, language, category,
/// the body text and the names of its parameters in order (`1`, `2`, … for positional ones).
pub async fn whatsapp_templates(app: &App, inbox: &InboxRow) -> Result<Vec<Value>, ApiError> {
    let listed = match channel_of(inbox) {
        Some(channel) => channel.templates(&app.http).await,
        None => Err(format!(
            "{} inboxes have no message templates; WhatsApp inboxes do",
            inbox.kind
        )),
    };
    listed.map_err(|message| ApiError::Unprocessable {
        code: "templates_unavailable",
        message,
        field: None,
    })
}

/// Shows the customer that an agent is writing to them, where the channel can: Telegram's
/// "typing…", Messenger's and Instagram's typing bubble, WhatsApp's indicator (which also marks
/// their last message read), LINE's loading animation. Best effort: a refusal is only logged.
pub async fn typing_to_customer(app: &App, scope: &Scope, conv: &ConversationView) {
    let Ok(inbox) = app.store.inbox(scope, conv.inbox_id).await else {
        return;
    };
    let Some(channel) = channel_of(&inbox).filter(Channel::shows_typing) else {
        return;
    };
    let Ok(contact) = app.store.contact(scope, conv.contact_id).await else {
        return;
    };
    let Some(to) = contact
        .identities
        .iter()
        .find(|i| i.id == conv.identity_id)
        .map(|i| i.external_id.clone())
    else {
        return;
    };
    let last = match channel.typing_needs_last_message() {
        true => last_customer_message_id(app, scope, conv.id).await,
        false => None,
    };
    let Some(req) = channel.typing(&app.http, &to, last.as_deref()) else {
        return;
    };
    match req.send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            tracing::debug!(status = r.status().as_u16(), kind = %inbox.kind, "the provider refused a typing indicator")
        }
        Err(e) => {
            // The client's errors leave out the URL: Telegram's carries the bot token.
            tracing::debug!(error = %e, kind = %inbox.kind, "could not send a typing indicator")
        }
    }
}

/// The provider's id of the customer's last message in a conversation.
async fn last_customer_message_id(
    app: &App,
    scope: &Scope,
    conversation: ConversationId,
) -> Option<String> {
    let entries = app
        .store
        .timeline(scope, conversation, None, 200)
        .await
        .ok()?;
    let inbound = Direction::Inbound.as_str();
    entries.iter().rev().find_map(|e| {
        let v: Value = serde_json::from_str(&e.event.data).ok()?;
        (e.event.kind == "message.created" && v["message"]["direction"] == inbound)
            .then(|| v["message"]["external_id"].as_str().map(str::to_string))
            .flatten()
    })
}
