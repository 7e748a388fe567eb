//! An email inbox's accounts and replies: the relay and mailbox its settings name, an agent's
//! reply threaded under the customer's last mail, and "Test connection".

use std::time::Duration;

use parley_core::{ConversationId, MessageId};
use serde_json::Value;

use crate::channel::Outgoing;
use crate::net::{Client, Policy};
use crate::rich;
use crate::settings::EmailSettings;
use crate::SendOutcome;

use super::{
    build, message_id, reply_address, ImapAccount, Mailbox, OutboundEmail, SmtpRelay, SmtpSecurity,
};
use crate::settings::ImapSettings;

/// The relay an inbox sends through, as its settings say.
pub fn relay(s: &EmailSettings<'_>, policy: &Policy, timeout: Duration) -> SmtpRelay {
    let security = match s.smtp.security {
        "tls" => SmtpSecurity::Tls,
        "none" => SmtpSecurity::None,
        _ => SmtpSecurity::StartTls,
    };
    SmtpRelay {
        host: s.smtp.host.to_string(),
        port: s
            .smtp
            .port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(587),
        security,
        username: s.smtp.username.map(str::to_string),
        password: s.credentials.smtp_password.map(str::to_string),
        timeout,
        hello_name: None,
        policy: policy.clone(),
    }
}

/// The support address split into local part and domain.
pub fn address_parts<'a>(s: &EmailSettings<'a>) -> (&'a str, &'a str) {
    s.address.rsplit_once('@').unwrap_or(("reply", "localhost"))
}

/// The subject of a reply: `Re:` the parent's, or a line naming the sender.
fn subject(parent: Option<&Value>, from_name: &str) -> String {
    parent
        .and_then(|p| p["subject"].as_str())
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:")) {
                s.to_string()
            } else {
                format!("Re: {s}")
            }
        })
        .unwrap_or_else(|| format!("Your conversation with {from_name}"))
}

/// Sends a reply that threads under the customer's last mail (`out.lookups.parent_email`), with
/// the message's files attached: a link in a mail would outlive its signature.
pub async fn send_reply(http: &Client, s: &EmailSettings<'_>, out: Outgoing<'_>) -> SendOutcome {
    let (local, domain) = address_parts(s);
    let conv = out.message.conversation_id.to_string();
    let parent = out.lookups.parent_email.as_ref();
    let in_reply_to = parent
        .and_then(|p| p["message_id"].as_str())
        .map(str::to_string);
    let mut references: Vec<String> = parent
        .and_then(|p| p["references"].as_array())
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // References run oldest to newest: the parent's own, then the parent.
    if let Some(parent_id) = &in_reply_to {
        references.retain(|r| r != parent_id);
        references.push(parent_id.clone());
    }
    let message_id = message_id(out.message.conversation_id, out.message.id, domain);
    let mut text = out.reply.text.clone();
    if !out.reply.choices.is_empty() {
        text.push_str(&rich::numbered(&out.reply.choices));
    }
    let email = OutboundEmail {
        from: Mailbox {
            address: s.address.to_string(),
            name: Some(s.from_name.to_string()).filter(|n| !n.is_empty()),
        },
        reply_to: Some(reply_address(local, &conv, domain)),
        to: Mailbox {
            address: out.to.to_string(),
            name: None,
        },
        subject: subject(parent, s.from_name),
        text,
        message_id: message_id.clone(),
        in_reply_to,
        references,
        attachments: out.lookups.files,
    };
    let built = match build(&email) {
        Ok(m) => m,
        Err(e) => return SendOutcome::Permanent(format!("could not build the email: {e}")),
    };
    match super::send(&relay(s, http.policy(), out.timeout), built).await {
        SendOutcome::Accepted { .. } => SendOutcome::Accepted {
            provider_id: Some(message_id),
        },
        other => other,
    }
}

/// A widget reply sent by email to a visitor who has left: `chat` names the widget's inbox and
/// `text` is the reply. Not threaded: their answer comes back to this inbox, on the same contact.
pub async fn send_to_visitor(
    http: &Client,
    s: &EmailSettings<'_>,
    visitor: Visitor<'_>,
    timeout: Duration,
) -> SendOutcome {
    let (_, domain) = address_parts(s);
    let email = OutboundEmail {
        from: Mailbox {
            address: s.address.to_string(),
            name: Some(s.from_name.to_string()).filter(|n| !n.is_empty()),
        },
        reply_to: None,
        to: Mailbox {
            address: visitor.to.to_string(),
            name: None,
        },
        subject: format!("New reply to your chat with {}", visitor.chat),
        text: format!(
            "{}\n\n— You chatted with us on our website. Reply to this email to continue.",
            visitor.text
        ),
        message_id: message_id(visitor.conversation, visitor.message, domain),
        in_reply_to: None,
        references: Vec::new(),
        attachments: Vec::new(),
    };
    let built = match build(&email) {
        Ok(m) => m,
        Err(e) => return SendOutcome::Permanent(format!("could not build the email: {e}")),
    };
    super::send(&relay(s, http.policy(), timeout), built).await
}

/// A widget reply to continue by email.
pub struct Visitor<'a> {
    /// The visitor's address.
    pub to: &'a str,
    /// The widget inbox's name, as the visitor knows the chat.
    pub chat: &'a str,
    pub text: &'a str,
    pub conversation: ConversationId,
    pub message: MessageId,
}

/// The mailbox an inbox polls, as its settings say.
pub fn imap_account(
    s: &EmailSettings<'_>,
    imap: &ImapSettings<'_>,
    policy: &Policy,
) -> ImapAccount {
    let password = s.credentials.imap_password.unwrap_or_default();
    let mut acct = ImapAccount::new(imap.host, imap.username, password);
    acct.port = imap.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(993);
    acct.tls = imap.tls.unwrap_or(true);
    acct.mailbox = imap.mailbox.to_string();
    acct.policy = policy.clone();
    acct
}

/// Whether the relay takes a login and the mailbox (when there is one) opens. Sends and reads
/// nothing.
pub async fn check_inbox(http: &Client, s: &EmailSettings<'_>) -> Result<String, String> {
    let relay = relay(s, http.policy(), Duration::from_secs(10));
    super::check(&relay).await?;
    let mut said = format!(
        "the SMTP relay {}:{} accepted the connection",
        relay.host, relay.port
    );
    if let Some(imap) = &s.imap {
        let acct = imap_account(s, imap, http.policy());
        // Asking for mail after the highest possible UID logs in and opens the mailbox but
        // fetches nothing.
        let look = super::fetch_since(&acct, None, u32::MAX - 1, 1);
        match tokio::time::timeout(Duration::from_secs(15), look).await {
            Ok(Ok(_)) => said.push_str(&format!(" and the mailbox at {} opened", acct.host)),
            Ok(Err(e)) => return Err(format!("the IMAP mailbox at {} refused: {e}", acct.host)),
            Err(_) => {
                return Err(format!(
                    "the IMAP server {} did not answer in time",
                    acct.host
                ))
            }
        }
    }
    Ok(said)
}
