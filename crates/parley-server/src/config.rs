//! Server settings. The binary fills them from defaults, `parley.toml`, `PARLEY_*` variables and
//! flags; the server reads them only from here (no globals).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where Parley keeps its data.
#[derive(Clone)]
pub enum Database {
    /// An SQLite file (the embedded default).
    Sqlite { path: PathBuf, durable: bool },
    /// A PostgreSQL URL (scaled out).
    Postgres { url: secrecy::SecretString },
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite { path, durable } => {
                write!(f, "Sqlite({}, durable={durable})", path.display())
            }
            Database::Postgres { .. } => write!(f, "Postgres([redacted])"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Deliveries sent at once.
    pub concurrency: usize,
    /// Deliveries one inbox (one provider account) may have in flight at once, so a slow or
    /// failing provider holds at most this many of the `concurrency` slots.
    pub per_inbox_concurrency: usize,
    /// Attempts before a delivery is a permanent failure.
    pub max_attempts: u32,
    pub backoff_base_ms: i64,
    pub backoff_max_ms: i64,
    /// How long one provider call may take.
    pub timeout_ms: u64,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            per_inbox_concurrency: 8,
            max_attempts: 10,
            backoff_base_ms: 2_000,
            backoff_max_ms: 600_000,
            timeout_ms: 15_000,
        }
    }
}

/// Limits on the website widget's visitors, so that no one client can starve the rest. Over a
/// rate the visitor is told why and their socket is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetLimits {
    /// Sockets one visitor (one browser's token) may hold open at once.
    pub sockets_per_visitor: usize,
    /// Sockets one client address (an IPv6 /64) may hold open at once.
    pub sockets_per_address: usize,
    /// Messages and detail updates per visitor per minute.
    pub messages_per_minute: u32,
    /// Messages and detail updates per address per minute.
    pub address_messages_per_minute: u32,
    /// Typing, read and other small frames per visitor per second.
    pub typing_per_second: u32,
    /// Typing, read and other small frames per address per second.
    pub address_typing_per_second: u32,
}

impl Default for WidgetLimits {
    fn default() -> Self {
        Self {
            sockets_per_visitor: 5,
            sockets_per_address: 20,
            messages_per_minute: 20,
            address_messages_per_minute: 120,
            typing_per_second: 3,
            address_typing_per_second: 30,
        }
    }
}

/// Limits of the SMTP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpLimits {
    /// How long one SMTP conversation may last in all, however busy the client keeps it.
    pub session_secs: u64,
    /// Connections one client address (an IPv6 /64) may hold open at once.
    pub connections_per_address: usize,
    /// Mail held in memory across all connections at once, in bytes; a DATA beyond it is
    /// answered 452 (try again later).
    pub buffer_bytes: usize,
}

impl Default for SmtpLimits {
    fn default() -> Self {
        Self {
            session_secs: 600,
            connections_per_address: 10,
            buffer_bytes: 128 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database: Database,
    /// The URL people and providers reach this server at (for links and webhook URLs).
    pub public_url: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Session lifetime in milliseconds.
    pub session_ttl_ms: i64,
    /// Mark cookies `Secure` (set when served over TLS or behind a TLS proxy).
    pub secure_cookies: bool,
    pub dispatch: DispatchConfig,
    /// Run the delivery and timer workers in this process.
    pub workers: bool,
    /// Where the SMTP listener for email inboxes listens (off when `None`).
    pub smtp_bind: Option<SocketAddr>,
    /// How often email inboxes' IMAP mailboxes are polled, in seconds.
    pub imap_poll_secs: u64,
    /// The authserv-id of the mail server in front of Parley (the MTA before the SMTP listener,
    /// or the IMAP provider), whose `Authentication-Results` headers are trusted; others are
    /// ignored, since anyone can write one.
    pub email_authserv_id: Option<String>,
    /// The folder attachments are kept in, unless `s3` is set.
    pub attachments_dir: PathBuf,
    /// An S3-compatible bucket for attachments instead of the folder.
    pub s3: Option<parley_blobs::S3Config>,
    /// Encryption at rest: the key that wraps the database's data keys.
    pub master_key: Option<parley_store::crypt::MasterKey>,
    /// Seal what the database holds in plaintext when encryption is turned on (`keys encrypt`).
    pub seal_existing: bool,
    /// Internal networks Parley may connect to on someone's behalf (none by default).
    pub outbound_allow: Vec<parley_channels::net::Cidr>,
    /// How long a client may take to send a request's header (from the connection's start or the
    /// previous answer), in milliseconds.
    pub header_read_timeout_ms: u64,
    /// How long an HTTP connection may go with no byte moving either way, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Connections (WebSockets included) one client address may hold open at once; IPv6
    /// addresses count per /64.
    pub max_connections_per_address: usize,
    /// How long one frame may wait to be taken by an agent's socket before it is closed as too
    /// slow, in milliseconds.
    pub socket_send_timeout_ms: u64,
    /// Bytes of events an agent's socket may fall behind the live feed before it is closed.
    pub socket_max_behind_bytes: u64,
    /// Proxies whose `X-Forwarded-For` names the client; from anyone else the header is ignored.
    pub trusted_proxies: Vec<parley_channels::net::Cidr>,
    /// Password hashes (Argon2id) computed at once; more wait briefly, then get 429.
    pub password_hash_concurrency: usize,
    pub widget: WidgetLimits,
    pub smtp_limits: SmtpLimits,
}

impl Config {
    pub fn new(bind: SocketAddr, database: Database) -> Self {
        // Beside the SQLite file by default, so one folder holds everything.
        let attachments_dir = match &database {
            Database::Sqlite { path, .. } => path
                .parent()
                .map_or_else(|| PathBuf::from("attachments"), |d| d.join("attachments")),
            Database::Postgres { .. } => PathBuf::from("parley-data/attachments"),
        };
        Self {
            attachments_dir,
            s3: None,
            master_key: None,
            seal_existing: false,
            outbound_allow: Vec::new(),
            bind,
            database,
            public_url: format!("http://{bind}"),
            max_body_bytes: 1024 * 1024,
            session_ttl_ms: 14 * 24 * 3600 * 1000,
            secure_cookies: false,
            dispatch: DispatchConfig::default(),
            workers: true,
            smtp_bind: None,
            imap_poll_secs: 60,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections_per_address: 256,
            socket_send_timeout_ms: 10_000,
            socket_max_behind_bytes: 8 * 1024 * 1024,
            email_authserv_id: None,
            trusted_proxies: Vec::new(),
            password_hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            widget: WidgetLimits::default(),
            smtp_limits: SmtpLimits::default(),
        }
    }
}
