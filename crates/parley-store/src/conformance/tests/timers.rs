//! Timers: set, moved by setting their key again, cancelled by key or prefix, claimed once (by
//! concurrent claimers too), claimable again when a lease runs out; and a snooze's wake-up.

use std::collections::HashSet;

use super::*;

fn timer(ws: WorkspaceId, key: &str, due: Timestamp) -> NewTimer {
    NewTimer {
        workspace: ws,
        key: key.into(),
        kind: "test".into(),
        due_at: due,
        payload: serde_json::json!({ "key": key }),
    }
}

fn keys(rows: &[TimerRow]) -> Vec<&str> {
    rows.iter().map(|r| r.key.as_str()).collect()
}

pub async fn timers_fire_once_move_and_come_back_after_a_lease(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    assert_eq!(s.next_timer_due().await.unwrap(), None);
    s.set_timers(vec![
        timer(w.ws, "b", t(200)),
        timer(w.ws, "a", t(100)),
        timer(w.ws, "c", t(300)),
    ])
    .await
    .unwrap();
    assert_eq!(s.next_timer_due().await.unwrap(), Some(t(100)));
    let node = || "n1".to_string();
    assert!(s
        .claim_due_timers(t(99), 10, 1000, node())
        .await
        .unwrap()
        .is_empty());
    let due = s.claim_due_timers(t(250), 10, 1000, node()).await.unwrap();
    assert_eq!(keys(&due), ["a", "b"]);
    assert_eq!(due[0].payload["key"], "a");
    assert_eq!((due[0].kind.as_str(), due[0].due_at), ("test", t(100)));
    assert!(
        s.claim_due_timers(t(250), 10, 1000, node())
            .await
            .unwrap()
            .is_empty(),
        "held"
    );
    assert_eq!(s.next_timer_due().await.unwrap(), Some(t(300)));

    // `a` is done; `b`'s worker died: it comes back when its lease runs out, with `c`.
    s.finish_timer(due[0].id).await.unwrap();
    let again = s.claim_due_timers(t(1250), 10, 1000, node()).await.unwrap();
    assert_eq!(keys(&again), ["b", "c"]);
    assert_eq!(again[0].id, due[1].id);

    // Set again while claimed: the timer moves, and finishing the old claim leaves it.
    let moved = s.set_timer(timer(w.ws, "c", t(5000))).await.unwrap();
    assert_ne!(moved, again[1].id);
    s.finish_timer(again[1].id).await.unwrap();
    s.finish_timer(again[0].id).await.unwrap();
    let c = s.timer(w.ws, "c".into()).await.unwrap().unwrap();
    assert_eq!((c.id, c.due_at), (moved, t(5000)));
    assert_eq!(s.next_timer_due().await.unwrap(), Some(t(5000)));
    assert!(s
        .claim_due_timers(t(4999), 10, 1000, node())
        .await
        .unwrap()
        .is_empty());
    // Work that must not run twice takes its timer: once, and not after it moved.
    let c_claim = s.claim_due_timers(t(5000), 10, 1000, node()).await.unwrap();
    assert!(s.take_timer(c_claim[0].id).await.unwrap());
    assert!(!s.take_timer(c_claim[0].id).await.unwrap());
    // A lone server starting again releases its last run's claims at once.
    s.set_timer(timer(w.ws, "d", t(5000))).await.unwrap();
    let held = s
        .claim_due_timers(t(5000), 10, 60_000, node())
        .await
        .unwrap();
    assert_eq!(keys(&held), ["d"]);
    assert_eq!(s.release_timer_claims().await.unwrap(), 1);
    let again = s
        .claim_due_timers(t(5001), 10, 60_000, node())
        .await
        .unwrap();
    assert_eq!(keys(&again), ["d"]);
    s.finish_timer(again[0].id).await.unwrap();
    // Moved earlier, it fires earlier.
    s.set_timer(timer(w.ws, "c", t(400))).await.unwrap();
    assert_eq!(
        keys(&s.claim_due_timers(t(400), 10, 1000, node()).await.unwrap()),
        ["c"]
    );
}

