//! The one place errors become HTTP answers: `{"error":{"code","message"}}` with a stable,
//! machine-readable code. Internal errors are logged and answered with a generic text.

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_store::StoreError;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::json;

mod named;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("sign in first")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    CsrfFailed(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        field: Option<&'static str>,
    },
    /// A JSON body that does not fit its request: `field` is the path of the field at fault
    /// (`template.name`, `choices[0].id`), when one is.
    #[error("{message}")]
    BadBody {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("the request body is larger than the limit")]
    TooLarge,
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code: "invalid_field",
            message: message.into(),
            field: Some(field),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden(message.into())
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::CsrfFailed(_) => (StatusCode::FORBIDDEN, "csrf_failed"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unprocessable { code, .. } | ApiError::BadBody { code, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, code)
            }
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::UnsupportedMedia(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The JSON error body.
pub fn error_body(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let mut err = json!({ "code": code, "message": message });
    if let Some(f) = field {
        err["field"] = json!(f);
    }
    (status, axum::Json(json!({ "error": err }))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let field = match &self {
            ApiError::Unprocessable { field, .. } => *field,
            ApiError::BadBody { field, .. } => field.as_deref(),
            _ => None,
        };
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "something went wrong on our side; it has been logged".to_string()
            }
            other => other.to_string(),
        };
        error_body(status, code, &message, field)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid { field, reason } => ApiError::Unprocessable {
                code: "invalid_field",
                message: format!("{field}: {reason}"),
                field: Some(field),
            },
            StoreError::Rejected { code, message } => ApiError::Unprocessable {
                code,
                message,
                field: None,
            },
            StoreError::Other(e) => ApiError::Internal(e),
        }
    }
}

impl From<parley_core::Invalid> for ApiError {
    fn from(e: parley_core::Invalid) -> Self {
        ApiError::Unprocessable {
            code: "invalid_field",
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

fn from_bytes_rejection(r: &BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge
    } else {
        ApiError::bad_request("bad_body", r.body_text())
    }
}

/// A JSON request body. Malformed JSON is 400 `bad_json`; JSON that is not an object with named
/// fields is 422 `invalid_body`; a field the request does not take is 422 `unknown_field`; a
/// missing field or a value of the wrong type is 422 `invalid_field`; each naming the field. Too
/// large is 413, not JSON 415. Request structs refuse unknown fields with
/// `#[serde(deny_unknown_fields)]`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMedia(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| from_bytes_rejection(&e))?;
        parse_json(&bytes).map(Json)
    }
}

/// `application/json` or any `application/…+json`, as `axum::Json` takes.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
}

/// Parses a request body into `T` (see [`Json`] for what each kind of mistake answers).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so malformed JSON is 400 whatever shape it started to take.
    if let Err(e) = serde_json::from_slice::<IgnoredAny>(bytes) {
        return Err(ApiError::bad_request(
            "bad_json",
            format!("malformed JSON: {e}"),
        ));
    }
    // Fields are named, never taken by position (serde would read an array as a struct).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadBody {
            code: "invalid_body",
            message: "the body must be a JSON object with named fields".into(),
            field: None,
        });
    }
    // Nested structs too: `Named` refuses an array wherever a struct is read.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(named::Named(&mut de))
        .map_err(|e| body_error(&e.path().to_string(), &e.into_inner().to_string()))
}

/// A serde error about a well-formed body, as the field it names and what is wrong with it.
fn body_error(path: &str, message: &str) -> ApiError {
    // serde_json appends the position, which says nothing more than the field's path.
    let message = message.split(" at line ").next().unwrap_or(message);
    let prefix = match path {
        "." | "" => String::new(),
        p => format!("{p}."),
    };
    let quoted = || {
        message
            .split('`')
            .nth(1)
            .map(|name| format!("{prefix}{name}"))
    };
    let (code, field, message) = if message.starts_with("unknown field") {
        // The path already ends with the unknown name.
        let field = (!prefix.is_empty())
            .then(|| path.to_string())
            .or_else(quoted);
        let message = match &field {
            Some(f) => format!("unknown field `{f}`: {}", expected_of(message)),
            None => message.to_string(),
        };
        ("unknown_field", field, message)
    } else if message.starts_with("missing field") {
        let field = quoted();
        let message = match &field {
            Some(f) => format!("`{f}` is required"),
            None => message.to_string(),
        };
        ("invalid_field", field, message)
    } else if prefix.is_empty() {
        ("invalid_body", None, message.to_string())
    } else {
        (
            "invalid_field",
            Some(path.to_string()),
            format!("`{path}`: {message}"),
        )
    };
    ApiError::BadBody {
        code,
        message,
        field,
    }
}

