//! The layers every request passes through: the client's address as the server determined it,
//! the access log, security headers and compression.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};

use crate::redact;

/// The header through which handlers learn the client's address; whatever a client sends under
/// this name is replaced.
pub const CLIENT_IP_HEADER: &str = "x-parley-client-ip";

/// Puts the client's address where handlers read it: the peer's, or, when the peer is a proxy
/// the operator named (`trusted_proxies`), the address that proxy appended to `X-Forwarded-For`
/// (read from the right, past further trusted proxies). Anyone else's header is ignored: it is
/// the client's own claim.
pub(crate) async fn client_address(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<parley_channels::net::Cidr>>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d.
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(*ip));
    let client = match peer {
        Some(p) if is_trusted(&p) => {
            let entries: Vec<&str> = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect();
            // From the right, past trusted proxies, to the first address a trusted proxy vouches
            // for; an entry that is no address ends the walk at the last one that was.
            let mut client = p;
            for entry in entries.iter().rev() {
                let Ok(ip) = entry.parse::<std::net::IpAddr>() else {
                    break;
                };
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    break;
                }
            }
            Some(client)
        }
        p => p,
    };
    let headers = req.headers_mut();
    headers.remove(CLIENT_IP_HEADER);
    if let Some(v) = client.and_then(|ip| HeaderValue::from_str(&ip.to_string()).ok()) {
        headers.insert(CLIENT_IP_HEADER, v);
    }
    next.run(req).await
}

/// One debug line per request: method, path (never the query, which may carry a token), status
/// and time taken.
pub(crate) async fn access_log(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::debug!(
        %method,
        path = %redact::redact(&path),
        status = res.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    res
}

pub(crate) async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    // A response that set its own policy (a downloaded file's sandbox) keeps it.
    h.entry("content-security-policy")
        .or_insert(HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    res
}

/// Answers gzipped when the client accepts it, except images, event streams and answers without a
/// body (the WebSocket upgrade's 101).
pub(crate) fn compression(
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{DefaultPredicate, Predicate};
    let not_upgrade =
        |status: StatusCode,
         _: axum::http::Version,
         _: &axum::http::HeaderMap,
         _: &axum::http::Extensions| { status != StatusCode::SWITCHING_PROTOCOLS };
    tower_http::compression::CompressionLayer::new()
        .compress_when(DefaultPredicate::new().and(not_upgrade))
}
