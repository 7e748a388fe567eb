//! Configuration for `parley serve`: defaults, then `parley.toml`, then `PARLEY_*` environment
//! variables, then flags (clap reads the variables and flags; this file adds the TOML layer).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use parley_server::{Config, Database, DispatchConfig};
use serde::Deserialize;

/// Options shared by every command that opens the database.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DbArgs {
    /// Configuration file [default: ./parley.toml when it exists]
    #[arg(long, env = "PARLEY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// postgres://… for PostgreSQL (one Parley node per database), or sqlite:PATH; default:
    /// SQLite in the data directory
    #[arg(
        long,
        env = "PARLEY_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Where the SQLite database lives [default: ./parley-data]
    #[arg(long, env = "PARLEY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// A file holding the master key for encryption at rest (or the key itself in
    /// PARLEY_MASTER_KEY); see `parley keys generate`
    #[arg(long, env = "PARLEY_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "PARLEY_BIND")]
    pub bind: Option<SocketAddr>,
    /// The URL people and providers reach this server at [default: http://BIND]
    #[arg(long, env = "PARLEY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// On first start with an empty database, create this admin (password from PARLEY_ADMIN_PASSWORD)
    #[arg(long, env = "PARLEY_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// SQLite durability: `full` (acknowledged writes survive a power cut) or `normal`
    #[arg(long, env = "PARLEY_SQLITE_SYNC")]
    pub sqlite_sync: Option<String>,
    /// Mark session cookies Secure [default: true when the public URL is https]
    #[arg(long, env = "PARLEY_SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,
    /// Receive email for email inboxes on this address (e.g. 0.0.0.0:25) [default: off]
    #[arg(long, env = "PARLEY_SMTP_BIND")]
    pub smtp_bind: Option<SocketAddr>,
    /// Internal networks Parley may connect to on someone's behalf, comma-separated CIDRs
    /// (e.g. 127.0.0.0/8,10.1.0.0/16) [default: none]
    #[arg(long, env = "PARLEY_OUTBOUND_ALLOW")]
    pub outbound_allow: Option<String>,
    /// The authserv-id of the mail server in front of Parley, whose Authentication-Results
    /// headers are trusted (mail whose DMARC failed is stored unverified) [default: none]
    #[arg(long, env = "PARLEY_EMAIL_AUTHSERV_ID")]
    pub email_authserv_id: Option<String>,
    /// Proxies whose X-Forwarded-For is believed, as comma-separated networks
    /// (e.g. 127.0.0.1/32,10.0.0.0/8) [default: none]
    #[arg(long, env = "PARLEY_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
}

/// The TOML file; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub sqlite_sync: Option<String>,
    pub secure_cookies: Option<bool>,
    pub max_body_bytes: Option<usize>,
    pub session_ttl_hours: Option<i64>,
    pub smtp_bind: Option<SocketAddr>,
    pub imap_poll_secs: Option<u64>,
    pub email_authserv_id: Option<String>,
    pub master_key_file: Option<PathBuf>,
    pub outbound_allow: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<String>>,
    pub password_hash_concurrency: Option<usize>,
    pub smtp_session_secs: Option<u64>,
    pub smtp_connections_per_address: Option<usize>,
    pub smtp_buffer_mb: Option<usize>,
    #[serde(default)]
    pub widget: FileWidget,
    #[serde(default)]
    pub dispatch: FileDispatch,
    #[serde(default)]
    pub attachments: FileAttachments,
    #[serde(default)]
    pub connections: FileConnections,
}

/// `[connections]`: how long clients may take and how many connections one address may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConnections {
    pub header_read_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub max_per_address: Option<usize>,
    pub socket_send_timeout_secs: Option<u64>,
    pub socket_max_behind_kib: Option<u64>,
}

/// `[attachments]`: where files are kept (default: `attachments/` in the data directory).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAttachments {
    pub s3: Option<FileS3>,
}

/// `[attachments.s3]`: an S3-compatible bucket. The secret may come from PARLEY_S3_SECRET_ACCESS_KEY.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileS3 {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: Option<String>,
    #[serde(default)]
    pub path_style: bool,
    pub prefix: Option<String>,
}

