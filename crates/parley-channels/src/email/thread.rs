//! Which conversation a mail answers, after Chatwoot's scheme (channels reference, section 7.2):
//! replies go to `reply+<conversation>@domain`, and our Message-IDs name the conversation, so a
//! reply finds its way back even when the customer's client rewrote the recipient.

use super::InboundEmail;

/// The Message-ID of an outbound message, without angle brackets.
pub fn message_id(conversation: &str, message: &str, domain: &str) -> String {
    format!("conversation/{conversation}/messages/{message}@{domain}")
}

/// The Reply-To address of a conversation: `{local}+{conversation}@{domain}`.
pub fn reply_address(local: &str, conversation: &str, domain: &str) -> String {
    format!("{local}+{conversation}@{domain}")
}

/// What an inbound mail says about its thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    /// The conversation named by a reply address among the recipients, else by one of our
    /// Message-IDs in `In-Reply-To`, then `References`. The server checks that it exists.
    pub conversation: Option<String>,
    /// Every id in `In-Reply-To` then `References`, for the server to look up among the
    /// Message-IDs it stored (a reply to an inbound mail names the customer's own id).
    pub references: Vec<String>,
}

/// Finds the conversation a mail answers.
pub fn thread_of(email: &InboundEmail) -> Thread {
    let mut references: Vec<String> = Vec::new();
    for id in email.in_reply_to.iter().chain(&email.references) {
        if !references.contains(id) {
            references.push(id.clone());
        }
    }
    let by_address = email
        .to
        .iter()
        .chain(&email.cc)
        .chain(&email.delivered_to)
        .find_map(|a| conversation_in_address(a));
    let by_id = || {
        email
            .in_reply_to
            .iter()
            // The newest reference is the likeliest to be ours.
            .chain(email.references.iter().rev())
            .find_map(|id| conversation_in_message_id(id))
    };
    Thread {
        conversation: by_address.or_else(by_id),
        references,
    }
}

/// The conversation in a reply address: a local part ending in `+<uuid>`.
pub fn conversation_in_address(address: &str) -> Option<String> {
    let (local, _domain) = address.rsplit_once('@')?;
    let (_, tag) = local.rsplit_once('+')?;
    is_conversation_id(tag).then(|| tag.to_string())
}

/// The conversation in one of our Message-IDs: `conversation/<uuid>/messages/<id>@<domain>`.
pub fn conversation_in_message_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let rest = id.strip_prefix("conversation/")?;
    let (uuid, rest) = rest.split_once('/')?;
    let (message, domain) = rest.strip_prefix("messages/")?.rsplit_once('@')?;
    let ok = is_conversation_id(uuid) && !message.is_empty() && !domain.is_empty();
    ok.then(|| uuid.to_string())
}

/// A conversation id as Parley writes it: a UUID in lower-case hex with dashes.
pub fn is_conversation_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}
