//! A conversation's timeline: messages, notes, status changes and assignments, oldest first,
//! paged back by sequence number.

use axum::extract::State;
use parley_core::ConversationId;
use serde::Deserialize;

use crate::conversations::views::{TimelineItem, TimelinePage};
use crate::http::caller::Auth;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::state::App;
use crate::views::Sorted;
use parley_store::StoreError;

#[derive(Deserialize)]
pub struct TimelineQuery {
    /// An event's sequence number.
    before: Option<i64>,
    limit: Option<u32>,
}

impl TimelineQuery {
    /// The page size and the `before` sequence number.
    pub(crate) fn parse(&self) -> ApiResult<(u32, Option<i64>)> {
        let limit = crate::http::query::limit(self.limit, 50, 200)?;
        Ok((limit, self.before))
    }
}

/// A timeline entry as the API shows it (see [`TimelineItem`]); an event whose stored payload
/// is not JSON is an internal error.
pub(crate) fn timeline_item(e: parley_store::TimelineEntry) -> Result<TimelineItem, StoreError> {
    TimelineItem::of(e).map_err(|err| StoreError::Other(err.into()))
}

/// `GET /api/v1/conversations/{id}/timeline?before=&limit=`.
pub async fn timeline(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Query(q): Query<TimelineQuery>,
) -> ApiResult<Json<Sorted<TimelinePage>>> {
    let (limit, before) = q.parse()?;
    Ok(Json(Sorted(page(&app, &p, id, limit, before).await?)))
}

/// A page of `limit` entries before the sequence number `before` (the newest when `None`);
/// the page's `before` is set when there may be older ones.
async fn page(
    app: &App,
    p: &parley_store::Principal,
    id: ConversationId,
    limit: u32,
    before: Option<i64>,
) -> Result<TimelinePage, StoreError> {
    let entries = app.store.timeline(&p.scope(), id, before, limit).await?;
    let more = entries.len() == limit as usize;
    let first_seq = entries.first().map(|e| e.event.seq);
    let items = entries
        .into_iter()
        .map(timeline_item)
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(TimelinePage {
        items,
        before: if more { first_seq } else { None },
    })
}
