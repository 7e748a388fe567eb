//! Polling an existing mailbox over IMAP (RFC 3501) for mail that arrived since the last poll,
//! by UID, without marking anything read: the mailbox stays the customer's own.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::rustls;

/// An IMAP login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapAccount {
    pub host: String,
    pub port: u16,
    /// TLS from the start (port 993); plaintext otherwise. STARTTLS is not offered.
    pub tls: bool,
    pub username: String,
    pub password: String,
    /// `INBOX` when empty.
    pub mailbox: String,
    /// For the whole poll, connecting included.
    pub timeout: Duration,
    /// Where the host may resolve to.
    pub policy: crate::net::Policy,
}

impl ImapAccount {
    /// TLS on port 993, the INBOX, a minute for the whole poll.
    pub fn new(host: &str, username: &str, password: &str) -> Self {
        Self {
            host: host.into(),
            port: 993,
            tls: true,
            username: username.into(),
            password: password.into(),
            mailbox: "INBOX".into(),
            timeout: Duration::from_secs(60),
            policy: crate::net::Policy::default(),
        }
    }
}

/// What one poll found. Keep `uid_validity` and the highest UID for the next poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapBatch {
    pub uid_validity: u32,
    /// (UID, raw RFC 5322 message), by increasing UID.
    pub messages: Vec<(u32, Vec<u8>)>,
}

/// Fetches at most `max` messages with a UID above `last_uid`, oldest first. When the mailbox's
/// UIDVALIDITY is not `uid_validity` its UIDs were renumbered, so the poll starts over from the
/// first message (the server recognises mail it already has by Message-ID).
pub async fn fetch_since(
    acct: &ImapAccount,
    uid_validity: Option<u32>,
    last_uid: u32,
    max: usize,
) -> Result<ImapBatch, String> {
    let at = format!("{}:{}", acct.host, acct.port);
    let work = async {
        // Connect to the addresses that were checked; TLS still verifies the host's name.
        let addrs = crate::net::resolve(&acct.policy, &acct.host, acct.port)
            .await
            .map_err(|e| match e {
                crate::net::Refused::NoAddress(_) => {
                    format!("cannot reach the IMAP server {at}: {e}")
                }
                _ => format!("cannot reach the IMAP server {at}: refused: {e}"),
            })?;
        let tcp = TcpStream::connect(&addrs[..])
            .await
            .map_err(|e| format!("cannot reach the IMAP server {at}: {e}"))?;
        if acct.tls {
            let tls = tls_connect(&acct.host, tcp)
                .await
                .map_err(|e| format!("TLS with the IMAP server {at} failed: {e}"))?;
            poll(tls, acct, uid_validity, last_uid, max).await
        } else {
            poll(tcp, acct, uid_validity, last_uid, max).await
        }
    };
    match timeout(acct.timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the IMAP server {at} did not answer within {}s",
            acct.timeout.as_secs()
        )),
    }
}

async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("invalid host name: {e}"))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())
}

async fn poll<T>(
    stream: T,
    acct: &ImapAccount,
    uid_validity: Option<u32>,
    last_uid: u32,
    max: usize,
) -> Result<ImapBatch, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    match client.read_response().await {
        Ok(Some(_)) => {}
        Ok(None) => return Err("the IMAP server closed the connection before greeting".into()),
        Err(e) => return Err(format!("no greeting from the IMAP server: {e}")),
    }
    let mut session =
        client
            .login(&acct.username, &acct.password)
            .await
            .map_err(|(e, _)| match e {
                async_imap::error::Error::No(why) | async_imap::error::Error::Bad(why) => {
                    // The account's name stays out: this text is logged and shown to agents.
                    format!("IMAP login refused: {}", why.trim())
                }
                other => format!("IMAP login failed: {other}"),
            })?;
    let name = match acct.mailbox.trim() {
        "" => "INBOX",
        name => name,
    };
    // EXAMINE opens the mailbox read-only: nothing we do changes its flags.
    let mailbox = session
        .examine(name)
        .await
        .map_err(|e| format!("cannot open the mailbox {name:?}: {e}"))?;
    let validity = mailbox
        .uid_validity
        .ok_or_else(|| "the IMAP server did not give the mailbox's UIDVALIDITY".to_string())?;
    let last = if uid_validity == Some(validity) {
        last_uid
    } else {
        0
    };
    let nothing_new = mailbox.exists == 0
        || mailbox
            .uid_next
            .is_some_and(|next| next <= last.saturating_add(1))
        || max == 0
        || last == u32::MAX;
    let mut uids: Vec<u32> = Vec::new();
    if !nothing_new {
        let found = session
            .uid_search(format!("UID {}:*", last + 1))
            .await
            .map_err(|e| format!("IMAP search failed: {e}"))?;
        // `n:*` always matches the newest message, even when its UID is below n.
        uids = found.into_iter().filter(|u| *u > last).collect();
        uids.sort_unstable();
        uids.truncate(max);
    }
    let mut messages = Vec::with_capacity(uids.len());
    if !uids.is_empty() {
        let mut fetches = session
            .uid_fetch(uid_set(&uids), "(UID BODY.PEEK[])")
            .await
            .map_err(|e| format!("IMAP fetch failed: {e}"))?;
        while let Some(fetch) = fetches.next().await {
            let fetch = fetch.map_err(|e| format!("IMAP fetch failed: {e}"))?;
            // Unsolicited flag updates come as FETCH responses too, without a body.
            if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                if uids.binary_search(&uid).is_ok() {
                    messages.push((uid, body.to_vec()));
                }
            }
        }
    }
    messages.sort_by_key(|(uid, _)| *uid);
    messages.dedup_by_key(|(uid, _)| *uid);
    // The batch is ours whatever LOGOUT says.
    let _ = session.logout().await;
    Ok(ImapBatch {
        uid_validity: validity,
        messages,
    })
}

/// A sorted UID list as an IMAP sequence set, runs collapsed: `1:3,7,9:10`.
pub(super) fn uid_set(uids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let mut j = i;
        while j + 1 < uids.len() && uids[j + 1] == uids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            uids[i].to_string()
        } else {
            format!("{}:{}", uids[i], uids[j])
        });
        i = j + 1;
    }
    parts.join(",")
}
