//! Satisfaction by reply: the survey message offers the ratings as choices where the channel
//! shows buttons, and a customer's message that rates (`parley_core::rating`, or a tapped choice)
//! in a resolved conversation whose survey is open becomes that survey's answer.

use parley_channels::rich::Choice;
use parley_core::conversation::Status;
use parley_core::Timestamp;
use parley_store::{InboundMessage, InboxRow, Scope, StoreError, SurveyReply, TimelineEntry};
use serde_json::{json, Value};

use super::{AnswerBy, MAX_AGE_MS, MAX_COMMENT_CHARS};
use crate::state::App;

/// The prefix of the ids of the rating choices (`survey:1` … `survey:5`).
const CHOICE_PREFIX: &str = "survey:";
const LABELS: [&str; 5] = ["Very poor", "Poor", "OK", "Good", "Very good"];

/// The rating choices, lowest first, so that where a channel numbers them the number a customer
/// types is the rating they mean.
pub fn choices() -> Vec<Choice> {
    (1..=parley_core::rating::SCALE)
        .zip(LABELS)
        .map(|(n, label)| Choice {
            id: format!("{CHOICE_PREFIX}{n}"),
            title: format!("{n} – {label}"),
        })
        .collect()
}

/// Whether the inbox's channel shows choices to tap: the messaging apps with buttons or quick
/// replies, and the API channel, whose deliveries carry them to the integrator.
fn offers_choices(inbox: &InboxRow) -> bool {
    let Some(channel) = crate::inboxes::channels::channel_of(inbox) else {
        return false;
    };
    match channel.capabilities() {
        Some(caps) => caps.max_choices >= choices().len() || caps.max_list_rows >= choices().len(),
        None => channel.kind() == parley_channels::ChannelKind::Api,
    }
}

/// The survey message's `meta`: when it was sent (what its answer is keyed by), how it is
/// answered, and the rating choices when it asks for a reply on a channel that shows them.
pub fn survey_meta(inbox: &InboxRow, answer_by: AnswerBy, now: Timestamp) -> Value {
    let mut meta = json!({ "survey": { "sent_at": now, "answer_by": answer_by } });
    if answer_by.reply() && offers_choices(inbox) {
        meta["reply"] = json!({ "choices": choices() });
    }
    meta
}

/// The rating a customer's message gives: the rating choice they tapped or picked, else the
/// rating their words give.
fn rating_of(msg: &InboundMessage) -> Option<u8> {
    let chosen = msg
        .meta
        .as_ref()
        .and_then(|m| m["choice"]["id"].as_str())
        .and_then(|id| id.strip_prefix(CHOICE_PREFIX))
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=parley_core::rating::SCALE).contains(n));
    chosen.or_else(|| parley_core::rating::parse(&msg.body))
}

/// When the newest survey in these timeline entries was sent.
fn last_survey(entries: &[TimelineEntry]) -> Option<Timestamp> {
    entries.iter().rev().find_map(|e| {
        if e.event.kind != "message.created" {
            return None;
        }
        let v: Value = serde_json::from_str(&e.event.data).ok()?;
        serde_json::from_value(v["message"]["meta"]["survey"]["sent_at"].clone()).ok()
    })
}

/// Whether a customer's message answers their conversation's survey: it rates, the conversation
/// is resolved, and a survey was sent in it within the link's validity. The store takes the
/// survey's one answer (an answered survey leaves the message an ordinary one). Messages that do
/// not rate cost nothing here.
pub async fn rating_reply(
    app: &App,
    inbox: &InboxRow,
    msg: &InboundMessage,
) -> Result<Option<SurveyReply>, StoreError> {
    let Some(rating) = rating_of(msg) else {
        return Ok(None);
    };
    let found = app
        .store
        .identity_conversation(inbox.id, msg.identity_kind, &msg.sender_external_id)
        .await?;
    let Some((contact, Some(own))) = found else {
        return Ok(None);
    };
    let scope = Scope::parley(inbox.workspace_id);
    let conv = app
        .store
        .conversation(&scope, msg.thread.unwrap_or(own))
        .await?;
    if conv.status != Status::Resolved || conv.contact_id != contact || conv.inbox_id != inbox.id {
        return Ok(None);
    }
    let entries = app.store.timeline(&scope, conv.id, None, 50).await?;
    let Some(sent_at) = last_survey(&entries) else {
        return Ok(None);
    };
    if app.now().0 - sent_at.0 > MAX_AGE_MS {
        return Ok(None);
    }
    let comment: String = msg.body.trim().chars().take(MAX_COMMENT_CHARS).collect();
    Ok(Some(SurveyReply {
        conversation: conv.id,
        sent_at,
        data: json!({
            "rating": rating,
            "comment": (!comment.is_empty()).then_some(comment),
            "contact_id": contact,
            "survey_sent_at": sent_at,
            "answered_by": "reply",
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(body: &str, meta: Option<Value>) -> InboundMessage {
        InboundMessage {
            inbox_id: uuid::Uuid::nil().into(),
            identity_kind: parley_core::contact::IdentityKind::Api,
            sender_external_id: "c1".into(),
            sender_name: None,
            sender_email: None,
            sender_phone: None,
            external_id: None,
            body: body.into(),
            at: Timestamp(0),
            thread: None,
            meta,
            keyword: None,
            survey: None,
        }
    }

    #[test]
    fn a_tapped_choice_or_rating_words_rate_and_other_choices_do_not() {
        let tapped = |id: &str| Some(json!({ "choice": { "id": id, "title": "x" } }));
        assert_eq!(rating_of(&said("4 – Good", tapped("survey:4"))), Some(4));
        assert_eq!(rating_of(&said("Very good", tapped("survey:5"))), Some(5));
        assert_eq!(rating_of(&said("Tuesday", tapped("tue"))), None);
        assert_eq!(rating_of(&said("x", tapped("survey:9"))), None);
        assert_eq!(rating_of(&said("⭐⭐⭐", None)), Some(3));
        assert_eq!(rating_of(&said("thanks!", None)), None);
    }

    #[test]
    fn the_choices_are_numbered_as_their_ratings() {
        let c = choices();
        assert_eq!(c.len(), 5);
        assert_eq!(
            (c[0].id.as_str(), c[4].title.as_str()),
            ("survey:1", "5 – Very good")
        );
        for (i, choice) in c.iter().enumerate() {
            assert_eq!(parley_core::rating::parse(&choice.title), Some(i as u8 + 1));
        }
    }
}
