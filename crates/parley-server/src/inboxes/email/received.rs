//! Storing a received mail in its conversation, for the SMTP listener and the IMAP poller: the
//! thread it continues, its files, its text, and whether its sender's domain vouches for it.

use parley_channels::email::{self, InboundEmail};
use parley_core::contact::{Email, IdentityKind};
use parley_core::message::MAX_BODY_CHARS;
use parley_core::{ConversationId, Timestamp};
use parley_store::{InboundMessage, InboundOutcome, InboxRow};
use serde_json::json;

use crate::conversations::attachments::Attachment;
use crate::state::App;

/// Sanitised HTML kept with a message, at most (the text is always kept).
const MAX_HTML_BYTES: usize = 256 * 1024;

/// Why a received mail was not stored.
#[derive(Debug)]
pub enum Refused {
    /// Not a mail we can read (no From, say): retrying will not help.
    Malformed(String),
    /// An automatic reply or a bounce: never stored, so two autoresponders cannot loop.
    Automatic,
    /// The store failed: the sender should try again.
    Unavailable(String),
}

fn unavailable(e: impl std::fmt::Display) -> Refused {
    Refused::Unavailable(e.to_string())
}

/// Stores one received mail in its conversation: the one its reply address or Message-IDs name,
/// else the sender's conversation in this inbox.
pub async fn store(app: &App, inbox: &InboxRow, raw: &[u8]) -> Result<InboundOutcome, Refused> {
    let mail = email::parse(raw).map_err(|e| Refused::Malformed(e.to_string()))?;
    if mail.auto_submitted || mail.bounce {
        return Err(Refused::Automatic);
    }
    let sender = Email::parse(&mail.from.address)
        .map_err(|_| Refused::Malformed("the From address is not an email address".into()))?
        .into_string()
        .to_ascii_lowercase();
    let conversation = thread(app, inbox, &mail).await?;
    let files = files(app, inbox, &mail).await?;
    let mut msg = message(app, inbox, mail, sender, conversation, files);
    // The sender's domain says this mail is not theirs (DMARC, as the operator's own mail server
    // found): it is shown, marked, but acts on nothing (`inbound::ingest` reads the mark), so a
    // forged STOP unsubscribes nobody.
    let unverified = app
        .config
        .email_authserv_id
        .as_deref()
        .is_some_and(|id| email::dmarc_failed(raw, id));
    if unverified {
        if let Some(m) = msg.meta.as_mut() {
            m["unverified"] = json!(true);
            m["email"]["dmarc"] = json!("fail");
        }
    }
    with_choice(app, inbox, &mut msg).await;
    crate::inbound::ingest(app, inbox, msg)
        .await
        .map_err(unavailable)
}

/// The conversation a mail continues: the one its reply address names, else the one its
/// Message-IDs point into.
async fn thread(
    app: &App,
    inbox: &InboxRow,
    mail: &InboundEmail,
) -> Result<Option<ConversationId>, Refused> {
    let thread = email::thread_of(mail);
    let named = thread
        .conversation
        .and_then(|c| uuid::Uuid::parse_str(&c).ok())
        .map(ConversationId::from);
    if named.is_some() || thread.references.is_empty() {
        return Ok(named);
    }
    app.store
        .conversation_by_external_ids(inbox.id, &thread.references)
        .await
        .map_err(unavailable)
}

/// Stores the mail's attachments (those within the size limit); none for a mail already stored.
async fn files(
    app: &App,
    inbox: &InboxRow,
    mail: &InboundEmail,
) -> Result<Vec<Attachment>, Refused> {
    // A mail delivered again (an SMTP retry, an IMAP re-read) is stored once: skip its files.
    let known = match &mail.message_id {
        Some(id) => app
            .store
            .conversation_by_external_ids(inbox.id, std::slice::from_ref(id))
            .await
            .map_err(unavailable)?
            .is_some(),
        None => false,
    };
    let mut files = Vec::new();
    for a in mail.attachments.iter().filter(|_| !known) {
        if a.bytes.len() > crate::conversations::attachments::MAX_BYTES {
            continue;
        }
        let name = a.filename.as_deref();
        let stored = crate::conversations::attachments::store(
            app,
            inbox,
            name,
            &a.content_type,
            a.bytes.clone(),
        )
        .await;
        match stored {
            Ok(f) => files.push(f),
            Err(e) => return Err(Refused::Unavailable(format!("storing an attachment: {e}"))),
        }
    }
    Ok(files)
}

/// The message's text: the mail's (its subject when it has none), a line per attachment, cut to
/// the longest a message may be.
fn body_of(mail: &InboundEmail) -> String {
    let mut body = if mail.text.trim().is_empty() {
        mail.subject.clone().unwrap_or_default()
    } else {
        mail.text.clone()
    };
    for a in &mail.attachments {
        // The text names what arrived; the files themselves are in `meta.attachments`.
        body.push_str(&format!(
            "\n[attachment] {} ({}, {} bytes)",
            a.filename.as_deref().unwrap_or("unnamed"),
            a.content_type,
            a.bytes.len()
        ));
    }
    if body.trim().is_empty() {
        body = "(empty message)".into();
    }
    if body.chars().count() > MAX_BODY_CHARS {
        body = body.chars().take(MAX_BODY_CHARS - 1).collect::<String>() + "…";
    }
    body
}

/// The customer message a mail is, with its subject, ids, HTML and files in `meta`.
fn message(
    app: &App,
    inbox: &InboxRow,
    mail: InboundEmail,
    sender: String,
    conversation: Option<ConversationId>,
    files: Vec<Attachment>,
) -> InboundMessage {
    let body = body_of(&mail);
    let html = mail.html.filter(|h| h.len() <= MAX_HTML_BYTES);
    let meta = json!({
        "attachments": files,
        "email": {
            "subject": mail.subject,
            "message_id": mail.message_id,
            "references": mail.references,
            "html": html,
        }
    });
    let external_id = mail
        .message_id
        .filter(|id| id.len() <= 256 && !id.chars().any(char::is_control));
    let at = mail
        .date
        .map_or(app.now(), |d| Timestamp(d.min(app.now().0)));
    InboundMessage {
        meta: Some(meta),
        inbox_id: inbox.id,
        identity_kind: IdentityKind::Email,
        sender_external_id: sender.clone(),
        sender_name: mail
            .from
            .name
            .filter(|n| !n.trim().is_empty() && n.len() <= 200),
        sender_email: Some(sender),
        sender_phone: None,
        external_id,
        body,
        at,
        thread: conversation,
        keyword: None,
        survey: None,
    }
}

/// Marks the choice the mail answers, when it answers one offered in its conversation.
async fn with_choice(app: &App, inbox: &InboxRow, msg: &mut InboundMessage) {
    let choice = match msg.thread {
        Some(conv) => {
            crate::conversations::compose::answered_in(app, inbox, conv, &msg.body, None).await
        }
        None => {
            crate::conversations::compose::answered_choice(
                app,
                inbox,
                IdentityKind::Email,
                &msg.sender_external_id,
                &msg.body,
                None,
            )
            .await
        }
    };
    if let Some(choice) = choice {
        if let Some(m) = msg.meta.as_mut() {
            m["choice"] = choice["choice"].clone();
        }
    }
}
