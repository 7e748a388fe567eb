//! What Parley writes to its log: the levels an operator asks for (`PARLEY_LOG`), above a floor
//! that keeps libraries which log what they carry (SMTP and IMAP commands with credentials and
//! mail, SQL parameters, WebSocket frames) quiet at every level.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The most verbose level a library may log at, whatever the filter says; `None` for our own
/// code and libraries that log only about themselves.
fn ceiling(target: &str) -> Option<Level> {
    let root = target.split("::").next().unwrap_or(target);
    match root {
        // SMTP commands and mail as written ("Wrote: AUTH PLAIN …", "Wrote: RCPT TO:<…>"), IMAP
        // commands ("LOGIN user password") and mailbox contents, every SQL parameter.
        "lettre" | "async_imap" | "imap_proto" | "tokio_postgres" | "postgres_protocol" => {
            Some(Level::INFO)
        }
        // Frames, headers and bodies at trace.
        "tungstenite" | "tokio_tungstenite" | "hyper" | "hyper_util" | "h2" | "reqwest"
        | "rustls" | "tokio_rustls" | "mail_parser" | "mio" => Some(Level::DEBUG),
        _ => None,
    }
}

/// Whether an event or span may be logged at all.
fn permitted(meta: &Metadata<'_>) -> bool {
    ceiling(meta.target()).is_none_or(|max| *meta.level() <= max)
}

/// Installs the process's logger: `spec` as `PARLEY_LOG` takes it (e.g. `info`,
/// `parley_server=debug`), written by `writer`. Does nothing when one is already installed.
pub fn init<W>(spec: &str, writer: W, ansi: bool)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let levels = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false)
        .with_filter(levels.and(filter_fn(permitted)));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_libraries_stay_quiet_whatever_is_asked() {
        assert_eq!(ceiling("lettre::transport::smtp"), Some(Level::INFO));
        assert_eq!(ceiling("tokio_postgres::query"), Some(Level::INFO));
        assert_eq!(ceiling("tungstenite::protocol"), Some(Level::DEBUG));
        assert_eq!(ceiling("parley_server::workers"), None);
        assert_eq!(ceiling("lettre_like"), None);
    }
}
