//! Messages: direction, who sent them, delivery status (which only moves forward), bodies, and the
//! `@mentions` of internal notes.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// The longest message or note body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    Contact,
    Agent,
    Bot,
    Automation,
    System,
}

impl SenderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderKind::Contact => "contact",
            SenderKind::Agent => "agent",
            SenderKind::Bot => "bot",
            SenderKind::Automation => "automation",
            SenderKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "contact" => Some(SenderKind::Contact),
            "agent" => Some(SenderKind::Agent),
            "bot" => Some(SenderKind::Bot),
            "automation" => Some(SenderKind::Automation),
            "system" => Some(SenderKind::System),
            _ => None,
        }
    }
}

/// Where an outbound message is on its way to the customer. Inbound messages are `Received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Received,
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Received => "received",
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "received" => Some(DeliveryStatus::Received),
            "queued" => Some(DeliveryStatus::Queued),
            "sent" => Some(DeliveryStatus::Sent),
            "delivered" => Some(DeliveryStatus::Delivered),
            "read" => Some(DeliveryStatus::Read),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }

    fn rank(self) -> u8 {
        match self {
            DeliveryStatus::Received => 0,
            DeliveryStatus::Queued => 1,
            DeliveryStatus::Sent => 2,
            DeliveryStatus::Delivered => 3,
            DeliveryStatus::Read => 4,
            // A failure is final unless the provider later proves delivery.
            DeliveryStatus::Failed => 3,
        }
    }

    /// Whether a report of `next` may replace `self`: status only moves forward, so a late "sent"
    /// never overwrites "delivered".
    pub fn may_advance_to(self, next: DeliveryStatus) -> bool {
        next.rank() > self.rank()
    }
}

/// A message or note body: 1 to `MAX_BODY_CHARS` characters, not only whitespace.
pub fn parse_body(field: &'static str, s: &str) -> Result<String, Invalid> {
    if s.trim().is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if s.chars().count() > MAX_BODY_CHARS {
        return Err(Invalid::new(
            field,
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    // NUL is never text a person wrote, and PostgreSQL cannot store it.
    if s.contains('\0') {
        return Err(Invalid::new(field, "must not contain NUL characters"));
    }
    Ok(s.to_string())
}

/// The `@handle` tokens of a note, lower-cased and without duplicates, in order of appearance.
/// A handle is letters, digits, `.`, `_` or `-` after an `@` that starts a word.
pub fn mention_handles(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '@');
        if chars[i] == '@' && starts_word {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || matches!(chars[j], '.' | '_' | '-'))
            {
                j += 1;
            }
            let handle: String = chars[i + 1..j].iter().collect::<String>();
            let handle = handle.trim_end_matches(['.', '-', '_']).to_lowercase();
            if !handle.is_empty() && !out.contains(&handle) {
                out.push(handle);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_status_only_moves_forward() {
        use DeliveryStatus::*;
        assert!(Queued.may_advance_to(Sent));
        assert!(Sent.may_advance_to(Delivered));
        assert!(Delivered.may_advance_to(Read));
        assert!(!Delivered.may_advance_to(Sent));
        assert!(!Read.may_advance_to(Delivered));
        assert!(Sent.may_advance_to(Failed));
        assert!(!Failed.may_advance_to(Sent));
        assert!(Failed.may_advance_to(Read));
    }

    #[test]
    fn finds_mentions() {
        assert_eq!(
            mention_handles("@ann can you and @Bob.Smith, check? mail x@y.com @ann"),
            vec!["ann", "bob.smith"]
        );
        assert!(mention_handles("no mentions here").is_empty());
    }

    #[test]
    fn bodies_must_have_content() {
        assert!(parse_body("body", "  \n").is_err());
        assert!(parse_body("body", "a\0b").is_err());
        assert!(parse_body("body", &"x".repeat(MAX_BODY_CHARS + 1)).is_err());
        assert_eq!(parse_body("body", "hi"), Ok("hi".into()));
    }
}
