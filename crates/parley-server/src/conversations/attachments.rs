//! Attachments: files customers send (fetched from the provider and stored) and files agents
//! upload to send. Bytes live in the blob store under `{workspace}/{inbox}/{id}` with a JSON
//! sidecar; agents read them through the API (access is per inbox), providers and widget
//! visitors through short-lived signed URLs.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_blobs::BlobError;
use parley_channels::rich::Media;
use parley_channels::ChannelKind;
use parley_core::InboxId;
use parley_store::InboxRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query, RawBody};
use crate::state::App;

/// The largest attachment stored, either way.
pub const MAX_BYTES: usize = 25 * 1024 * 1024;

/// How long a signed URL works: long enough for a provider to fetch it, or a visitor to look.
const URL_TTL_MS: i64 = 24 * 3600 * 1000;

/// Types accepted from agents. HTML, scripts and executables are never stored to be served back.
const ALLOWED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "audio/mpeg",
    "audio/ogg",
    "audio/aac",
    "audio/mp4",
    "video/mp4",
    "video/3gpp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
];

/// What is known of a stored attachment (its sidecar, and what a message's `meta` lists).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub id: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: u64,
}

fn key(inbox: &InboxRow, id: &str) -> String {
    format!("{}/{}/{id}", inbox.workspace_id, inbox.id)
}

/// Removes a stored file and its description (retention, erasure).
pub async fn delete(
    app: &App,
    ws: parley_core::WorkspaceId,
    inbox: parley_core::InboxId,
    id: &str,
) -> Result<(), BlobError> {
    let k = format!("{ws}/{inbox}/{id}");
    app.blobs.delete(&k).await?;
    app.blobs.delete(&format!("{k}.json")).await
}

fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::NotFound => ApiError::NotFound,
        other => ApiError::Internal(anyhow::anyhow!("attachment store: {other}")),
    }
}

/// A filename safe to keep and to put in a header: no path, no control characters, bounded.
fn clean_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';'))
        .take(200)
        .collect();
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}

/// Stores bytes as an attachment of the inbox.
pub async fn store(
    app: &App,
    inbox: &InboxRow,
    filename: Option<&str>,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<Attachment, ApiError> {
    let a = Attachment {
        id: uuid::Uuid::now_v7().simple().to_string(),
        filename: filename.and_then(clean_name),
        content_type: content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
        size: bytes.len() as u64,
    };
    let k = key(inbox, &a.id);
    let sidecar = serde_json::to_vec(&a).map_err(|e| ApiError::Internal(e.into()))?;
    // The sidecar goes last: an attachment exists once its description does.
    put_sealed(app, &k, bytes).await?;
    put_sealed(app, &format!("{k}.json"), sidecar).await?;
    Ok(a)
}

/// Stores a file sealed under the database's current data key when encryption at rest is on.
async fn put_sealed(app: &App, k: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
    let bytes = match app.store.keyring() {
        Some(keys) => keys.seal(&format!("blob:{k}"), &bytes),
        None => bytes,
    };
    app.blobs.put(k, bytes).await.map_err(blob_error)
}

/// A stored file, opened if it was sealed.
async fn get_opened(app: &App, k: &str) -> Result<Vec<u8>, ApiError> {
    let raw = app.blobs.get(k).await.map_err(blob_error)?;
    parley_store::crypt::open_bytes(app.store.keyring().as_deref(), &format!("blob:{k}"), raw)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("attachment {k}: {e}")))
}

/// The description of a stored attachment, `NotFound` when there is none.
pub async fn describe(app: &App, inbox: &InboxRow, id: &str) -> Result<Attachment, ApiError> {
    if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound);
    }
    let raw = get_opened(app, &format!("{}.json", key(inbox, id))).await?;
    serde_json::from_slice(&raw).map_err(|e| ApiError::Internal(e.into()))
}

/// The bytes of a stored attachment.
pub async fn bytes_of(app: &App, inbox: &InboxRow, id: &str) -> Result<Vec<u8>, ApiError> {
    describe(app, inbox, id).await?;
    get_opened(app, &key(inbox, id)).await
}

fn signature(inbox: &InboxRow, id: &str, exp: i64) -> String {
    let sig = parley_channels::api::sign(
        &inbox.secret,
        format!("media/{}/{id}/{exp}", inbox.id).as_bytes(),
    );
    sig.trim_start_matches("sha256=").to_string()
}

