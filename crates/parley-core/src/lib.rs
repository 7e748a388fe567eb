//! Parley's domain: identifiers, time, roles, contacts, conversations and their state machine,
//! messages and delivery, and retry policy. Pure: no IO, no async, no clock — callers pass the time in.

pub mod automation;
pub mod compliance;
pub mod consent;
pub mod contact;
pub mod conversation;
pub mod hours;
pub mod ids;
pub mod keywords;
pub mod message;
pub mod nanp;
pub mod rating;
pub mod retry;
pub mod role;
pub mod routing;
pub mod sla;
pub mod sms;
pub mod template;
pub mod time;

pub use ids::*;
pub use time::Timestamp;

/// A value that failed validation, with the field it came from and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
