//! Which Parley processes serve this database, by a heartbeat row each. Live events, `?since=`
//! replay, limits, presence and the widget's reach are kept per process, so a node that finds
//! another one alive on its database warns, at start and whenever a new one appears.

use std::sync::Mutex;
use std::time::Duration;

use parley_store::NodeRow;

use crate::state::App;

/// What a node says, in its log and in `/api/v1/health`, when another node serves its database.
pub const ANOTHER_NODE: &str = "another Parley node is serving this database: run one node per \
    database. Live events, ?since= replay, send rate limits, sign-in throttles, presence and the \
    widget's reach are kept per node, so agents on one node miss what the other handles";

/// How often a node records that it is alive.
const BEAT: Duration = Duration::from_secs(10);
/// A heartbeat this recent means the node is running.
const FRESH_MS: i64 = 35_000;

/// This process as the `node` table knows it, and the other live nodes it last saw.
pub struct Node {
    pub id: String,
    host: String,
    started_at: parley_core::Timestamp,
    others: Mutex<Vec<NodeRow>>,
}

impl Node {
    pub fn new(now: parley_core::Timestamp) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".into());
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            host,
            started_at: now,
            others: Mutex::default(),
        }
    }

    /// The other nodes whose heartbeat was fresh at the last beat.
    pub fn others(&self) -> Vec<NodeRow> {
        self.others.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

/// Records this node's heartbeat and warns about each live node not seen before.
pub async fn beat(app: &App) -> anyhow::Result<()> {
    let node = &app.node;
    let row = NodeRow {
        id: node.id.clone(),
        host: node.host.clone(),
        pid: i64::from(std::process::id()),
        started_at: node.started_at,
        seen_at: app.now(),
    };
    let others = app.store.node_heartbeat(row, FRESH_MS).await?;
    let known = node.others();
    for o in others
        .iter()
        .filter(|o| !known.iter().any(|k| k.id == o.id))
    {
        tracing::warn!(
            other_node = %o.id,
            host = %o.host,
            pid = o.pid,
            "{ANOTHER_NODE}"
        );
    }
    if let Ok(mut o) = node.others.lock() {
        *o = others;
    }
    Ok(())
}

pub(crate) async fn beat_loop(app: App) {
    loop {
        tokio::time::sleep(BEAT).await;
        if let Err(e) = beat(&app).await {
            tracing::warn!(error = %e, "could not record this node's heartbeat");
        }
    }
}

/// Removes this node's heartbeat, so a restart does not take its predecessor for another node.
pub async fn leave(app: &App) {
    if let Err(e) = app.store.node_leave(app.node.id.clone()).await {
        tracing::warn!(error = %e, "could not remove this node's heartbeat");
    }
}
