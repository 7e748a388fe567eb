//! Email inboxes as the server sees them: their settings (the support address, the outgoing SMTP
//! relay, an optional IMAP mailbox), storing a received mail in the right conversation (SMTP
//! listener and IMAP poller share this), and what a reply by email needs from the store.

use std::sync::Arc;
use std::time::Duration;

use parley_channels::channel::Lookups;
use parley_channels::email::{self, DeliveryError, ReceivedMail, SmtpHandler};
use parley_channels::settings::{EmailSettings, ImapSettings, Settings};
use parley_channels::{Channel, ChannelKind, SendOutcome};
use parley_core::contact::{Email, IdentityKind};
use parley_core::message::{Direction, MAX_BODY_CHARS};
use parley_core::{ConversationId, Timestamp};
use parley_store::{InboundMessage, InboundOutcome, InboxPatch, InboxRow, OutboxJob, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::state::App;

/// The inbox kind of a mailbox.
pub const KIND: &str = ChannelKind::Email.as_str();

/// Sanitised HTML kept with a message, at most (the text is always kept).
const MAX_HTML_BYTES: usize = 256 * 1024;

/// The outgoing relay, as an admin gives it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpFields {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    #[schemars(extend("enum" = ["starttls", "tls", "none", null]))]
    security: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// An existing mailbox to poll, as an admin gives it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImapFields {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    /// TLS from the start (default true; port 993).
    #[serde(default)]
    tls: Option<bool>,
    username: String,
    /// Required when adding; an edit that leaves it out keeps the stored one.
    #[serde(default)]
    password: String,
    #[serde(default)]
    mailbox: Option<String>,
}

/// The relay and mailbox an edit of the inbox leaves: those it gives, with the stored passwords
/// where it leaves them out, else the stored ones. A stored password is never kept for another
/// host: it would go to whoever the edit names.
pub fn edited(
    inbox: &InboxRow,
    smtp: Option<SmtpFields>,
    imap: Option<ImapFields>,
) -> Result<(Option<SmtpFields>, Option<ImapFields>), ApiError> {
    let stored = &inbox.settings;
    let password = |key: &str| stored["credentials"][key].as_str().map(str::to_string);
    let same_host = |part: &str, host: &str| {
        stored[part]["host"]
            .as_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(host.trim()))
    };
    let again = |field: &'static str| {
        ApiError::invalid(field, "the password must be given again for a new host")
    };
    let smtp = match smtp {
        Some(mut s) => {
            if s.password.is_none() {
                s.password = password("smtp_password");
                if s.password.is_some() && !same_host("smtp", &s.host) {
                    return Err(again("smtp"));
                }
            }
            Some(s)
        }
        None => stored.get("smtp").map(|s| SmtpFields {
            host: s["host"].as_str().unwrap_or_default().into(),
            port: s["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
            security: s["security"].as_str().map(Into::into),
            username: s["username"].as_str().map(Into::into),
            password: password("smtp_password"),
        }),
    };
    let imap = match imap {
        Some(mut i) => {
            if i.password.is_empty() {
                if !same_host("imap", &i.host) {
                    return Err(again("imap"));
                }
                i.password = password("imap_password").unwrap_or_default();
            }
            Some(i)
        }
        None => stored.get("imap").map(|i| ImapFields {
            host: i["host"].as_str().unwrap_or_default().into(),
            port: i["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
            tls: i["tls"].as_bool(),
            username: i["username"].as_str().unwrap_or_default().into(),
            password: password("imap_password").unwrap_or_default(),
            mailbox: i["mailbox"].as_str().map(Into::into),
        }),
    };
    Ok((smtp, imap))
}

fn host(field: &'static str, h: &str) -> Result<String, ApiError> {
    let h = h.trim();
    if h.is_empty() || h.len() > 253 || h.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(ApiError::invalid(
            field,
            "must be a host name or IP address",
        ));
    }
    Ok(h.to_string())
}

