//! The application state every handler shares: the store, the realtime hub, the clock, settings,
//! the HTTP client for outbound deliveries, and the dispatcher's and the timer worker's wake-up bells.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_core::{InboxId, WorkspaceId};
use parley_store::{DynStore, InboxRow, StoreError, WorkspaceRow};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::realtime::Hub;

/// A workspace as the message paths and lists use it: its row, its parsed compliance rules and
/// its SLA policies.
#[derive(Clone)]
pub struct Workspace {
    pub row: Arc<WorkspaceRow>,
    pub rules: Arc<crate::compliance::settings::Settings>,
    pub sla: Arc<Vec<parley_core::sla::SlaPolicy>>,
}

#[derive(Clone)]
pub struct App {
    pub store: DynStore,
    pub hub: Hub,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub http: parley_channels::net::Client,
    /// Rung when an outbound message is queued, so deliveries start without waiting for a poll.
    pub dispatch_bell: Arc<Notify>,
    /// Rung when a timer is set sooner than the timer worker sleeps for.
    pub timer_bell: Arc<crate::jobs::timers::Bell>,
    /// This process's heartbeat identity, and the other nodes it sees on the database.
    pub node: Arc<crate::jobs::nodes::Node>,
    /// A one-time setup token, when the server started with an empty database and no admin.
    pub setup_token: Arc<std::sync::Mutex<Option<String>>>,
    /// Inboxes recently looked up by webhooks: every inbound request needs its inbox's secret.
    pub hook_inboxes: Arc<std::sync::Mutex<HashMap<InboxId, (InboxRow, Instant)>>>,
    /// Per-sender send slots of the dispatcher.
    pub pacer: Arc<crate::jobs::pacer::Pacer>,
    /// Where attachments are kept.
    pub blobs: Arc<dyn parley_blobs::Blobs>,
    /// Open widget sockets per conversation on this node: a reply to a visitor who has left
    /// also goes by email.
    pub visitors: Arc<std::sync::Mutex<HashMap<parley_core::ConversationId, usize>>>,
    /// Failed sign-ins per account and address (`throttle`).
    pub sign_ins: Arc<std::sync::Mutex<crate::account::throttle::SignInGuard>>,
    /// Password hashing under its concurrency cap.
    pub passwords: crate::account::auth::Passwords,
    /// Widget sockets and frame rates per visitor and address (`limits`).
    pub widget_limits: Arc<crate::inboxes::widget::limits::WidgetLimiter>,
    /// Workspaces and their compliance rules, as every inbound and outbound message needs them.
    pub workspaces: Arc<std::sync::Mutex<HashMap<WorkspaceId, (Workspace, Instant)>>>,
    /// Automation rules per workspace, parsed, as every customer message needs them.
    pub rules: Arc<crate::automations::cache::RuleCache>,
}

/// How long a webhook may use a cached inbox. Changes made on this node apply at once (the entry
/// is dropped); changes made on another node apply within this time.
const HOOK_INBOX_TTL: Duration = Duration::from_secs(5);

impl App {
    pub fn now(&self) -> parley_core::Timestamp {
        self.clock.now()
    }

    /// The inbox a webhook names, from the cache when fresh.
    pub async fn hook_inbox(&self, id: InboxId) -> Result<Option<InboxRow>, StoreError> {
        if let Ok(cache) = self.hook_inboxes.lock() {
            if let Some((row, at)) = cache.get(&id) {
                if at.elapsed() < HOOK_INBOX_TTL {
                    return Ok(Some(row.clone()));
                }
            }
        }
        let row = self.store.inbox_for_hook(id).await?;
        if let (Some(r), Ok(mut cache)) = (&row, self.hook_inboxes.lock()) {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(id, (r.clone(), Instant::now()));
        }
        Ok(row)
    }

    /// The workspace and its compliance rules, from the cache when fresh (same rule as
    /// webhooks' inboxes).
    pub async fn workspace(&self, id: WorkspaceId) -> Result<Workspace, StoreError> {
        if let Ok(cache) = self.workspaces.lock() {
            if let Some((w, at)) = cache.get(&id) {
                if at.elapsed() < HOOK_INBOX_TTL {
                    return Ok(w.clone());
                }
            }
        }
        let row = self.store.workspace(id).await?;
        let w = Workspace {
            rules: Arc::new(crate::compliance::settings::Settings::of(&row)),
            sla: Arc::new(sla_of(&row)),
            row: Arc::new(row),
        };
        if let Ok(mut cache) = self.workspaces.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(id, (w.clone(), Instant::now()));
        }
        Ok(w)
    }

    /// Drops a cached workspace after its settings changed.
    pub fn forget_workspace(&self, id: WorkspaceId) {
        if let Ok(mut cache) = self.workspaces.lock() {
            cache.remove(&id);
        }
    }

    /// Drops a cached inbox after it changed.
    pub fn forget_inbox(&self, id: InboxId) {
        if let Ok(mut cache) = self.hook_inboxes.lock() {
            cache.remove(&id);
        }
    }
}

/// The workspace's SLA policies, in the order they are tried.
pub(crate) fn sla_of(ws: &WorkspaceRow) -> Vec<parley_core::sla::SlaPolicy> {
    serde_json::from_value(ws.settings["sla"].clone()).unwrap_or_default()
}
