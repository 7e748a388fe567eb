//! The timer worker: sleeps until the next timer is due (woken early by a bell when one is set
//! sooner), claims what is due, and fires each by its kind through `fire`. `set` and `cancel` are
//! how the rest of the server uses timers.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use parley_core::{TimerId, Timestamp, WorkspaceId};
use parley_store::{NewTimer, StoreError, TimerKeys, TimerRow, SNOOZE_KIND};
use tokio::sync::Notify;

use crate::state::App;

/// The kind of a reply scheduled to go at a time.
pub const SCHEDULED_SEND_KIND: &str = "scheduled_send";
/// The kind of a rule's time trigger.
pub const RULE_KIND: &str = "rule";

/// How long a claimed timer is held: a node that dies with it leaves it to another after this.
const LEASE_MS: i64 = 60_000;
/// Timers claimed per round, and fired at once.
const BATCH: u32 = 2_000;
const IN_FLIGHT: usize = 32;
/// The longest the worker sleeps without looking at the next due time: timers another node set
/// (and leases a dead node left) are seen within it.
const MAX_SLEEP_MS: i64 = 5_000;

/// Wakes the worker when a timer is set sooner than it sleeps for.
pub struct Bell {
    notify: Notify,
    /// When the sleeping worker means to wake (milliseconds; `i64::MAX`: it is not asleep).
    until: AtomicI64,
    /// Sees each timer as it fires, with when (for the timers benchmark).
    watch: Mutex<Option<Watcher>>,
}

type Watcher = Box<dyn Fn(&TimerRow, Timestamp) + Send + Sync>;

impl Default for Bell {
    fn default() -> Self {
        Self {
            notify: Notify::new(),
            until: AtomicI64::new(i64::MAX),
            watch: Mutex::new(None),
        }
    }
}

impl Bell {
    /// Rings when `due` is before the time the worker sleeps until.
    pub fn due(&self, due: Timestamp) {
        if due.0 < self.until.load(Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    /// Calls `f` for every timer this node fires.
    pub fn watch(&self, f: impl Fn(&TimerRow, Timestamp) + Send + Sync + 'static) {
        if let Ok(mut w) = self.watch.lock() {
            *w = Some(Box::new(f));
        }
    }
}

/// Sets (or moves) the timer of `timer.key` and wakes the worker if it is due sooner.
pub async fn set(app: &App, timer: NewTimer) -> Result<TimerId, StoreError> {
    let due = timer.due_at;
    let id = app.store.set_timer(timer).await?;
    app.timer_bell.due(due);
    Ok(id)
}

/// Cancels the timers `keys` names in the workspace; answers how many.
pub async fn cancel(app: &App, ws: WorkspaceId, keys: TimerKeys) -> Result<u64, StoreError> {
    app.store.cancel_timers(ws, keys).await
}

/// Runs one timer's work by its kind. An error leaves the timer to be tried again after its lease.
async fn fire(app: &App, timer: &TimerRow) -> Result<(), StoreError> {
    match timer.kind.as_str() {
        // Wakes every conversation whose snooze ended (this one among them); a conversation the
        // customer or an agent woke first has no snooze left and is not touched.
        SNOOZE_KIND => app.store.wake_snoozed(app.now()).await.map(drop),
        SCHEDULED_SEND_KIND => crate::conversations::scheduled::send_due(app, timer).await,
        RULE_KIND => crate::automations::timed::on_timer(app, timer).await,
        crate::automations::webhook::WEBHOOK_KIND => {
            crate::automations::webhook::deliver(app, timer).await
        }
        other => {
            tracing::debug!(kind = other, key = %timer.key, "a timer of no known kind");
            Ok(())
        }
    }
}

/// Fires a timer; answers its id when its work is done (and it may go).
async fn fire_one(app: &App, timer: TimerRow) -> Option<TimerId> {
    match fire(app, &timer).await {
        Ok(()) => {
            if let Ok(w) = app.timer_bell.watch.lock() {
                if let Some(w) = w.as_ref() {
                    w(&timer, app.now());
                }
            }
            Some(timer.id)
        }
        Err(e) => {
            let (key, kind) = (&timer.key, &timer.kind);
            tracing::error!(error = %e, %key, %kind, "a timer failed; it is tried again later");
            None
        }
    }
}

/// Claims and fires every timer due now, waiting for each; answers how many fired. Tests call it
/// after moving the clock.
pub async fn run_due_timers(app: &App) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let due = claim(app).await?;
        if due.is_empty() {
            return Ok(total);
        }
        total += due.len();
        fire_all(app, due).await;
    }
}

async fn claim(app: &App) -> Result<Vec<TimerRow>, StoreError> {
    let node = app.node.id.clone();
    app.store
        .claim_due_timers(app.now(), BATCH, LEASE_MS, node)
        .await
}

/// Fires the claimed timers, several at once, and deletes those whose work is done.
async fn fire_all(app: &App, due: Vec<TimerRow>) {
    let done: Vec<TimerId> = futures_util::stream::iter(due)
        .map(|t| fire_one(app, t))
        .buffer_unordered(IN_FLIGHT)
        .filter_map(|id| async move { id })
        .collect()
        .await;
    if let Err(e) = app.store.finish_timers(done).await {
        // They fire again after their lease: each kind's work is safe to repeat.
        tracing::error!(error = %e, "could not finish timers");
    }
}

/// How long to sleep after a round that found nothing due, given the next due time.
fn idle_wait(now: i64, next: Option<i64>) -> i64 {
    match next {
        Some(t) => (t - now).clamp(1, MAX_SLEEP_MS),
        None => MAX_SLEEP_MS,
    }
}

/// The worker. Timers that fell due while no server ran are due at its first round.
pub(super) async fn timer_loop(app: App) {
    loop {
        match claim(&app).await {
            Ok(due) if !due.is_empty() => {
                fire_all(&app, due).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "claiming timers failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        let now = app.now().0;
        // Until the sleep's end is stored, any timer set rings the bell (it stays rung for the
        // sleep), so one set while the next due time is read is not slept through.
        let next = app.store.next_timer_due().await.ok().flatten();
        let wait = idle_wait(now, next.map(|t| t.0));
        app.timer_bell.until.store(now + wait, Ordering::SeqCst);
        tokio::select! {
            _ = app.timer_bell.notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
        }
        app.timer_bell.until.store(i64::MAX, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::idle_wait;

    #[test]
    fn the_worker_sleeps_until_the_next_due_time() {
        assert_eq!(idle_wait(1_000, Some(1_250)), 250);
        assert_eq!(idle_wait(1_000, Some(900)), 1, "already due: at once");
        assert_eq!(idle_wait(1_000, Some(1_000_000)), 5_000);
        assert_eq!(idle_wait(1_000, None), 5_000);
    }
}