/// A URL anyone holding it may fetch the attachment from, until it expires.
pub fn signed_url(app: &App, inbox: &InboxRow, id: &str) -> String {
    let exp = app.now().0 + URL_TTL_MS;
    format!(
        "{}/media/{}/{id}?exp={exp}&sig={}",
        app.config.public_url.trim_end_matches('/'),
        inbox.id,
        signature(inbox, id, exp)
    )
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
    let a = describe(&app, &inbox, &id).await?;
    let bytes = get_opened(&app, &key(&inbox, &id)).await?;
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
    let (Some(exp), Some(sig)) = (q.exp, q.sig) else {
        return Err(ApiError::forbidden("this link is not signed"));
    };
    let header = format!("sha256={sig}");
    let msg = format!("media/{}/{id}/{exp}", inbox.id);
    if parley_channels::api::verify(&inbox.secret, Some(&header), msg.as_bytes()).is_err() {
        return Err(ApiError::forbidden("this link's signature is wrong"));
    }
    if exp < app.now().0 {
        return Err(ApiError::forbidden("this link has expired"));
    }
    let a = describe(&app, &inbox, &id).await?;
    let bytes = get_opened(&app, &key(&inbox, &id)).await?;
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
) -> ApiResult<Response> {
    let inbox = app.store.inbox(&p.scope(), inbox_id).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !ALLOWED.contains(&ct.as_str()) {
        return Err(ApiError::Unprocessable {
            code: "unsupported_type",
            message: format!("{ct:?} files cannot be attached; send images, audio, video, PDF, text or office documents"),
            field: None,
        });
    }
    if body.is_empty() {
        return Err(ApiError::invalid("body", "the file is empty"));
    }
    let a = store(&app, &inbox, q.filename.as_deref(), &ct, body.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

/// Checks that a reply's attachments exist and that the inbox's channel can carry them.
pub async fn for_reply(
    app: &App,
    inbox: &InboxRow,
    ids: &[String],
) -> Result<Vec<Attachment>, ApiError> {
    if ids.len() > 10 {
        return Err(ApiError::invalid(
            "attachments",
            "a reply may carry at most 10 files",
        ));
    }
    let limit = crate::inboxes::channels::kind_of(inbox).and_then(ChannelKind::attachment_limit);
    let mut out = Vec::new();
    for id in ids {
        let a = describe(app, inbox, id).await.map_err(|e| match e {
            ApiError::NotFound => ApiError::invalid(
                "attachments",
                format!("{id:?} is not an attachment of this inbox"),
            ),
            other => other,
        })?;
        if let Some((max, what)) = limit {
            if a.size > max {
                return Err(ApiError::Unprocessable {
                    code: "attachment_too_large",
                    message: format!(
                        "{} is {:.1} MB; {what} takes files up to {:.0} MB",
                        a.filename.as_deref().unwrap_or("the file"),
                        a.size as f64 / 1e6,
                        max as f64 / 1e6
                    ),
                    field: Some("attachments"),
                });
            }
        }
        out.push(a);
    }
    Ok(out)
}

/// The attachments a message's `meta` lists.
pub fn of_meta(meta: Option<&Value>) -> Vec<Attachment> {
    meta.and_then(|m| m.get("attachments"))
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default()
}

/// Downloads a customer's file the provider holds for us (a WhatsApp media id, a Telegram file
/// id, an MMS link) through the inbox's channel and stores it; `None` keeps the reference.
pub async fn fetch_media(app: &App, inbox: &InboxRow, m: &Media) -> Option<Attachment> {
    let d = crate::inboxes::channels::channel_of(inbox)?
        .fetch_media(&app.http, m)
        .await?;
    let (name, content_type) = (d.filename.as_deref(), d.content_type.as_deref());
    keep(app, inbox, d.answer, name, content_type).await
}

/// Stores a provider's answer to a media download, read up to the size limit.
pub async fn keep(
    app: &App,
    inbox: &InboxRow,
    answer: Result<reqwest::Response, parley_channels::net::Error>,
    filename: Option<&str>,
    fallback_type: Option<&str>,
) -> Option<Attachment> {
    let resp = match answer {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            tracing::warn!(status = %r.status(), "the provider refused a media download");
            return None;
        }
        Err(e) => {
            // The error's text never holds the URL: some providers (Telegram) put the
            // credentials in it.
            tracing::warn!(error = %e, "a media download failed");
            return None;
        }
    };
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(fallback_type.map(str::to_string))
        .unwrap_or_else(|| "application/octet-stream".into());
    // Read in chunks, so a response without a length cannot grow past the limit.
    let bytes = match parley_channels::net::read_capped(resp, MAX_BYTES).await {
        Ok(b) => b,
        Err(true) => {
            tracing::warn!("a customer's file is over the size limit; kept as a link");
            return None;
        }
        Err(false) => {
            tracing::warn!("a media download broke off");
            return None;
        }
    };
    store(app, inbox, filename, &ct, bytes)
        .await
        .map_err(|e| tracing::warn!(error = %e, "a customer's file could not be stored"))
        .ok()
}
