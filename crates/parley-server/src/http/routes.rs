//! The REST API under `/api/v1`, as one table: each route's method, path, handler, access and
//! summary. The router and the OpenAPI document are both built from it, so they cannot disagree.

use axum::routing::MethodRouter;

use crate::state::App;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials.
    Public,
    /// Any signed-in member of the workspace (agent, supervisor, admin); scoped to their inboxes.
    Member,
    /// Supervisors and admins.
    Supervisor,
    /// Admins only.
    Admin,
    /// A provider or integrating system, proven by the request signature.
    Signature,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// The JSON Schema of the request body, for routes that take one: derived from the type its
    /// handler's `Json` reads.
    pub body: Option<SchemaFn>,
    /// What a success answers: the JSON Schema of its body, derived from the type the handler
    /// returns, and its status.
    pub answer: Answer,
    /// The query parameters the route takes, read from the struct its handler's `Query` reads;
    /// under `/api/v1` any other parameter is refused.
    pub query: &'static [&'static str],
    /// Each query parameter's JSON Schema type, in the order of `query`.
    pub query_types: fn() -> Vec<&'static str>,
    pub handler: MethodRouter<App>,
}

/// What a route answers when it succeeds.
#[derive(Clone, Copy)]
pub enum Answer {
    /// Not described: only routes outside `/api/v1` (webhooks, pages) may leave it so.
    Undescribed,
    /// A JSON body of this schema, with this status (200, or 201 for what a call created).
    Json(u16, SchemaFn),
    /// 204, no body.
    NoContent,
    /// A body that is not JSON (a file, a CSV, a page, a WebSocket upgrade): its media type.
    Other(&'static str),
}

impl Answer {
    /// The answer a route's entry names last (the macro folds its options with this).
    pub fn or(self, named: Answer) -> Answer {
        named
    }
}

/// Adds the schema of a type to the document's generator and answers it (a `$ref` for named types).
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// The [`SchemaFn`] of `T`.
pub fn schema<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

macro_rules! route {
    ($m:ident $path:literal => $h:path, $tag:literal, $access:ident, $summary:literal $(, query = $q:ty)? $(, body = $body:ty)? $(, response = $resp:ty)? $(, created = $created:ty)? $(, answer = $answer:expr)?) => {
        $crate::http::routes::Route {
            method: stringify!($m),
            path: $path,
            tag: $tag,
            access: $crate::http::routes::Access::$access,
            summary: $summary,
            body: None $(.or(Some($crate::http::routes::schema::<$body> as $crate::http::routes::SchemaFn)))?,
            answer: $crate::http::routes::Answer::Undescribed
                $(.or($crate::http::routes::Answer::Json(200, $crate::http::routes::schema::<$resp>)))?
                $(.or($crate::http::routes::Answer::Json(201, $crate::http::routes::schema::<$created>)))?
                $(.or($answer))?,
            query: $crate::http::query::query_params::<route!(@query $($q)?)>(),
            query_types: $crate::http::query::query_types::<route!(@query $($q)?)>,
            handler: axum::routing::$m($h),
        }
    };
    (@query) => { $crate::http::query::NoQuery };
    (@query $q:ty) => { $q };
}
pub(crate) use route;

/// Every route: the API of each part of Parley, its webhooks and sockets.
pub fn routes() -> Vec<Route> {
    let mut all = vec![
        route!(get "/api/v1/openapi.json" => crate::http::openapi::openapi_json, "meta", Public, "This document", answer = Answer::Other("application/json")),
    ];
    all.extend(crate::account::routes());
    all.extend(crate::inboxes::routes());
    all.extend(crate::contacts::routes());
    all.extend(crate::compliance::routes());
    all.extend(crate::conversations::routes());
    all.extend(crate::realtime::routes());
    all.extend(crate::inbound::routes());
    all.extend(crate::hours::routes());
    all.extend(crate::templates::routes());
    all.extend(crate::automations::routes());
    all
}

/// Refuses query parameters the route does not take, before its handler runs: a route with no
/// `Query` of its own would otherwise ignore them.
pub(crate) async fn check_query(
    axum::extract::State(allowed): axum::extract::State<&'static [&'static str]>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match crate::http::query::check_query(req.uri().query().unwrap_or(""), allowed) {
        Ok(()) => {
            req.extensions_mut()
                .insert(crate::http::query::QueryChecked);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}
