//! The application state every handler shares: the store, the realtime hub, the clock, settings,
//! the HTTP client for outbound deliveries, and the dispatcher's wake-up bell.

use std::sync::Arc;

use parley_store::DynStore;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::realtime::Hub;

#[derive(Clone)]
pub struct App {
    pub store: DynStore,
    pub hub: Hub,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub http: reqwest::Client,
    /// Rung when an outbound message is queued, so deliveries start without waiting for a poll.
    pub dispatch_bell: Arc<Notify>,
    /// A one-time setup token, when the server started with an empty database and no admin.
    pub setup_token: Arc<std::sync::Mutex<Option<String>>>,
}

impl App {
    pub fn now(&self) -> parley_core::Timestamp {
        self.clock.now()
    }
}
