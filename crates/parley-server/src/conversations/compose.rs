//! Replies composed once for any channel: text, choices for the customer to pick from, and (on
//! WhatsApp) an approved template. The parts beyond the text are kept in the message's `meta`
//! for the adapters, and a customer's answer to offered choices ("2", a title, or a tapped
//! button) is recorded as the choice it picks.

use parley_channels::rich::{self, Choice, OutMedia, Reply, Template};
use parley_core::contact::IdentityKind;
use parley_core::message::{parse_body, Direction};
use parley_store::{InboxRow, OutboxJob, Scope};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::conversations::attachments::{self, Attachment};
use crate::state::App;

/// The most choices one reply may offer (WhatsApp lists show 10 rows).
const MAX_CHOICES: usize = 10;

/// A reply as the API takes it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 10))]
    pub choices: Option<Vec<Choice>>,
    #[serde(default)]
    pub template: Option<Template>,
    /// Ids of files uploaded to the inbox (`POST /api/v1/inboxes/{id}/attachments`).
    #[serde(default)]
    pub attachments: Option<Vec<String>>,
    /// Why the business writes (`conversational`, the default: an answer; `informational`;
    /// `promotional`). The compliance gate checks the customer's consent for it.
    #[serde(default)]
    pub purpose: Option<parley_core::consent::Purpose>,
    /// A saved template (`/api/v1/templates`) to send instead of `body`, rendered for this
    /// conversation as the composer renders it; counts as a use.
    #[serde(default)]
    pub template_id: Option<parley_core::TemplateId>,
    /// Send later, at this time (RFC 3339, at most a year ahead): the reply is kept as scheduled
    /// (`GET /api/v1/conversations/{id}/scheduled`) and checked by the compliance gate when due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<parley_core::Timestamp>,
}

/// A checked reply: the text the timeline shows and the `meta` the adapters read.
pub struct Composed {
    pub body: String,
    pub meta: Option<Value>,
    pub template: bool,
}

/// Why a reply cannot be composed; `field` names the part at fault.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("may offer at most {MAX_CHOICES}")]
    TooManyChoices,
    #[error("each choice needs an id (1 to 200 bytes) and a title (1 to 100 characters)")]
    BadChoice,
    #[error("the id {0:?} is used twice")]
    ChoiceTwice(String),
    #[error("a template carries its own buttons")]
    ChoicesWithTemplate,
    #[error("only WhatsApp inboxes send templates")]
    TemplateNotHere,
    #[error("name must be the template's name: lower-case letters, digits and _")]
    TemplateName,
    #[error("language must be a code like en or en_US")]
    TemplateLanguage,
    #[error("params are up to 20 non-empty texts of at most 1,024 characters")]
    TemplateParams,
    #[error("names, when given, name each of params: lower-case letters, digits and _")]
    TemplateNames,
    #[error("a template carries no files")]
    FilesWithTemplate,
    #[error(transparent)]
    Body(#[from] parley_core::Invalid),
}

impl ComposeError {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::TooManyChoices | Self::BadChoice | Self::ChoiceTwice(_) => "choices",
            Self::ChoicesWithTemplate => "choices",
            Self::TemplateNotHere | Self::TemplateName | Self::TemplateLanguage => "template",
            Self::TemplateParams | Self::TemplateNames => "template",
            Self::FilesWithTemplate => "attachments",
            Self::Body(e) => e.field,
        }
    }
}

