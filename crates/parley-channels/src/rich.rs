//! Channel-neutral messages: what a customer sent, what a reply holds, what each channel can show,
//! and the fallback that turns a reply composed once into what a channel can carry (native
//! choices where supported, numbered text options, media links, split messages).

use serde::{Deserialize, Serialize};

/// A customer's message as any adapter parses it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Incoming {
    /// The provider's id for the person (E.164 phone, PSID, Telegram chat id, LINE user id).
    pub sender_id: String,
    pub sender_name: Option<String>,
    /// The sender's phone number in E.164, when the channel reveals it (SMS, WhatsApp).
    pub sender_phone: Option<String>,
    /// The provider's id for the message (deduplication key).
    pub message_id: String,
    /// The text as the timeline shows it (for media: the caption; for a choice: its title).
    pub text: String,
    pub media: Vec<Media>,
    /// The id of a button, list row or quick reply the customer tapped.
    pub choice: Option<String>,
    pub location: Option<Location>,
    /// When the provider says it was sent (milliseconds since the epoch).
    pub sent_at: Option<i64>,
    /// A short-lived token that lets a reply be sent for free (LINE's reply token).
    pub reply_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// `image`, `video`, `audio`, `document`, `sticker`, `file`.
    pub kind: String,
    /// A URL to fetch it from, or the provider's media id (WhatsApp, LINE), as the adapter says.
    pub reference: String,
    pub mime_type: Option<String>,
    pub caption: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A report on a message the business sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub provider_id: String,
    pub status: parley_core::message::DeliveryStatus,
    pub error: Option<String>,
}

/// "Everything this customer was sent up to this time has been read" (Messenger, Instagram).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadWatermark {
    pub sender_id: String,
    /// Milliseconds since the epoch.
    pub watermark: i64,
}

/// One thing a webhook delivery carries; a single delivery may carry several.
// Events live only from parsing to storing, so boxing the large variant would buy nothing.
#[expect(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Message(Incoming),
    Status(StatusReport),
    Read(ReadWatermark),
}

/// One option offered to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Comes back when the customer picks it (button id, payload, callback data).
    pub id: String,
    pub title: String,
}

/// An attachment of a reply, reachable by the provider at `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutMedia {
    pub url: String,
    pub mime_type: String,
    pub size: u64,
    pub name: Option<String>,
}

/// An approved template (WhatsApp) with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub language: String,
    /// Body parameters, in order.
    #[serde(default)]
    pub params: Vec<String>,
    /// For a template with named parameters (`{{first_name}}`), the name of each of `params`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

/// A reply as an agent composes it, once, for any channel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub media: Vec<OutMedia>,
    #[serde(default)]
    pub template: Option<Template>,
}

/// What a channel can show natively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Quick replies / reply buttons: how many at most (0: none).
    pub max_choices: usize,
    /// The longest choice title the channel shows.
    pub max_choice_title: usize,
    /// Rows of a list message (WhatsApp lists), 0 when there are none.
    pub max_list_rows: usize,
    pub max_text: usize,
    /// MIME type prefixes sent as native attachments; anything else goes as a link.
    pub media_types: &'static [&'static str],
    pub max_media_bytes: u64,
    pub read_receipts: bool,
    pub typing: bool,
    /// Hours after the customer's last message in which free-form replies may be sent.
    pub window_hours: Option<u32>,
    pub templates: bool,
}

/// One message to hand to an adapter after fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub text: String,
    /// Choices to render natively (only when the channel supports them).
    pub choices: Vec<Choice>,
    /// Render the choices as a list rather than buttons.
    pub as_list: bool,
    /// Attachments to send natively.
    pub media: Vec<OutMedia>,
}

/// Turns a reply into the messages a channel can carry: choices beyond what the channel shows
/// become numbered lines ("1. Yes"), unsupported or oversized media become links, and text longer
/// than the channel's limit is split at word boundaries.
pub fn degrade(reply: &Reply, caps: &Capabilities) -> Vec<Part> {
    let mut text = reply.text.clone();
    let mut media = Vec::new();
    for m in &reply.media {
        let native = m.size <= caps.max_media_bytes
            && caps.media_types.iter().any(|t| m.mime_type.starts_with(t));
        if native {
            media.push(m.clone());
        } else {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&m.url);
        }
    }
    let fits_buttons = !reply.choices.is_empty()
        && reply.choices.len() <= caps.max_choices
        && reply
            .choices
            .iter()
            .all(|c| c.title.chars().count() <= caps.max_choice_title);
    let fits_list = !fits_buttons
        && !reply.choices.is_empty()
        && reply.choices.len() <= caps.max_list_rows
        && reply.choices.iter().all(|c| c.title.chars().count() <= 24);
    let mut choices = Vec::new();
    if fits_buttons || fits_list {
        choices = reply.choices.clone();
    } else if !reply.choices.is_empty() {
        text.push_str(&numbered(&reply.choices));
    }
    let chunks = split_text(&text, caps.max_text.max(1));
    let last = chunks.len().saturating_sub(1);
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, t)| Part {
            text: t,
            // Choices and media ride on the last part, so they follow all of the text.
            choices: if i == last {
                choices.clone()
            } else {
                Vec::new()
            },
            as_list: i == last && fits_list,
            media: if i == last { media.clone() } else { Vec::new() },
        })
        .collect()
}

