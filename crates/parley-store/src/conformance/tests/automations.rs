//! Automation rules: order, statistics, the storm guard's log, and commands attributed to a rule.

use parley_core::automation::{Action, Conditions, Limit, Rule, Trigger};
use parley_core::RuleId;

use super::*;

fn rule(name: &str) -> Rule {
    Rule {
        id: RuleId::from(uuid::Uuid::now_v7()),
        name: name.into(),
        enabled: true,
        position: 99,
        inbox_id: None,
        trigger: Trigger::Keyword {
            keywords: vec!["refund".into()],
        },
        conditions: Conditions::default(),
        actions: vec![Action::AddLabels {
            labels: vec!["refund".into()],
        }],
        limit: Some(Limit {
            max: 1,
            per_secs: 3600,
        }),
    }
}

pub async fn rules_keep_their_order_and_their_statistics(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let (a, b, c) = (rule("a"), rule("b"), rule("c"));
    for r in [&a, &b, &c] {
        s.create_rule(w.ws, r.clone(), t(1)).await.unwrap();
    }
    let names = |rows: &[RuleRow]| rows.iter().map(|r| r.rule.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&s.list_rules(w.ws).await.unwrap()), ["a", "b", "c"]);
    let ordered = s
        .order_rules(w.ws, vec![c.id, a.id, b.id], t(2))
        .await
        .unwrap();
    assert_eq!(names(&ordered), ["c", "a", "b"]);
    for bad in [
        vec![c.id, a.id],
        vec![c.id, a.id, a.id],
        vec![c.id, a.id, b.id, b.id],
    ] {
        assert!(matches!(
            s.order_rules(w.ws, bad, t(3)).await,
            Err(StoreError::Invalid { field: "ids", .. })
        ));
    }
    assert_eq!(
        names(&s.list_rules(w.ws).await.unwrap()),
        ["c", "a", "b"],
        "nothing moved"
    );

    let mut changed = a.clone();
    changed.name = "a2".into();
    changed.enabled = false;
    changed.inbox_id = Some(w.inbox);
    let row = s.update_rule(w.ws, changed.clone(), t(4)).await.unwrap();
    assert_eq!(
        (row.rule.position, row.rule.enabled),
        (1, false),
        "position stays"
    );
    assert_eq!(row.rule.inbox_id, Some(w.inbox));
    assert_eq!(row.updated_at, t(4));
    changed.inbox_id = Some(InboxId::from(uuid::Uuid::now_v7()));
    assert!(matches!(
        s.update_rule(w.ws, changed, t(5)).await,
        Err(StoreError::Invalid {
            field: "inbox_id",
            ..
        })
    ));

    let conv = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "refund", t(10)))
        .await
        .unwrap()
        .conversation_id;
    s.record_firing(w.ws, b.id, conv, 0, t(11)).await.unwrap();
    s.record_firing(w.ws, b.id, conv, 2, t(12)).await.unwrap();
    let got = s.rule(w.ws, b.id).await.unwrap();
    assert_eq!((got.fired, got.last_fired_at), (2, Some(t(12))));
    let sends = s.rule_sends(w.ws, conv, t(0)).await.unwrap();
    assert_eq!(
        sends,
        vec![RuleSend {
            rule_id: b.id,
            at: t(12),
            messages: 2
        }]
    );
    assert!(s.rule_sends(w.ws, conv, t(13)).await.unwrap().is_empty());

    // Another workspace sees none of it.
    let (other, _) = s
        .create_workspace("Other", "UTC", user("o@other.test", Role::Admin), t(0))
        .await
        .unwrap();
    assert!(s.list_rules(other.id).await.unwrap().is_empty());
    assert!(matches!(
        s.rule(other.id, b.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_rule(other.id, b.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.rule_sends(other.id, conv, t(0)).await.unwrap().is_empty());

    s.delete_rule(w.ws, b.id).await.unwrap();
    assert_eq!(names(&s.list_rules(w.ws).await.unwrap()), ["c", "a2"]);
    assert!(
        s.rule_sends(w.ws, conv, t(0)).await.unwrap().is_empty(),
        "its log goes with it"
    );
}

pub async fn attributed_commands_name_their_rule_on_the_timeline(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let conv = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "refund", t(10)))
        .await
        .unwrap()
        .conversation_id;
    let r = rule("Refunds");
    let by = Attribution::Rule {
        id: r.id,
        name: r.name.clone(),
    };
    let attributed = |cmd: Command| Command::Attributed {
        by: by.clone(),
        cmd: Box::new(cmd),
    };
    let nobody = UserId(uuid::Uuid::nil());
    let labels = Command::Labels {
        add: vec!["refund".into()],
        remove: vec![],
    };
    let out = s
        .act(&scope, conv, nobody, attributed(labels), t(11))
        .await
        .unwrap();
    assert_eq!(out.conversation.labels, ["refund"]);
    let note = Command::Note {
        body: "Refund asked".into(),
        mentions: vec![],
    };
    s.act(&scope, conv, nobody, attributed(note), t(12))
        .await
        .unwrap();
    let msg = Command::Automated {
        body: "We got it".into(),
        meta: None,
    };
    let out = s
        .act(&scope, conv, nobody, attributed(msg), t(13))
        .await
        .unwrap();
    let meta = out.message.unwrap().meta.unwrap();
    assert_eq!(meta["rule"]["name"], "Refunds");
    let same = Command::Labels {
        add: vec!["refund".into()],
        remove: vec![],
    };
    assert!(
        s.act(&scope, conv, nobody, attributed(same), t(14))
            .await
            .is_err(),
        "refused as unwrapped"
    );
    let entries = s.timeline(&scope, conv, None, 50).await.unwrap();
    let ruled: Vec<&str> = entries
        .iter()
        .filter(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.event.data).unwrap();
            v["rule"]["id"] == serde_json::json!(r.id)
                || v["message"]["meta"]["rule"]["id"] == serde_json::json!(r.id)
        })
        .map(|e| e.event.kind.as_str())
        .collect();
    assert_eq!(
        ruled,
        ["conversation.updated", "note.created", "message.created"]
    );
    s.record_conversation_event(
        w.ws,
        conv,
        "automation.recorded",
        serde_json::json!({"x": 1}),
        t(15),
    )
    .await
    .unwrap();
    let last = s
        .timeline(&scope, conv, None, 50)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        last.event.kind, "automation.recorded",
        "recorded actions show on the timeline"
    );
}

