//! Attachments over HTTP: agents upload and download an inbox's files; providers and widget
//! visitors fetch them by signed link. Every file is served so that it can run nothing.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_core::InboxId;
use serde::Deserialize;

use crate::conversations::attachments::{self as files, Attachment, AttachmentError};
use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query, RawBody};
use crate::state::App;

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        match e {
            AttachmentError::NotFound => ApiError::NotFound,
            AttachmentError::Blobs(_)
            | AttachmentError::Sealed { .. }
            | AttachmentError::Sidecar(_) => ApiError::Internal(e.into()),
            AttachmentError::UnsupportedType(_) => ApiError::Unprocessable {
                code: "unsupported_type",
                message: e.to_string(),
                field: None,
            },
            AttachmentError::Empty => ApiError::invalid("body", e.to_string()),
            AttachmentError::Unsigned
            | AttachmentError::BadSignature
            | AttachmentError::Expired => ApiError::forbidden(e.to_string()),
            AttachmentError::TooManyFiles | AttachmentError::NotInInbox(_) => {
                ApiError::invalid("attachments", e.to_string())
            }
            AttachmentError::TooLarge { .. } => ApiError::Unprocessable {
                code: "attachment_too_large",
                message: e.to_string(),
                field: Some("attachments"),
            },
        }
    }
}

/// Types a browser may show in place. Anything else (HTML, SVG, XML, scripts) is a download:
/// those can carry script, and they are served from Parley's own origin.
const INLINE: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "audio/mpeg",
    "audio/ogg",
    "audio/aac",
    "audio/mp4",
    "audio/wav",
    "audio/webm",
    "video/mp4",
    "video/3gpp",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "application/pdf",
];

/// The policy of every downloaded file; the global security headers leave it as it is.
pub const SANDBOX_CSP: &str = "default-src 'none'; sandbox";

fn serve(a: &Attachment, bytes: Vec<u8>) -> Response {
    let inline = INLINE.contains(&a.content_type.as_str());
    let name = a.filename.clone().unwrap_or_else(|| "attachment".into());
    let disposition = format!(
        "{}; filename=\"{}\"",
        if inline { "inline" } else { "attachment" },
        name.replace(|c: char| !c.is_ascii() || c.is_ascii_control(), "_")
    );
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    let ct = HeaderValue::from_str(&a.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Even a file that pretends to be a page can run nothing here.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX_CSP),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    res
}

/// `GET /api/v1/inboxes/{id}/attachments/{attachment}`: for members of the inbox.
pub async fn download(
    State(app): State<App>,
    Auth(p): Auth,
    Path((inbox_id, id)): Path<(InboxId, String)>,
) -> ApiResult<Response> {
    let inbox = app.store.inbox(&p.scope(), inbox_id).await?;
    let (a, bytes) = files::open(&app, &inbox, &id).await?;
    Ok(serve(&a, bytes))
}

#[derive(Deserialize)]
pub struct SignedQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

/// `GET /media/{inbox}/{attachment}?exp=&sig=`: a signed URL, for providers and visitors.
pub async fn public(
    State(app): State<App>,
    Path((inbox_id, id)): Path<(InboxId, String)>,
    Query(q): Query<SignedQuery>,
) -> ApiResult<Response> {
    let inbox = app.hook_inbox(inbox_id).await?.ok_or(ApiError::NotFound)?;
    let (a, bytes) = files::open_signed(&app, &inbox, &id, q.exp, q.sig.as_deref()).await?;
    Ok(serve(&a, bytes))
}

#[derive(Deserialize)]
pub struct UploadQuery {
    filename: Option<String>,
}

/// `POST /api/v1/inboxes/{id}/attachments?filename=`: the raw file as the body, its type in
/// `Content-Type`. Returns the attachment to name in a reply's `attachments`.
pub async fn upload(
    State(app): State<App>,
    Auth(p): Auth,
    Path(inbox_id): Path<InboxId>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let inbox = app.store.inbox(&p.scope(), inbox_id).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let filename = q.filename.as_deref();
    let a = files::upload(&app, &inbox, filename, ct, body.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(a)))
}
