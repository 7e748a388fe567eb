//! The four auto-replies of an inbox (kept in its settings as `auto_replies`): during hours
//! (normal), during hours when the queue is long (peak), after hours, and after hours for a
//! message with an urgent keyword; which one a customer's message gets.

use axum::extract::State;
use axum::http::HeaderMap;
use parley_core::template::Template;
use parley_core::Timestamp;
use parley_core::{InboxId, UserId};
use parley_store::{InboxPace, InboxPatch, InboxRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::account::audit::audit;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::App;

const SETTINGS_KEY: &str = "auto_replies";
const MAX_TEXT_CHARS: usize = 1_000;
const MAX_KEYWORDS: usize = 50;
const MAX_PERIOD_HOURS: u32 = 24 * 30;

/// One auto-reply: on or off, and its text (merge fields allowed).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoReply {
    pub enabled: bool,
    pub text: String,
}

/// The peak reply, chosen over the normal one while the inbox is busy: more unassigned
/// conversations waiting than `max_unassigned`, or a median current wait over `max_wait_minutes`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeakReply {
    pub enabled: bool,
    pub text: String,
    #[serde(default)]
    pub max_unassigned: Option<u32>,
    #[serde(default)]
    pub max_wait_minutes: Option<u32>,
}

/// The overnight urgent reply, chosen over the after-hours one for a message holding one of
/// `keywords` (whole words, any case); `assign_to` (an on-call agent) then gets the conversation
/// when nobody has it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UrgentReply {
    pub enabled: bool,
    pub text: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub assign_to: Option<UserId>,
}

/// An inbox's auto-replies. Each goes at most once per conversation per `period_hours`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoReplies {
    pub period_hours: u32,
    /// `{{expected_wait}}` while open when nobody was answered in the last hour.
    pub default_wait: String,
    pub normal: AutoReply,
    pub peak: PeakReply,
    pub after_hours: AutoReply,
    pub urgent: UrgentReply,
}

impl Default for AutoReplies {
    fn default() -> Self {
        let off = |text: &str| AutoReply {
            enabled: false,
            text: text.into(),
        };
        Self {
            period_hours: 24,
            default_wait: "a few minutes".into(),
            normal: off("Thanks for your message, {{first_name | there}}! We usually answer in {{expected_wait}}."),
            peak: PeakReply {
                enabled: false,
                text: "Thanks for your patience, {{first_name | there}}: we are busier than usual, so an answer may take {{expected_wait}}.".into(),
                max_unassigned: Some(10),
                max_wait_minutes: None,
            },
            after_hours: off("Thanks for your message! We are closed now and will answer {{expected_wait}}."),
            urgent: UrgentReply {
                enabled: false,
                text: "We are closed now, but your message looks urgent: we have alerted the person on call.".into(),
                keywords: vec!["urgent".into(), "emergency".into()],
                assign_to: None,
            },
        }
    }
}

/// Which auto-reply a message gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Peak,
    AfterHours,
    Urgent,
}

impl Kind {
    pub fn key(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Peak => "peak",
            Kind::AfterHours => "after_hours",
            Kind::Urgent => "urgent",
        }
    }
}

impl AutoReplies {
    pub fn of(inbox: &InboxRow) -> Self {
        serde_json::from_value(inbox.settings[SETTINGS_KEY].clone()).unwrap_or_default()
    }

    pub fn any_enabled(&self) -> bool {
        self.normal.enabled || self.peak.enabled || self.after_hours.enabled || self.urgent.enabled
    }

    pub fn period_ms(&self) -> i64 {
        i64::from(self.period_hours) * 3_600_000
    }

    pub fn text_of(&self, kind: Kind) -> &str {
        match kind {
            Kind::Normal => &self.normal.text,
            Kind::Peak => &self.peak.text,
            Kind::AfterHours => &self.after_hours.text,
            Kind::Urgent => &self.urgent.text,
        }
    }

    /// The reply a customer's `text` gets with the inbox `open` or not and its queue as `pace`
    /// says at `now`; `None`: no reply.
    pub fn choose(&self, open: bool, text: &str, pace: &InboxPace, now: Timestamp) -> Option<Kind> {
        if !open {
            if self.urgent.enabled && urgent(&self.urgent.keywords, text) {
                return Some(Kind::Urgent);
            }
            return self.after_hours.enabled.then_some(Kind::AfterHours);
        }
        if self.peak.enabled && self.busy(pace, now) {
            return Some(Kind::Peak);
        }
        self.normal.enabled.then_some(Kind::Normal)
    }

    fn busy(&self, pace: &InboxPace, now: Timestamp) -> bool {
        let unassigned = pace.waiting.iter().filter(|w| w.unassigned).count();
        let over_count = self
            .peak
            .max_unassigned
            .is_some_and(|n| unassigned > n as usize);
        let mut waits: Vec<i64> = pace.waiting.iter().map(|w| now.0 - w.since.0).collect();
        let wait = super::wait::median(&mut waits);
        let over_wait = match (self.peak.max_wait_minutes, wait) {
            (Some(m), Some(w)) => w > i64::from(m) * 60_000,
            _ => false,
        };
        over_count || over_wait
    }

