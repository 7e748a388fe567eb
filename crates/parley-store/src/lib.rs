//! The storage boundary: the store traits both backends implement, one per aggregate (`Store` is
//! all of them), their errors and row types, the decisions both make (`plan`), and the conformance
//! suite (`conformance`) each backend runs against itself.
//!
//! Methods are coarse — one use case, one transaction each. Agent-facing reads and writes take a
//! `Scope`, so a query cannot forget which workspace and inboxes the caller may see. Every write
//! that touches a conversation appends timeline events; the backend hands them, in commit order,
//! to the `EventSink` it was built with, after the commit.

pub mod conformance;
pub mod crypt;
mod cursor;
pub mod plan;
pub mod sql;
mod traits;
mod types;

use std::sync::Arc;

pub use cursor::Cursor;
pub use traits::{
    snooze_key, Access, Accounts, Automations, Contacts, Conversations, Directory, Keys, Lists,
    NewTimer, Outbox, Pace, Privacy, Seen, Templates, TimerKeys, TimerRow, Timers, SNOOZE_KIND,
};
pub use types::*;

/// Receives committed events in commit order. Called by the backend after each commit, on the
/// thread or task that committed, so it must not block.
pub type EventSink = Arc<dyn Fn(&[Published]) + Send + Sync>;

/// An `EventSink` that drops everything (for tools that only read or write).
pub fn null_sink() -> EventSink {
    Arc::new(|_: &[Published]| {})
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was hit; the text names what is taken.
    #[error("{0}")]
    Conflict(String),
    /// Input the database cannot accept (an unknown user to assign, a team of another workspace).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A domain rule refused the change (`code` is stable and machine-readable).
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<parley_core::Invalid> for StoreError {
    fn from(e: parley_core::Invalid) -> Self {
        StoreError::Invalid {
            field: e.field,
            reason: e.reason,
        }
    }
}

impl From<parley_core::conversation::ConversationError> for StoreError {
    fn from(e: parley_core::conversation::ConversationError) -> Self {
        use parley_core::conversation::ConversationError as E;
        let code = match e {
            E::AlreadyInStatus(_) => "conversation_status_unchanged",
            E::SnoozeInPast => "snooze_in_past",
            E::NoChange => "no_change",
        };
        StoreError::Rejected {
            code,
            message: e.to_string(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Every aggregate's store: what a backend implements and the application holds.
pub trait Store:
    Keys
    + Accounts
    + Access
    + Directory
    + Contacts
    + Lists
    + Conversations
    + Seen
    + Outbox
    + Privacy
    + Pace
    + Templates
    + Timers
    + Automations
{
}

impl<T> Store for T where
    T: Keys
        + Accounts
        + Access
        + Directory
        + Contacts
        + Lists
        + Conversations
        + Seen
        + Outbox
        + Privacy
        + Pace
        + Templates
        + Timers
        + Automations
{
}

/// The store traits, so callers reach every method with one `use parley_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Access, Accounts, Automations, Contacts, Conversations, Directory, DynStore, Keys, Outbox,
        Pace, Privacy, Store, Templates, Timers,
    };
}

/// A store shared by the application.
pub type DynStore = Arc<dyn Store>;