pub async fn timers_are_cancelled_by_key_or_prefix_in_their_workspace(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let (other, _) = s
        .create_workspace("Other", "UTC", user("admin@other.test", Role::Admin), t(0))
        .await
        .unwrap();
    let mut all = Vec::new();
    for key in [
        "conv:1:snooze",
        "conv:1:rule:%",
        "conv:10:snooze",
        "conv:1_x",
    ] {
        all.push(timer(w.ws, key, t(10)));
        all.push(timer(other.id, key, t(10)));
    }
    s.set_timers(all).await.unwrap();
    let prefix = TimerKeys::Prefix("conv:1:".into());
    assert_eq!(s.cancel_timers(w.ws, prefix).await.unwrap(), 2);
    let exact = TimerKeys::Exactly("conv:10:snooze".into());
    assert_eq!(s.cancel_timers(w.ws, exact.clone()).await.unwrap(), 1);
    assert_eq!(s.cancel_timers(w.ws, exact).await.unwrap(), 0);
    let left = s
        .claim_due_timers(t(10), 100, 1000, "n".into())
        .await
        .unwrap();
    let mine: Vec<&str> = left
        .iter()
        .filter(|r| r.workspace_id == w.ws)
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(mine, ["conv:1_x"]);
    let listed = s
        .timers_with_prefix(other.id, "conv:1".into())
        .await
        .unwrap();
    assert_eq!(listed.len(), 4);
    let listed = s
        .timers_with_prefix(other.id, "conv:1_".into())
        .await
        .unwrap();
    assert_eq!(keys(&listed), ["conv:1_x"], "`_` is no wildcard");
    assert_eq!(left.len(), 5, "the other workspace keeps its four");
}

pub async fn concurrent_claimers_take_each_timer_once(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let all: Vec<NewTimer> = (0..300)
        .map(|i| timer(w.ws, &format!("k{i}"), t(i)))
        .collect();
    s.set_timers(all).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let due = s
                    .claim_due_timers(t(1000), 7, 60_000, format!("node{n}"))
                    .await
                    .unwrap();
                if due.is_empty() {
                    return got;
                }
                got.extend(due.into_iter().map(|r| r.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for id in task.await.unwrap() {
            total += 1;
            seen.insert(id);
        }
    }
    assert_eq!(
        (total, seen.len()),
        (300, 300),
        "each timer claimed exactly once"
    );
}

pub async fn a_snooze_sets_its_wake_up_and_a_customer_message_cancels_it(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    let key = snooze_key(a.conversation_id);
    let snooze = |until| Command::SetStatus {
        to: Status::Snoozed,
        snoozed_until: Some(until),
    };
    s.act(&scope, a.conversation_id, w.admin, snooze(t(1000)), t(1))
        .await
        .unwrap();
    let wake = s.timer(w.ws, key.clone()).await.unwrap().unwrap();
    assert_eq!((wake.kind.as_str(), wake.due_at), (SNOOZE_KIND, t(1000)));
    assert_eq!(
        wake.payload["conversation_id"],
        a.conversation_id.to_string()
    );
    // The customer writes: the conversation opens and the wake-up is gone.
    s.apply_inbound(inbound(w.inbox, "c1", Some("m2"), "Still there?", t(5)))
        .await
        .unwrap();
    assert_eq!(s.timer(w.ws, key.clone()).await.unwrap(), None);
    // Snoozed again, then reopened by hand.
    s.act(&scope, a.conversation_id, w.admin, snooze(t(2000)), t(6))
        .await
        .unwrap();
    assert_eq!(
        s.timer(w.ws, key.clone()).await.unwrap().unwrap().due_at,
        t(2000)
    );
    let reopen = Command::SetStatus {
        to: Status::Open,
        snoozed_until: None,
    };
    s.act(&scope, a.conversation_id, w.admin, reopen, t(7))
        .await
        .unwrap();
    assert_eq!(s.timer(w.ws, key.clone()).await.unwrap(), None);
    // Woken at its time, it leaves no timer behind.
    s.act(&scope, a.conversation_id, w.admin, snooze(t(3000)), t(8))
        .await
        .unwrap();
    assert_eq!(s.wake_snoozed(t(3000)).await.unwrap(), 1);
    assert_eq!(s.timer(w.ws, key).await.unwrap(), None);
}
