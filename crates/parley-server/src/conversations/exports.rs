//! Exports for auditors: one conversation's whole timeline, or every thread active in a date
//! range, as JSON or CSV (one row per timeline entry). Admins only; each export is audited.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_core::{ConversationId, Timestamp};
use parley_store::{ConversationQuery, ConversationView, Scope, Sort, TimelineEntry};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::account::auth::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult, Json, Path, Query};
use crate::state::App;

/// Threads per range export; a wider range must be split.
const MAX_THREADS: usize = 5_000;

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

/// The conversation's whole timeline, oldest first.
async fn whole_timeline(
    app: &App,
    scope: &Scope,
    id: ConversationId,
) -> ApiResult<Vec<TimelineEntry>> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = app.store.timeline(scope, id, before, 500).await?;
        let full = page.len() == 500;
        before = page.first().map(|e| e.event.seq);
        let mut page = page;
        page.append(&mut all);
        all = page;
        if !full {
            return Ok(all);
        }
    }
}

/// One CSV row per timeline entry: what it was, who, and its text.
fn csv_rows(out: &mut String, conv: &ConversationView, entries: &[TimelineEntry]) {
    for e in entries {
        let data: Value = serde_json::from_str(&e.event.data).unwrap_or_default();
        let (direction, sender, text) = match e.event.kind.as_str() {
            "message.created" => {
                let m = &data["message"];
                (
                    m["direction"].as_str().unwrap_or_default().to_string(),
                    m["sender_kind"].as_str().unwrap_or_default().to_string(),
                    m["body"].as_str().unwrap_or_default().to_string(),
                )
            }
            "note.created" => (
                String::new(),
                "agent".into(),
                data["note"]["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ),
            "consent.changed" => {
                let k = &data["consent"];
                let what = ["purpose", "action", "source", "channel"]
                    .map(|f| k[f].as_str().unwrap_or("all").to_string())
                    .join(" ");
                (String::new(), "system".into(), format!("consent: {what}"))
            }
            _ => (String::new(), String::new(), data["change"].to_string()),
        };
        let status = e.delivery.as_ref().map(|(s, _)| s.as_str().to_string());
        let row = [
            conv.id.to_string(),
            conv.inbox_id.to_string(),
            conv.contact_id.to_string(),
            conv.contact_name.clone().unwrap_or_default(),
            e.event.seq.to_string(),
            e.event.at.to_rfc3339(),
            e.event.kind.clone(),
            direction,
            sender,
            status.unwrap_or_default(),
            text,
        ];
        csv_line(out, &row);
    }
}

const CSV_HEADER: &str =
    "conversation_id,inbox_id,contact_id,contact_name,seq,at,type,direction,sender,delivery,text\r\n";

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

fn items(entries: Vec<TimelineEntry>) -> ApiResult<Vec<crate::conversations::views::TimelineItem>> {
    entries
        .into_iter()
        .map(crate::conversations::timeline::timeline_item)
        .collect()
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
    let entries = whole_timeline(&app, &scope, id).await?;
    crate::account::api::audit(
        &app,
        &p,
        &headers,
        "export.conversation",
        id,
        json!({ "format": format, "entries": entries.len() }),
    )
    .await;
    let mut csv = String::from(CSV_HEADER);
    if format == "csv" {
        csv_rows(&mut csv, &conv, &entries);
    }
    let body =
        json!({ "exported_at": app.now(), "conversation": conv, "timeline": items(entries)? });
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
    let scope = p.scope();
    // Newest activity first: the walk stops at the first thread last active before the range.
    let mut query = ConversationQuery {
        sort: Sort::Activity,
        limit: 200,
        ..ConversationQuery::default()
    };
    let mut threads = Vec::new();
    'pages: loop {
        let page = app.store.list_conversations(&scope, &query).await?;
        for conv in page.items {
            if conv.last_activity_at < from {
                break 'pages;
            }
            if conv.created_at < to {
                threads.push(conv);
                if threads.len() > MAX_THREADS {
                    return Err(ApiError::Unprocessable {
                        code: "export_too_large",
                        message: format!(
                            "more than {MAX_THREADS} threads in this range; export a shorter one"
                        ),
                        field: Some("from"),
                    });
                }
            }
        }
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    let mut csv = String::from(CSV_HEADER);
    let mut out = Vec::new();
    let mut count = 0;
    for conv in threads {
        let entries: Vec<TimelineEntry> = whole_timeline(&app, &scope, conv.id)
            .await?
            .into_iter()
            .filter(|e| e.event.at >= from && e.event.at < to)
            .collect();
        if entries.is_empty() {
            continue;
        }
        count += entries.len();
        if format == "csv" {
            csv_rows(&mut csv, &conv, &entries);
        } else {
            out.push(json!({ "conversation": conv, "timeline": items(entries)? }));
        }
    }
    crate::account::api::audit(
        &app,
        &p,
        &headers,
        "export.range",
        p.workspace_id,
        json!({ "format": format, "from": from, "to": to, "entries": count }),
    )
    .await;
    let body = json!({ "exported_at": app.now(), "from": from, "to": to, "threads": out });
    Ok(download(&format, "conversations", body, csv))
}
