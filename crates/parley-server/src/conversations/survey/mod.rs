//! Customer satisfaction surveys. When an agent resolves a conversation that was answered, the
//! customer gets a link (signed under the workspace's survey key, valid 7 days) to a one-question page;
//! their rating (1 to 5) and comment land on the conversation's timeline as `survey.answered`.
//! The message may instead (or also) ask for a rating as a reply (`reply`).

pub mod page;
pub mod reply;

use parley_core::consent::Purpose;
use parley_core::{ConversationId, InboxId, Timestamp, WorkspaceId};
use parley_store::{
    Command, ConversationView, InboxRow, Principal, Scope, StoreError, WorkspaceRow,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::state::App;

/// How long a survey link may be answered.
pub const MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;
pub(crate) const MAX_COMMENT_CHARS: usize = 2000;
const MAX_MESSAGE_CHARS: usize = 1000;

/// Why survey settings, a survey link or an answer were refused.
#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    #[error("the message must hold {{link}} once: it becomes the survey's address")]
    NoLinkOnce,
    #[error("a survey answered by reply sends no link: remove {{link}} from the message")]
    LinkInReply,
    #[error("the message is at most {MAX_MESSAGE_CHARS} characters")]
    MessageTooLong,
    /// Not a link of ours (or mistyped), or its conversation is gone.
    #[error("not found")]
    NotFound,
    #[error("this survey link has expired")]
    Expired,
    #[error("rating must be a whole number from 1 to 5")]
    Rating,
    #[error("a comment is at most {MAX_COMMENT_CHARS} characters")]
    CommentTooLong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The workspace's survey settings (`survey` in its settings document).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    pub enabled: bool,
    /// The message sent on resolving; `{link}` becomes the survey's address.
    pub message: String,
    /// How the customer answers: on the survey's page (`link`, the message holds `{link}`), by
    /// replying with a rating (`reply`: "5", "4/5", "⭐⭐⭐⭐", 👍, or a tapped choice on channels
    /// with buttons; the message holds no `{link}`), or either (`both`).
    #[serde(default)]
    pub answer_by: AnswerBy,
}

/// How a customer answers the survey.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AnswerBy {
    #[default]
    Link,
    Reply,
    Both,
}

impl AnswerBy {
    pub fn link(self) -> bool {
        self != AnswerBy::Reply
    }

    pub fn reply(self) -> bool {
        self != AnswerBy::Link
    }
}

impl Default for SurveySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            message: "Thanks for getting in touch! How did we do? Rate this conversation: {link}"
                .into(),
            answer_by: AnswerBy::Link,
        }
    }
}

impl SurveySettings {
    pub fn of(ws: &WorkspaceRow) -> Self {
        serde_json::from_value(ws.settings["survey"].clone()).unwrap_or_default()
    }

