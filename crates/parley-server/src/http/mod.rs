//! The HTTP edge: the route table the router and the OpenAPI document are built from, the one
//! mapping of errors to HTTP answers, the extractors that read requests (bodies, queries, who is
//! calling), the layers every request passes through, the listener, and the served pages.

pub mod caller;
pub mod error;
pub mod extract;
pub mod layers;
pub mod listener;
pub mod openapi;
pub mod query;
pub mod routes;
pub mod web;

use axum::http::HeaderMap;

/// The client's address, as the connection or a trusted proxy reports it and
/// [`layers::client_address`] put it (for the audit log and the sign-in throttle).
pub(crate) fn client_ip(headers: &HeaderMap) -> Option<String> {
    headers
        .get(layers::CLIENT_IP_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
