//! Replies by mail: the message with its threading headers (RFC 5322 section 3.6.4), and its
//! delivery to the workspace's SMTP relay, with the relay's answer sorted into retry or give up.

use std::error::Error as _;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::net::Refused;

use super::Mailbox;
use crate::SendOutcome;

/// DJB's advice for long threads: keep the root and the newest ids, drop the middle.
const MAX_REFERENCES: usize = 10;

/// A plain-text reply. Ids are without angle brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEmail {
    pub from: Mailbox,
    /// Usually [`super::reply_address`] of the conversation.
    pub reply_to: Option<String>,
    pub to: Mailbox,
    /// As it should read ("Re: …" is the caller's choice).
    pub subject: String,
    pub text: String,
    /// Usually [`super::message_id`] of the conversation and message.
    pub message_id: String,
    /// The Message-ID of the mail answered.
    pub in_reply_to: Option<String>,
    /// The thread so far, oldest first: the answered mail's References then its Message-ID.
    pub references: Vec<String>,
    /// Files sent with the text, as MIME attachments.
    pub attachments: Vec<OutboundFile>,
}

/// A file attached to an outbound mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundFile {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Builds the message. References keep the root and the newest ids, and end with `in_reply_to`
/// as RFC 5322 asks; ids that cannot be written as `<id>` are left out rather than failing the
/// reply, except the message's own.
pub fn build(email: &OutboundEmail) -> Result<lettre::Message, String> {
    if !is_writable_id(&email.message_id) {
        return Err(format!("invalid Message-ID {:?}", email.message_id));
    }
    let mut b = lettre::Message::builder()
        .from(mailbox(&email.from)?)
        .to(mailbox(&email.to)?)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{}>", email.message_id)));
    if let Some(r) = &email.reply_to {
        b = b.reply_to(mailbox(&Mailbox {
            address: r.clone(),
            name: None,
        })?);
    }
    let parent = email.in_reply_to.as_deref().filter(|id| is_writable_id(id));
    if let Some(p) = parent {
        b = b.in_reply_to(format!("<{p}>"));
    }
    let mut refs: Vec<&str> = Vec::new();
    for id in email.references.iter().map(String::as_str).chain(parent) {
        if is_writable_id(id) && !refs.contains(&id) {
            refs.push(id);
        }
    }
    if refs.len() > MAX_REFERENCES {
        refs.drain(1..refs.len() - (MAX_REFERENCES - 1));
    }
    if !refs.is_empty() {
        let joined: Vec<String> = refs.iter().map(|id| format!("<{id}>")).collect();
        b = b.references(joined.join(" "));
    }
    if email.attachments.is_empty() {
        return b
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone())
            .map_err(|e| format!("cannot build the message: {e}"));
    }
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone()));
    for f in &email.attachments {
        // A type the MIME parser refuses still goes, as bytes.
        let ct = ContentType::parse(&f.content_type).unwrap_or_else(|_| {
            ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN)
        });
        parts = parts.singlepart(Attachment::new(f.filename.clone()).body(f.bytes.clone(), ct));
    }
    b.multipart(parts)
        .map_err(|e| format!("cannot build the message: {e}"))
}

fn mailbox(m: &Mailbox) -> Result<lettre::message::Mailbox, String> {
    let address = m
        .address
        .parse()
        .map_err(|e| format!("invalid address {:?}: {e}", m.address))?;
    Ok(lettre::message::Mailbox::new(m.name.clone(), address))
}

/// `left@right` with nothing that would break out of `<…>` or the header line.
fn is_writable_id(id: &str) -> bool {
    id.contains('@')
        && id.len() <= 500
        && !id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
}

/// How the relay is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plaintext, for a relay on the same host or private network.
    None,
    /// Plaintext then STARTTLS, required (usually port 587).
    StartTls,
    /// TLS from the start (usually port 465).
    Tls,
}

/// The outgoing relay of a mail inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpRelay {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Login is attempted only when both are set.
    pub username: Option<String>,
    pub password: Option<String>,
    /// For the whole delivery, connecting included.
    pub timeout: Duration,
    /// The name given in EHLO; the machine's host name when `None`.
    pub hello_name: Option<String>,
    /// Where the host may resolve to.
    pub policy: crate::net::Policy,
}

