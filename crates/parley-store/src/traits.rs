//! The store traits, one per aggregate, each in the module of its name; re-exported at the crate
//! root, where `Store` gathers them.

mod access;
mod accounts;
mod automations;
mod contacts;
mod conversations;
mod directory;
mod keys;
mod lists;
mod outbox;
mod pace;
mod privacy;
mod seen;
mod templates;
mod timers;

pub use access::Access;
pub use accounts::Accounts;
pub use automations::Automations;
pub use contacts::Contacts;
pub use conversations::Conversations;
pub use directory::Directory;
pub use keys::Keys;
pub use lists::Lists;
pub use outbox::Outbox;
pub use pace::Pace;
pub use privacy::Privacy;
pub use seen::Seen;
pub use templates::Templates;
pub use timers::{snooze_key, NewTimer, TimerKeys, TimerRow, Timers, SNOOZE_KIND};