/// The numbered text form of choices, appended to a message.
pub fn numbered(choices: &[Choice]) -> String {
    let mut s = String::from("\n");
    for (i, c) in choices.iter().enumerate() {
        s.push_str(&format!("\n{}. {}", i + 1, c.title));
    }
    s.push_str("\n\nReply with a number.");
    s
}

/// Understands a customer's answer to numbered choices: "2", "2.", " #2 " or the title itself
/// (any case) picks that choice.
pub fn match_choice<'a>(answer: &str, choices: &'a [Choice]) -> Option<&'a Choice> {
    let a = answer
        .trim()
        .trim_start_matches('#')
        .trim_end_matches(['.', ')'])
        .trim();
    if let Ok(n) = a.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| choices.get(i));
    }
    choices.iter().find(|c| c.title.eq_ignore_ascii_case(a))
}

/// Splits text into chunks of at most `max` characters, at a line or word boundary where one is
/// near enough. Empty text gives one empty chunk (a message may be media alone).
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest: &str = text;
    while rest.chars().count() > max {
        let cut = rest
            .char_indices()
            .nth(max)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let head = &rest[..cut];
        // Prefer a newline, then a space, in the last fifth of the chunk.
        let floor = head.len() * 4 / 5;
        let at = head
            .rfind('\n')
            .filter(|i| *i >= floor)
            .or_else(|| head.rfind(' ').filter(|i| *i >= floor))
            .map(|i| i + 1)
            .unwrap_or(cut);
        out.push(rest[..at].trim_end().to_string());
        rest = &rest[at..];
    }
    out.push(rest.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_choices: usize, max_list_rows: usize, max_text: usize) -> Capabilities {
        Capabilities {
            max_choices,
            max_choice_title: 20,
            max_list_rows,
            max_text,
            media_types: &["image/"],
            max_media_bytes: 5_000_000,
            read_receipts: false,
            typing: false,
            window_hours: None,
            templates: false,
        }
    }

    fn choices(titles: &[&str]) -> Vec<Choice> {
        titles
            .iter()
            .enumerate()
            .map(|(i, t)| Choice {
                id: format!("c{i}"),
                title: (*t).into(),
            })
            .collect()
    }

    #[test]
    fn choices_go_native_as_buttons_then_list_then_numbered_text() {
        let reply = Reply {
            text: "Pick a size".into(),
            choices: choices(&["S", "M", "L", "XL"]),
            ..Reply::default()
        };
        let parts = degrade(&reply, &caps(13, 0, 1000));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].choices.len(), 4);
        assert!(!parts[0].as_list);
        let parts = degrade(&reply, &caps(3, 10, 1000));
        assert!(parts[0].as_list, "too many for buttons, fits a list");
        let parts = degrade(&reply, &caps(0, 0, 1000));
        assert!(parts[0].choices.is_empty());
        assert_eq!(
            parts[0].text,
            "Pick a size\n\n1. S\n2. M\n3. L\n4. XL\n\nReply with a number."
        );
    }

    #[test]
    fn media_the_channel_cannot_carry_becomes_a_link() {
        let reply = Reply {
            text: "Your invoice".into(),
            media: vec![
                OutMedia {
                    url: "https://x.test/a.png".into(),
                    mime_type: "image/png".into(),
                    size: 10,
                    name: None,
                },
                OutMedia {
                    url: "https://x.test/b.pdf".into(),
                    mime_type: "application/pdf".into(),
                    size: 10,
                    name: None,
                },
            ],
            ..Reply::default()
        };
        let parts = degrade(&reply, &caps(0, 0, 1000));
        assert_eq!(parts[0].media.len(), 1);
        assert_eq!(parts[0].text, "Your invoice\nhttps://x.test/b.pdf");
    }

    #[test]
    fn long_text_is_split_at_words_and_choices_ride_the_last_part() {
        let reply = Reply {
            text: "word ".repeat(50).trim_end().to_string(),
            choices: choices(&["Yes", "No"]),
            ..Reply::default()
        };
        let parts = degrade(&reply, &caps(3, 0, 100));
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.text.chars().count() <= 100));
        assert!(parts.iter().all(|p| !p.text.starts_with(' ')));
        assert!(parts[0].choices.is_empty() && parts[2].choices.len() == 2);
        let joined: Vec<&str> = parts
            .iter()
            .flat_map(|p| p.text.split_whitespace())
            .collect();
        assert_eq!(joined.len(), 50, "no word is lost or cut");
    }

    #[test]
    fn split_handles_multibyte_text_without_spaces() {
        let parts = split_text(&"é".repeat(250), 100);
        assert_eq!(
            parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
    }

    #[test]
    fn a_number_or_a_title_picks_a_choice() {
        let c = choices(&["Track my order", "Talk to a person"]);
        assert_eq!(match_choice("2", &c).map(|c| c.id.as_str()), Some("c1"));
        assert_eq!(match_choice(" #1. ", &c).map(|c| c.id.as_str()), Some("c0"));
        assert_eq!(
            match_choice("talk to a person", &c).map(|c| c.id.as_str()),
            Some("c1")
        );
        assert_eq!(match_choice("3", &c), None);
        assert_eq!(match_choice("0", &c), None);
        assert_eq!(match_choice("maybe", &c), None);
    }
}
