//! The extractors that read requests: JSON bodies that name the field at fault, raw bodies,
//! path ids and query strings, each refusing with an `ApiError`.

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};

use crate::http::error::ApiError;
use crate::http::query::{parse_query, read_query, QueryChecked};

mod named;

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

/// Deserializes a field that may be absent (outer `None`), null (`Some(None)`) or set.
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_field(e: ApiError) -> (&'static str, Option<String>, String) {
        let message = e.to_string();
        match e {
            ApiError::BadRequest { code, .. } => (code, None, message),
            ApiError::BadBody { code, field, .. } => (code, field, message),
            other => panic!("unexpected {other:?}"),
        }
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