/// Settings and secret of a new email inbox.
pub fn settings(
    name: &str,
    address: Option<&str>,
    from_name: Option<&str>,
    smtp: Option<&SmtpFields>,
    imap: Option<&ImapFields>,
) -> Result<(Value, String), ApiError> {
    let address = Email::parse(address.unwrap_or_default())
        .map_err(|_| {
            ApiError::invalid(
                "address",
                "must be the support address, like help@shop.example",
            )
        })?
        .into_string()
        .to_ascii_lowercase();
    if address.split('@').next().is_some_and(|l| l.contains('+')) {
        return Err(ApiError::invalid(
            "address",
            "must not contain '+': Parley adds +<conversation> to it for replies",
        ));
    }
    let smtp = smtp.ok_or_else(|| {
        ApiError::invalid("smtp", "is required: the relay replies go out through")
    })?;
    let security = match smtp.security.as_deref().unwrap_or("starttls") {
        s @ ("starttls" | "tls" | "none") => s,
        _ => {
            return Err(ApiError::invalid(
                "smtp",
                "security must be starttls, tls or none",
            ))
        }
    };
    let default_port = match security {
        "tls" => 465,
        "none" => 25,
        _ => 587,
    };
    let mut settings = json!({
        "address": address,
        "from_name": from_name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(name),
        "smtp": {
            "host": host("smtp", &smtp.host)?,
            "port": smtp.port.unwrap_or(default_port),
            "security": security,
            "username": smtp.username,
        },
        "credentials": { "smtp_password": smtp.password },
    });
    if let Some(i) = imap {
        let tls = i.tls.unwrap_or(true);
        if i.username.trim().is_empty() || i.password.is_empty() {
            return Err(ApiError::invalid(
                "imap",
                "username and password are required",
            ));
        }
        settings["imap"] = json!({
            "host": host("imap", &i.host)?,
            "port": i.port.unwrap_or(if tls { 993 } else { 143 }),
            "tls": tls,
            "username": i.username.trim(),
            "mailbox": i.mailbox.as_deref().map(str::trim).filter(|m| !m.is_empty()).unwrap_or("INBOX"),
        });
        settings["credentials"]["imap_password"] = json!(i.password);
    }
    Ok((settings, crate::account::auth::random_token()))
}

fn setting<'a>(inbox: &'a InboxRow, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(&inbox.settings, |v, k| v.get(k))
}

fn text_setting<'a>(inbox: &'a InboxRow, path: &[&str]) -> &'a str {
    setting(inbox, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn system_scope(inbox: &InboxRow) -> Scope {
    Scope::system(inbox.workspace_id, parley_core::UserId(uuid::Uuid::nil()))
}

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

/// Stores one received mail in its conversation: the one its reply address or Message-IDs name,
/// else the sender's conversation in this inbox.
pub async fn receive(app: &App, inbox: &InboxRow, raw: &[u8]) -> Result<InboundOutcome, Refused> {
    let mail = email::parse(raw).map_err(|e| Refused::Malformed(e.to_string()))?;
    if mail.auto_submitted || mail.bounce {
        return Err(Refused::Automatic);
    }
    let sender = Email::parse(&mail.from.address)
        .map_err(|_| Refused::Malformed("the From address is not an email address".into()))?
        .into_string();
    let thread = email::thread_of(&mail);
    let references = mail.references.clone();
    let mut conversation = thread
        .conversation
        .and_then(|c| uuid::Uuid::parse_str(&c).ok())
        .map(ConversationId::from);
    if conversation.is_none() && !thread.references.is_empty() {
        conversation = app
            .store
            .conversation_by_external_ids(inbox.id, &thread.references)
            .await
            .map_err(|e| Refused::Unavailable(e.to_string()))?;
    }
    let mut files = Vec::new();
    // A mail delivered again (an SMTP retry, an IMAP re-read) is stored once: skip its files.
    let known = match &mail.message_id {
        Some(id) => app
            .store
            .conversation_by_external_ids(inbox.id, std::slice::from_ref(id))
            .await
            .map_err(|e| Refused::Unavailable(e.to_string()))?
            .is_some(),
        None => false,
    };
    for a in mail.attachments.iter().filter(|_| !known) {
        if a.bytes.len() > crate::conversations::attachments::MAX_BYTES {
            continue;
        }
        match crate::conversations::attachments::store(
            app,
            inbox,
            a.filename.as_deref(),
            &a.content_type,
            a.bytes.clone(),
        )
        .await
        {
            Ok(f) => files.push(f),
            Err(e) => return Err(Refused::Unavailable(format!("storing an attachment: {e}"))),
        }
    }
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
    let html = mail.html.filter(|h| h.len() <= MAX_HTML_BYTES);
    let meta = json!({
        "attachments": files,
        "email": {
            "subject": mail.subject,
            "message_id": mail.message_id,
            "references": references,
            "html": html,
        }
    });
    let external_id = mail
        .message_id
        .clone()
        .filter(|id| id.len() <= 256 && !id.chars().any(char::is_control));
    let at = mail
        .date
        .map_or(app.now(), |d| Timestamp(d.min(app.now().0)));
    let msg = InboundMessage {
        meta: Some(meta),
        inbox_id: inbox.id,
        identity_kind: IdentityKind::Email,
        sender_external_id: sender.to_ascii_lowercase(),
        sender_name: mail
            .from
            .name
            .filter(|n| !n.trim().is_empty() && n.len() <= 200),
        sender_email: Some(sender.to_ascii_lowercase()),
        sender_phone: None,
        external_id,
        body,
        at,
        thread: conversation,
        keyword: None,
    };
    let mut msg = msg;
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
    crate::inbound::ingest(app, inbox, msg)
        .await
        .map_err(|e| Refused::Unavailable(e.to_string()))
}

/// The newest customer email in a conversation, whose subject and ids a reply carries.
async fn last_inbound_email(app: &App, job: &OutboxJob) -> Option<Value> {
    let scope = system_scope(&job.inbox);
    let entries = app
        .store
        .timeline(&scope, job.message.conversation_id, None, 200)
        .await
        .ok()?;
    entries.iter().rev().find_map(|e| {
        if e.event.kind != "message.created" {
            return None;
        }
        let v: Value = serde_json::from_str(&e.event.data).ok()?;
        let m = &v["message"];
        (m["direction"] == Direction::Inbound.as_str() && m["meta"]["email"].is_object())
            .then(|| m["meta"]["email"].clone())
    })
}

/// The typed view of an email inbox's settings (defaults where they cannot be read).
fn settings_of(inbox: &InboxRow) -> EmailSettings<'_> {
    EmailSettings::deserialize(&inbox.settings).unwrap_or_default()
}