    /// Checks settings as an admin gives them, naming the field at fault.
    fn check(mut self, fields: &[String]) -> Result<Self, ApiError> {
        if !(1..=MAX_PERIOD_HOURS).contains(&self.period_hours) {
            let m = format!("must be 1 to {MAX_PERIOD_HOURS} hours");
            return Err(ApiError::invalid("period_hours", m));
        }
        self.default_wait = self.default_wait.trim().to_string();
        if self.default_wait.is_empty() || self.default_wait.chars().count() > 100 {
            return Err(ApiError::invalid(
                "default_wait",
                "must be 1 to 100 characters",
            ));
        }
        for (field, text) in [
            ("normal", &mut self.normal.text),
            ("peak", &mut self.peak.text),
            ("after_hours", &mut self.after_hours.text),
            ("urgent", &mut self.urgent.text),
        ] {
            *text = text.trim().to_string();
            check_text(field, text, fields)?;
        }
        if self.peak.enabled
            && self.peak.max_unassigned.is_none()
            && self.peak.max_wait_minutes.is_none()
        {
            let m = "the peak reply needs max_unassigned or max_wait_minutes";
            return Err(ApiError::invalid("peak", m));
        }
        self.urgent.keywords = check_keywords(&self.urgent.keywords)?;
        if self.urgent.enabled && self.urgent.keywords.is_empty() {
            return Err(ApiError::invalid(
                "keywords",
                "the urgent reply needs keywords",
            ));
        }
        Ok(self)
    }
}

fn check_text(field: &'static str, text: &str, fields: &[String]) -> Result<(), ApiError> {
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        let m = format!("{field}: the text must be 1 to {MAX_TEXT_CHARS} characters");
        return Err(ApiError::invalid(field, m));
    }
    let parsed = Template::parse(text)
        .map_err(|e| ApiError::invalid(field, format!("{field}: {}", e.reason)))?;
    parsed
        .check(fields.iter().map(String::as_str))
        .map_err(|e| ApiError::invalid(field, format!("{field}: {}", e.reason)))
}

fn check_keywords(list: &[String]) -> Result<Vec<String>, ApiError> {
    if list.len() > MAX_KEYWORDS {
        let m = format!("at most {MAX_KEYWORDS} keywords");
        return Err(ApiError::invalid("keywords", m));
    }
    let mut out: Vec<String> = Vec::new();
    for k in list {
        let k = words(k).join(" ");
        if k.is_empty() || k.chars().count() > 64 {
            let m = "a keyword is 1 to 64 characters of letters or digits";
            return Err(ApiError::invalid("keywords", m));
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// The lowercase words of a text (letters and digits; anything else separates them).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `text` holds one of `keywords` as whole words.
pub fn urgent(keywords: &[String], text: &str) -> bool {
    let padded = format!(" {} ", words(text).join(" "));
    keywords.iter().any(|k| padded.contains(&format!(" {k} ")))
}

/// `GET /api/v1/inboxes/{id}/auto-replies`.
pub async fn get_auto_replies(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
) -> ApiResult<Json<AutoReplies>> {
    let inbox = app.store.inbox(&p.scope(), id).await?;
    Ok(Json(AutoReplies::of(&inbox)))
}

/// `PUT /api/v1/inboxes/{id}/auto-replies`: checked, stored whole, audited.
pub async fn put_auto_replies(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<InboxId>,
    Json(req): Json<AutoReplies>,
) -> ApiResult<Json<AutoReplies>> {
    require_admin(&p)?;
    let ws = app.store.workspace(p.workspace_id).await?;
    let replies = req.check(&crate::templates::fields::declared(&ws))?;
    if let Some(user) = replies.urgent.assign_to {
        let users = app.store.list_users(p.workspace_id).await?;
        if !users.iter().any(|u| u.id == user) {
            return Err(ApiError::invalid(
                "assign_to",
                format!("no user {user} in this workspace"),
            ));
        }
    }
    let inbox = app.store.inbox(&p.scope(), id).await?;
    let mut settings = inbox.settings.clone();
    settings[SETTINGS_KEY] =
        serde_json::to_value(&replies).map_err(|e| ApiError::Internal(e.into()))?;
    let patch = InboxPatch {
        settings: Some(settings),
        ..InboxPatch::default()
    };
    let row = app.store.update_inbox(p.workspace_id, id, patch).await?;
    app.forget_inbox(id);
    let on: Vec<&str> = [Kind::Normal, Kind::Peak, Kind::AfterHours, Kind::Urgent]
        .into_iter()
        .filter(|k| replies.enabled(*k))
        .map(Kind::key)
        .collect();
    audit(
        &app,
        &p,
        &headers,
        "inbox.auto_replies",
        id,
        json!({ "enabled": on }),
    )
    .await;
    Ok(Json(AutoReplies::of(&row)))
}

impl AutoReplies {
    fn enabled(&self, kind: Kind) -> bool {
        match kind {
            Kind::Normal => self.normal.enabled,
            Kind::Peak => self.peak.enabled,
            Kind::AfterHours => self.after_hours.enabled,
            Kind::Urgent => self.urgent.enabled,
        }
    }
}

#[cfg(test)]
mod tests;
