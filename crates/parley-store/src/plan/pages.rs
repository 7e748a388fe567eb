//! Keyset pages, cut the same way on both backends: a query reads one row past the page, which
//! only says that another page follows, and the cursor names the last row kept.

use parley_core::ContactId;

use crate::{ConversationQuery, ConversationView, Cursor, Page, Sort};

/// A page of conversations read with `q.limit + 1` rows, its cursor in `q.sort`'s order.
pub fn conversations(
    mut items: Vec<ConversationView>,
    q: &ConversationQuery,
) -> Page<ConversationView> {
    let more = items.len() > q.limit as usize;
    items.truncate(q.limit as usize);
    let next_cursor = match (more, items.last()) {
        (true, Some(last)) => Some(Cursor {
            keys: match q.sort {
                Sort::Waiting => vec![last.waiting_key()],
                Sort::Activity => vec![last.last_activity_at.0],
                Sort::Priority => vec![last.priority.rank(), last.waiting_key()],
            },
            text: None,
            id: last.id.as_uuid(),
        }),
        _ => None,
    };
    Page { items, next_cursor }
}

/// The contacts (id, name) of a page of a search read with `limit + 1` rows, and the cursor after
/// them.
pub fn contacts(
    rows: &[(ContactId, String)],
    limit: u32,
) -> (&[(ContactId, String)], Option<Cursor>) {
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = if more {
        rows.last().map(|(id, name)| Cursor {
            keys: Vec::new(),
            text: Some(name.clone()),
            id: id.as_uuid(),
        })
    } else {
        None
    };
    (rows, next_cursor)
}