/// `[widget]`: limits per visitor and per client address.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWidget {
    pub sockets_per_visitor: Option<usize>,
    pub sockets_per_address: Option<usize>,
    pub messages_per_minute: Option<u32>,
    pub address_messages_per_minute: Option<u32>,
    pub typing_per_second: Option<u32>,
    pub address_typing_per_second: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDispatch {
    pub concurrency: Option<usize>,
    pub per_inbox_concurrency: Option<usize>,
    pub max_attempts: Option<u32>,
    pub backoff_base_ms: Option<i64>,
    pub backoff_max_ms: Option<i64>,
    pub timeout_ms: Option<u64>,
}

pub const EXAMPLE: &str = r#"# parley.toml — every key is optional; PARLEY_* variables and flags override it.

# bind = "127.0.0.1:8080"
# public_url = "https://support.example.com"   # what providers and browsers reach
# database_url = "postgres://parley@db/parley"  # default: SQLite in data_dir
# data_dir = "./parley-data"
# sqlite_sync = "full"                          # or "normal": faster, may lose the last commits on power loss
# secure_cookies = true                         # default: on when public_url is https
# max_body_bytes = 1048576
# session_ttl_hours = 336
# smtp_bind = "0.0.0.0:25"                      # receive mail for email inboxes (point MX here)
# imap_poll_secs = 60                           # how often email inboxes' IMAP mailboxes are read
# email_authserv_id = "mx.example.com"          # the MTA or IMAP provider whose Authentication-Results are trusted
# master_key_file = "/etc/parley/master.key"    # encryption at rest (`parley keys generate`); or PARLEY_MASTER_KEY
# outbound_allow = ["10.1.0.0/16"]              # internal networks callbacks, provider URLs, relays and S3 may reach
# trusted_proxies = ["127.0.0.1/32"]            # proxies whose X-Forwarded-For is believed (default: none)
# password_hash_concurrency = 4                 # password hashes at once (default: the number of CPUs)
# smtp_session_secs = 600                       # longest SMTP conversation
# smtp_connections_per_address = 10             # SMTP connections at once per client address (IPv6: /64)
# smtp_buffer_mb = 128                          # incoming mail held in memory at once; beyond it DATA gets 452

# [attachments.s3]                              # keep files in a bucket instead of data_dir/attachments
# endpoint = "https://s3.us-east-1.amazonaws.com"
# region = "us-east-1"
# bucket = "parley-files"
# access_key_id = "AKIA…"                       # secret: PARLEY_S3_SECRET_ACCESS_KEY
# path_style = false                            # true for MinIO and most self-hosted servers

[connections]
# header_read_timeout_secs = 10   # a request's header must arrive within this (also between requests)
# idle_timeout_secs = 60          # a connection on which nothing moves this long is closed
# max_per_address = 256           # open connections (WebSockets too) per client address (IPv6: per /64)
# socket_send_timeout_secs = 10   # an agent's socket that takes no frame for this long is closed
# socket_max_behind_kib = 8192    # an agent's socket this far behind the live feed is closed

[widget]                    # per visitor (browser) and per client address (IPv6: /64)
# sockets_per_visitor = 5
# sockets_per_address = 20
# messages_per_minute = 20  # messages and detail updates
# address_messages_per_minute = 120
# typing_per_second = 3     # typing, read and other small frames
# address_typing_per_second = 30

[dispatch]
# concurrency = 32          # deliveries in flight
# per_inbox_concurrency = 8 # deliveries one inbox (provider account) may have in flight
# max_attempts = 10         # then the failure is permanent
# backoff_base_ms = 2000    # doubled each attempt, with jitter
# backoff_max_ms = 600000
# timeout_ms = 15000
"#;

pub fn read_file(explicit: Option<&Path>) -> anyhow::Result<FileConfig> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from("parley.toml");
            if !p.exists() {
                return Ok(FileConfig::default());
            }
            p
        }
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))
}