/// The list of accepted names out of serde's "unknown field `x`, expected one of `a`, `b`".
fn expected_of(message: &str) -> String {
    match message.split_once(", expected ") {
        Some((_, rest)) => format!("this request takes {}", rest.replace("one of ", "")),
        None => "this request takes no fields".into(),
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The raw request body (webhooks verify signatures over the exact bytes).
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| from_bytes_rejection(&e))
    }
}

/// `axum::extract::Path` answering 400 `invalid_path` for ids that do not parse.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e: PathRejection| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// The query string, read into `T`: a parameter `T` does not name, or one given twice, is 400
/// `invalid_query` naming it, and so is a value of the wrong type.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Under `/api/v1` the route's check has already run on these very names.
        if parts.extensions.get::<QueryChecked>().is_some() {
            return read_query(parts.uri.query()).map(Query);
        }
        parse_query(parts.uri.query()).map(Query)
    }
}

/// Marks a request whose query the route's `check_query` has passed.
#[derive(Clone, Copy)]
pub struct QueryChecked;

/// Reads a query string into `T` (see [`Query`]).
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    check_query(raw.unwrap_or(""), query_params::<T>())?;
    read_query(raw)
}

/// Reads a query string into `T`, letting parameters it does not name be (for pages and hooks
/// whose callers may add their own).
pub fn read_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    let raw = raw.unwrap_or("");
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = match e.path().to_string().as_str() {
            "." | "" => e.inner().to_string(),
            name => format!("`{name}`: {}", e.inner()),
        };
        ApiError::bad_request("invalid_query", message)
    })
}

/// Refuses a query parameter not in `allowed`, or given twice, naming it: a misspelt filter
/// would otherwise be ignored and the answer look right.
pub fn check_query(raw: &str, allowed: &[&str]) -> Result<(), ApiError> {
    let mut seen: Vec<std::borrow::Cow<'_, str>> = Vec::new();
    for (name, _) in form_urlencoded::parse(raw.as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            let takes = if allowed.is_empty() {
                "this endpoint takes none".to_string()
            } else {
                format!("this endpoint takes {}", allowed.join(", "))
            };
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unknown query parameter `{name}`: {takes}"),
            ));
        }
        if seen.contains(&name) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("query parameter `{name}` is given more than once"),
            ));
        }
        seen.push(name);
    }
    Ok(())
}

/// A query that takes no parameters.
#[derive(serde::Deserialize)]
pub struct NoQuery {}

/// The parameter names a query struct takes, read from its derived `Deserialize` (the field
/// names it hands serde), so the check above and the API document use the one definition.
pub fn query_params<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Names<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Names<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("a query is a struct"))
        }

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("only the names were wanted"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut names));
    names
}

