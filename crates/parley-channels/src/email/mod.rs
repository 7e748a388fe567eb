//! Email as a channel (channels reference, section 7): parse inbound mail with its quoted history
//! trimmed and its HTML made safe to show, thread replies back to a conversation, build and send
//! replies over SMTP, receive mail on an SMTP listener (plaintext: see [`serve_smtp`]), and poll
//! an IMAP mailbox.

mod auth_results;
#[cfg(any(test, feature = "testing"))]
pub mod fake_imap;
mod imap;
mod outbound;
mod reply;
mod smtp_server;
mod text;
mod thread;

use std::borrow::Cow;
use std::collections::HashSet;

use mail_parser::{Address, HeaderValue, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::InboundError;

pub use auth_results::dmarc_failed;
pub use imap::{fetch_since, ImapAccount, ImapBatch};
pub use outbound::{build, check, send, OutboundEmail, OutboundFile, SmtpRelay, SmtpSecurity};
pub use reply::{
    address_parts, check_inbox, imap_account, relay, send_reply, send_to_visitor, Visitor,
};
pub use smtp_server::{serve_smtp, DeliveryError, ReceivedMail, SmtpHandler, SmtpServerConfig};
pub use text::{html_to_text, trim_quoted};
pub use thread::{
    conversation_in_address, conversation_in_message_id, is_conversation_id, message_id,
    reply_address, thread_of, Thread,
};

/// An address with its display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

/// A file that came with a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: Option<String>,
    /// Lower-cased `type/subtype`.
    pub content_type: String,
    /// Without brackets: what the HTML refers to as `cid:…` for an inline image.
    pub content_id: Option<String>,
    /// Shown within the body (an embedded image) rather than offered as a file.
    pub inline: bool,
    pub bytes: Vec<u8>,
}

/// A received mail, as the server stores it. Ids are without angle brackets and addresses are
/// lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    pub message_id: Option<String>,
    pub from: Mailbox,
    /// Where the sender wants answers to go, when it is not `from`.
    pub reply_to: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// `Delivered-To` and `X-Original-To`: the mailbox a forwarding rule delivered to, which is
    /// the only trace of a reply address when the customer's client dropped it from `To`.
    pub delivered_to: Vec<String>,
    pub subject: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Milliseconds since the epoch, from the `Date` header.
    pub date: Option<i64>,
    /// The new text of the mail, quoted history and signature trimmed.
    pub text: String,
    /// The whole plain text, untrimmed.
    pub full_text: String,
    /// The HTML body, sanitised for display: no scripts, style sheets, event handlers, frames,
    /// forms, `javascript:` links or remote images.
    pub html: Option<String>,
    /// Sent by a machine (auto-reply, list, bounce, no-reply sender): never answer it
    /// automatically, or two robots mail each other forever.
    pub auto_submitted: bool,
    /// A delivery failure report (a bounce); implies `auto_submitted`.
    pub bounce: bool,
    pub attachments: Vec<Attachment>,
}

/// Parses a raw RFC 5322 message.
pub fn parse(raw: &[u8]) -> Result<InboundEmail, InboundError> {
    let malformed = |m: &str| InboundError::Malformed(m.to_string());
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| malformed("not an email message"))?;
    if msg.headers().is_empty() {
        return Err(malformed("not an email message"));
    }
    let from = msg
        .from()
        .and_then(|a| {
            a.iter().find_map(|m| {
                let address = normalise_address(m.address()?)?;
                Some(Mailbox {
                    address,
                    name: m
                        .name()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(Into::into),
                })
            })
        })
        .ok_or_else(|| malformed("no usable From address"))?;

    let full_text = body_text(&msg);
    let text = trim_quoted(&full_text);
    let html = {
        let parts: Vec<&str> = msg
            .html_bodies()
            .filter_map(|p| match &p.body {
                PartType::Html(h) => Some(h.as_ref()),
                _ => None,
            })
            .collect();
        (!parts.is_empty()).then(|| sanitize_html(&parts.join("\n")))
    };

    let header_texts = |name: &str| -> Vec<String> {
        msg.header_values(name)
            .filter_map(HeaderValue::as_text)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let mut delivered_to = Vec::new();
    for v in header_texts("Delivered-To")
        .into_iter()
        .chain(header_texts("X-Original-To"))
    {
        let v = v.trim_start_matches('<').trim_end_matches('>');
        if let Some(a) = normalise_address(v) {
            if !delivered_to.contains(&a) {
                delivered_to.push(a);
            }
        }
    }

    let bounce = is_bounce(&msg, &from.address);
    let auto_submitted = bounce || is_automatic(&header_texts, &from.address);

    Ok(InboundEmail {
        message_id: msg
            .message_id()
            .map(strip_brackets)
            .filter(|s| !s.is_empty()),
        reply_to: msg
            .reply_to()
            .and_then(|a| addresses(Some(a)).into_iter().next())
            .filter(|r| *r != from.address),
        from,
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        delivered_to,
        subject: msg
            .subject()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Into::into),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        date: msg
            .date()
            .filter(|d| d.is_valid())
            .and_then(|d| d.to_timestamp().checked_mul(1000)),
        text,
        full_text,
        html,
        auto_submitted,
        bounce,
        attachments: msg.attachments().map(attachment).collect(),
    })
}

