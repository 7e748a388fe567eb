//! Waiting for what proves an effect: a fake endpoint's n-th arrival, a committed event after which
//! a condition holds, or an outbox with nothing left to send. Tests never sleep for an effect; the
//! guard only turns a hang into a failure.

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, LockResult, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::harness::TestApp;

/// How long a wait may last before the test fails: far beyond what a loaded machine needs.
pub const GUARD: Duration = Duration::from_secs(20);

/// What a fake endpoint received, in order, with a bell rung at each arrival, so a test waits for
/// the n-th one rather than polling for it.
pub struct Recorded<T> {
    items: Arc<Mutex<Vec<T>>>,
    bell: Arc<Notify>,
}

impl<T> Clone for Recorded<T> {
    fn clone(&self) -> Self {
        Self {
            items: Arc::clone(&self.items),
            bell: Arc::clone(&self.bell),
        }
    }
}

impl<T> Default for Recorded<T> {
    fn default() -> Self {
        Self {
            items: Arc::default(),
            bell: Arc::default(),
        }
    }
}

impl<T: Clone + Debug> Recorded<T> {
    /// Records an arrival and wakes whoever waits; answers how many there are now.
    pub fn push(&self, item: T) -> usize {
        let n = {
            let mut items = self.items.lock().expect("lock");
            items.push(item);
            items.len()
        };
        self.bell.notify_waiters();
        n
    }

    /// What arrived so far, to read (not to add to: `push` rings the bell).
    pub fn lock(&self) -> LockResult<MutexGuard<'_, Vec<T>>> {
        self.items.lock()
    }

    pub fn len(&self) -> usize {
        self.items.lock().expect("lock").len()
    }

    pub fn all(&self) -> Vec<T> {
        self.items.lock().expect("lock").clone()
    }

    /// Everything received, once there are at least `n`.
    pub async fn wait_for(&self, n: usize) -> Vec<T> {
        wait_on(&self.bell, || {
            let got = self.all();
            (got.len() >= n).then_some(got)
        })
        .await
        .unwrap_or_else(|| panic!("{n} arrivals awaited in vain: {:?}", self.all()))
    }
}

/// Checks `check` now and after each ring of `bell` until it answers, or `None` after `GUARD`.
pub async fn wait_on<R>(bell: &Notify, mut check: impl FnMut() -> Option<R>) -> Option<R> {
    let deadline = Instant::now() + GUARD;
    loop {
        // Listening before looking: a ring between the two is not missed.
        let rung = bell.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        if let Some(r) = check() {
            return Some(r);
        }
        tokio::time::timeout_at(deadline, rung).await.ok()?;
    }
}

impl TestApp {
    /// Checks `check` now and after each event the application commits until it answers, or
    /// `None` after `within`. Changes that commit no event (a delivery put off for later) are
    /// seen at a short tick.
    pub async fn try_wait_until<R, F>(
        &self,
        within: Duration,
        mut check: impl FnMut() -> F,
    ) -> Option<R>
    where
        F: Future<Output = Option<R>>,
    {
        let mut events = self.app.hub.subscribe();
        let deadline = Instant::now() + within;
        loop {
            if let Some(r) = check().await {
                return Some(r);
            }
            if Instant::now() >= deadline {
                return None;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), events.recv()).await;
        }
    }

    /// What `check` answers once it does; the test fails, naming `what`, after `GUARD`.
    pub async fn wait_until<R, F>(&self, what: &str, check: impl FnMut() -> F) -> R
    where
        F: Future<Output = Option<R>>,
    {
        self.try_wait_until(GUARD, check)
            .await
            .unwrap_or_else(|| panic!("waited {GUARD:?} in vain for {what}"))
    }

    /// Sends every delivery due now and waits until none is in flight: after this, whatever the
    /// outbox would have sent by now has been sent (held and retried ones stay queued).
    pub async fn settle(&self) {
        self.wait_until("the outbox to settle", || async move {
            parley_server::jobs::run_due_deliveries(&self.app)
                .await
                .expect("delivers");
            let now = self.app.now();
            for ws in self.app.store.list_workspaces().await.expect("workspaces") {
                let backlog = self.app.store.outbox_backlog(ws.id, now).await;
                for b in backlog.expect("backlog") {
                    let due = b.queued > 0 && b.oldest_due.is_some_and(|d| d <= now);
                    if b.in_flight > 0 || due {
                        return None;
                    }
                }
            }
            Some(())
        })
        .await
    }
}
