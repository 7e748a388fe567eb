//! The pages served by `parley serve` itself: the small agent app and the first-start setup page,
//! embedded in the binary. Scripts are files, never inline, so the CSP can forbid inline script.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::App;

macro_rules! asset {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $name))
    };
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", asset!("index.html")) }),
        )
        .route(
            "/setup",
            get(|| async { page("text/html; charset=utf-8", asset!("setup.html")) }),
        )
        .route(
            "/static/app.js",
            get(|| async { page("text/javascript; charset=utf-8", asset!("app.js")) }),
        )
        .route(
            "/static/settings.js",
            get(|| async { page("text/javascript; charset=utf-8", asset!("settings.js")) }),
        )
        .route(
            "/static/setup.js",
            get(|| async { page("text/javascript; charset=utf-8", asset!("setup.js")) }),
        )
        .route(
            "/static/style.css",
            get(|| async { page("text/css; charset=utf-8", asset!("style.css")) }),
        )
        .route(
            "/widget.js",
            get(|| async { page("text/javascript; charset=utf-8", asset!("widget.js")) }),
        )
        .route(
            "/widget.css",
            get(|| async { page("text/css; charset=utf-8", asset!("widget.css")) }),
        )
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}