/// The plain text of every text body part (Apple Mail splits the text around an inline image),
/// HTML rendered to text where a mail has no plain part.
fn body_text(msg: &mail_parser::Message<'_>) -> String {
    let mut out: Vec<String> = Vec::new();
    for part in msg.text_bodies() {
        let text = match &part.body {
            PartType::Text(t) => {
                let ct = part.content_type();
                let attr = |n: &str| ct.and_then(|c| c.attribute(n));
                if attr("format").is_some_and(|f| f.eq_ignore_ascii_case("flowed")) {
                    text::unflow(
                        t,
                        attr("delsp").is_some_and(|d| d.eq_ignore_ascii_case("yes")),
                    )
                } else {
                    t.replace("\r\n", "\n")
                }
            }
            PartType::Html(h) => html_to_text(h),
            _ => continue,
        };
        out.push(text.trim_end().to_string());
    }
    out.join("\n").trim().to_string()
}

fn attachment(part: &MessagePart<'_>) -> Attachment {
    let content_type = part
        .content_type()
        .map(|c| match c.subtype() {
            Some(sub) => format!("{}/{}", c.ctype(), sub),
            None => c.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
        .to_ascii_lowercase();
    let disposition_inline = part.content_disposition().is_some_and(|d| d.is_inline());
    Attachment {
        filename: part.attachment_name().map(Into::into),
        content_type,
        content_id: part
            .content_id()
            .map(strip_brackets)
            .filter(|s| !s.is_empty()),
        inline: matches!(part.body, PartType::InlineBinary(_)) || disposition_inline,
        bytes: part.contents().to_vec(),
    }
}

/// Auto-replies and machine mail, by the headers RFC 3834 and the big senders use.
fn is_automatic(header: &dyn Fn(&str) -> Vec<String>, from: &str) -> bool {
    let first_word = |v: &str| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    header("Auto-Submitted")
        .iter()
        .any(|v| first_word(v) != "no")
        || header("Precedence").iter().any(|v| {
            matches!(
                first_word(v).as_str(),
                "bulk" | "junk" | "list" | "auto_reply"
            )
        })
        || !header("X-Autoreply").is_empty()
        || !header("X-Autorespond").is_empty()
        || matches!(
            local_part(from).as_str(),
            "noreply" | "no-reply" | "no_reply" | "donotreply" | "do-not-reply" | "do_not_reply"
        )
}

/// A delivery status notification (RFC 3464) or a mail from a mailer daemon.
fn is_bounce(msg: &mail_parser::Message<'_>, from: &str) -> bool {
    let report = msg.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && c.attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    report || matches!(local_part(from).as_str(), "mailer-daemon" | "postmaster")
}

/// The local part without any `+tag`, lower-cased.
fn local_part(address: &str) -> String {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    local
        .split('+')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Lower-cased, and only when it looks like `local@domain`.
fn normalise_address(a: &str) -> Option<String> {
    let a = a.trim();
    let (local, domain) = a.rsplit_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    ok.then(|| a.to_lowercase())
}

fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for addr in a.into_iter().flat_map(|a| a.iter()) {
        if let Some(x) = addr.address().and_then(normalise_address) {
            if !out.contains(&x) {
                out.push(x);
            }
        }
    }
    out
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let mut seen = HashSet::new();
    v.as_text_list()
        .unwrap_or_default()
        .iter()
        .map(|s| strip_brackets(s))
        .filter(|s| !s.is_empty() && seen.insert(s.clone()))
        .collect()
}

fn strip_brackets(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// CSS properties kept in `style` attributes: enough for a mail to look like itself, none that
/// can load a URL (`background`, `list-style-image`) or lay content over the app (`position`).
const SAFE_CSS: &str = "color background-color font font-family font-size font-style font-weight \
    text-align text-decoration text-indent line-height vertical-align white-space width max-width \
    height margin margin-top margin-bottom margin-left margin-right padding padding-top \
    padding-bottom padding-left padding-right border border-top border-bottom border-left \
    border-right border-collapse border-color border-style border-width border-radius";

/// HTML that is safe to show in the agent's browser. Remote images are dropped because they
/// tell the sender when (and from where) the mail was read; `cid:` images are kept for the server
/// to point at the stored attachment.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default()
        .add_clean_content_tags(["title"])
        .add_url_schemes(["cid"])
        .url_relative(ammonia::UrlRelative::Deny)
        .add_generic_attributes(["style"])
        .filter_style_properties(SAFE_CSS.split_whitespace().collect())
        .attribute_filter(|element, attribute, value| {
            let remote = !value.trim_start().to_ascii_lowercase().starts_with("cid:");
            match (element, attribute) {
                ("img", "src") if remote => None,
                _ => Some(Cow::Borrowed(value)),
            }
        })
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod imap_tests;
#[cfg(test)]
mod smtp_tests;
#[cfg(test)]
mod tests;