/// Picks the database from the URL scheme.
pub fn database(db: &DbArgs, file: &FileConfig, durable: bool) -> anyhow::Result<Database> {
    let url = db
        .database_url
        .clone()
        .or_else(|| file.database_url.clone());
    match url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Database::Postgres {
                url: secrecy::SecretString::from(u),
            })
        }
        Some(u) if u.starts_with("sqlite:") => {
            let path = u
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            Ok(Database::Sqlite {
                path: PathBuf::from(path),
                durable,
            })
        }
        Some(_) => anyhow::bail!("--database-url must start with postgres:// or sqlite:"),
        None => {
            let dir = db
                .data_dir
                .clone()
                .or_else(|| file.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from("parley-data"));
            Ok(Database::Sqlite {
                path: dir.join("parley.db"),
                durable,
            })
        }
    }
}

pub fn server_config(db: &DbArgs, serve: &ServeArgs) -> anyhow::Result<Config> {
    server_config_from(db, serve, read_file(db.config.as_deref())?)
}

/// The master key for encryption at rest: `PARLEY_MASTER_KEY`, else the key file named by the flag,
/// the variable or the file; none means encryption at rest is off.
pub fn master_key(
    db: &DbArgs,
    file: &FileConfig,
) -> anyhow::Result<Option<parley_store::crypt::MasterKey>> {
    use parley_store::crypt::MasterKey;
    if let Ok(k) = std::env::var("PARLEY_MASTER_KEY") {
        return MasterKey::parse(&k)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("PARLEY_MASTER_KEY: {e}"));
    }
    let Some(path) = db.master_key_file.clone().or(file.master_key_file.clone()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the master key file {}", path.display()))?;
    MasterKey::parse(&text)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The server's settings from flags, variables and an already-read file.
pub fn server_config_from(
    db: &DbArgs,
    serve: &ServeArgs,
    file: FileConfig,
) -> anyhow::Result<Config> {
    let sync = serve
        .sqlite_sync
        .clone()
        .or(file.sqlite_sync.clone())
        .unwrap_or_else(|| "full".into());
    let durable = match sync.as_str() {
        "full" => true,
        "normal" => false,
        other => anyhow::bail!("sqlite_sync must be full or normal, not {other:?}"),
    };
    let bind = serve
        .bind
        .or(file.bind)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let mut cfg = Config::new(bind, database(db, &file, durable)?);
    cfg.master_key = master_key(db, &file)?;
    if let Some(u) = serve.public_url.clone().or(file.public_url.clone()) {
        let parsed = reqwest::Url::parse(&u)
            .map_err(|_| anyhow::anyhow!("public_url must be an absolute URL, not {u:?}"))?;
        cfg.public_url = parsed.as_str().trim_end_matches('/').to_string();
    }
    // A browser reaching Parley over https must never send its session over plain http.
    cfg.secure_cookies = serve
        .secure_cookies
        .or(file.secure_cookies)
        .unwrap_or_else(|| cfg.public_url.starts_with("https://"));
    if let Some(n) = file.max_body_bytes {
        anyhow::ensure!(
            (1024..=64 * 1024 * 1024).contains(&n),
            "max_body_bytes must be between 1 KiB and 64 MiB"
        );
        cfg.max_body_bytes = n;
    }
    if let Some(h) = file.session_ttl_hours {
        anyhow::ensure!(
            (1..=24 * 365).contains(&h),
            "session_ttl_hours must be between 1 and 8760"
        );
        cfg.session_ttl_ms = h * 3600 * 1000;
    }
    if let Some(d) = db.data_dir.clone().or_else(|| file.data_dir.clone()) {
        cfg.attachments_dir = d.join("attachments");
    }
    if let Some(s3) = &file.attachments.s3 {
        let secret = std::env::var("PARLEY_S3_SECRET_ACCESS_KEY")
            .ok()
            .or_else(|| s3.secret_access_key.clone())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "[attachments.s3] needs secret_access_key (or PARLEY_S3_SECRET_ACCESS_KEY)"
                )
            })?;
        cfg.s3 = Some(parley_blobs::S3Config {
            endpoint: s3.endpoint.clone(),
            region: s3.region.clone(),
            bucket: s3.bucket.clone(),
            access_key_id: s3.access_key_id.clone(),
            secret_access_key: secret,
            path_style: s3.path_style,
            prefix: s3.prefix.clone(),
        });
    }
    cfg.smtp_bind = serve.smtp_bind.or(file.smtp_bind);
    cfg.email_authserv_id = serve
        .email_authserv_id
        .clone()
        .or(file.email_authserv_id)
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty());
    if let Some(s) = file.imap_poll_secs {
        anyhow::ensure!(
            (5..=86_400).contains(&s),
            "imap_poll_secs must be between 5 and 86400"
        );
        cfg.imap_poll_secs = s;
    }
    if let Some(list) = &serve.outbound_allow {
        cfg.outbound_allow = parley_channels::net::parse_allow(list)
            .map_err(|e| anyhow::anyhow!("PARLEY_OUTBOUND_ALLOW: {e}"))?;
    } else if let Some(list) = &file.outbound_allow {
        cfg.outbound_allow = list
            .iter()
            .map(|c| c.parse())
            .collect::<Result<_, String>>()
            .map_err(|e| anyhow::anyhow!("outbound_allow: {e}"))?;
    }
    let c = &file.connections;
    if let Some(s) = c.header_read_timeout_secs {
        anyhow::ensure!(
            (1..=3_600).contains(&s),
            "header_read_timeout_secs must be between 1 and 3600"
        );
        cfg.header_read_timeout_ms = s * 1000;
    }
    if let Some(s) = c.idle_timeout_secs {
        anyhow::ensure!(
            (1..=86_400).contains(&s),
            "idle_timeout_secs must be between 1 and 86400"
        );
        cfg.idle_timeout_ms = s * 1000;
    }
    if let Some(n) = c.max_per_address {
        anyhow::ensure!(
            (1..=1_000_000).contains(&n),
            "max_per_address must be between 1 and 1000000"
        );
        cfg.max_connections_per_address = n;
    }
    if let Some(s) = c.socket_send_timeout_secs {
        anyhow::ensure!(
            (1..=3_600).contains(&s),
            "socket_send_timeout_secs must be between 1 and 3600"
        );
        cfg.socket_send_timeout_ms = s * 1000;
    }
    if let Some(k) = c.socket_max_behind_kib {
        anyhow::ensure!(
            (64..=4 * 1024 * 1024).contains(&k),
            "socket_max_behind_kib must be between 64 and 4194304"
        );
        cfg.socket_max_behind_bytes = k * 1024;
    }
    if let Some(list) = serve.trusted_proxies.clone() {
        cfg.trusted_proxies = parley_channels::net::parse_allow(&list)
            .map_err(|e| anyhow::anyhow!("PARLEY_TRUSTED_PROXIES: {e}"))?;
    } else if let Some(list) = &file.trusted_proxies {
        cfg.trusted_proxies = parley_channels::net::parse_allow(&list.join(","))
            .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
    }
    if let Some(n) = file.password_hash_concurrency {
        anyhow::ensure!(
            (1..=256).contains(&n),
            "password_hash_concurrency must be between 1 and 256"
        );
        cfg.password_hash_concurrency = n;
    }
    let sl = &mut cfg.smtp_limits;
    if let Some(s) = file.smtp_session_secs {
        anyhow::ensure!(
            (10..=86_400).contains(&s),
            "smtp_session_secs must be between 10 and 86400"
        );
        sl.session_secs = s;
    }
    if let Some(n) = file.smtp_connections_per_address {
        anyhow::ensure!(n >= 1, "smtp_connections_per_address must be at least 1");
        sl.connections_per_address = n;
    }
    if let Some(mb) = file.smtp_buffer_mb {
        anyhow::ensure!(
            (1..=65_536).contains(&mb),
            "smtp_buffer_mb must be between 1 and 65536"
        );
        sl.buffer_bytes = mb * 1024 * 1024;
    }
    let w = &file.widget;
    let wl = &mut cfg.widget;
    let at_least_one = |name: &str, n: Option<u64>| -> anyhow::Result<()> {
        anyhow::ensure!(n != Some(0), "[widget] {name} must be at least 1");
        Ok(())
    };
    at_least_one(
        "sockets_per_visitor",
        w.sockets_per_visitor.map(|n| n as u64),
    )?;
    at_least_one(
        "sockets_per_address",
        w.sockets_per_address.map(|n| n as u64),
    )?;
    at_least_one("messages_per_minute", w.messages_per_minute.map(u64::from))?;
    at_least_one(
        "address_messages_per_minute",
        w.address_messages_per_minute.map(u64::from),
    )?;
    at_least_one("typing_per_second", w.typing_per_second.map(u64::from))?;
    at_least_one(
        "address_typing_per_second",
        w.address_typing_per_second.map(u64::from),
    )?;
    wl.sockets_per_visitor = w.sockets_per_visitor.unwrap_or(wl.sockets_per_visitor);
    wl.sockets_per_address = w.sockets_per_address.unwrap_or(wl.sockets_per_address);
    wl.messages_per_minute = w.messages_per_minute.unwrap_or(wl.messages_per_minute);
    wl.address_messages_per_minute = w
        .address_messages_per_minute
        .unwrap_or(wl.address_messages_per_minute);
    wl.typing_per_second = w.typing_per_second.unwrap_or(wl.typing_per_second);
    wl.address_typing_per_second = w
        .address_typing_per_second
        .unwrap_or(wl.address_typing_per_second);
    let d = &file.dispatch;
    let def = DispatchConfig::default();
    cfg.dispatch = DispatchConfig {
        concurrency: d.concurrency.unwrap_or(def.concurrency).clamp(1, 1024),
        per_inbox_concurrency: d
            .per_inbox_concurrency
            .unwrap_or(def.per_inbox_concurrency)
            .clamp(1, 1024),
        max_attempts: d.max_attempts.unwrap_or(def.max_attempts).max(1),
        backoff_base_ms: d.backoff_base_ms.unwrap_or(def.backoff_base_ms).max(1),
        backoff_max_ms: d.backoff_max_ms.unwrap_or(def.backoff_max_ms).max(1),
        timeout_ms: d.timeout_ms.unwrap_or(def.timeout_ms).max(100),
    };
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_and_unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>(EXAMPLE).is_ok());
        assert!(toml::from_str::<FileConfig>("bnid = \"x\"").is_err());
    }

    #[test]
    fn outbound_allow_parses_or_stops_the_start() {
        let db = DbArgs::default();
        let file: FileConfig =
            toml::from_str("outbound_allow = [\"127.0.0.0/8\", \"::1/128\"]").unwrap();
        let cfg = server_config_from(&db, &ServeArgs::default(), file).unwrap();
        assert_eq!(cfg.outbound_allow.len(), 2);
        let serve = ServeArgs {
            outbound_allow: Some("10.1.0.0/16, 192.168.0.0/24".into()),
            ..Default::default()
        };
        let cfg = server_config_from(&db, &serve, FileConfig::default()).unwrap();
        assert_eq!(cfg.outbound_allow.len(), 2);
        assert!(
            server_config_from(&db, &ServeArgs::default(), FileConfig::default())
                .unwrap()
                .outbound_allow
                .is_empty()
        );
        let bad = ServeArgs {
            outbound_allow: Some("10.0.0.0/40".into()),
            ..Default::default()
        };
        let err = server_config_from(&db, &bad, FileConfig::default()).unwrap_err();
        assert!(
            err.to_string().contains("PARLEY_OUTBOUND_ALLOW")
                && err.to_string().contains("10.0.0.0/40"),
            "{err}"
        );
        let file: FileConfig = toml::from_str("outbound_allow = [\"localhost\"]").unwrap();
        let err = server_config_from(&db, &ServeArgs::default(), file).unwrap_err();
        assert!(err.to_string().starts_with("outbound_allow:"), "{err}");
    }

    #[test]
    fn session_cookies_are_secure_by_default_behind_https() {
        let secure = |public: &str, explicit: Option<bool>| {
            let serve = ServeArgs {
                public_url: Some(public.into()),
                secure_cookies: explicit,
                ..Default::default()
            };
            server_config_from(&DbArgs::default(), &serve, FileConfig::default())
                .unwrap()
                .secure_cookies
        };
        assert!(secure("https://support.example.com", None));
        assert!(!secure("http://127.0.0.1:8080", None));
        assert!(!secure("https://support.example.com", Some(false)));
        assert!(secure("http://127.0.0.1:8080", Some(true)));
        let file: FileConfig = toml::from_str(
            "public_url = \"https://support.example.com\"\nsecure_cookies = false\n",
        )
        .unwrap();
        let cfg = server_config_from(&DbArgs::default(), &ServeArgs::default(), file).unwrap();
        assert!(!cfg.secure_cookies, "an explicit setting wins");
    }

    #[test]
    fn trusted_proxies_and_limits_are_read() {
        let file: FileConfig = toml::from_str(
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nsmtp_buffer_mb = 4\n[widget]\nmessages_per_minute = 5\n",
        )
        .unwrap();
        let cfg = server_config_from(&DbArgs::default(), &ServeArgs::default(), file).unwrap();
        assert_eq!(cfg.trusted_proxies.len(), 2);
        assert!(cfg.trusted_proxies[0].contains("10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(cfg.smtp_limits.buffer_bytes, 4 * 1024 * 1024);
        assert_eq!(cfg.widget.messages_per_minute, 5);
        assert_eq!(cfg.widget.sockets_per_address, 20);
        let serve = ServeArgs {
            trusted_proxies: Some("192.0.2.1, 2001:db8::/32".into()),
            ..Default::default()
        };
        let cfg = server_config_from(&DbArgs::default(), &serve, FileConfig::default()).unwrap();
        assert_eq!(cfg.trusted_proxies.len(), 2);
        let bad = ServeArgs {
            trusted_proxies: Some("10.0.0.0/33".into()),
            ..Default::default()
        };
        assert!(server_config_from(&DbArgs::default(), &bad, FileConfig::default()).is_err());
        let none = server_config_from(
            &DbArgs::default(),
            &ServeArgs::default(),
            FileConfig::default(),
        )
        .unwrap();
        assert!(
            none.trusted_proxies.is_empty(),
            "no proxy is trusted by default"
        );
    }

    #[test]
    fn database_url_picks_the_backend() {
        let file = FileConfig::default();
        let args = |u: &str| DbArgs {
            database_url: Some(u.into()),
            ..Default::default()
        };
        assert!(matches!(
            database(&args("postgres://x/y"), &file, true),
            Ok(Database::Postgres { .. })
        ));
        assert!(matches!(
            database(&args("sqlite:/tmp/p.db"), &file, true),
            Ok(Database::Sqlite { .. })
        ));
        assert!(database(&args("mysql://x"), &file, true).is_err());
    }

    #[test]
    fn attachments_go_to_the_data_dir_or_a_bucket() {
        let db = DbArgs {
            data_dir: Some(PathBuf::from("/srv/parley")),
            ..Default::default()
        };
        let cfg = server_config_from(&db, &ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(
            cfg.attachments_dir,
            PathBuf::from("/srv/parley/attachments")
        );
        assert!(cfg.s3.is_none());
        let s3 = "[attachments.s3]\nendpoint = \"http://127.0.0.1:9000\"\nregion = \"us-east-1\"\n\
                  bucket = \"files\"\naccess_key_id = \"minio\"\npath_style = true\n";
        let file: FileConfig =
            toml::from_str(&format!("{s3}secret_access_key = \"minio-secret\"\n")).unwrap();
        let cfg = server_config_from(&db, &ServeArgs::default(), file).unwrap();
        let got = cfg.s3.unwrap();
        assert_eq!((got.bucket.as_str(), got.path_style), ("files", true));
        let no_secret: FileConfig = toml::from_str(s3).unwrap();
        if std::env::var("PARLEY_S3_SECRET_ACCESS_KEY").is_err() {
            let err = server_config_from(&db, &ServeArgs::default(), no_secret).unwrap_err();
            assert!(err.to_string().contains("secret_access_key"), "{err}");
        }
        assert!(toml::from_str::<FileConfig>(
            "[attachments.s3]\nendpoint = \"x\"\nbucket = \"b\"\n"
        )
        .is_err());
    }
}