/// The JSON Schema type of each parameter `T` takes, in the order of [`query_params`]: the
/// primitive its derived `Deserialize` asks for (`integer`, `number`, `boolean`, else `string`).
pub fn query_types<T: DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::value::{BorrowedStrDeserializer, Error};
    use serde::de::{DeserializeSeed, MapAccess, Visitor};

    /// Hands the struct one field, whose value records what it is asked to be.
    struct One<'a> {
        index: usize,
        out: &'a mut &'static str,
    }
    struct Field<'a> {
        name: Option<&'static str>,
        out: &'a mut &'static str,
    }
    struct Probe<'a>(&'a mut &'static str);

    impl<'de> serde::Deserializer<'de> for One<'_> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(serde::de::Error::custom("a query is a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_map(Field {
                name: fields.get(self.index).copied(),
                out: self.out,
            })
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    impl<'de> MapAccess<'de> for Field<'_> {
        type Error = Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Error> {
            self.name
                .map(|n| seed.deserialize(BorrowedStrDeserializer::new(n)))
                .transpose()
        }

        fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
            seed.deserialize(Probe(self.out))
        }
    }

    macro_rules! record {
        ($ty:literal: $($method:ident)*) => {
            $(fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
                *self.0 = $ty;
                Err(serde::de::Error::custom("only the type was wanted"))
            })*
        };
    }

    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = Error;

        record!("integer": deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
            deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
            deserialize_u128);
        record!("number": deserialize_f32 deserialize_f64);
        record!("boolean": deserialize_bool);
        record!("string": deserialize_any);

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_some(self)
        }

        serde::forward_to_deserialize_any! {
            char str string bytes byte_buf unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }

    (0..query_params::<T>().len())
        .map(|index| {
            let mut ty = "string";
            let _ = T::deserialize(One {
                index,
                out: &mut ty,
            });
            ty
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "read by the tests through Debug only")]
    struct Q {
        inbox: Option<String>,
        limit: Option<u32>,
    }

    fn code_field(e: ApiError) -> (&'static str, Option<String>, String) {
        let message = e.to_string();
        match e {
            ApiError::BadRequest { code, .. } => (code, None, message),
            ApiError::BadBody { code, field, .. } => (code, field, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn query_names_come_from_the_struct() {
        assert_eq!(query_params::<Q>(), ["inbox", "limit"]);
        assert_eq!(query_types::<Q>(), ["string", "integer"]);
        assert!(query_params::<NoQuery>().is_empty());
    }

    #[test]
    fn unknown_repeated_and_bad_query_parameters_are_named() {
        let (code, _, m) = code_field(parse_query::<Q>(Some("inbox_id=1")).unwrap_err());
        assert_eq!(code, "invalid_query");
        assert!(
            m.contains("`inbox_id`") && m.contains("inbox, limit"),
            "{m}"
        );
        let (_, _, m) = code_field(parse_query::<Q>(Some("limit=1&limit=2")).unwrap_err());
        assert!(m.contains("`limit`"), "{m}");
        let (_, _, m) = code_field(parse_query::<Q>(Some("limit=ten")).unwrap_err());
        assert!(m.starts_with("`limit`"), "{m}");
        assert!(parse_query::<Q>(Some("inbox=a&limit=3")).is_ok());
        assert!(parse_query::<NoQuery>(None).is_ok());
        assert!(parse_query::<NoQuery>(Some("x=1")).is_err());
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "read by the tests through Debug only")]
    struct Body {
        body: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "read by the tests through Debug only")]
    struct Inner {
        n: u32,
    }

    #[test]
    fn body_errors_name_their_field() {
        let e = |s: &str| code_field(parse_json::<Body>(s.as_bytes()).unwrap_err());
        assert_eq!(e("[\"x\"]").0, "invalid_body");
        assert_eq!(e("\"x\"").0, "invalid_body");
        assert_eq!(e("{\"body\":").0, "bad_json");
        assert_eq!(e("{\"body\":\"x\"} {}").0, "bad_json");
        let (code, field, m) = e("{\"body\":\"x\",\"bogus\":1}");
        assert_eq!(
            (code, field.as_deref()),
            ("unknown_field", Some("bogus")),
            "{m}"
        );
        assert!(m.contains("takes `body` or `inner`"), "{m}");
        let (code, field, _) = e("{\"body\":\"x\",\"inner\":{\"n\":1,\"z\":2}}");
        assert_eq!((code, field.as_deref()), ("unknown_field", Some("inner.z")));
        let (code, field, _) = e("{\"body\":42}");
        assert_eq!((code, field.as_deref()), ("invalid_field", Some("body")));
        let (code, field, _) = e("{\"body\":\"x\",\"inner\":{\"n\":\"1\"}}");
        assert_eq!((code, field.as_deref()), ("invalid_field", Some("inner.n")));
        let (code, field, m) = e("{}");
        assert_eq!(
            (code, field.as_deref()),
            ("invalid_field", Some("body")),
            "{m}"
        );
        let (code, field, m) = e("{\"body\":\"x\",\"inner\":[1]}");
        assert_eq!(
            (code, field.as_deref()),
            ("invalid_field", Some("inner")),
            "{m}"
        );
        assert!(m.contains("object with named fields"), "{m}");
        assert!(parse_json::<Body>(b" {\"body\":\"x\"} ").is_ok());
    }
}
