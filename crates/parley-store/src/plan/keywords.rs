//! What a compliance keyword in a customer's message records on the consent ledger, decided once
//! for both backends, which write it in the message's own transaction: only changes are recorded,
//! so a "YES" that is just an answer, or a STOP already on the ledger, adds nothing.

use parley_core::consent::{self, Action, Purpose, State};
use parley_core::ContactId;
use serde_json::json;

use crate::{ConsentEvent, ConversationView, Keyword, KeywordIntent, MessageView, NewConsent};

impl KeywordIntent {
    /// Whether the keyword may change the ledger, so the store reads it (HELP never does).
    pub fn touches_ledger(&self) -> bool {
        self.keyword != Keyword::Help
    }
}

/// The ledger entries `kw` in `msg` (from `contact`) records, given the contact's ledger: each
/// purpose it changes, with the message as evidence and its conversation's timeline showing it.
pub fn consent(
    kw: &KeywordIntent,
    ledger: &[ConsentEvent],
    msg: &MessageView,
    contact: ContactId,
) -> Vec<NewConsent> {
    let entries: Vec<_> = ledger.iter().map(ConsentEvent::entry).collect();
    let channel = kw.channel.as_str();
    let (action, purposes, source, scope) = match kw.keyword {
        Keyword::Help => return Vec::new(),
        // Every subscription pending on this channel is granted, on this channel.
        Keyword::Confirm => {
            let pending: Vec<Purpose> = Purpose::ALL
                .into_iter()
                .filter(|p| consent::state(&entries, *p, channel) == State::Pending)
                .collect();
            (
                Action::Grant,
                pending,
                "double_opt_in",
                Some(channel.to_string()),
            )
        }
        k => {
            let (action, purposes, source): (_, &[Purpose], _) = match k {
                Keyword::ProbableOptOut => (
                    Action::Revoke,
                    &[Purpose::Informational, Purpose::Promotional],
                    "probable_keyword",
                ),
                Keyword::OptIn => (
                    Action::Grant,
                    &[Purpose::Conversational, Purpose::Informational],
                    "keyword",
                ),
                _ => (Action::Revoke, &Purpose::ALL, "keyword"),
            };
            // An opt-in counts only for someone who opted out ("YES" is also just an answer),
            // and a revocation only for someone who had not.
            let revoked = consent::state(&entries, purposes[0], channel) == State::Revoked;
            if revoked == (action == Action::Revoke) {
                return Vec::new();
            }
            let scope = (!kw.everywhere).then(|| channel.to_string());
            (action, purposes.to_vec(), source, scope)
        }
    };
    let evidence = json!({ "text": msg.body, "message_id": msg.id, "inbox_id": msg.inbox_id });
    purposes
        .into_iter()
        .map(|purpose| NewConsent {
            contact,
            purpose,
            action,
            source: source.into(),
            channel: scope.clone(),
            evidence: evidence.clone(),
            at: kw.at,
            conversation: Some(msg.conversation_id),
        })
        .collect()
}

/// The payload of the `consent.changed` event on the conversation's timeline.
pub fn consent_changed(e: &ConsentEvent, conv: &ConversationView) -> String {
    json!({ "consent": e, "conversation": conv }).to_string()
}
