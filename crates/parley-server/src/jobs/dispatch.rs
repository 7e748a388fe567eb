//! The outbox dispatcher: claim due deliveries under a lease, send each through its channel,
//! record the outcome, retry with backoff and jitter.

use std::sync::Arc;
use std::time::Duration;

use parley_channels::channel::{Message, Needs, Outgoing, Sent};
use parley_channels::SendOutcome;
use parley_core::compliance::Verdict;
use parley_core::retry::backoff_ms;
use parley_store::{OutboxJob, OutboxResult};
use rand::Rng;
use tokio::sync::Semaphore;

use crate::jobs::pacer::Pace;
use crate::state::App;

/// Sends one claimed delivery through its channel and records what happened.
async fn deliver(app: &App, job: OutboxJob) {
    let rate = job
        .inbox
        .settings
        .get("rate_limit")
        .and_then(|v| v.as_f64());
    if let Pace::At(at) = app.pacer.slot(job.inbox.id, job.id, rate, app.now()) {
        let deferred = OutboxResult::Defer { at };
        if let Err(e) = app.store.finish_outbox(job.id, deferred, app.now()).await {
            tracing::error!(error = %e, outbox = %job.id, "could not defer a delivery");
        }
        // The loop may be asleep until a later time it computed before this slot existed.
        app.dispatch_bell.notify_one();
        return;
    }
    // The gate again, right before sending: a revocation, a lapse or quiet hours that came while
    // the message waited still stop or hold it.
    let outcome = match crate::compliance::gate::recheck(app, &job).await {
        // A store that could not answer is tried again later; a denial is final.
        Err(e) => SendOutcome::Transient(format!("could not check consent: {e}")),
        Ok(Verdict::Hold { until, .. }) => {
            let held = OutboxResult::Defer { at: until };
            if let Err(e) = app.store.finish_outbox(job.id, held, app.now()).await {
                tracing::error!(error = %e, outbox = %job.id, "could not hold a delivery");
            }
            return;
        }
        Ok(Verdict::Deny { reason, .. }) => SendOutcome::Permanent(reason),
        Ok(Verdict::Allow) => send(app, &job).await,
    };
    finish(app, &job, outcome).await;
}

/// Hands the message to its channel: one path for every kind. The channel says what to look up
/// first; the widget's socket is delivered in-process; an admin's test customer gets nothing.
async fn send(app: &App, job: &OutboxJob) -> SendOutcome {
    if let Some(outcome) = crate::inboxes::test_customer::intercept(app, job).await {
        return outcome;
    }
    let Some(channel) = crate::inboxes::channels::channel_of(&job.inbox) else {
        let kind = &job.inbox.kind;
        return SendOutcome::Permanent(format!("no adapter for channel kind {kind:?}"));
    };
    let lookups = match channel.needs() {
        Needs::InProcess => return crate::inboxes::widget::deliver(app, job).await,
        needs => match crate::inboxes::channels::look_up(app, job, needs).await {
            Ok(l) => l,
            Err(outcome) => return outcome,
        },
    };
    let reply = crate::conversations::compose::reply_of(app, job);
    let out = Outgoing {
        to: &job.identity.external_id,
        reply: &reply,
        message: Message {
            id: job.message.id,
            conversation_id: job.message.conversation_id,
            sender_kind: job.message.sender_kind,
            sender_id: job.message.sender_id,
            created_at: job.message.created_at,
        },
        public_url: &app.config.public_url,
        inbox: job.inbox.id,
        timeout: Duration::from_millis(app.config.dispatch.timeout_ms),
        lookups,
    };
    match channel.send(&app.http, out).await {
        Sent::Outcome(outcome) => outcome,
        Sent::InProcess => crate::inboxes::widget::deliver(app, job).await,
        Sent::OptedOut { sender } => opted_out(app, job, &sender).await,
    }
}

/// The carrier says the recipient texted STOP: recorded for every purpose, so nothing else is
/// sent, and the delivery fails.
async fn opted_out(app: &App, job: &OutboxJob, from: &str) -> SendOutcome {
    let revoke = |purpose| parley_store::NewConsent {
        contact: job.contact_id,
        purpose,
        action: parley_core::consent::Action::Revoke,
        source: "carrier".into(),
        channel: Some("sms".into()),
        evidence: serde_json::json!({ "twilio_error": 21610, "message_id": job.message.id, "from": from }),
        at: app.now(),
        conversation: Some(job.message.conversation_id),
    };
    for purpose in parley_core::consent::Purpose::ALL {
        let ws = job.inbox.workspace_id;
        if let Err(e) = app.store.record_consent(ws, revoke(purpose)).await {
            tracing::error!(error = %e, "could not record an opt-out");
        }
    }
    SendOutcome::Permanent("the recipient has opted out (Twilio error 21610)".into())
}

