//! The one place errors become HTTP answers: `{"error":{"code","message"}}` with a stable,
//! machine-readable code. Internal errors are logged and answered with a generic text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parley_store::StoreError;
use serde_json::json;

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
