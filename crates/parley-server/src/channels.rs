//! The messaging apps as the server sees them: inbox settings for Telegram, WhatsApp, Messenger,
//! Instagram and LINE, the webhook handler they share (verify, parse, store), the customer-service
//! window that decides what an agent may send, and sending a reply through each.

use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_channels::rich::{self, Capabilities, Event, Part};
use parley_channels::{line, meta, telegram, SendOutcome};
use parley_core::contact::IdentityKind;
use parley_core::message::{parse_body, Direction};
use parley_core::{ConversationId, InboxId, Timestamp};
use parley_store::{ConversationView, DeliveryReport, InboundMessage, InboxRow, OutboxJob, Scope};
use serde_json::{json, Value};

use crate::attachments::{self, Attachment};
use crate::error::{ApiError, ApiResult, Path, RawBody};
use crate::state::App;

/// The kinds handled here (the API channel and Twilio have their own modules).
pub const KINDS: [&str; 5] = ["telegram", "whatsapp", "messenger", "instagram", "line"];

/// What an admin gives to create an inbox of one of `KINDS`.
#[derive(Default)]
pub struct Credentials<'a> {
    pub bot_token: Option<&'a str>,
    pub access_token: Option<&'a str>,
    pub app_secret: Option<&'a str>,
    pub channel_secret: Option<&'a str>,
    pub phone_number_id: Option<&'a str>,
    pub page_id: Option<&'a str>,
    pub api_base_url: Option<String>,
    pub graph_version: Option<&'a str>,
    /// WhatsApp: the business account the number belongs to, whose approved templates the
    /// composer lists (optional).
    pub waba_id: Option<&'a str>,
}

/// Credentials are at most this long.
const MAX_CREDENTIAL: usize = 1024;

/// A credential of a new inbox: given, `min` to 1024 characters, without spaces. The minimums
/// (listed in README's channel table) catch a value pasted half or into the wrong field.
fn required<'a>(field: &'static str, v: Option<&'a str>, min: usize) -> Result<&'a str, ApiError> {
    let v = v.map(str::trim).unwrap_or_default();
    let len = v.chars().count();
    let wrong = if v.is_empty() {
        format!("{field} is required for this kind of inbox")
    } else if v.chars().any(char::is_whitespace) {
        format!("{field} must not contain spaces or line breaks")
    } else if len < min {
        format!("{field} must be at least {min} characters; the one given has {len}")
    } else if len > MAX_CREDENTIAL {
        format!("{field} must be at most {MAX_CREDENTIAL} characters; the one given has {len}")
    } else {
        return Ok(v);
    };
    Err(ApiError::invalid(field, wrong))
}

fn digits(field: &'static str, v: Option<&str>) -> Result<String, ApiError> {
    let v = v.map(str::trim).unwrap_or_default();
    if v.is_empty() || v.len() > 32 || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid(
            field,
            "must be the numeric id Meta shows",
        ));
    }
    Ok(v.to_string())
}