/// Sends a built message through the relay.
pub async fn send(relay: &SmtpRelay, msg: lettre::Message) -> SendOutcome {
    let message_id = msg.headers().get_raw("Message-ID").map(|id| {
        id.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    });
    let at = format!("{}:{}", relay.host, relay.port);
    // lettre's own timeout covers only connecting on tokio; a relay that stops answering
    // mid-conversation would hold the send forever.
    let work = async {
        let transport = match transport(relay).await {
            Ok(t) => t,
            Err(Unreachable::Refused(r @ Refused::Address { .. })) => {
                return SendOutcome::Permanent(format!(
                    "cannot reach the SMTP relay {at}: refused: {r}"
                ))
            }
            Err(Unreachable::Refused(r)) => {
                return SendOutcome::Transient(format!("cannot reach the SMTP relay {at}: {r}"))
            }
            Err(Unreachable::Setup(reason)) => return SendOutcome::Permanent(reason),
        };
        match transport.send(msg).await {
            Ok(_) => SendOutcome::Accepted {
                provider_id: message_id,
            },
            Err(e) => classify(relay, &e),
        }
    };
    match tokio::time::timeout(relay.timeout, work).await {
        Ok(outcome) => outcome,
        Err(_) => SendOutcome::Transient(format!(
            "the SMTP relay {}:{} timed out after {}s",
            relay.host,
            relay.port,
            relay.timeout.as_secs_f32()
        )),
    }
}

/// Connects to the relay, greets it and logs in when credentials are set, then quits: whether a
/// reply could go out, without sending one.
pub async fn check(relay: &SmtpRelay) -> Result<(), String> {
    let at = format!("{}:{}", relay.host, relay.port);
    let transport = match transport(relay).await {
        Ok(t) => t,
        Err(Unreachable::Refused(r @ Refused::Address { .. })) => {
            return Err(format!("cannot reach the SMTP relay {at}: refused: {r}"))
        }
        Err(Unreachable::Refused(r)) => {
            return Err(format!("cannot reach the SMTP relay {at}: {r}"))
        }
        Err(Unreachable::Setup(reason)) => return Err(reason),
    };
    match tokio::time::timeout(relay.timeout, transport.test_connection()).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(format!("the SMTP relay {at} did not answer as a relay")),
        Ok(Err(e)) => Err(format!("the SMTP relay {at} refused: {e}")),
        Err(_) => Err(format!("the SMTP relay {at} did not answer in time")),
    }
}

enum Unreachable {
    Refused(Refused),
    Setup(String),
}

/// A transport to the relay's checked address; TLS still verifies the relay's host name.
async fn transport(relay: &SmtpRelay) -> Result<AsyncSmtpTransport<Tokio1Executor>, Unreachable> {
    let tls = |host: &str| {
        TlsParameters::new(host.to_string())
            .map_err(|e| Unreachable::Setup(format!("cannot set up TLS for {host}: {e}")))
    };
    let addrs = crate::net::resolve(&relay.policy, &relay.host, relay.port)
        .await
        .map_err(Unreachable::Refused)?;
    let Some(addr) = addrs.first() else {
        return Err(Unreachable::Refused(Refused::NoAddress(relay.host.clone())));
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(relay.port)
        .timeout(Some(relay.timeout));
    b = match relay.security {
        SmtpSecurity::None => b.tls(Tls::None),
        SmtpSecurity::StartTls => b.tls(Tls::Required(tls(&relay.host)?)),
        SmtpSecurity::Tls => b.tls(Tls::Wrapper(tls(&relay.host)?)),
    };
    if let (Some(user), Some(pass)) = (&relay.username, &relay.password) {
        b = b.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    if let Some(name) = &relay.hello_name {
        b = b.hello_name(ClientId::Domain(name.clone()));
    }
    Ok(b.build())
}

/// 4xx replies, lost connections and timeouts are worth retrying; 5xx replies (the relay's text
/// kept for the agent), a certificate the relay cannot prove and client-side errors are not.
fn classify(relay: &SmtpRelay, e: &lettre::transport::smtp::Error) -> SendOutcome {
    let at = format!("{}:{}", relay.host, relay.port);
    if e.is_permanent() {
        return SendOutcome::Permanent(format!("the SMTP relay refused the message: {e}"));
    }
    if e.is_transient() {
        return SendOutcome::Transient(format!("the SMTP relay deferred the message: {e}"));
    }
    if e.is_timeout() {
        return SendOutcome::Transient(format!("the SMTP relay {at} timed out: {e}"));
    }
    if bad_certificate(e) {
        return SendOutcome::Permanent(format!(
            "the SMTP relay {at} has a certificate that cannot be trusted: {e}"
        ));
    }
    if e.is_client() {
        return SendOutcome::Permanent(format!("cannot send through {at}: {e}"));
    }
    SendOutcome::Transient(format!("cannot reach the SMTP relay {at}: {e}"))
}

fn bad_certificate(e: &lettre::transport::smtp::Error) -> bool {
    use tokio_rustls::rustls::Error as TlsError;
    let is_cert = |err: &(dyn std::error::Error + 'static)| {
        matches!(
            err.downcast_ref::<TlsError>(),
            Some(TlsError::InvalidCertificate(_) | TlsError::NoCertificatesPresented)
        )
    };
    let mut source = e.source();
    while let Some(err) = source {
        if is_cert(err) {
            return true;
        }
        // An io::Error hides the error it wraps from `source()`.
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if is_cert(inner) {
                return true;
            }
        }
        source = err.source();
    }
    false
}
