//! End-to-end tests over real HTTP on a random port, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod access;
mod api_channel;
mod attachments;
mod bots;
mod browser;
mod compliance;
mod compression;
mod conversations;
mod dispatch;
mod email;
mod encryption;
mod erasure;
mod gate_property;
mod hardening;
mod hours;
mod lists;
mod malformed;
mod messaging;
mod nodes;
mod outbound;
mod realtime;
mod roles;
mod scheduled;
mod settings;
mod shapes;
mod sockets;
mod surveys;
mod templates;
mod test_customer;
mod timers;
mod twilio;
mod waits;
mod widget;
