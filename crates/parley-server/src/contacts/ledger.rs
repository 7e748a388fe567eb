//! A contact's consent ledger: where each purpose stands on each channel, and what an agent
//! records in it (a grant or revocation, or a subscription waiting for the customer's CONFIRM).

use std::collections::BTreeMap;

use parley_core::consent::{self, Action, Purpose};
use parley_core::ContactId;
use parley_store::{
    ConsentEvent, ConversationQuery, NewConsent, Principal, Sort, StoreError, WorkspaceRow,
};
use serde_json::{json, Value};

use super::views::{ConsentRecordedView, ConsentView, ProbableRevocationView};
use crate::compliance::settings::{Settings, CHANNELS};
use crate::compliance::ComplianceError;
use crate::state::App;

/// Sources an agent may record consent from (the customer's own messages are recorded by Parley).
const AGENT_SOURCES: [&str; 6] = ["agent", "web_form", "api", "import", "pos", "ivr"];

/// Subscriptions from these sources wait for the customer's CONFIRM under double opt-in.
const UNCONFIRMED_SOURCES: [&str; 3] = ["web_form", "api", "import"];

/// Why a consent entry was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// A field of the request does not hold.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A promotional grant from a source that is not written.
    #[error("promotional messages need written consent: record it with the form, import or signed record (source web_form, import, api, pos or ivr) and its evidence")]
    WrittenConsentRequired,
    #[error(transparent)]
    Compliance(#[from] ComplianceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ConsentError {
    ConsentError::Invalid {
        field,
        message: message.into(),
    }
}

/// Where the contact's consent stands, from their ledger (as the caller may see it).
pub fn summary(history: Vec<ConsentEvent>) -> ConsentView {
    let entries: Vec<_> = history.iter().map(|e| e.entry()).collect();
    let mut channels: Vec<&str> = history
        .iter()
        .filter_map(|e| e.channel.as_deref())
        .collect();
    channels.sort_unstable();
    channels.dedup();
    let opted_out = channels
        .into_iter()
        .filter(|c| !consent::may_reply(&entries, c))
        .map(String::from)
        .collect();
    // A message that may have been a revocation, not yet reviewed: the newest informational
    // entry is one Parley recorded as probable.
    let review = history
        .iter()
        .rev()
        .find(|e| e.purpose == Purpose::Informational)
        .filter(|e| e.source == "probable_keyword")
        .map(|e| ProbableRevocationView {
            at: e.at,
            message_id: e.evidence["message_id"].clone(),
            text: e.evidence["text"].clone(),
        });
    // Where each purpose stands on each channel, as the gate sees it.
    let mut states = BTreeMap::new();
    for c in CHANNELS {
        let on: BTreeMap<_, _> = Purpose::ALL
            .into_iter()
            .map(|purpose| (purpose.as_str(), consent::state(&entries, purpose, c)))
            .collect();
        states.insert(c, on);
    }
    ConsentView {
        history: history.into_iter().map(Into::into).collect(),
        opted_out,
        probable_revocation: review,
        states,
    }
}

/// What an agent asked to record, checked.
pub struct Recording {
    purpose: Purpose,
    action: Action,
    source: String,
    channel: Option<String>,
    detail: Option<Value>,
}

impl Recording {
    /// Checks an agent's entry: a purpose, grant or revoke, a source agents may name, a known
    /// channel (none: every channel), and written consent for promotional messages.
    pub fn parse(
        purpose: &str,
        action: &str,
        source: Option<String>,
        channel: Option<String>,
        detail: Option<Value>,
    ) -> Result<Self, ConsentError> {
        let purpose = Purpose::parse(purpose).ok_or_else(|| {
            invalid(
                "purpose",
                "must be conversational, informational or promotional",
            )
        })?;
        let action = Action::parse(action)
            .filter(|a| *a != Action::Request)
            .ok_or_else(|| invalid("action", "must be grant or revoke"))?;
        let source = source.unwrap_or_else(|| "agent".into());
        if !AGENT_SOURCES.contains(&source.as_str()) {
            let message = format!("must be one of: {}", AGENT_SOURCES.join(", "));
            return Err(invalid("source", message));
        }
        if let Some(c) = &channel {
            if !CHANNELS.contains(&c.as_str()) {
                return Err(invalid(
                    "channel",
                    format!("must be one of: {}", CHANNELS.join(", ")),
                ));
            }
        }
        if action == Action::Grant
            && purpose == Purpose::Promotional
            && !parley_core::compliance::is_written(&source)
        {
            return Err(ConsentError::WrittenConsentRequired);
        }
        Ok(Self {
            purpose,
            action,
            source,
            channel,
            detail,
        })
    }

    /// A subscription the customer must confirm by text under the workspace's double opt-in.
    fn needs_confirmation(&self, ws: &WorkspaceRow) -> bool {
        Settings::of(ws).double_opt_in
            && self.action == Action::Grant
            && self.purpose != Purpose::Conversational
            && UNCONFIRMED_SOURCES.contains(&self.source.as_str())
            && self.channel.as_deref().is_none_or(|c| c == "sms")
    }
}

/// Records an agent's entry in the contact's ledger; a subscription that needs confirming is
/// recorded as pending and the request to confirm it texted (`notices::request_subscription`).
pub async fn record(
    app: &App,
    p: &Principal,
    contact: ContactId,
    r: Recording,
) -> Result<ConsentRecordedView, ConsentError> {
    let evidence = json!({ "recorded_by": p.user_id, "detail": r.detail });
    if evidence.to_string().len() > 16 * 1024 {
        return Err(invalid("evidence", "must be at most 16 KB"));
    }
    let ws = app.store.workspace(p.workspace_id).await?;
    if r.needs_confirmation(&ws) {
        let (e, c) = crate::compliance::notices::request_subscription(
            app, &ws, contact, r.purpose, &r.source, evidence,
        )
        .await?;
        return Ok(ConsentRecordedView::new(e, Some(c)));
    }
    // Shown on the contact's latest conversation, where the agent is looking.
    let q = ConversationQuery {
        contact: Some(contact),
        sort: Sort::Activity,
        limit: 1,
        ..ConversationQuery::default()
    };
    let latest = app.store.list_conversations(&p.scope(), &q).await?.items;
    let entry = NewConsent {
        contact,
        purpose: r.purpose,
        action: r.action,
        source: r.source,
        channel: r.channel,
        evidence,
        at: app.now(),
        conversation: latest.first().map(|c| c.id),
    };
    let e = app.store.record_consent(p.workspace_id, entry).await?;
    Ok(ConsentRecordedView::new(e, None))
}
