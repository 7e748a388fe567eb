//! What the exports hold: a conversation's whole timeline, the threads active in a date range
//! with their entries in it, and those entries as CSV rows.

use parley_core::{ConversationId, Timestamp};
use parley_store::{ConversationQuery, ConversationView, Scope, Sort, StoreError, TimelineEntry};
use serde_json::{json, Value};

use crate::conversations::views::TimelineItem;
use crate::state::App;

/// Threads per range export; a wider range must be split.
pub const MAX_THREADS: usize = 5_000;

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("more than {MAX_THREADS} threads in this range; export a shorter one")]
    TooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event whose payload is not JSON.
    #[error(transparent)]
    Data(#[from] serde_json::Error),
}

/// The conversation's whole timeline, oldest first.
pub async fn whole_timeline(
    app: &App,
    scope: &Scope,
    id: ConversationId,
) -> Result<Vec<TimelineEntry>, StoreError> {
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

/// The entries as the API shows them.
pub fn items(entries: Vec<TimelineEntry>) -> Result<Vec<TimelineItem>, serde_json::Error> {
    entries.into_iter().map(TimelineItem::of).collect()
}

/// The threads with activity in `[from, to)`, newest activity first; more than [`MAX_THREADS`]
/// is refused.
pub async fn active_in(
    app: &App,
    scope: &Scope,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<ConversationView>, ExportError> {
    // Newest activity first: the walk stops at the first thread last active before the range.
    let mut query = ConversationQuery {
        sort: Sort::Activity,
        limit: 200,
        ..ConversationQuery::default()
    };
    let mut threads = Vec::new();
    loop {
        let page = app.store.list_conversations(scope, &query).await?;
        for conv in page.items {
            if conv.last_activity_at < from {
                return Ok(threads);
            }
            if conv.created_at < to {
                threads.push(conv);
                if threads.len() > MAX_THREADS {
                    return Err(ExportError::TooLarge);
                }
            }
        }
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(threads),
        }
    }
}

/// The threads' entries in `[from, to)`: as CSV rows appended to `csv` when `as_csv`, else as
/// `{conversation, timeline}` values; with how many entries there were. Threads with none in
/// the range are left out.
pub async fn entries_in(
    app: &App,
    scope: &Scope,
    threads: Vec<ConversationView>,
    (from, to): (Timestamp, Timestamp),
    as_csv: bool,
    csv: &mut String,
) -> Result<(Vec<Value>, usize), ExportError> {
    let mut out = Vec::new();
    let mut count = 0;
    for conv in threads {
        let entries: Vec<TimelineEntry> = whole_timeline(app, scope, conv.id)
            .await?
            .into_iter()
            .filter(|e| e.event.at >= from && e.event.at < to)
            .collect();
        if entries.is_empty() {
            continue;
        }
        count += entries.len();
        if as_csv {
            csv_rows(csv, &conv, &entries);
        } else {
            out.push(json!({ "conversation": conv, "timeline": items(entries)? }));
        }
    }
    Ok((out, count))
}

/// One CSV row per timeline entry: what it was, who, and its text.
pub fn csv_rows(out: &mut String, conv: &ConversationView, entries: &[TimelineEntry]) {
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
        crate::conversations::exports::csv_line(out, &row);
    }
}

pub const CSV_HEADER: &str =
    "conversation_id,inbox_id,contact_id,contact_name,seq,at,type,direction,sender,delivery,text\r\n";