/// Records what became of a delivery: sent, retried with backoff, or failed.
async fn finish(app: &App, job: &OutboxJob, outcome: SendOutcome) {
    let now = app.now();
    let cfg = &app.config.dispatch;
    let result = match outcome {
        SendOutcome::Accepted { provider_id } => OutboxResult::Sent { provider_id },
        SendOutcome::Transient(error) if job.attempts + 1 < cfg.max_attempts => {
            let jitter: f64 = rand::thread_rng().gen();
            let wait = backoff_ms(
                job.attempts,
                cfg.backoff_base_ms,
                cfg.backoff_max_ms,
                jitter,
            );
            OutboxResult::Retry {
                at: now.plus_millis(wait),
                error,
            }
        }
        SendOutcome::Transient(error) => OutboxResult::Failed {
            error: format!("gave up after {} attempts: {error}", job.attempts + 1),
        },
        SendOutcome::Permanent(error) => OutboxResult::Failed { error },
    };
    // Providers' errors quote numbers and addresses: the log gets them scrubbed.
    let (outbox, inbox, kind) = (job.id, job.inbox.id, job.inbox.kind.as_str());
    match &result {
        OutboxResult::Sent { .. } => tracing::debug!(%outbox, %inbox, kind, "delivered"),
        OutboxResult::Retry { error, .. } => {
            let error = crate::redact::redact(error);
            tracing::debug!(%outbox, %inbox, kind, %error, "a delivery will be retried");
        }
        OutboxResult::Failed { error } => {
            let error = crate::redact::redact(error);
            tracing::warn!(%outbox, %inbox, kind, %error, "a delivery failed");
        }
        OutboxResult::Defer { .. } => {}
    }
    if let Err(e) = app.store.finish_outbox(job.id, result, now).await {
        tracing::error!(error = %e, outbox = %job.id, "could not record a delivery outcome");
    }
}

fn lease_ms(app: &App) -> i64 {
    app.config.dispatch.timeout_ms as i64 * 2 + 5_000
}

/// Claims and sends every delivery due now, waiting for each; returns how many were attempted.
/// Tests call this to drain the queue on demand; it waits for each round, so it claims without
/// the per-inbox cap.
pub async fn run_due_deliveries(app: &App) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let jobs = app
            .store
            .claim_outbox(app.now(), 256, lease_ms(app))
            .await?;
        if jobs.is_empty() {
            return Ok(total);
        }
        total += jobs.len();
        futures_util::future::join_all(jobs.into_iter().map(|j| deliver(app, j))).await;
    }
}

pub(super) async fn dispatch_loop(app: App) {
    let cfg = &app.config.dispatch;
    let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let per_inbox = u32::try_from(cfg.per_inbox_concurrency.max(1)).unwrap_or(u32::MAX);
    // Slots kept for inboxes with nothing in flight: several stalled inboxes, each within its
    // cap, could otherwise hold every slot between them.
    let reserve = (cfg.concurrency / 4).max(1);
    loop {
        let free = permits.available_permits();
        if free == 0 {
            // Wait for one delivery to finish before claiming more.
            if let Ok(p) = permits.clone().acquire_owned().await {
                drop(p);
            }
            continue;
        }
        // Only as many as can start now, taken in turns across inboxes and none from an inbox
        // at its cap: a slow provider's backlog waits in the database, not in our slots. The
        // reserve goes one each to inboxes with nothing in flight (a cap of one).
        let (limit, cap) = if free > reserve {
            (free - reserve, per_inbox)
        } else {
            (free, 1)
        };
        let claimed_at = app.now();
        let jobs = match app
            .store
            .claim_outbox_fair(claimed_at, limit as u32, lease_ms(&app), cap)
            .await
        {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "claiming deliveries failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if jobs.is_empty() {
            let next = app.store.next_outbox_due().await.ok().flatten();
            let wait = idle_wait(claimed_at.0, app.now().0, next.map(|t| t.0));
            tokio::select! {
                _ = app.dispatch_bell.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
            continue;
        }
        for job in jobs {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let app = app.clone();
            tokio::spawn(async move {
                deliver(&app, job).await;
                drop(permit);
                // Its inbox has room again.
                app.dispatch_bell.notify_one();
            });
        }
    }
}

/// How long the dispatcher sleeps, unless the bell rings, after a claim at `claimed_at` started
/// nothing, given when the earliest queued delivery is due (milliseconds).
fn idle_wait(claimed_at: i64, now: i64, next_due: Option<i64>) -> u64 {
    match next_due {
        Some(t) if t > now => (t - now).clamp(5, 1000) as u64,
        // It fell due since the claim.
        Some(t) if t > claimed_at => 5,
        // Due at the claim yet not claimed: its inbox is at its cap or only the reserve is free.
        // Our own deliveries ring the bell as they finish, but leases held by another node or
        // left by an earlier run only run out: look again now and then, not at every turn.
        Some(_) => 250,
        None => 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::idle_wait;

    #[test]
    fn a_due_delivery_the_claim_left_out_is_not_polled_for() {
        // Capped by leases this process does not hold: nothing of ours rings the bell.
        assert_eq!(idle_wait(1_000, 1_002, Some(900)), 250);
        assert_eq!(idle_wait(1_000, 1_002, Some(1_000)), 250);
        // Due only since the claim: claimed at once.
        assert_eq!(idle_wait(1_000, 1_002, Some(1_001)), 5);
        // Due later: until then, looking at least once a second.
        assert_eq!(idle_wait(1_000, 1_002, Some(1_300)), 298);
        assert_eq!(idle_wait(1_000, 1_002, Some(90_000)), 1000);
        assert_eq!(idle_wait(1_000, 1_002, None), 1000);
    }
}
