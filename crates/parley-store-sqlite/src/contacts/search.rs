//! Searching a workspace's contacts by name, address or field, a page at a time.

use parley_core::ContactId;
use parley_store::*;
use rusqlite::{params, Connection};

use crate::db::sql_err;
use crate::rows::{load_contact, uid, CONTACT_EMAIL, CONTACT_NAME, CONTACT_PHONE};

pub(crate) fn search(
    c: &Connection,
    scope: &Scope,
    q: &str,
    cursor: Option<Cursor>,
    limit: u32,
) -> StoreResult<Page<ContactView>> {
    let ws = scope.workspace;
    let (pattern, digit_pattern) = plan::search::search_patterns(q);
    let (after_text, after_id) = match &cursor {
        Some(cur) => (cur.text.clone().unwrap_or_default(), cur.id.to_string()),
        None => (String::new(), String::new()),
    };
    // With encryption at rest the values are opened row by row: a scan, not an index lookup.
    let sql = &format!("SELECT k.id, COALESCE(lower({CONTACT_NAME}), '') AS sort_name FROM contact k WHERE k.workspace_id = ?1 AND k.erased_at IS NULL \
        AND (?2 = '%%' OR lower({CONTACT_NAME}) LIKE ?2 ESCAPE '\\' OR {CONTACT_EMAIL} LIKE ?2 ESCAPE '\\' OR {CONTACT_PHONE} LIKE ?3 ESCAPE '\\' \
             OR EXISTS (SELECT 1 FROM contact_identity i WHERE i.contact_id = k.id \
                AND lower(COALESCE(parley_open(i.external_sealed, 'identity:' || i.id || ':external'), i.external_id)) LIKE ?2 ESCAPE '\\')) \
        AND (?5 = '' OR sort_name > ?4 OR (sort_name = ?4 AND k.id > ?5)){} \
        ORDER BY sort_name, k.id LIMIT ?6", crate::rows::contact_filter(scope, "k.id"));
    let mut stmt = c.prepare_cached(sql).map_err(sql_err)?;
    let rows: Vec<(ContactId, String)> = stmt
        .query_map(
            params![
                ws.to_string(),
                pattern,
                digit_pattern,
                after_text,
                after_id,
                limit + 1
            ],
            |r| Ok((uid(r, 0)?, r.get(1)?)),
        )
        .map_err(sql_err)?
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    let (rows, next_cursor) = plan::pages::contacts(&rows, limit);
    let items = rows
        .iter()
        .map(|(id, _)| load_contact(c, &ws.to_string(), &id.to_string()))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { items, next_cursor })
}
