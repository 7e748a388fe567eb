//! End-to-end tests over real HTTP on a random port, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod access;
mod api_channel;
mod attachments;
mod automations;
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
mod lists;
mod malformed;
mod messaging;
mod nodes;
mod outbound;
mod realtime;
mod roles;
mod settings;
mod shapes;
mod sockets;
mod surveys;
mod twilio;
mod waits;
mod widget;