/// What a reply by email needs from the store: the customer's last mail, to thread under, and
/// the message's files, to attach (a link in a mail would outlive its signature).
pub async fn reply_lookups(
    app: &App,
    job: &OutboxJob,
    lookups: &mut Lookups,
) -> Result<(), SendOutcome> {
    lookups.parent_email = last_inbound_email(app, job).await;
    for a in crate::conversations::attachments::of_meta(job.message.meta.as_ref()) {
        match crate::conversations::attachments::bytes_of(app, &job.inbox, &a.id).await {
            Ok(bytes) => lookups.files.push(email::OutboundFile {
                filename: a.filename.unwrap_or_else(|| "attachment".into()),
                content_type: a.content_type,
                bytes,
            }),
            Err(e) => {
                return Err(SendOutcome::Transient(format!(
                    "reading an attachment: {e}"
                )))
            }
        }
    }
    Ok(())
}

/// Sends a widget reply by email to a visitor who has left, from the workspace's first email
/// inbox; their answer comes back to that inbox, on the same contact.
pub async fn send_to_visitor(app: &App, job: &OutboxJob, to: &str) -> SendOutcome {
    let inboxes = match app.store.inboxes_of_kind(KIND).await {
        Ok(i) => i,
        Err(e) => return SendOutcome::Transient(e.to_string()),
    };
    let Some(inbox) = inboxes
        .into_iter()
        .find(|i| i.workspace_id == job.inbox.workspace_id)
    else {
        return SendOutcome::Permanent("no email inbox to continue the chat by email".into());
    };
    let channel = Channel {
        settings: Settings::Email(settings_of(&inbox)),
        secret: &inbox.secret,
    };
    let text = crate::conversations::compose::plain_text(job);
    let visitor = email::Visitor {
        to,
        chat: &job.inbox.name,
        text: &text,
        conversation: job.message.conversation_id,
        message: job.message.id,
    };
    let timeout = Duration::from_millis(app.config.dispatch.timeout_ms);
    channel.send_to_visitor(&app.http, visitor, timeout).await
}

/// The email inboxes that take mail for `recipient`: their address, or it with `+<anything>`.
async fn inboxes_for(app: &App, recipient: &str) -> Result<Vec<InboxRow>, DeliveryError> {
    let Some((local, domain)) = recipient
        .to_ascii_lowercase()
        .rsplit_once('@')
        .map(|(l, d)| (l.to_string(), d.to_string()))
    else {
        return Ok(Vec::new());
    };
    let base = local.split('+').next().unwrap_or_default().to_string();
    let want = format!("{base}@{domain}");
    let all = app
        .store
        .inboxes_of_kind(KIND)
        .await
        .map_err(|e| DeliveryError::Temporary(format!("mailbox lookup failed: {e}")))?;
    Ok(all
        .into_iter()
        .filter(|i| text_setting(i, &["address"]) == want)
        .collect())
}

/// The SMTP listener's view of Parley: recipients are email inboxes' addresses.
struct Listener {
    app: App,
}

#[async_trait::async_trait]
impl SmtpHandler for Listener {
    async fn accept_recipient(&self, recipient: &str) -> Result<bool, DeliveryError> {
        Ok(!inboxes_for(&self.app, recipient).await?.is_empty())
    }

    async fn deliver(&self, mail: ReceivedMail) -> Result<(), DeliveryError> {
        let mut seen = Vec::new();
        for r in &mail.recipients {
            for inbox in inboxes_for(&self.app, r).await? {
                if seen.contains(&inbox.id) {
                    continue;
                }
                seen.push(inbox.id);
                match receive(&self.app, &inbox, &mail.data).await {
                    Ok(_) => {}
                    Err(Refused::Automatic) => {
                        tracing::info!(inbox = %inbox.id, "dropped an automatic reply or bounce");
                    }
                    Err(Refused::Malformed(e)) => return Err(DeliveryError::Permanent(e)),
                    Err(Refused::Unavailable(e)) => return Err(DeliveryError::Temporary(e)),
                }
            }
        }
        Ok(())
    }
}

