//! Inboxes, and who works them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_channels::ChannelKind;
use parley_core::contact::parse_name;
use parley_core::{InboxId, UserId};
use parley_store::{InboxPatch, InboxRow, NewInbox, Principal};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::account::api::audit;

use crate::account::auth::{random_token, require_admin, Auth};
use crate::http::error::{ApiError, ApiResult, Json, Path};
use crate::state::App;
use crate::views::{BacklogView, InboxView, Items, UserView};

/// An inbox as the API shows it: everyone sees the webhook URL; admins also see what they paste
/// into the provider's console (Meta's verify token, the API channel's signing secret, Telegram's
/// `secret_token`). Provider credentials are write-only.
fn inbox_view(app: &App, p: &Principal, i: &InboxRow) -> InboxView {
    // Send credentials live under `credentials`, which is never shown; the verify token is.
    let mut settings = i.settings.clone();
    let verify_token = settings
        .as_object_mut()
        .and_then(|o| o.remove("credentials"))
        .and_then(|c| c.get("verify_token").cloned());
    let kind = crate::inboxes::channels::kind_of(i);
    // These kinds have no webhook, and their secret is for the server alone.
    let internal = kind.is_some_and(|k| !k.has_webhook());
    // Elsewhere the secret column holds the provider's own credential (Twilio's auth token, Meta's
    // app secret, LINE's channel secret), which never leaves Parley again.
    let ours = kind.is_some_and(|k| k.has_webhook() && k.secret_field().is_none());
    let console = p.role.is_admin() && !internal;
    InboxView {
        backlog: None,
        created_at: i.created_at,
        id: i.id,
        kind: i.kind.clone(),
        name: i.name.clone(),
        secret: (console && ours).then(|| i.secret.clone()),
        settings,
        snippet: (kind == Some(ChannelKind::Widget))
            .then(|| crate::inboxes::widget::snippet(app, i)),
        verify_token: verify_token.filter(|_| console),
        webhook_url: (!internal).then(|| {
            let base = app.config.public_url.trim_end_matches('/');
            format!("{base}/hooks/{}/{}", i.kind, i.id)
        }),
    }
}

pub async fn list_inboxes(
    State(app): State<App>,
    Auth(p): Auth,
) -> ApiResult<Json<Items<InboxView>>> {
    let inboxes = app.store.list_inboxes(&p.scope()).await?;
    let mut items: Vec<InboxView> = inboxes.iter().map(|i| inbox_view(&app, &p, i)).collect();
    with_backlog(&app, &p, &mut items).await?;
    Ok(Json(Items { items }))
}

