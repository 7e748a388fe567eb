//! Exports for auditors: one conversation's whole timeline, or every thread active in a date
//! range, as JSON or CSV (one row per timeline entry). Admins only; each export is audited.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_core::{ConversationId, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::state::App;
use threads::ExportError;

pub mod threads;

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::TooLarge => ApiError::Unprocessable {
                code: "export_too_large",
                message: e.to_string(),
                field: Some("from"),
            },
            ExportError::Store(e) => e.into(),
            ExportError::Data(e) => ApiError::Internal(e.into()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
    /// RFC 3339; the range export's bounds (inclusive start, exclusive end).
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// `json` (the default) or `csv`.
pub(crate) fn format_of(format: Option<&str>) -> Result<&'static str, ApiError> {
    match format.unwrap_or("json") {
        "json" => Ok("json"),
        "csv" => Ok("csv"),
        _ => Err(ApiError::bad_request(
            "invalid_query",
            "format must be json or csv",
        )),
    }
}

/// RFC 4180 quoting; a leading `=`, `+`, `-` or `@` is neutralised so a spreadsheet does not run
/// a customer's text as a formula.
pub(crate) fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Appends one CSV record.
pub(crate) fn csv_line(out: &mut String, cells: &[String]) {
    let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// The export as a download: the JSON body, or the CSV text.
pub(crate) fn download(format: &str, name: &str, json_body: Value, csv: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}.{format}\"");
    if format == "json" {
        return (
            StatusCode::OK,
            [(header::CONTENT_DISPOSITION, disposition)],
            Json(json_body),
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response()
}

/// `GET /api/v1/conversations/{id}/export?format=json|csv`.
pub async fn conversation(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    require_admin(&p)?;
    let format = format_of(q.format.as_deref())?.to_string();
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    let entries = threads::whole_timeline(&app, &scope, id).await?;
    let detail = json!({ "format": format, "entries": entries.len() });
    crate::account::audit::audit(&app, &p, &headers, "export.conversation", id, detail).await;
    let mut csv = String::from(threads::CSV_HEADER);
    if format == "csv" {
        threads::csv_rows(&mut csv, &conv, &entries);
    }
    let timeline = threads::items(entries).map_err(ExportError::from)?;
    let body = json!({ "exported_at": app.now(), "conversation": conv, "timeline": timeline });
    Ok(download(&format, &format!("conversation-{id}"), body, csv))
}

/// `GET /api/v1/exports/conversations?from=&to=&format=json|csv`: every thread with activity in
/// the range, with the timeline entries that fall in it.
pub async fn range(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    require_admin(&p)?;
    let format = format_of(q.format.as_deref())?.to_string();
    let (from, to) = bounds(&q)?;
    let scope = p.scope();
    let active = threads::active_in(&app, &scope, from, to).await?;
    let mut csv = String::from(threads::CSV_HEADER);
    let as_csv = format == "csv";
    let (out, count) =
        threads::entries_in(&app, &scope, active, (from, to), as_csv, &mut csv).await?;
    let detail = json!({ "format": format, "from": from, "to": to, "entries": count });
    crate::account::audit::audit(&app, &p, &headers, "export.range", p.workspace_id, detail).await;
    let body = json!({ "exported_at": app.now(), "from": from, "to": to, "threads": out });
    Ok(download(&format, "conversations", body, csv))
}

/// The range export's bounds: `from` and `to`, RFC 3339, `from` first.
fn bounds(q: &ExportQuery) -> ApiResult<(Timestamp, Timestamp)> {
    let bound = |field: &'static str, v: &Option<String>| {
        v.as_deref()
            .and_then(Timestamp::parse_rfc3339)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("{field} must be an RFC 3339 time such as 2026-11-01T00:00:00Z"),
                )
            })
    };
    let (from, to) = (bound("from", &q.from)?, bound("to", &q.to)?);
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_query",
            "to must be after from",
        ));
    }
    Ok((from, to))
}