/// Serves SMTP for the email inboxes on `listener` until the task is dropped.
pub async fn serve_smtp(app: App, listener: tokio::net::TcpListener) {
    let cfg = email::SmtpServerConfig {
        hostname: reqwest::Url::parse(&app.config.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into()),
        session_timeout: std::time::Duration::from_secs(app.config.smtp_limits.session_secs),
        max_per_address: app.config.smtp_limits.connections_per_address,
        buffer_bytes: app.config.smtp_limits.buffer_bytes,
        ..Default::default()
    };
    email::serve_smtp(listener, cfg, Arc::new(Listener { app })).await;
}

/// Polls the IMAP mailbox of every email inbox that has one once; returns how many mails were
/// stored. A mailbox that fails is logged and tried again next time; the others go on.
pub async fn poll_imap(app: &App) -> anyhow::Result<usize> {
    let mut stored = 0;
    for inbox in app.store.inboxes_of_kind(KIND).await? {
        let Some(imap) = inbox.settings.get("imap").filter(|v| v.is_object()) else {
            continue;
        };
        // A backlog (a mailbox connected for the first time) is read in batches, a few per poll.
        for _ in 0..IMAP_BATCHES_PER_POLL {
            // Each batch starts from the state the previous one saved.
            let Some(current) = app.store.inbox_for_hook(inbox.id).await? else {
                break;
            };
            match poll_one(app, &current, imap).await {
                Ok((n, fetched)) => {
                    stored += n;
                    if fetched < IMAP_BATCH {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(inbox = %inbox.id, error = %e, "polling the IMAP mailbox failed");
                    break;
                }
            }
        }
    }
    Ok(stored)
}

/// Mails fetched at once, and batches read in one poll.
const IMAP_BATCH: usize = 25;
const IMAP_BATCHES_PER_POLL: usize = 40;

/// Reads one batch; returns how many mails were stored and how many were fetched.
fn imap_account(app: &App, inbox: &InboxRow, imap: &Value) -> email::ImapAccount {
    let imap = ImapSettings::deserialize(imap).unwrap_or_default();
    email::imap_account(&settings_of(inbox), &imap, app.http.policy())
}

async fn poll_one(app: &App, inbox: &InboxRow, imap: &Value) -> anyhow::Result<(usize, usize)> {
    let acct = imap_account(app, inbox, imap);
    let state = inbox.settings.get("imap_state");
    let validity = state
        .and_then(|v| v.get("uid_validity"))
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok());
    let last_uid = state
        .and_then(|v| v.get("last_uid"))
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0);
    let batch = email::fetch_since(&acct, validity, last_uid, IMAP_BATCH)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut last = if Some(batch.uid_validity) == validity {
        last_uid
    } else {
        0
    };
    let mut stored = 0;
    for (uid, raw) in &batch.messages {
        match receive(app, inbox, raw).await {
            Ok(_) => stored += 1,
            Err(Refused::Automatic) => {}
            Err(Refused::Malformed(e)) => {
                tracing::warn!(inbox = %inbox.id, uid, error = %e, "skipped an unreadable mail");
            }
            // Stop here so this mail is fetched again next time; nothing after it is skipped.
            Err(Refused::Unavailable(e)) => {
                save_state(app, inbox, batch.uid_validity, last).await?;
                anyhow::bail!("storing mail {uid} failed: {e}");
            }
        }
        last = last.max(*uid);
    }
    save_state(app, inbox, batch.uid_validity, last).await?;
    Ok((stored, batch.messages.len()))
}

async fn save_state(
    app: &App,
    inbox: &InboxRow,
    validity: u32,
    last_uid: u32,
) -> anyhow::Result<()> {
    // Read the inbox afresh so a change an admin made meanwhile is kept.
    let Some(current) = app.store.inbox_for_hook(inbox.id).await? else {
        return Ok(());
    };
    let mut settings = current.settings.clone();
    let state = json!({ "uid_validity": validity, "last_uid": last_uid });
    if settings.get("imap_state") == Some(&state) {
        return Ok(());
    }
    settings["imap_state"] = state;
    app.store
        .update_inbox(
            inbox.workspace_id,
            inbox.id,
            InboxPatch {
                settings: Some(settings),
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}

/// Polls IMAP mailboxes every `every` until the runtime stops.
pub async fn imap_loop(app: App, every: Duration) {
    loop {
        if let Err(e) = poll_imap(&app).await {
            tracing::error!(error = %e, "polling IMAP mailboxes failed");
        }
        tokio::time::sleep(every).await;
    }
}
