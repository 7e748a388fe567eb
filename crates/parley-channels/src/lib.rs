//! Parley's channel adapters, one module per provider: verify and parse inbound webhooks, render and
//! send outbound messages. Adapters never touch the database; the server stores what they parse.

pub mod api;
pub mod channel;
mod common;
pub mod email;
pub mod kind;
pub mod line;
pub mod meta;
pub mod net;
mod probe;
pub mod rich;
pub mod settings;
pub mod telegram;
pub mod twilio;

pub use channel::{Channel, Needs, Sent};
pub use kind::ChannelKind;

/// Why an inbound webhook was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InboundError {
    /// The signature is missing or does not match: answer 403 and store nothing.
    #[error("the request signature is missing or wrong")]
    BadSignature,
    /// The payload is not what the provider sends: answer 400 and store nothing.
    #[error("{0}")]
    Malformed(String),
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The provider accepted the message, with its id for it when it gave one.
    Accepted { provider_id: Option<String> },
    /// Worth retrying: a timeout, a refused connection, 408, 429 or a 5xx.
    Transient(String),
    /// Retrying cannot help (the provider said why).
    Permanent(String),
}

/// Classifies an HTTP answer from a provider.
pub fn classify_status(status: u16, body: &str) -> SendOutcome {
    let snippet: String = body.chars().take(200).collect();
    match status {
        200..=299 => SendOutcome::Accepted { provider_id: None },
        408 | 425 | 429 | 500..=599 => SendOutcome::Transient(format!("HTTP {status}: {snippet}")),
        _ => SendOutcome::Permanent(format!("HTTP {status}: {snippet}")),
    }
}