/// Settings and signing secret of a new inbox. Send credentials live under `credentials`, which
/// the API never shows again.
pub fn settings(kind: &str, c: &Credentials<'_>) -> Result<(Value, String), ApiError> {
    let base = |default: &str| {
        c.api_base_url
            .clone()
            .unwrap_or_else(|| default.to_string())
            .trim_end_matches('/')
            .to_string()
    };
    match kind {
        "telegram" => {
            let token = required("bot_token", c.bot_token, 20)?;
            if !token.contains(':') {
                return Err(ApiError::invalid(
                    "bot_token",
                    "must be the token BotFather gave (digits, a colon, then letters)",
                ));
            }
            Ok((
                json!({ "api_base_url": base("https://api.telegram.org"), "credentials": { "bot_token": token } }),
                crate::auth::random_token(),
            ))
        }
        "whatsapp" | "messenger" | "instagram" => {
            let (id_field, id) = if kind == "whatsapp" {
                (
                    "phone_number_id",
                    digits("phone_number_id", c.phone_number_id)?,
                )
            } else {
                ("page_id", digits("page_id", c.page_id)?)
            };
            let token = required("access_token", c.access_token, 16)?;
            let secret = required("app_secret", c.app_secret, 16)?;
            let version = c.graph_version.unwrap_or("v25.0");
            if !(version.starts_with('v') && version.len() <= 8) {
                return Err(ApiError::invalid("graph_version", "must look like v25.0"));
            }
            let mut settings = json!({
                id_field: id,
                "api_base_url": base("https://graph.facebook.com"),
                "graph_version": version,
                "credentials": { "access_token": token, "verify_token": crate::auth::random_token() },
            });
            match c.waba_id.map(str::trim).filter(|w| !w.is_empty()) {
                Some(_) if kind != "whatsapp" => {
                    return Err(ApiError::invalid(
                        "waba_id",
                        "is a setting of WhatsApp inboxes",
                    ))
                }
                Some(w) => settings["waba_id"] = json!(digits("waba_id", Some(w))?),
                None => {}
            }
            Ok((settings, secret.to_string()))
        }
        "line" => {
            let secret = required("channel_secret", c.channel_secret, 16)?;
            let token = required("access_token", c.access_token, 16)?;
            Ok((
                json!({ "api_base_url": base("https://api.line.me"), "credentials": { "access_token": token } }),
                secret.to_string(),
            ))
        }
        _ => Err(ApiError::invalid(
            "kind",
            "must be one of: api, twilio, telegram, whatsapp, messenger, instagram, line, widget, email",
        )),
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

/// What the channel of an inbox can show natively.
pub fn capabilities(kind: &str) -> Option<Capabilities> {
    Some(match kind {
        "telegram" => telegram::capabilities(),
        "whatsapp" => meta::whatsapp_capabilities(),
        "messenger" => meta::messenger_capabilities(),
        "instagram" => meta::instagram_capabilities(),
        "line" => line::capabilities(),
        _ => return None,
    })
}

fn meta_channel(kind: &str) -> Option<meta::Channel> {
    match kind {
        "whatsapp" => Some(meta::Channel::WhatsApp),
        "messenger" => Some(meta::Channel::Messenger),
        "instagram" => Some(meta::Channel::Instagram),
        _ => None,
    }
}

fn identity_kind(kind: &str) -> IdentityKind {
    match kind {
        "telegram" => IdentityKind::Telegram,
        "whatsapp" => IdentityKind::Whatsapp,
        "messenger" => IdentityKind::Messenger,
        "instagram" => IdentityKind::Instagram,
        _ => IdentityKind::Line,
    }
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
    let Some(channel) = meta_channel(&inbox.kind) else {
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
        .filter(|i| meta_channel(&i.kind).is_some())
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
    if inbox.kind == "telegram" {
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
                if let Some(a) = fetch_media(app, inbox, m).await {
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

/// Downloads a customer's file from the provider and stores it (WhatsApp and Telegram, whose
/// messages carry an id to fetch with the inbox's credentials); `None` keeps the reference.
async fn fetch_media(app: &App, inbox: &InboxRow, m: &rich::Media) -> Option<Attachment> {
    let base = setting(inbox, "api_base_url");
    match inbox.kind.as_str() {
        "whatsapp" => {
            let token = credential(inbox, "access_token");
            let version = setting(inbox, "graph_version");
            // The media id resolves to a short-lived URL, fetched with the same token: only on
            // Meta's CDN (or the inbox's own base URL when it was set), so the token goes nowhere
            // else.
            let resp = app
                .http
                .get(format!("{base}/{version}/{}", m.reference))
                .bearer_auth(token)
                .send()
                .await
                .ok()?
                .error_for_status()
                .ok()?;
            let info = parley_channels::net::json_capped(resp).await;
            let url = info["url"].as_str()?;
            let url = parley_channels::net::provider_url(
                url,
                base,
                meta::GRAPH_BASE,
                meta::is_media_url,
                "Meta's media",
            )
            .map_err(|e| tracing::warn!(reason = %e, "a WhatsApp media link was not fetched"))
            .ok()?;
            let req = app.http.get(url.as_str()).bearer_auth(token);
            let name = m.caption.clone().filter(|_| m.kind == "document");
            attachments::fetch(app, inbox, req, name.as_deref(), m.mime_type.as_deref()).await
        }
        "telegram" => {
            let token = credential(inbox, "bot_token");
            let resp = app
                .http
                .get(format!("{base}/bot{token}/getFile"))
                .query(&[("file_id", m.reference.as_str())])
                .send()
                .await
                .ok()?;
            let info = parley_channels::net::json_capped(resp).await;
            let path = info["result"]["file_path"].as_str()?;
            // Only the inbox's own file API: a path cannot name another host or climb out.
            let Some(url) = telegram::file_url(base, token, path) else {
                tracing::warn!("a Telegram file path outside the file API was not fetched");
                return None;
            };
            let req = app.http.get(url);
            let name = path.rsplit('/').next();
            attachments::fetch(app, inbox, req, name, m.mime_type.as_deref()).await
        }
        _ => None,
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

/// Sends a queued reply through the inbox's channel, split and degraded to what it can carry.
pub async fn send(app: &App, job: &OutboxJob) -> SendOutcome {
    let inbox = &job.inbox;
    let Some(caps) = capabilities(&inbox.kind) else {
        return SendOutcome::Permanent(format!("no adapter for channel kind {:?}", inbox.kind));
    };
    let to = job.identity.external_id.as_str();
    let reply = crate::compose::reply_of(app, job);
    let base = setting(inbox, "api_base_url");
    if let (Some(t), "whatsapp") = (&reply.template, inbox.kind.as_str()) {
        let body = meta::whatsapp_template(to, t);
        let (id, token) = (
            setting(inbox, "phone_number_id"),
            credential(inbox, "access_token"),
        );
        let version = setting(inbox, "graph_version");
        return meta::send_whatsapp(&app.http, base, version, id, token, &body).await;
    }
    let parts = rich::degrade(&reply, &caps);
    let mut last_id = None;
    let mut reply_token = match inbox.kind.as_str() {
        "line" => line_reply_token(app, job).await,
        _ => None,
    };
    for (i, part) in parts.iter().enumerate() {
        let outcome = match reply_token.take() {
            Some(token) => {
                let access = credential(inbox, "access_token");
                match line::send(
                    &app.http,
                    base,
                    access,
                    to,
                    Some(&token),
                    line::render(part),
                )
                .await
                {
                    // An expired or used token: the same message goes as a push instead.
                    SendOutcome::Permanent(_) => send_part(app, job, base, to, part).await,
                    other => other,
                }
            }
            None => send_part(app, job, base, to, part).await,
        };
        match outcome {
            SendOutcome::Accepted { provider_id } => last_id = provider_id.or(last_id),
            // Parts already delivered must not be sent twice: a later failure is final.
            SendOutcome::Transient(e) if i > 0 => {
                return SendOutcome::Permanent(format!(
                    "only {i} of {} parts were sent, then: {e}",
                    parts.len()
                ))
            }
            other => return other,
        }
    }
    SendOutcome::Accepted {
        provider_id: last_id,
    }
}

async fn send_part(app: &App, job: &OutboxJob, base: &str, to: &str, part: &Part) -> SendOutcome {
    let inbox = &job.inbox;
    let version = setting(inbox, "graph_version");
    match inbox.kind.as_str() {
        "telegram" => {
            telegram::send(&app.http, base, credential(inbox, "bot_token"), to, part).await
        }
        "line" => {
            let token = credential(inbox, "access_token");
            line::send(&app.http, base, token, to, None, line::render(part)).await
        }
        "whatsapp" => {
            let token = credential(inbox, "access_token");
            let id = setting(inbox, "phone_number_id");
            let mut last = SendOutcome::Permanent("the message is empty".into());
            for body in meta::whatsapp_render(to, part) {
                last = meta::send_whatsapp(&app.http, base, version, id, token, &body).await;
                if !matches!(last, SendOutcome::Accepted { .. }) {
                    return last;
                }
            }
            last
        }
        _ => {
            let token = credential(inbox, "access_token");
            let page = setting(inbox, "page_id");
            let tag = match messenger_window(app, job).await {
                Some(meta::WindowVerdict::HumanAgentTag) => meta::MessengerTag::HumanAgent,
                Some(meta::WindowVerdict::Closed { reason }) => {
                    return SendOutcome::Permanent(reason)
                }
                _ => meta::MessengerTag::Response,
            };
            let bodies = if inbox.kind == "instagram" {
                meta::instagram_render(to, part, tag)
            } else {
                meta::messenger_render(to, part, tag)
            };
            let mut last = SendOutcome::Permanent("the message is empty".into());
            for body in bodies {
                last = meta::send_messenger(&app.http, base, version, page, token, &body).await;
                if !matches!(last, SendOutcome::Accepted { .. }) {
                    return last;
                }
            }
            last
        }
    }
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
async fn messenger_window(app: &App, job: &OutboxJob) -> Option<meta::WindowVerdict> {
    let scope = Scope::system(
        job.inbox.workspace_id,
        parley_core::UserId(uuid::Uuid::nil()),
    );
    let last = last_customer_message(app, &scope, job.message.conversation_id)
        .await
        .ok()?;
    let channel = meta_channel(&job.inbox.kind)?;
    let human = job.message.sender_kind == parley_core::message::SenderKind::Agent;
    Some(meta::window(channel, last.map(|t| t.0), app.now().0, human))
}

/// Asks the provider whether an inbox's credentials work, with a read that changes nothing:
/// Twilio's account, Telegram's `getMe`, the Graph API's phone number or page, LINE's bot info,
/// an email inbox's SMTP relay and IMAP mailbox. `None` for kinds with nothing to ask (API,
/// widget).
pub async fn test_connection(app: &App, inbox: &InboxRow) -> Option<Result<String, String>> {
    let base = setting(inbox, "api_base_url").trim_end_matches('/');
    let version = setting(inbox, "graph_version").trim_matches('/');
    let token = credential(inbox, "access_token");
    let (provider, req) = match inbox.kind.as_str() {
        crate::email::KIND => return Some(crate::email::check(app, inbox).await),
        "twilio" => {
            let sid = setting(inbox, "account_sid");
            let url = format!("{base}/2010-04-01/Accounts/{sid}.json");
            (
                "Twilio",
                app.http.get(url).basic_auth(sid, Some(&inbox.secret)),
            )
        }
        "telegram" => {
            let url = format!("{base}/bot{}/getMe", credential(inbox, "bot_token"));
            ("Telegram", app.http.get(url))
        }
        "whatsapp" => {
            let url = format!("{base}/{version}/{}", setting(inbox, "phone_number_id"));
            ("WhatsApp", app.http.get(url).bearer_auth(token))
        }
        "messenger" | "instagram" => {
            let url = format!("{base}/{version}/me");
            ("Meta", app.http.get(url).bearer_auth(token))
        }
        "line" => (
            "LINE",
            app.http
                .get(format!("{base}/v2/bot/info"))
                .bearer_auth(token),
        ),
        _ => return None,
    };
    let resp = match req.header("accept", "application/json").send().await {
        Ok(r) => r,
        Err(e) => {
            let why = match e.refused() {
                Some(r) => format!("refused: {r}"),
                None if e.is_timeout() => "it did not answer in time".into(),
                None => "the connection failed".into(),
            };
            return Some(Err(format!("could not reach {provider}: {why}")));
        }
    };
    let status = resp.status();
    let body = parley_channels::net::json_capped(resp).await;
    if !status.is_success() || body["ok"] == false {
        // Providers say why in different places; the first that is there is shown.
        let said = [
            &body["message"],
            &body["description"],
            &body["error"]["message"],
        ]
        .into_iter()
        .find_map(|v| v.as_str())
        .unwrap_or("no reason given");
        let said: String = said.chars().take(200).collect();
        return Some(Err(format!(
            "{provider} refused the credentials ({}): {said}",
            status.as_u16()
        )));
    }
    let name = [
        &body["friendly_name"],
        &body["result"]["username"],
        &body["display_phone_number"],
        &body["verified_name"],
        &body["name"],
        &body["displayName"],
        &body["username"],
    ]
    .into_iter()
    .find_map(|v| v.as_str())
    .unwrap_or("the account");
    Some(Ok(format!("{provider} accepted the credentials of {name}")))
}

/// How many pages of templates (100 each) are read from the Graph API at most.
const TEMPLATE_PAGES: usize = 5;

/// A WhatsApp inbox's approved templates, as the composer offers them: name, language, category,
/// the body text and the names of its parameters in order (`1`, `2`, … for positional ones).
/// Read from the Graph API's `/{waba-id}/message_templates`; a page link pointing elsewhere than
/// the inbox's Graph address is not followed, so the token goes nowhere else.
pub async fn whatsapp_templates(app: &App, inbox: &InboxRow) -> Result<Vec<Value>, ApiError> {
    let unavailable = |message: String| ApiError::Unprocessable {
        code: "templates_unavailable",
        message,
        field: None,
    };
    if inbox.kind != "whatsapp" {
        return Err(unavailable(format!(
            "{} inboxes have no message templates; WhatsApp inboxes do",
            inbox.kind
        )));
    }
    let waba = setting(inbox, "waba_id");
    if waba.is_empty() {
        return Err(unavailable(
            "give this inbox its WhatsApp Business Account ID (Settings → Inboxes → Edit) to list its templates".into(),
        ));
    }
    let base = setting(inbox, "api_base_url").trim_end_matches('/');
    let version = setting(inbox, "graph_version").trim_matches('/');
    let mut url = format!(
        "{base}/{version}/{waba}/message_templates?fields=name,language,status,category,components,parameter_format&status=APPROVED&limit=100"
    );
    let mut out = Vec::new();
    for _ in 0..TEMPLATE_PAGES {
        let resp = app
            .http
            .get(&url)
            .bearer_auth(credential(inbox, "access_token"))
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| match e.refused() {
                Some(r) => unavailable(format!(
                    "could not reach WhatsApp to list the templates: refused: {r}"
                )),
                None => unavailable("could not reach WhatsApp to list the templates".into()),
            })?;
        let status = resp.status();
        let body = parley_channels::net::json_capped(resp).await;
        if !status.is_success() {
            let said: String = body["error"]["message"]
                .as_str()
                .unwrap_or("no reason given")
                .chars()
                .take(200)
                .collect();
            return Err(unavailable(format!(
                "WhatsApp refused to list the templates ({}): {said}",
                status.as_u16()
            )));
        }
        for t in body["data"].as_array().into_iter().flatten() {
            if t["status"].as_str().is_some_and(|s| s != "APPROVED") {
                continue;
            }
            let (Some(name), Some(language)) = (t["name"].as_str(), t["language"].as_str()) else {
                continue;
            };
            let text = t["components"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| {
                    c["type"]
                        .as_str()
                        .is_some_and(|k| k.eq_ignore_ascii_case("body"))
                })
                .and_then(|c| c["text"].as_str())
                .unwrap_or_default();
            let named = t["parameter_format"].as_str() == Some("NAMED");
            out.push(json!({
                "name": name,
                "language": language,
                "category": t["category"],
                "body": text,
                "params": template_params(text),
                "named": named,
            }));
        }
        match body["paging"]["next"].as_str() {
            Some(next) if next.starts_with(&format!("{base}/")) => url = next.to_string(),
            _ => break,
        }
    }
    out.sort_by(|a, b| {
        (a["name"].as_str(), a["language"].as_str())
            .cmp(&(b["name"].as_str(), b["language"].as_str()))
    });
    Ok(out)
}

/// The parameters a template's body names, each once, in order: `{{1}}`, `{{first_name}}`.
fn template_params(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !out.iter().any(|n| n == name)
        {
            out.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    out
}

/// Shows the customer that an agent is writing to them, where the channel can: Telegram's
/// "typing…", Messenger's and Instagram's typing bubble, WhatsApp's indicator (which also marks
/// their last message read), LINE's loading animation. Best effort: a refusal is only logged.
pub async fn typing_to_customer(app: &App, scope: &Scope, conv: &ConversationView) {
    let Ok(inbox) = app.store.inbox(scope, conv.inbox_id).await else {
        return;
    };
    if !matches!(
        inbox.kind.as_str(),
        "telegram" | "whatsapp" | "messenger" | "instagram" | "line"
    ) {
        return;
    }
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
    let base = setting(&inbox, "api_base_url").trim_end_matches('/');
    let version = setting(&inbox, "graph_version").trim_matches('/');
    let token = credential(&inbox, "access_token");
    let req = match inbox.kind.as_str() {
        "telegram" => {
            let (method, body) = telegram::typing_body(&to);
            let url = format!("{base}/bot{}/{method}", credential(&inbox, "bot_token"));
            app.http.post(url).json(&body)
        }
        "line" => app
            .http
            .post(format!("{base}/v2/bot/chat/loading/start"))
            .bearer_auth(token)
            .json(&line::loading_body(&to)),
        "whatsapp" => {
            // WhatsApp shows it only against the customer's message being answered.
            let Some(wamid) = last_customer_message_id(app, scope, conv.id).await else {
                return;
            };
            let url = format!(
                "{base}/{version}/{}/messages",
                setting(&inbox, "phone_number_id")
            );
            app.http
                .post(url)
                .bearer_auth(token)
                .json(&meta::whatsapp_typing_body(&wamid))
        }
        _ => {
            let url = format!("{base}/{version}/{}/messages", setting(&inbox, "page_id"));
            app.http
                .post(url)
                .bearer_auth(token)
                .json(&meta::messenger_typing_body(&to))
        }
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

#[cfg(test)]
mod template_tests {
    #[test]
    fn a_body_names_its_parameters_once_in_order() {
        assert_eq!(
            super::template_params(
                "Hi {{1}}, order {{2}} ships {{ 3 }}; {{1}} again {{bad name}} {{"
            ),
            ["1", "2", "3"]
        );
        assert_eq!(
            super::template_params("Dear {{first_name}}, your {{order_id}}"),
            ["first_name", "order_id"]
        );
        assert!(super::template_params("No parameters").is_empty());
    }
}