    /// Checks settings as an admin gives them: the message holds `{link}` once when the survey
    /// is answered on its page, and not at all when only by reply.
    pub fn check(mut self) -> Result<Self, SurveyError> {
        self.message = self.message.trim().to_string();
        let links = self.message.matches("{link}").count();
        match self.answer_by.link() {
            true if links != 1 => return Err(SurveyError::NoLinkOnce),
            false if links != 0 => return Err(SurveyError::LinkInReply),
            _ => {}
        }
        if self.message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(SurveyError::MessageTooLong);
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
async fn key(app: &App, ws: WorkspaceId) -> Result<String, StoreError> {
    app.store
        .survey_key(ws, crate::account::auth::random_token(), app.now())
        .await
}

/// The survey's address for a conversation, as sent at `at`.
pub async fn link(
    app: &App,
    inbox: &InboxRow,
    conv: ConversationId,
    at: Timestamp,
) -> Result<String, StoreError> {
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

async fn send(app: &App, p: &Principal, conv: &ConversationView) -> anyhow::Result<()> {
    send_as(app, &p.scope(), p.user_id, conv, None).await?;
    Ok(())
}

/// Sends the survey in `conv` as `actor` (attributed to a rule, when `by` says so): `Some(why)`
/// when it is not to go (the workspace sends none, nobody answered, the contact is gone). The
/// channel's window and the gate refuse with their errors.
pub(crate) async fn send_as(
    app: &App,
    scope: &Scope,
    actor: parley_core::UserId,
    conv: &ConversationView,
    by: Option<&parley_store::Attribution>,
) -> anyhow::Result<Option<&'static str>> {
    let ws = app.workspace(scope.workspace).await?;
    let settings = SurveySettings::of(&ws.row);
    if !settings.enabled {
        return Ok(Some("the workspace sends no survey"));
    }
    if conv.first_reply_at.is_none() {
        return Ok(Some("nobody of the business answered in this conversation"));
    }
    let inbox = app.store.inbox(scope, conv.inbox_id).await?;
    let contact = app.store.contact(scope, conv.contact_id).await?;
    if contact.erased_at.is_some() || contact.blocked_at.is_some() {
        return Ok(Some("the contact is erased or blocked"));
    }
    crate::inboxes::channels::check_reply(app, scope, &inbox, conv.id, false, false).await?;
    let now = app.now();
    let body = match settings.answer_by.link() {
        true => settings
            .message
            .replace("{link}", &link(app, &inbox, conv.id, now).await?),
        false => settings.message.clone(),
    };
    let facts = crate::compliance::gate::facts(app, scope, Some(conv.id)).await?;
    let admitted = crate::compliance::gate::admit(
        app,
        &inbox,
        conv.contact_id,
        Purpose::Conversational,
        facts,
        body,
    )
    .await?;
    let meta = admitted.meta(Some(reply::survey_meta(&inbox, settings.answer_by, now)));
    let mut cmd = Command::Automated {
        body: admitted.body,
        meta,
    };
    if let Some(by) = by {
        let (by, cmd_) = (by.clone(), Box::new(cmd));
        cmd = Command::Attributed { by, cmd: cmd_ };
    }
    app.store.act(scope, conv.id, actor, cmd, now).await?;
    app.dispatch_bell.notify_one();
    Ok(None)
}

/// The conversation a survey link names, once its signature (`sig`) and age (sent at `at`, ms)
/// are checked; with the time it was sent.
pub async fn answerable(
    app: &App,
    inbox: &str,
    conv: &str,
    at: Option<i64>,
    sig: Option<&str>,
) -> Result<(InboxRow, ConversationView, i64), SurveyError> {
    let not_found = || SurveyError::NotFound;
    let inbox: InboxId = inbox.parse().map_err(|_| not_found())?;
    let conv: ConversationId = conv.parse().map_err(|_| not_found())?;
    let (Some(at), Some(sig)) = (at, sig) else {
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
        return Err(SurveyError::Expired);
    }
    let scope = Scope::parley(row.workspace_id);
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

/// Records a customer's answer (the form's `rating` 1–5 and optional `comment`) to the survey
/// sent at `sent_at` on the conversation's timeline. A link takes one answer.
pub async fn record_answer(
    app: &App,
    inbox: &InboxRow,
    c: &ConversationView,
    sent_at: i64,
    form: &[u8],
) -> Result<(), SurveyError> {
    let form: Vec<(String, String)> = form_urlencoded::parse(form).into_owned().collect();
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let rating = field("rating")
        .and_then(|r| r.parse::<u8>().ok())
        .filter(|r| (1..=5).contains(r))
        .ok_or(SurveyError::Rating)?;
    let comment = field("comment").filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(SurveyError::CommentTooLong);
    }
    let data = json!({
        "rating": rating,
        "comment": comment,
        "contact_id": c.contact_id,
        "survey_sent_at": Timestamp(sent_at),
    });
    // The store's unique key on (conversation, sent at) decides between answers that race.
    let (sent_at, now) = (Timestamp(sent_at), app.now());
    app.store
        .record_survey_answer(inbox.workspace_id, c.id, sent_at, data, now)
        .await?;
    Ok(())
}
