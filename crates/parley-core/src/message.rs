//! Messages: direction, who sent them, delivery status (which only moves forward), bodies, and the
//! `@mentions` of internal notes.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// The longest message or note body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// A mention in a note as the agent wrote it (`@maya`, `@"Maya Chen"`) and the lower-cased key
/// it is resolved by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub written: String,
    pub key: String,
}

/// The mentions of a note, without duplicates, in order of appearance: `@` starting a word and
/// followed by letters, digits, `.`, `_` or `-` (`@maya`, `@maya-x`), or by a name in double
/// quotes (`@"Maya Chen"`).
pub fn mentions(body: &str) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '@');
        if chars[i] != '@' || !starts_word {
            i += 1;
            continue;
        }
        let quoted_end = (chars.get(i + 1) == Some(&'"'))
            .then(|| {
                chars[i + 2..]
                    .iter()
                    .take(MAX_QUOTED_NAME)
                    .take_while(|c| **c != '\n')
                    .position(|c| *c == '"')
            })
            .flatten();
        let (written, key, next) = if let Some(len) = quoted_end {
            let name: String = chars[i + 2..i + 2 + len].iter().collect();
            let key = name.split_whitespace().collect::<Vec<_>>().join(" ");
            (format!("@\"{key}\""), key.to_lowercase(), i + 3 + len)
        } else {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || matches!(chars[j], '.' | '_' | '-'))
            {
                j += 1;
            }
            let handle: String = chars[i + 1..j].iter().collect::<String>();
            let handle = handle.trim_end_matches(['.', '-', '_']).to_string();
            (format!("@{handle}"), handle.to_lowercase(), j)
        };
        if !key.is_empty() && !out.iter().any(|m| m.key == key) {
            out.push(Mention { written, key });
        }
        i = next.max(i + 1);
    }
    out
}

/// The longest name between quotes taken as a mention, in characters.
const MAX_QUOTED_NAME: usize = 100;

/// What a mention names among the workspace's people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<Id> {
    One(Id),
    /// Several people answer to it (two Mayas): nobody is notified.
    Ambiguous(Vec<Id>),
    Nobody,
}

/// Resolves a mention's key among `(id, display name, email)`: the email's local part or the
/// whole name (spaces, `.`, `_` and `-` aside) first, then the first name when only one person
/// has it.
pub fn resolve_mention<Id: Copy>(key: &str, people: &[(Id, &str, &str)]) -> Resolved<Id> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = squash(key);
    let exact: Vec<Id> = people
        .iter()
        .filter(|(_, name, email)| {
            email
                .rsplit_once('@')
                .is_some_and(|(local, _)| local.to_lowercase() == key)
                || (!wanted.is_empty() && squash(name) == wanted)
        })
        .map(|p| p.0)
        .collect();
    let found = if exact.is_empty() {
        people
            .iter()
            .filter(|(_, name, _)| {
                name.split_whitespace()
                    .next()
                    .is_some_and(|first| first.to_lowercase() == key)
            })
            .map(|p| p.0)
            .collect()
    } else {
        exact
    };
    match found.as_slice() {
        [] => Resolved::Nobody,
        [one] => Resolved::One(*one),
        _ => Resolved::Ambiguous(found),
    }
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
        let keys = |s: &str| mentions(s).into_iter().map(|m| m.key).collect::<Vec<_>>();
        assert_eq!(
            keys("@ann can you and @Bob.Smith, check? mail x@y.com @ann"),
            vec!["ann", "bob.smith"]
        );
        assert!(keys("no mentions here").is_empty());
        let found = mentions("ask @\"Maya  Chen\" and @Maya, not @\"unclosed");
        assert_eq!(found[0].written, "@\"Maya Chen\"");
        assert_eq!(found[0].key, "maya chen");
        assert_eq!(found[1].written, "@Maya");
        assert_eq!(found.len(), 2, "an unclosed quote mentions nobody");
        assert!(keys("@\"\" alone").is_empty());
    }

    #[test]
    fn mentions_resolve_by_email_full_name_or_a_first_name_only_one_has() {
        let people = [
            (1, "Maya Chen", "maya-x@acme.test"),
            (2, "Sam Ortiz", "sam@acme.test"),
            (3, "Sam Lee", "slee@acme.test"),
            (4, "Jo", "jo.b@acme.test"),
        ];
        assert_eq!(resolve_mention("maya-x", &people), Resolved::One(1));
        assert_eq!(resolve_mention("maya", &people), Resolved::One(1));
        assert_eq!(resolve_mention("maya chen", &people), Resolved::One(1));
        assert_eq!(resolve_mention("mayachen", &people), Resolved::One(1));
        // The email's local part wins over a shared first name.
        assert_eq!(resolve_mention("sam", &people), Resolved::One(2));
        assert_eq!(resolve_mention("sam lee", &people), Resolved::One(3));
        assert_eq!(resolve_mention("jo.b", &people), Resolved::One(4));
        assert_eq!(resolve_mention("nobody", &people), Resolved::Nobody);
        let twins = [(1, "Maya Chen", "a@x.test"), (2, "Maya Park", "b@x.test")];
        assert_eq!(
            resolve_mention("maya", &twins),
            Resolved::Ambiguous(vec![1, 2])
        );
    }

    #[test]
    fn bodies_must_have_content() {
        assert!(parse_body("body", "  \n").is_err());
        assert!(parse_body("body", "a\0b").is_err());
        assert!(parse_body("body", &"x".repeat(MAX_BODY_CHARS + 1)).is_err());
        assert_eq!(parse_body("body", "hi"), Ok("hi".into()));
    }
}
