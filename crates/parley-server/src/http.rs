//! The HTTP edge's helpers that handlers and sockets share: what a request carries beyond its
//! route and body.

use axum::http::HeaderMap;

/// The client address, as the connection or a trusted proxy header reports it (for the audit log).
/// The client's address as the server determined it (`client_address` in the router).
pub(crate) fn client_ip(headers: &HeaderMap) -> Option<String> {
    headers
        .get(crate::CLIENT_IP_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
