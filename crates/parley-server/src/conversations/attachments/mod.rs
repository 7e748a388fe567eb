//! Attachments: files customers send (fetched from the provider and stored) and files agents
//! upload to send. Bytes live in the blob store under `{workspace}/{inbox}/{id}` with a JSON
//! sidecar; agents read them through the API (access is per inbox), providers and widget
//! visitors through short-lived signed URLs.

pub mod api;

use parley_blobs::BlobError;
use parley_channels::rich::Media;
use parley_channels::ChannelKind;
use parley_store::InboxRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Attachment {
    pub id: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: u64,
}

/// Why an attachment could not be stored, found or sent.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error("not found")]
    NotFound,
    #[error("attachment store: {0}")]
    Blobs(BlobError),
    #[error("attachment {key}: {reason}")]
    Sealed { key: String, reason: String },
    #[error(transparent)]
    Sidecar(#[from] serde_json::Error),
    #[error(
        "{0:?} files cannot be attached; send images, audio, video, PDF, text or office documents"
    )]
    UnsupportedType(String),
    #[error("the file is empty")]
    Empty,
    #[error("this link is not signed")]
    Unsigned,
    #[error("this link's signature is wrong")]
    BadSignature,
    #[error("this link has expired")]
    Expired,
    #[error("a reply may carry at most 10 files")]
    TooManyFiles,
    #[error("{0:?} is not an attachment of this inbox")]
    NotInInbox(String),
    #[error("{name} is {size:.1} MB; {what} takes files up to {max:.0} MB")]
    TooLarge {
        name: String,
        size: f64,
        what: &'static str,
        max: f64,
    },
}

impl From<BlobError> for AttachmentError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound => AttachmentError::NotFound,
            other => AttachmentError::Blobs(other),
        }
    }
}

type Result<T, E = AttachmentError> = std::result::Result<T, E>;

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
) -> Result<Attachment> {
    let a = Attachment {
        id: uuid::Uuid::now_v7().simple().to_string(),
        filename: filename.and_then(clean_name),
        content_type: essence(content_type),
        size: bytes.len() as u64,
    };
    let k = key(inbox, &a.id);
    let sidecar = serde_json::to_vec(&a)?;
    // The sidecar goes last: an attachment exists once its description does.
    put_sealed(app, &k, bytes).await?;
    put_sealed(app, &format!("{k}.json"), sidecar).await?;
    Ok(a)
}

/// Stores a file sealed under the database's current data key when encryption at rest is on.
async fn put_sealed(app: &App, k: &str, bytes: Vec<u8>) -> Result<()> {
    let bytes = match app.store.keyring() {
        Some(keys) => keys.seal(&format!("blob:{k}"), &bytes),
        None => bytes,
    };
    Ok(app.blobs.put(k, bytes).await?)
}

/// A stored file, opened if it was sealed.
async fn get_opened(app: &App, k: &str) -> Result<Vec<u8>> {
    let raw = app.blobs.get(k).await?;
    parley_store::crypt::open_bytes(app.store.keyring().as_deref(), &format!("blob:{k}"), raw)
        .map_err(|e| AttachmentError::Sealed {
            key: k.to_string(),
            reason: e.to_string(),
        })
}

/// The description of a stored attachment, `NotFound` when there is none.
pub async fn describe(app: &App, inbox: &InboxRow, id: &str) -> Result<Attachment> {
    if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AttachmentError::NotFound);
    }
    let raw = get_opened(app, &format!("{}.json", key(inbox, id))).await?;
    Ok(serde_json::from_slice(&raw)?)
}

/// The bytes of a stored attachment.
pub async fn bytes_of(app: &App, inbox: &InboxRow, id: &str) -> Result<Vec<u8>> {
    Ok(open(app, inbox, id).await?.1)
}

/// A stored attachment: its description and its bytes.
pub async fn open(app: &App, inbox: &InboxRow, id: &str) -> Result<(Attachment, Vec<u8>)> {
    let a = describe(app, inbox, id).await?;
    let bytes = get_opened(app, &key(inbox, id)).await?;
    Ok((a, bytes))
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

/// A stored attachment by a signed link (`exp` in ms, `sig`), for providers and visitors.
pub async fn open_signed(
    app: &App,
    inbox: &InboxRow,
    id: &str,
    exp: Option<i64>,
    sig: Option<&str>,
) -> Result<(Attachment, Vec<u8>)> {
    let (Some(exp), Some(sig)) = (exp, sig) else {
        return Err(AttachmentError::Unsigned);
    };
    let header = format!("sha256={sig}");
    let msg = format!("media/{}/{id}/{exp}", inbox.id);
    if parley_channels::api::verify(&inbox.secret, Some(&header), msg.as_bytes()).is_err() {
        return Err(AttachmentError::BadSignature);
    }
    if exp < app.now().0 {
        return Err(AttachmentError::Expired);
    }
    open(app, inbox, id).await
}

/// The type part of a `Content-Type` (`image/png` of `image/png; q=1`), lower-case.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Stores a file an agent uploads to send: of a type [`ALLOWED`], not empty.
pub async fn upload(
    app: &App,
    inbox: &InboxRow,
    filename: Option<&str>,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<Attachment> {
    let ct = essence(content_type);
    if !ALLOWED.contains(&ct.as_str()) {
        return Err(AttachmentError::UnsupportedType(ct));
    }
    if bytes.is_empty() {
        return Err(AttachmentError::Empty);
    }
    store(app, inbox, filename, &ct, bytes).await
}

/// Checks that a reply's attachments exist and that the inbox's channel can carry them.
pub async fn for_reply(app: &App, inbox: &InboxRow, ids: &[String]) -> Result<Vec<Attachment>> {
    if ids.len() > 10 {
        return Err(AttachmentError::TooManyFiles);
    }
    let limit = crate::inboxes::channels::kind_of(inbox).and_then(ChannelKind::attachment_limit);
    let mut out = Vec::new();
    for id in ids {
        let a = describe(app, inbox, id).await.map_err(|e| match e {
            AttachmentError::NotFound => AttachmentError::NotInInbox(id.clone()),
            other => other,
        })?;
        if let Some((max, what)) = limit {
            if a.size > max {
                return Err(AttachmentError::TooLarge {
                    name: a.filename.as_deref().unwrap_or("the file").to_string(),
                    size: a.size as f64 / 1e6,
                    what,
                    max: max as f64 / 1e6,
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
        .get(reqwest::header::CONTENT_TYPE)
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
