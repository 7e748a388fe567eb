//! End-to-end tests over real HTTP on a random port, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod access;
mod api_channel;
mod attachments;
mod bots;
mod browser;
mod calls;
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
mod survey_replies;
mod surveys;
mod twilio;
mod waits;
mod widget;
