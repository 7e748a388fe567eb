//! The workspaces' rules, kept parsed between events: every customer message asks for them, and
//! reading and parsing 200 rules costs more than evaluating them. Changes made on this node apply
//! at once (the entry is dropped); made on another node, within `TTL`, as for cached workspaces.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_core::automation::Rule;
use parley_core::WorkspaceId;
use parley_store::StoreError;

use crate::state::App;

const TTL: Duration = Duration::from_secs(5);

type Entry = (Arc<Vec<Rule>>, Instant);

#[derive(Default)]
pub struct RuleCache {
    rules: Mutex<HashMap<WorkspaceId, Entry>>,
}

impl RuleCache {
    /// Drops a workspace's rules after one of them changed.
    pub fn forget(&self, ws: WorkspaceId) {
        if let Ok(mut m) = self.rules.lock() {
            m.remove(&ws);
        }
    }
}

/// The workspace's rules in order, from the cache when fresh.
pub async fn rules(app: &App, ws: WorkspaceId) -> Result<Arc<Vec<Rule>>, StoreError> {
    if let Ok(m) = app.rules.rules.lock() {
        if let Some((r, at)) = m.get(&ws) {
            if at.elapsed() < TTL {
                return Ok(Arc::clone(r));
            }
        }
    }
    let read = app.store.list_rules(ws).await?;
    let rules = Arc::new(read.into_iter().map(|r| r.rule).collect::<Vec<_>>());
    if let Ok(mut m) = app.rules.rules.lock() {
        if m.len() > 10_000 {
            m.clear();
        }
        m.insert(ws, (Arc::clone(&rules), Instant::now()));
    }
    Ok(rules)
}
