//! The pages served by `parley serve` itself: the small agent app and the first-start setup page,
//! embedded in the binary. Scripts are files, never inline, so the CSP can forbid inline script.
//! Each file carries an ETag of its content, so a reload revalidates (304) instead of fetching.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, MethodRouter};
use axum::Router;
use sha2::{Digest, Sha256};

use crate::state::App;

macro_rules! asset {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $name))
    };
}

/// A GET route serving one embedded file. Its ETag is weak because the compression layer may
/// send the same content gzipped, which a strong validator would have to tell apart.
fn file(content_type: &'static str, body: &'static str) -> MethodRouter<App> {
    let digest = hex::encode(Sha256::digest(body.as_bytes()));
    let etag = HeaderValue::from_str(&format!("W/\"{}\"", &digest[..32]))
        .unwrap_or(HeaderValue::from_static("W/\"0\""));
    get(move |headers: HeaderMap| async move {
        // Stored, but checked with the server on every use: a new build is picked up at once.
        let validators = [
            (header::ETAG, etag.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ];
        if matches(&headers, &etag) {
            return (StatusCode::NOT_MODIFIED, validators).into_response();
        }
        (
            validators,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    })
}

/// Whether `If-None-Match` names this ETag (compared weakly, as RFC 9110 asks for it) or `*`.
fn matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = opaque(etag.to_str().unwrap_or_default());
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || opaque(t) == ours)
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every embedded file: its address, its type and its content. The agent app is native ES modules,
/// one per part of the screen, each fetched by the browser as `app.js` imports it.
const FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, asset!("index.html")),
    ("/setup", HTML, asset!("setup.html")),
    ("/static/app.js", JS, asset!("app.js")),
    ("/static/api.js", JS, asset!("api.js")),
    ("/static/composer.js", JS, asset!("composer.js")),
    ("/static/dom.js", JS, asset!("dom.js")),
    ("/static/i18n.js", JS, asset!("i18n.js")),
    ("/static/list.js", JS, asset!("list.js")),
    ("/static/panel.js", JS, asset!("panel.js")),
    ("/static/realtime.js", JS, asset!("realtime.js")),
    ("/static/settings.js", JS, asset!("settings.js")),
    (
        "/static/settings-channels.js",
        JS,
        asset!("settings-channels.js"),
    ),
    ("/static/settings-forms.js", JS, asset!("settings-forms.js")),
    ("/static/settings-hours.js", JS, asset!("settings-hours.js")),
    (
        "/static/settings-people.js",
        JS,
        asset!("settings-people.js"),
    ),
    ("/static/settings-rules.js", JS, asset!("settings-rules.js")),
    (
        "/static/settings-macros.js",
        JS,
        asset!("settings-macros.js"),
    ),
    (
        "/static/settings-workspace.js",
        JS,
        asset!("settings-workspace.js"),
    ),
    (
        "/static/settings-templates.js",
        JS,
        asset!("settings-templates.js"),
    ),
    ("/static/state.js", JS, asset!("state.js")),
    ("/static/test-customer.js", JS, asset!("test-customer.js")),
    ("/static/thread.js", JS, asset!("thread.js")),
    ("/static/ui.js", JS, asset!("ui.js")),
    ("/static/icons.svg", SVG, asset!("icons.svg")),
    ("/static/setup.js", JS, asset!("setup.js")),
    ("/static/style.css", CSS, asset!("style.css")),
    ("/static/tokens.css", CSS, asset!("tokens.css")),
    ("/widget.js", JS, asset!("widget.js")),
    ("/widget.css", CSS, asset!("widget.css")),
];

pub fn router() -> Router<App> {
    FILES
        .iter()
        .fold(Router::new(), |r, &(path, content_type, body)| {
            r.route(path, file(content_type, body))
        })
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}