pub async fn macros_are_named_once_per_workspace(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let id = parley_core::MacroId::from(uuid::Uuid::now_v7());
    let actions = vec![
        Action::AddLabels {
            labels: vec!["vip".into()],
        },
        Action::Resolve,
    ];
    let m = s
        .create_macro(w.ws, id, "Close VIP", actions.clone(), t(1))
        .await
        .unwrap();
    assert_eq!((m.name.as_str(), &m.actions), ("Close VIP", &actions));
    let other = parley_core::MacroId::from(uuid::Uuid::now_v7());
    assert!(matches!(
        s.create_macro(w.ws, other, "Close VIP", vec![Action::Resolve], t(2))
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.create_macro(w.ws, other, "Another", vec![Action::Resolve], t(2))
        .await
        .unwrap();
    assert!(matches!(
        s.update_macro(w.ws, other, "Close VIP", vec![], t(3)).await,
        Err(StoreError::Conflict(_))
    ));
    let m = s
        .update_macro(w.ws, id, "Close", vec![Action::Resolve], t(4))
        .await
        .unwrap();
    assert_eq!(
        (m.actions.len(), m.updated_at, m.created_at),
        (1, t(4), t(1))
    );
    let names: Vec<String> = s
        .list_macros(w.ws)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["Another", "Close"]);
    let (ows, _) = s
        .create_workspace("Other", "UTC", user("o@other.test", Role::Admin), t(0))
        .await
        .unwrap();
    assert!(matches!(
        s.get_macro(ows.id, id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_macro(ows.id, id).await,
        Err(StoreError::NotFound)
    ));
    s.delete_macro(w.ws, id).await.unwrap();
    assert!(matches!(
        s.get_macro(w.ws, id).await,
        Err(StoreError::NotFound)
    ));
}