fn name_like(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a reply for the inbox's channel; `files` are its checked attachments.
pub fn compose(
    inbox: &InboxRow,
    req: &ReplyRequest,
    files: &[Attachment],
) -> Result<Composed, ComposeError> {
    let mut meta = serde_json::Map::new();
    let choices = req.choices.clone().unwrap_or_default();
    if !choices.is_empty() {
        check_choices(&choices)?;
        meta.insert("choices".into(), json!(choices));
    }
    let mut body = req.body.clone().unwrap_or_default();
    let template = req.template.is_some();
    if let Some(t) = &req.template {
        check_template(inbox, t)?;
        if !choices.is_empty() {
            return Err(ComposeError::ChoicesWithTemplate);
        }
        meta.insert("template".into(), json!(t));
        if body.trim().is_empty() {
            body = template_text(t);
        }
    }
    if !files.is_empty() && template {
        return Err(ComposeError::FilesWithTemplate);
    }
    if body.trim().is_empty() && !files.is_empty() {
        let names: Vec<&str> = files
            .iter()
            .map(|f| f.filename.as_deref().unwrap_or("a file"))
            .collect();
        body = names.join(", ");
    }
    let body = parse_body("body", &body)?;
    let mut meta = (!meta.is_empty()).then(|| json!({ "reply": Value::Object(meta) }));
    if !files.is_empty() {
        meta.get_or_insert_with(|| json!({}))["attachments"] = json!(files);
    }
    Ok(Composed {
        body,
        meta,
        template,
    })
}

/// At most [`MAX_CHOICES`], each with an id and a title, no id twice.
fn check_choices(choices: &[Choice]) -> Result<(), ComposeError> {
    if choices.len() > MAX_CHOICES {
        return Err(ComposeError::TooManyChoices);
    }
    for (i, c) in choices.iter().enumerate() {
        let bad_id = c.id.trim().is_empty() || c.id.len() > 200;
        let bad_title = c.title.trim().is_empty() || c.title.chars().count() > 100;
        if bad_id || bad_title {
            return Err(ComposeError::BadChoice);
        }
        if choices[..i].iter().any(|d| d.id == c.id) {
            return Err(ComposeError::ChoiceTwice(c.id.clone()));
        }
    }
    Ok(())
}

/// A template names an approved one by name and language, with its parameters (and their names,
/// for templates with named parameters); only WhatsApp sends them.
fn check_template(inbox: &InboxRow, t: &Template) -> Result<(), ComposeError> {
    if crate::inboxes::channels::kind_of(inbox) != Some(parley_channels::ChannelKind::Whatsapp) {
        return Err(ComposeError::TemplateNotHere);
    }
    if !name_like(&t.name, 512) {
        return Err(ComposeError::TemplateName);
    }
    let lang_ok = (2..=15).contains(&t.language.len())
        && t.language
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_');
    if !lang_ok {
        return Err(ComposeError::TemplateLanguage);
    }
    if t.params.len() > 20
        || t.params
            .iter()
            .any(|p| p.trim().is_empty() || p.chars().count() > 1024)
    {
        return Err(ComposeError::TemplateParams);
    }
    let named_ok = |n: &String| name_like(n, 64);
    if !t.names.is_empty() && (t.names.len() != t.params.len() || !t.names.iter().all(named_ok)) {
        return Err(ComposeError::TemplateNames);
    }
    Ok(())
}

/// The text the timeline shows for a template sent without one.
fn template_text(t: &Template) -> String {
    if t.params.is_empty() {
        format!("Template {}", t.name)
    } else {
        format!("Template {}: {}", t.name, t.params.join(" · "))
    }
}

/// The reply a queued message holds, as the adapters take it: its files as signed links the
/// provider fetches.
pub fn reply_of(app: &App, job: &OutboxJob) -> Reply {
    let r = job.message.meta.as_ref().map(|m| &m["reply"]);
    let get = |k: &str| r.and_then(|r| r.get(k)).cloned();
    let media = attachments::of_meta(job.message.meta.as_ref())
        .into_iter()
        .map(|a| OutMedia {
            url: attachments::signed_url(app, &job.inbox, &a.id),
            mime_type: a.content_type,
            size: a.size,
            name: a.filename,
        })
        .collect();
    Reply {
        text: job.message.body.clone(),
        choices: get("choices")
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default(),
        media,
        template: get("template").and_then(|t| serde_json::from_value(t).ok()),
    }
}

/// The text of a reply on a channel that has no buttons: choices become numbered lines.
pub fn plain_text(job: &OutboxJob) -> String {
    let r = job.message.meta.as_ref().map(|m| &m["reply"]["choices"]);
    let choices: Vec<Choice> = r
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let mut text = job.message.body.clone();
    if !choices.is_empty() {
        text.push_str(&rich::numbered(&choices));
    }
    text
}

/// The choice a customer's message picks among those the business's last reply offered: the
/// button they tapped (`tapped`, its id), or text like "2" or a choice's title. Returns the
/// `meta` to store with their message.
pub async fn answered_choice(
    app: &App,
    inbox: &InboxRow,
    kind: IdentityKind,
    sender: &str,
    text: &str,
    tapped: Option<&str>,
) -> Option<Value> {
    let (_, conv) = app
        .store
        .identity_conversation(inbox.id, kind, sender)
        .await
        .ok()??;
    answered_in(app, inbox, conv?, text, tapped).await
}

/// `answered_choice` when the conversation is known (an email threaded into someone's thread).
pub async fn answered_in(
    app: &App,
    inbox: &InboxRow,
    conv: parley_core::ConversationId,
    text: &str,
    tapped: Option<&str>,
) -> Option<Value> {
    let conv = Some(conv);
    let scope = Scope::parley(inbox.workspace_id);
    let entries = app.store.timeline(&scope, conv?, None, 20).await.ok()?;
    // Only the business's latest reply counts: an older list is no longer on offer.
    let last = entries.iter().rev().find_map(|e| {
        if e.event.kind != "message.created" {
            return None;
        }
        let v: Value = serde_json::from_str(&e.event.data).ok()?;
        (v["message"]["direction"] == Direction::Outbound.as_str())
            .then(|| v["message"]["meta"].clone())
    })?;
    let choices: Vec<Choice> = serde_json::from_value(last["reply"]["choices"].clone()).ok()?;
    let picked = match tapped {
        Some(id) => choices.iter().find(|c| c.id == id),
        None => rich::match_choice(text, &choices),
    }?;
    Some(json!({ "choice": { "id": picked.id, "title": picked.title } }))
}

/// The `meta` of a customer's message from the choice it picked and the files it brought.
pub fn inbound_meta(choice: Option<Value>, files: &[Attachment]) -> Option<Value> {
    let mut meta = choice.unwrap_or_else(|| json!({}));
    if !files.is_empty() {
        meta["attachments"] = json!(files);
    }
    (meta != json!({})).then_some(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(id: &str, title: &str) -> Choice {
        Choice {
            id: id.into(),
            title: title.into(),
        }
    }

    #[test]
    fn choices_need_an_id_and_a_title_each_id_once() {
        assert!(check_choices(&[choice("a", "Yes"), choice("b", "No")]).is_ok());
        let e = check_choices(&[choice(" ", "Yes")]).unwrap_err();
        assert!(matches!(e, ComposeError::BadChoice));
        let e = check_choices(&[choice("a", "Yes"), choice("a", "No")]).unwrap_err();
        assert_eq!(
            (e.field(), e.to_string()),
            ("choices", "the id \"a\" is used twice".into())
        );
        let many: Vec<Choice> = (0..=MAX_CHOICES)
            .map(|i| choice(&i.to_string(), "x"))
            .collect();
        let e = check_choices(&many).unwrap_err();
        assert_eq!(e.to_string(), "may offer at most 10");
    }

    #[test]
    fn a_template_sent_without_text_is_named_on_the_timeline() {
        let mut t = Template {
            name: "order_update".into(),
            language: "en".into(),
            params: vec![],
            names: vec![],
        };
        assert_eq!(template_text(&t), "Template order_update");
        t.params = vec!["Ana".into(), "42".into()];
        assert_eq!(template_text(&t), "Template order_update: Ana · 42");
    }
}
