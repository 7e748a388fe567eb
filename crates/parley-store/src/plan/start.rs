//! Starting a conversation from Parley's side: which identity of the contact an inbox reaches
//! (one it has there, or one made from the contact's email or phone), and who sends first.

use parley_core::contact::IdentityKind;
use parley_core::message::SenderKind;
use parley_core::UserId;

use crate::{ContactView, StoreError};

/// How an inbox reaches a contact: an identity it already has there, or one to create from the
/// contact's email address (email inboxes) or phone number (SMS inboxes), so a customer met on
/// one channel can be answered on another.
#[derive(Debug)]
pub enum Reach<'a> {
    Existing(&'a crate::IdentityView),
    New(crate::NewIdentity),
}

pub fn reach<'a>(inbox: &crate::InboxRow, contact: &'a ContactView) -> Option<Reach<'a>> {
    if let Some(i) = contact.identities.iter().find(|i| {
        i.inbox_id == Some(inbox.id)
            || (inbox.kind == "api" && i.kind == IdentityKind::Api && i.inbox_id.is_none())
    }) {
        return Some(Reach::Existing(i));
    }
    let (kind, external_id) = match inbox.kind.as_str() {
        "email" => (IdentityKind::Email, contact.email.clone()?),
        "twilio" => (IdentityKind::Phone, contact.phone.clone()?),
        _ => return None,
    };
    Some(Reach::New(crate::NewIdentity {
        kind,
        inbox_id: Some(inbox.id),
        external_id,
    }))
}

/// The identity a conversation started by an agent replies to: `reach`, refused when the inbox has
/// no way to reach the contact.
pub fn reach_to_start<'a>(
    inbox: &crate::InboxRow,
    contact: &'a ContactView,
) -> Result<Reach<'a>, StoreError> {
    reach(inbox, contact).ok_or_else(|| StoreError::Rejected {
        code: "no_identity_for_inbox",
        message: "this contact has no address this inbox can reach".into(),
    })
}

/// Who sends the first message of a started conversation: the agent who wrote it, or Parley.
pub fn start_sender(sender: Option<UserId>) -> SenderKind {
    if sender.is_some() {
        SenderKind::Agent
    } else {
        SenderKind::System
    }
}