pub async fn get_inbox(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<InboxView>> {
    let inbox = app.store.inbox(&p.scope(), id).await?;
    let mut items = [inbox_view(&app, &p, &inbox)];
    with_backlog(&app, &p, &mut items).await?;
    let [view] = items;
    Ok(Json(view))
}

/// Shows admins each inbox's outbox: `queued` (waiting), `in_flight` (being sent) and
/// `oldest_due`, so a provider that holds its inbox's replies back is seen.
async fn with_backlog(app: &App, p: &Principal, views: &mut [InboxView]) -> ApiResult<()> {
    if !p.role.is_admin() {
        return Ok(());
    }
    let backlog = app.store.outbox_backlog(p.workspace_id, app.now()).await?;
    for v in views {
        let b = backlog.iter().find(|b| b.inbox_id == v.id);
        v.backlog = Some(BacklogView {
            in_flight: b.map_or(0, |b| b.in_flight),
            oldest_due: b.and_then(|b| b.oldest_due),
            queued: b.map_or(0, |b| b.queued),
        });
    }
    Ok(())
}

/// The highest per-sender rate accepted (messages per second).
const MAX_RATE: f64 = 10_000.0;

/// A per-sender rate: positive and at most `MAX_RATE`; 0 or null lifts the limit.
fn parse_rate(v: Option<f64>) -> Result<Value, ApiError> {
    match v {
        None => Ok(Value::Null),
        Some(0.0) => Ok(Value::Null),
        Some(r) if r.is_finite() && r > 0.0 && r <= MAX_RATE => Ok(json!(r)),
        Some(_) => Err(ApiError::invalid(
            "rate_limit",
            format!("must be a number of messages per second from 0 (unlimited) to {MAX_RATE}"),
        )),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInboxRequest {
    name: String,
    #[schemars(extend("enum" = ["api", "twilio", "telegram", "whatsapp", "messenger", "instagram", "line", "widget", "email"]))]
    kind: String,
    /// `api`: where replies are posted.
    #[serde(default)]
    callback_url: Option<String>,
    /// `twilio`: the account, its auth token, the sending number (or Messaging Service sid), and
    /// the API's base URL (for tests and Twilio-compatible providers).
    #[serde(default)]
    account_sid: Option<String>,
    #[serde(default)]
    auth_token: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    api_base_url: Option<String>,
    /// Messages per second this sender may send (absent: unlimited).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = MAX_RATE), description = "Messages per second this sender may send; null or 0: unlimited")]
    rate_limit: Option<f64>,
    /// `twilio`: Twilio answers STOP, START and HELP itself (its default opt-out handling; the
    /// default here). `false` when the account turned that off, so Parley answers them.
    #[serde(default)]
    answers_keywords: Option<bool>,
    /// Telegram, WhatsApp, Messenger, Instagram, LINE credentials (see `channels::settings`).
    #[serde(default)]
    bot_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    app_secret: Option<String>,
    #[serde(default)]
    channel_secret: Option<String>,
    #[serde(default)]
    phone_number_id: Option<String>,
    #[serde(default)]
    page_id: Option<String>,
    #[serde(default)]
    graph_version: Option<String>,
    #[serde(default)]
    waba_id: Option<String>,
    /// `widget`: the site that embeds it, greeting, colour, pre-chat form (`widget::WidgetFields`).
    #[serde(default)]
    website_url: Option<String>,
    #[serde(default)]
    greeting: Option<String>,
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    #[schemars(extend("items" = { "type": "string", "enum": ["name", "email", "phone"] }))]
    prechat_fields: Option<Vec<String>>,
    /// `email`: the support address, the sender name, the outgoing relay and a mailbox to poll.
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    smtp: Option<crate::inboxes::email::SmtpFields>,
    #[serde(default)]
    imap: Option<crate::inboxes::email::ImapFields>,
}

/// Channel settings and secret for a new inbox, validated per kind.
fn channel_settings(req: &CreateInboxRequest) -> Result<(Value, String), ApiError> {
    let kind = ChannelKind::parse(&req.kind);
    if kind != Some(ChannelKind::Widget) && !req.widget().is_empty() {
        return Err(ApiError::invalid(
            "website_url",
            "website_url, greeting, color and prechat_fields are settings of widget inboxes",
        ));
    }
    match kind {
        Some(ChannelKind::Api) => {
            let callback = req
                .callback_url
                .as_deref()
                .map(parse_callback)
                .transpose()?;
            Ok((json!({ "callback_url": callback }), random_token()))
        }
        Some(ChannelKind::Email) => crate::inboxes::email::settings(
            &req.name,
            req.address.as_deref(),
            req.from_name.as_deref(),
            req.smtp.as_ref(),
            req.imap.as_ref(),
        ),
        Some(ChannelKind::Widget) => {
            let mut settings = json!({});
            crate::inboxes::widget::apply_settings(&mut settings, &req.widget())?;
            // The secret signs visitors' tokens; it never leaves the server.
            Ok((settings, random_token()))
        }
        _ => {
            let creds = crate::inboxes::channels::Credentials {
                account_sid: req.account_sid.as_deref(),
                auth_token: req.auth_token.as_deref(),
                from: req.from.as_deref(),
                answers_keywords: req.answers_keywords,
                bot_token: req.bot_token.as_deref(),
                access_token: req.access_token.as_deref(),
                app_secret: req.app_secret.as_deref(),
                channel_secret: req.channel_secret.as_deref(),
                phone_number_id: req.phone_number_id.as_deref(),
                page_id: req.page_id.as_deref(),
                api_base_url: req.api_base_url.as_deref(),
                graph_version: req.graph_version.as_deref(),
                waba_id: req.waba_id.as_deref(),
            };
            crate::inboxes::channels::settings(&req.kind, &creds)
        }
    }
}

macro_rules! widget_fields_of {
    ($t:ty) => {
        impl WidgetRequest for $t {
            fn widget(&self) -> crate::inboxes::widget::WidgetFields {
                crate::inboxes::widget::WidgetFields {
                    website_url: self.website_url.clone(),
                    greeting: self.greeting.clone(),
                    color: self.color.clone(),
                    prechat_fields: self.prechat_fields.clone(),
                }
            }
        }
    };
}

trait WidgetRequest {
    fn widget(&self) -> crate::inboxes::widget::WidgetFields;
}
widget_fields_of!(CreateInboxRequest);
widget_fields_of!(UpdateInboxRequest);

/// A callback URL must be absolute http(s).
fn parse_callback(url: &str) -> Result<String, ApiError> {
    parley_channels::settings::http_url(url).map_err(|e| ApiError::invalid(e.field, e.message))
}

pub async fn create_inbox(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<CreateInboxRequest>,
) -> ApiResult<Response> {
    require_admin(&p)?;
    let name = parse_name("name", &req.name)?;
    let (mut settings, secret) = channel_settings(&req)?;
    settings["rate_limit"] = parse_rate(req.rate_limit)?;
    let inbox = NewInbox {
        name,
        kind: req.kind,
        settings,
        secret,
    };
    let row = app
        .store
        .create_inbox(p.workspace_id, inbox, app.now())
        .await?;
    audit(
        &app,
        &p,
        &headers,
        "inbox.create",
        row.id,
        json!({ "name": row.name, "kind": row.kind }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(inbox_view(&app, &p, &row))).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInboxRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default, deserialize_with = "crate::http::routes::double_option")]
    #[schemars(with = "Option<f64>", range(min = 0.0, max = MAX_RATE), description = "Messages per second this sender may send; null or 0: unlimited")]
    rate_limit: Option<Option<f64>>,
    /// `widget`: the site that embeds it, greeting, colour, pre-chat form (`widget::WidgetFields`).
    #[serde(default)]
    website_url: Option<String>,
    #[serde(default)]
    greeting: Option<String>,
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    #[schemars(extend("items" = { "type": "string", "enum": ["name", "email", "phone"] }))]
    prechat_fields: Option<Vec<String>>,
    /// Channel credentials and addresses, named as when adding the inbox; those left out keep
    /// their stored values.
    #[serde(default)]
    account_sid: Option<String>,
    #[serde(default)]
    auth_token: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    api_base_url: Option<String>,
    #[serde(default)]
    answers_keywords: Option<bool>,
    #[serde(default)]
    bot_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    app_secret: Option<String>,
    #[serde(default)]
    channel_secret: Option<String>,
    #[serde(default)]
    phone_number_id: Option<String>,
    #[serde(default)]
    page_id: Option<String>,
    #[serde(default)]
    graph_version: Option<String>,
    #[serde(default)]
    waba_id: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    smtp: Option<crate::inboxes::email::SmtpFields>,
    #[serde(default)]
    imap: Option<crate::inboxes::email::ImapFields>,
}

impl UpdateInboxRequest {
    /// The channel fields the edit gives, by name.
    fn channel_fields(&self) -> Vec<&'static str> {
        [
            ("account_sid", self.account_sid.is_some()),
            ("auth_token", self.auth_token.is_some()),
            ("from", self.from.is_some()),
            ("api_base_url", self.api_base_url.is_some()),
            ("answers_keywords", self.answers_keywords.is_some()),
            ("bot_token", self.bot_token.is_some()),
            ("access_token", self.access_token.is_some()),
            ("app_secret", self.app_secret.is_some()),
            ("channel_secret", self.channel_secret.is_some()),
            ("phone_number_id", self.phone_number_id.is_some()),
            ("page_id", self.page_id.is_some()),
            ("graph_version", self.graph_version.is_some()),
            ("waba_id", self.waba_id.is_some()),
            ("address", self.address.is_some()),
            ("from_name", self.from_name.is_some()),
            ("smtp", self.smtp.is_some()),
            ("imap", self.imap.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }
}

/// The settings and secret an inbox has after an edit of its channel fields: the stored ones
/// overlaid with the edit's, validated as when adding it. What the provider was told about the
/// inbox stays: Meta's verify token, Telegram's `secret_token`. `None` when the edit gives none.
fn edited_channel(
    current: &InboxRow,
    req: &mut UpdateInboxRequest,
) -> Result<Option<(Value, Option<String>)>, ApiError> {
    let given = req.channel_fields();
    if given.is_empty() {
        return Ok(None);
    }
    let kind = crate::inboxes::channels::kind_of(current);
    let allowed = kind.map_or(&[][..], ChannelKind::setting_fields);
    if let Some(field) = given.iter().find(|f| !allowed.contains(f)) {
        return Err(ApiError::invalid(
            field,
            format!("is not a setting of {} inboxes", current.kind),
        ));
    }
    let stored = &current.settings;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let kept = |key: &str| text(&stored[key]);
    let credential = |key: &str| text(&stored["credentials"][key]);
    // The secret column holds a provider credential for some kinds; for the others it is ours.
    let secret_field = kind.and_then(ChannelKind::secret_field);
    let secret_of = |field: &str| (secret_field == Some(field)).then(|| current.secret.clone());
    // A stored token is never sent to a new address: it would go to whoever the edit names.
    if let Some(url) = &req.api_base_url {
        let moved = kept("api_base_url").is_none_or(|was| was != url.trim().trim_end_matches('/'));
        let field = kind.map_or("access_token", ChannelKind::base_url_credential);
        if moved && !given.contains(&field) {
            return Err(ApiError::invalid(
                field,
                "must be given again when api_base_url changes",
            ));
        }
    }
    let (smtp, imap) = if kind == Some(ChannelKind::Email) {
        crate::inboxes::email::edited(current, req.smtp.take(), req.imap.take())?
    } else {
        (None, None)
    };
    let merged = CreateInboxRequest {
        name: current.name.clone(),
        kind: current.kind.clone(),
        callback_url: None,
        account_sid: req.account_sid.take().or_else(|| kept("account_sid")),
        auth_token: req.auth_token.take().or_else(|| secret_of("auth_token")),
        from: req.from.take().or_else(|| kept("from")),
        api_base_url: req.api_base_url.take().or_else(|| kept("api_base_url")),
        rate_limit: None,
        answers_keywords: req
            .answers_keywords
            .or_else(|| stored["provider_answers_keywords"].as_bool()),
        bot_token: req.bot_token.take().or_else(|| credential("bot_token")),
        access_token: req
            .access_token
            .take()
            .or_else(|| credential("access_token")),
        app_secret: req.app_secret.take().or_else(|| secret_of("app_secret")),
        channel_secret: req
            .channel_secret
            .take()
            .or_else(|| secret_of("channel_secret")),
        phone_number_id: req
            .phone_number_id
            .take()
            .or_else(|| kept("phone_number_id")),
        page_id: req.page_id.take().or_else(|| kept("page_id")),
        graph_version: req.graph_version.take().or_else(|| kept("graph_version")),
        waba_id: req.waba_id.take().or_else(|| kept("waba_id")),
        website_url: None,
        greeting: None,
        color: None,
        prechat_fields: None,
        address: req.address.take().or_else(|| kept("address")),
        from_name: req.from_name.take().or_else(|| kept("from_name")),
        smtp,
        imap,
    };
    let (fresh, secret) = channel_settings(&merged)?;
    let mut settings = stored.clone();
    for (key, value) in fresh.as_object().into_iter().flatten() {
        settings[key] = value.clone();
    }
    if let Some(verify) = stored["credentials"].get("verify_token") {
        settings["credentials"]["verify_token"] = verify.clone();
    }
    // Another mailbox starts its own count: the position read in the old one would skip mail.
    let mailbox = |v: &Value| {
        ["host", "username", "mailbox"].map(|k| v["imap"][k].as_str().map(str::to_ascii_lowercase))
    };
    if mailbox(stored) != mailbox(&settings) {
        settings.as_object_mut().map(|o| o.remove("imap_state"));
    }
    let secret = secret_field
        .map(|_| secret)
        .filter(|s| *s != current.secret);
    Ok(Some((settings, secret)))
}

pub async fn update_inbox(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
    Json(mut req): Json<UpdateInboxRequest>,
) -> ApiResult<Json<InboxView>> {
    require_admin(&p)?;
    let current = app.store.inbox(&p.scope(), id).await?;
    let mut patch = InboxPatch::default();
    if let Some(n) = &req.name {
        patch.name = Some(parse_name("name", n)?);
    }
    let channel = req.channel_fields();
    let mut settings = current.settings.clone();
    if let Some((edited, secret)) = edited_channel(&current, &mut req)? {
        settings = edited;
        patch.secret = secret;
    }
    if let Some(url) = &req.callback_url {
        settings["callback_url"] = json!(parse_callback(url)?);
    }
    if let Some(rate) = req.rate_limit {
        settings["rate_limit"] = parse_rate(rate)?;
    }
    if !req.widget().is_empty() {
        if crate::inboxes::channels::kind_of(&current) != Some(ChannelKind::Widget) {
            return Err(ApiError::invalid(
                "website_url",
                "website_url, greeting, color and prechat_fields are settings of widget inboxes",
            ));
        }
        crate::inboxes::widget::apply_settings(&mut settings, &req.widget())?;
    }
    if settings != current.settings {
        patch.settings = Some(settings);
    }
    let row = app.store.update_inbox(p.workspace_id, id, patch).await?;
    app.forget_inbox(id);
    audit(
        &app,
        &p,
        &headers,
        "inbox.update",
        id,
        json!({ "name": req.name, "callback_url": req.callback_url, "rate_limit": req.rate_limit, "widget": !req.widget().is_empty(), "channel": channel }),
    )
    .await;
    Ok(Json(inbox_view(&app, &p, &row)))
}

pub async fn inbox_members(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<Items<UserView>>> {
    app.store.inbox(&p.scope(), id).await?;
    Ok(Json(Items::users(
        app.store.inbox_members(p.workspace_id, id).await?,
    )))
}

async fn inbox_member(
    app: App,
    headers: HeaderMap,
    p: Principal,
    inbox: InboxId,
    user: UserId,
    member: bool,
) -> ApiResult<StatusCode> {
    require_admin(&p)?;
    app.store
        .set_inbox_member(p.workspace_id, inbox, user, member)
        .await?;
    let action = if member {
        "inbox.member_add"
    } else {
        "inbox.member_remove"
    };
    audit(
        &app,
        &p,
        &headers,
        action,
        inbox,
        json!({ "user_id": user }),
    )
    .await;
    app.hub.access_changed(p.workspace_id, user);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_inbox_member(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path((inbox, user)): Path<(InboxId, UserId)>,
) -> ApiResult<StatusCode> {
    inbox_member(app, headers, p, inbox, user, true).await
}

pub async fn remove_inbox_member(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path((inbox, user)): Path<(InboxId, UserId)>,
) -> ApiResult<StatusCode> {
    inbox_member(app, headers, p, inbox, user, false).await
}

/// `POST /api/v1/inboxes/{id}/test`: whether the provider accepts the inbox's credentials. A
/// refusal is an answer (`ok: false` and the provider's reason), not an error of this request.
/// `GET /api/v1/inboxes/{id}/templates`: a WhatsApp inbox's approved message templates, read
/// from Meta, for the composer to offer outside the 24-hour window.
pub async fn inbox_templates(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<Value>> {
    let inbox = app.store.inbox(&p.scope(), id).await?;
    let items = crate::inboxes::channels::whatsapp_templates(&app, &inbox).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn test_inbox(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<Value>> {
    require_admin(&p)?;
    let inbox = app.store.inbox(&p.scope(), id).await?;
    match crate::inboxes::channels::test_connection(&app, &inbox).await {
        Some(Ok(detail)) => Ok(Json(json!({ "ok": true, "detail": detail }))),
        Some(Err(detail)) => Ok(Json(json!({ "ok": false, "detail": detail }))),
        None => Err(ApiError::Unprocessable {
            code: "not_testable",
            message: format!("{} inboxes have no provider account to test", inbox.kind),
            field: None,
        }),
    }
}
