//! Customer satisfaction surveys. When an agent resolves a conversation that was answered, the
//! customer gets a link (signed under the workspace's survey key, valid 7 days) to a one-question page;
//! their rating (1 to 5) and comment land on the conversation's timeline as `survey.answered`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_core::consent::Purpose;
use parley_core::{ConversationId, InboxId, Timestamp, WorkspaceId};
use parley_store::{Command, ConversationView, InboxRow, Principal, Scope, WorkspaceRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::error::{ApiError, ApiResult, Path};
use crate::state::App;

/// How long a survey link may be answered.
pub const MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;
const MAX_COMMENT_CHARS: usize = 2000;
const MAX_MESSAGE_CHARS: usize = 1000;

/// The workspace's survey settings (`survey` in its settings document).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    pub enabled: bool,
    /// The message sent on resolving; `{link}` becomes the survey's address.
    pub message: String,
}

impl Default for SurveySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            message: "Thanks for getting in touch! How did we do? Rate this conversation: {link}"
                .into(),
        }
    }
}

impl SurveySettings {
    pub fn of(ws: &WorkspaceRow) -> Self {
        serde_json::from_value(ws.settings["survey"].clone()).unwrap_or_default()
    }

    /// Checks settings as an admin gives them: the message holds `{link}` once.
    pub fn check(mut self) -> ApiResult<Self> {
        self.message = self.message.trim().to_string();
        if self.message.matches("{link}").count() != 1 {
            return Err(ApiError::invalid(
                "message",
                "the message must hold {link} once: it becomes the survey's address",
            ));
        }
        if self.message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ApiError::invalid(
                "message",
                format!("the message is at most {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        Ok(self)
    }
}

fn signed_text(inbox: InboxId, conv: ConversationId, at: i64) -> String {
    format!("survey:{inbox}:{conv}:{at}")
}

/// The workspace's key for survey links: Parley's own, random, made on first use and kept in the
/// database (sealed with encryption at rest), so neither a provider nor an integrator holding an
/// inbox's secret can sign one.
async fn key(app: &App, ws: WorkspaceId) -> Result<String, ApiError> {
    Ok(app
        .store
        .survey_key(ws, crate::account::auth::random_token(), app.now())
        .await?)
}

/// The survey's address for a conversation, as sent at `at`.
pub async fn link(
    app: &App,
    inbox: &InboxRow,
    conv: ConversationId,
    at: Timestamp,
) -> Result<String, ApiError> {
    let key = key(app, inbox.workspace_id).await?;
    let sig = parley_channels::api::sign(&key, signed_text(inbox.id, conv, at.0).as_bytes());
    Ok(format!(
        "{}/survey/{}/{conv}?at={}&sig={}",
        app.config.public_url.trim_end_matches('/'),
        inbox.id,
        at.0,
        sig.trim_start_matches("sha256=")
    ))
}

/// After an agent resolves a conversation: sends the survey when the workspace asks for it, the
/// business answered in it, and the channel and the compliance gate let a message go now. Best
/// effort: a survey that may not go is skipped, never an error for the resolve.
pub async fn after_resolve(app: &App, p: &Principal, conv: &ConversationView) {
    if let Err(e) = send(app, p, conv).await {
        tracing::debug!(conversation = %conv.id, reason = %e, "survey not sent");
    }
}

async fn send(app: &App, p: &Principal, conv: &ConversationView) -> ApiResult<()> {
    let ws = app.workspace(p.workspace_id).await?;
    let settings = SurveySettings::of(&ws.row);
    if !settings.enabled || conv.first_reply_at.is_none() {
        return Ok(());
    }
    let scope = p.scope();
    let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
    let contact = app.store.contact(&scope, conv.contact_id).await?;
    if contact.erased_at.is_some() || contact.blocked_at.is_some() {
        return Ok(());
    }
    crate::inboxes::channels::check_reply(app, &scope, &inbox, conv.id, false, false).await?;
    let now = app.now();
    let body = settings
        .message
        .replace("{link}", &link(app, &inbox, conv.id, now).await?);
    let facts = crate::compliance::gate::facts(app, &scope, Some(conv.id)).await?;
    let admitted = crate::compliance::gate::admit(
        app,
        &inbox,
        conv.contact_id,
        Purpose::Conversational,
        facts,
        body,
    )
    .await?;
    let meta = admitted.meta(Some(json!({ "survey": { "sent_at": now } })));
    app.store
        .act(
            &scope,
            conv.id,
            p.user_id,
            Command::Automated {
                body: admitted.body,
                meta,
            },
            now,
        )
        .await?;
    app.dispatch_bell.notify_one();
    Ok(())
}

/// A survey link's query: when it was sent (ms) and its signature.
#[derive(Deserialize)]
pub struct LinkQuery {
    at: Option<i64>,
    sig: Option<String>,
}

/// The conversation a survey link names, once its signature and age are checked.
async fn answerable(
    app: &App,
    inbox: &str,
    conv: &str,
    query: Option<&str>,
) -> Result<(InboxRow, ConversationView, i64), ApiError> {
    let not_found = || ApiError::NotFound;
    let inbox: InboxId = inbox.parse().map_err(|_| not_found())?;
    let conv: ConversationId = conv.parse().map_err(|_| not_found())?;
    // Other parameters (a mail client's tracking tags) are let be: the link is the customer's.
    let link: LinkQuery = crate::http::error::read_query(query).map_err(|_| not_found())?;
    let (Some(at), Some(sig)) = (link.at, link.sig) else {
        return Err(not_found());
    };
    let row = app.hook_inbox(inbox).await?.ok_or_else(not_found)?;
    parley_channels::api::verify(
        &key(app, row.workspace_id).await?,
        Some(&format!("sha256={sig}")),
        signed_text(inbox, conv, at).as_bytes(),
    )
    .map_err(|_| not_found())?;
    let now = app.now().0;
    if now - at > MAX_AGE_MS || at > now + 60_000 {
        return Err(ApiError::Unprocessable {
            code: "survey_expired",
            message: "this survey link has expired".into(),
            field: None,
        });
    }
    let scope = Scope::system(row.workspace_id, parley_core::UserId(uuid::Uuid::nil()));
    let c = app.store.conversation(&scope, conv).await?;
    if c.inbox_id != inbox {
        return Err(not_found());
    }
    let contact = app.store.contact(&scope, c.contact_id).await?;
    if contact.erased_at.is_some() {
        return Err(not_found());
    }
    Ok((row, c, at))
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"../../static/style.css\"></head>\
         <body><main class=\"survey\"><h1>{title}</h1>{body}</main></body></html>"
    );
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        page,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /survey/{inbox_id}/{conversation_id}?at=&sig=`: the one-question page the customer opens.
pub async fn page(
    State(app): State<App>,
    Path((inbox, conv)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    match answerable(&app, &inbox, &conv, query.as_deref()).await {
        Ok((row, _, _)) => {
            let choices: String = [
                (5, "Very good"),
                (4, "Good"),
                (3, "OK"),
                (2, "Poor"),
                (1, "Very poor"),
            ]
            .iter()
            .map(|(n, label)| {
                format!(
                    "<label class=\"inline\"><input type=\"radio\" name=\"rating\" value=\"{n}\" required> {n} · {label}</label>"
                )
            })
            .collect();
            html(
                StatusCode::OK,
                &format!("How did {} do?", escape(&row.name)),
                &format!(
                    // An empty action posts back to this very address, signature and all, wherever
                    // Parley is mounted.
                    "<form method=\"post\" action=\"\" class=\"stack\"><fieldset><legend>Your rating</legend>{choices}</fieldset>\
                     <label>Anything to add? (optional)<textarea name=\"comment\" rows=\"4\" maxlength=\"{MAX_COMMENT_CHARS}\"></textarea></label>\
                     <button>Send</button></form>"
                ),
            )
        }
        Err(ApiError::Unprocessable { message, .. }) => html(
            StatusCode::GONE,
            "This survey has closed",
            &format!("<p>{}</p>", escape(&message)),
        ),
        Err(_) => html(
            StatusCode::NOT_FOUND,
            "Survey not found",
            "<p>This link is not a survey of ours, or it was mistyped.</p>",
        ),
    }
}

/// `POST /survey/{inbox_id}/{conversation_id}?at=&sig=` (a form: `rating` 1–5, `comment`): records
/// the answer on the conversation's timeline. A link takes one answer.
pub async fn answer(
    State(app): State<App>,
    Path((inbox, conv)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let (row, c, sent_at) = answerable(&app, &inbox, &conv, query.as_deref()).await?;
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let rating = field("rating")
        .and_then(|r| r.parse::<u8>().ok())
        .filter(|r| (1..=5).contains(r))
        .ok_or_else(|| ApiError::invalid("rating", "rating must be a whole number from 1 to 5"))?;
    let comment = field("comment").filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(ApiError::invalid(
            "comment",
            format!("a comment is at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    let data = json!({
        "rating": rating,
        "comment": comment,
        "contact_id": c.contact_id,
        "survey_sent_at": Timestamp(sent_at),
    });
    // The store's unique key on (conversation, sent at) decides between answers that race.
    app.store
        .record_survey_answer(row.workspace_id, c.id, Timestamp(sent_at), data, app.now())
        .await?;
    Ok(html(
        StatusCode::OK,
        "Thank you!",
        "<p>Your answer reached the team. You can close this page.</p>",
    ))
}
