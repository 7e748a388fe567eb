//! What a customer's message does to its conversation, decided once for both backends: a blocked
//! sender's message is kept but asks nothing of anyone (no reopening, no waiting).

use parley_core::conversation::{Change, Status};
use parley_core::{ContactId, IdentityId, Timestamp};

use crate::{ConversationView, MessageView, SurveyReply};

/// A blocked sender's first message opens a conversation that is already resolved.
pub fn new_thread(conv: &mut ConversationView, blocked: bool) {
    if blocked {
        conv.status = Status::Resolved;
    }
}

/// Reopens a resolved or snoozed conversation before a customer's message, unless the sender is
/// blocked; the payload of the `conversation.updated` event that shows it, when it reopens.
pub fn reopen(conv: &mut ConversationView, blocked: bool, at: Timestamp) -> Option<String> {
    if blocked || !conv.state().reopens_on_inbound() {
        return None;
    }
    let change = Change::Status {
        from: conv.status,
        to: Status::Open,
        snoozed_until: None,
    };
    conv.apply(&change, at);
    Some(super::events::conversation_updated(
        &super::events::change_json(&change),
        None,
        conv,
    ))
}

/// Replies go to the identity the customer last wrote from (not to someone else who wrote into
/// their thread, such as a colleague in copy).
pub fn reply_identity(conv: &mut ConversationView, contact: ContactId, identity: IdentityId) {
    if conv.contact_id == contact {
        conv.identity_id = identity;
    }
}

/// Folds a customer's message into its conversation: it now waits on an agent (a note when the
/// sender is blocked), and the message is its preview.
pub fn fold(conv: &mut ConversationView, msg: &MessageView, blocked: bool) {
    conv.apply(
        if blocked {
            &Change::Note
        } else {
            &Change::Inbound
        },
        msg.created_at,
    );
    conv.last_message = Some(super::preview(&msg.body));
}

/// The survey answer a rating reply gives, when it is for the conversation the message landed in
/// (the server read it off the sender's conversation before the message was stored).
pub fn survey_reply<'a>(
    reply: Option<&'a SurveyReply>,
    conv: &ConversationView,
) -> Option<&'a SurveyReply> {
    reply.filter(|r| r.conversation == conv.id)
}

/// The payload of the `survey.answered` event a rating reply records: the server's data, the
/// message that gave it, and the conversation as it is.
pub fn survey_answered(reply: &SurveyReply, msg: &MessageView, conv: &ConversationView) -> String {
    let mut data = reply.data.clone();
    if let Some(o) = data.as_object_mut() {
        o.insert("message_id".into(), serde_json::json!(msg.id));
    }
    super::events::conversation_event(data, conv)
}
