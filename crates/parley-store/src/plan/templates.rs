//! Replacing a workspace's templates by a new list matched by shortcut: which rows go, which take
//! new text and which are added, in the order that never trips the unique shortcut.

use parley_core::TemplateId;

use crate::{NewTemplate, TemplateRow};

/// The writes that make `existing` into `wanted`: deletes first, then updates, then inserts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replace {
    pub delete: Vec<TemplateId>,
    pub update: Vec<(TemplateId, NewTemplate)>,
    pub insert: Vec<NewTemplate>,
}

/// Matches `wanted` to `existing` by shortcut. A listed template keeps its name and channels when
/// the new entry leaves them empty (a saved reply knows only its shortcut and text).
pub fn replace(existing: &[TemplateRow], wanted: &[NewTemplate]) -> Replace {
    let mut out = Replace::default();
    for row in existing {
        if !wanted.iter().any(|w| w.shortcut == row.shortcut) {
            out.delete.push(row.id);
        }
    }
    for w in wanted {
        match existing.iter().find(|r| r.shortcut == w.shortcut) {
            Some(r) => {
                let mut next = w.clone();
                if next.name.is_empty() {
                    next.name = r.name.clone();
                }
                if next.channels.is_empty() {
                    next.channels = r.channels.clone();
                }
                if next
                    != (NewTemplate {
                        name: r.name.clone(),
                        shortcut: r.shortcut.clone(),
                        body: r.body.clone(),
                        channels: r.channels.clone(),
                    })
                {
                    out.update.push((r.id, next));
                }
            }
            None => {
                let mut next = w.clone();
                if next.name.is_empty() {
                    next.name = w.shortcut.clone();
                }
                out.insert.push(next);
            }
        }
    }
    out
}

/// The channels list as stored (a JSON array of kinds).
pub fn channels_json(channels: &[String]) -> String {
    serde_json::to_string(channels).unwrap_or_else(|_| "[]".into())
}

/// Templates as listed: by shortcut, byte order on both backends.
pub fn sort(rows: &mut [TemplateRow]) {
    rows.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
}
