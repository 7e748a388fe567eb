//! Searching a workspace's contacts by name, address or field, a page at a time; sealed contacts
//! are opened and matched in memory.

use parley_core::ContactId;
use parley_store::crypt::{self, Keyring};
use parley_store::*;

use crate::db::{query, Tx};
use crate::rows::{get, id};

/// A search with SQL's LIKE, for contacts stored in plaintext: the rows of the page after
/// (`after_text`, `after_id`) and one more, with their sort names.
pub(super) async fn indexed_search(
    tx: &Tx<'_>,
    scope: &Scope,
    q: &str,
    after_text: &str,
    after_id: Option<uuid::Uuid>,
    limit: u32,
) -> StoreResult<Vec<(ContactId, String)>> {
    let ws = scope.workspace;
    let (all, inboxes) = crate::rows::contact_params(scope);
    let (pattern, digit_pattern) = plan::search::search_patterns(q);
    // Names sort bytewise ("C"), as on SQLite, whatever the database's default collation.
    let sql = "SELECT id, sort_name FROM (\
            SELECT k.id, COALESCE(lower(k.name), '') COLLATE \"C\" AS sort_name FROM contact k \
            WHERE k.workspace_id = $1 AND k.erased_at IS NULL AND ($2 = '%%' OR lower(k.name) LIKE $2 OR lower(k.email) LIKE $2 \
                OR lower(k.phone) LIKE $3 \
                OR EXISTS (SELECT 1 FROM contact_identity i WHERE i.contact_id = k.id AND lower(i.external_id) LIKE $2)) \
              AND ($7 OR EXISTS (SELECT 1 FROM conversation cv WHERE cv.contact_id = k.id AND cv.inbox_id = ANY($8)))\
        ) s \
        WHERE ($5::uuid IS NULL OR sort_name > $4 OR (sort_name = $4 AND id > $5)) \
        ORDER BY sort_name, id LIMIT $6";
    query(
        tx,
        sql,
        &[
            &ws.as_uuid(),
            &pattern,
            &digit_pattern,
            &after_text,
            &after_id,
            &(i64::from(limit) + 1),
            &all,
            &inboxes,
        ],
    )
    .await?
    .iter()
    .map(|r| Ok((id(r, 0)?, get(r, 1)?)))
    .collect()
}

/// A search over sealed contacts: every contact of the workspace is opened in memory and matched
/// there (a scan; blind indexes find exact values, not parts of them). Same order and pages as
/// the SQL search.
pub(super) async fn opened_search(
    tx: &Tx<'_>,
    keys: &Keyring,
    scope: &Scope,
    q: &str,
    after_text: &str,
    after_id: Option<uuid::Uuid>,
    limit: u32,
) -> StoreResult<Vec<(ContactId, String)>> {
    let ws = scope.workspace;
    let (all, inboxes) = crate::rows::contact_params(scope);
    let visible: Option<std::collections::HashSet<uuid::Uuid>> = if all {
        None
    } else {
        let rows = query(
            tx,
            "SELECT DISTINCT contact_id FROM conversation WHERE workspace_id = $1 AND inbox_id = ANY($2)",
            &[&ws.as_uuid(), &inboxes],
        )
        .await?;
        Some(rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?)
    };
    let mut addresses: std::collections::HashMap<uuid::Uuid, Vec<String>> = Default::default();
    for r in &query(
        tx,
        "SELECT i.contact_id, i.id, COALESCE(i.external_sealed, i.external_id) FROM contact_identity i \
         WHERE i.workspace_id = $1",
        &[&ws.as_uuid()],
    )
    .await?
    {
        let iid: uuid::Uuid = get(r, 1)?;
        let a = crypt::open_field(Some(keys), &crypt::aad("identity", iid, "external"), get(r, 2)?)?;
        addresses
            .entry(get(r, 0)?)
            .or_default()
            .extend(a);
    }
    let mut found = Vec::new();
    for r in &query(
        tx,
        "SELECT id, name, COALESCE(email_sealed, email), COALESCE(phone_sealed, phone) FROM contact \
         WHERE workspace_id = $1 AND erased_at IS NULL",
        &[&ws.as_uuid()],
    )
    .await?
    {
        let kid: uuid::Uuid = get(r, 0)?;
        if visible.as_ref().is_some_and(|v| !v.contains(&kid)) {
            continue;
        }
        let open = |i: usize, field: &str| {
            crypt::open_field(Some(keys), &crypt::aad("contact", kid, field), get(r, i)?)
        };
        let (name, email, phone) = (open(1, "name")?, open(2, "email")?, open(3, "phone")?);
        let none = Vec::new();
        let own = addresses.get(&kid).unwrap_or(&none);
        if plan::search::search_matches(q, name.as_deref(), email.as_deref(), phone.as_deref(), own) {
            let sort = name.map(|n| n.to_lowercase()).unwrap_or_default();
            let after = match after_id {
                None => true,
                Some(a) => (sort.as_str(), kid) > (after_text, a),
            };
            if after {
                found.push((sort, kid));
            }
        }
    }
    // Bytewise, as the SQL search sorts ("C" collation).
    found.sort();
    found.truncate(limit as usize + 1);
    Ok(found.into_iter().map(|(s, k)| (k.into(), s)).collect())
}
