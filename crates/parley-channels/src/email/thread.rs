//! Which conversation a mail answers, after Chatwoot's scheme (channels reference, section 7.2):
//! replies go to `reply+<conversation>@domain`, and our (short) Message-IDs name the conversation,
//! so a reply finds its way back even when the customer's client rewrote the recipient.

use parley_core::{ConversationId, MessageId};

use super::InboundEmail;

/// Base-36 digits of a whole UUID (36^25 > 2^128).
const CONVERSATION_DIGITS: usize = 25;
/// Base-36 digits of a message's part: its id's last 31 bits (random in a UUIDv7), which tell
/// apart the messages of one conversation.
const MESSAGE_DIGITS: usize = 6;
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The Message-ID of an outbound message, without angle brackets:
/// `<conversation in base 36>.<message>@<domain>`, 32 characters before the `@`. Short enough
/// that `In-Reply-To: <…>` fits a 78-character line for domains up to 30 characters: mail
/// libraries that fold longer header lines (Python's `email`) would otherwise encode the id when
/// they copy it into a reply, and the reply would lose its thread.
pub fn message_id(conversation: ConversationId, message: MessageId, domain: &str) -> String {
    let message = message.0.as_u128() % 36u128.pow(MESSAGE_DIGITS as u32);
    format!(
        "{}.{}@{domain}",
        base36(conversation.0.as_u128(), CONVERSATION_DIGITS),
        base36(message, MESSAGE_DIGITS)
    )
}

fn base36(mut n: u128, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    out.into_iter().map(char::from).collect()
}

fn from_base36(s: &str) -> Option<u128> {
    s.bytes().try_fold(0u128, |n, b| {
        let d = DIGITS.iter().position(|&x| x == b)? as u128;
        n.checked_mul(36)?.checked_add(d)
    })
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

/// The conversation in one of our Message-IDs: the short form [`message_id`] writes, or the
/// long `conversation/<uuid>/messages/<id>@<domain>` of mail sent by earlier versions, whose
/// threads still join.
pub fn conversation_in_message_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    if let Some(conversation) = short_form(id) {
        return Some(conversation);
    }
    let rest = id.strip_prefix("conversation/")?;
    let (uuid, rest) = rest.split_once('/')?;
    let (message, domain) = rest.strip_prefix("messages/")?.rsplit_once('@')?;
    let ok = is_conversation_id(uuid) && !message.is_empty() && !domain.is_empty();
    ok.then(|| uuid.to_string())
}

/// The conversation of a Message-ID as [`message_id`] writes it, as a hyphenated UUID.
fn short_form(id: &str) -> Option<String> {
    let (local, domain) = id.rsplit_once('@')?;
    let (conversation, message) = local.split_once('.')?;
    let ok = conversation.len() == CONVERSATION_DIGITS
        && message.len() == MESSAGE_DIGITS
        && from_base36(message).is_some()
        && !domain.is_empty();
    let hex = format!("{:032x}", from_base36(conversation).filter(|_| ok)?);
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// A conversation id as Parley writes it: a UUID in lower-case hex with dashes.
pub fn is_conversation_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}
