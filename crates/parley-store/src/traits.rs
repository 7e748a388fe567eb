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
mod privacy;
mod seen;

pub use access::Access;
pub use accounts::Accounts;
pub use automations::Automations;
pub use contacts::Contacts;
pub use conversations::Conversations;
pub use directory::Directory;
pub use keys::Keys;
pub use lists::Lists;
pub use outbox::Outbox;
pub use privacy::Privacy;
pub use seen::Seen;
