use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::consent::Purpose;
use crate::conversation::{Priority, Status};
use crate::ids::{InboxId, RuleId, TemplateId};

fn id() -> RuleId {
    RuleId::from(uuid::Uuid::now_v7())
}

fn rule(position: i32, trigger: Trigger, actions: Vec<Action>) -> Rule {
    Rule {
        id: id(),
        name: format!("rule {position}"),
        enabled: true,
        position,
        inbox_id: None,
        trigger,
        conditions: Conditions::default(),
        actions,
        limit: None,
    }
}

fn label(l: &str) -> Action {
    Action::AddLabels {
        labels: vec![l.into()],
    }
}

fn send() -> Action {
    Action::SendTemplate {
        template_id: TemplateId::from(uuid::Uuid::nil()),
    }
}

struct World {
    inbox: InboxId,
    fields: serde_json::Map<String, serde_json::Value>,
    labels: Vec<String>,
    consented: Vec<Purpose>,
}

fn world() -> World {
    let fields = json!({"plan": "Gold", "empty": ""})
        .as_object()
        .cloned()
        .unwrap_or_default();
    World {
        inbox: InboxId::from(uuid::Uuid::now_v7()),
        fields,
        labels: vec!["vip".into()],
        consented: vec![Purpose::Conversational],
    }
}

fn facts<'a>(w: &'a World, text: &'a str) -> Facts<'a> {
    Facts {
        inbox: w.inbox,
        channel: "sms",
        contact_fields: &w.fields,
        lists: &[],
        labels: &w.labels,
        priority: Priority::Normal,
        status: Status::Open,
        assignee: None,
        team: None,
        open_now: true,
        consented: &w.consented,
        text: Some(text),
    }
}

fn received() -> Event<'static> {
    Event {
        happening: Happening::Received { created: false },
        cause: Cause::default(),
        automated_sender: false,
    }
}

fn fired(rules: &[Rule], event: &Event, f: &Facts) -> Vec<RuleId> {
    evaluate(rules, event, f, &Guard::new())
        .iter()
        .map(|x| x.rule)
        .collect()
}

#[test]
fn keywords_match_whole_words_ignoring_case() {
    assert!(eval::has_words("Where is my REFUND?", "refund"));
    assert!(eval::has_words("cancel my order please", "Cancel my order"));
    assert!(!eval::has_words("refunded already", "refund"));
    assert!(!eval::has_words("prefund", "refund"));
    assert!(eval::has_words("ça marche", "ça"));
}

#[test]
fn rules_fire_in_position_order_and_disabled_or_other_inbox_rules_do_not() {
    let w = world();
    let kw = || Trigger::Keyword {
        keywords: vec!["refund".into()],
    };
    let mut second = rule(2, kw(), vec![label("b")]);
    let first = rule(1, kw(), vec![label("a")]);
    let mut off = rule(0, kw(), vec![label("c")]);
    off.enabled = false;
    let mut elsewhere = rule(3, kw(), vec![label("d")]);
    elsewhere.inbox_id = Some(InboxId::from(uuid::Uuid::now_v7()));
    second.inbox_id = Some(w.inbox);
    let rules = vec![second.clone(), off, elsewhere, first.clone()];
    assert_eq!(
        fired(&rules, &received(), &facts(&w, "a refund please")),
        vec![first.id, second.id]
    );
    assert!(fired(&rules, &received(), &facts(&w, "hello")).is_empty());
}

#[test]
fn triggers_match_their_events_only() {
    let w = world();
    let created = rule(0, Trigger::ConversationCreated, vec![label("new")]);
    let any = rule(1, Trigger::MessageReceived, vec![label("any")]);
    let pat = rule(
        2,
        Trigger::Pattern {
            pattern: r"order #?\d{4}".into(),
        },
        vec![label("o")],
    );
    let lab = rule(
        3,
        Trigger::LabelAdded {
            label: Some("vip".into()),
        },
        vec![label("x")],
    );
    let missed = rule(
        4,
        Trigger::Call {
            answered: Some(false),
        },
        vec![label("m")],
    );
    let rules = vec![
        created.clone(),
        any.clone(),
        pat.clone(),
        lab.clone(),
        missed.clone(),
    ];
    let f = facts(&w, "about ORDER 1234");
    let mut ev = received();
    assert_eq!(fired(&rules, &ev, &f), vec![any.id, pat.id]);
    ev.happening = Happening::Received { created: true };
    assert_eq!(fired(&rules, &ev, &f), vec![created.id, any.id, pat.id]);
    let added = vec!["vip".to_string()];
    ev.happening = Happening::LabelsAdded(&added);
    assert_eq!(fired(&rules, &ev, &f), vec![lab.id]);
    ev.happening = Happening::Call { answered: true };
    assert!(fired(&rules, &ev, &f).is_empty());
    ev.happening = Happening::Call { answered: false };
    assert_eq!(fired(&rules, &ev, &f), vec![missed.id]);
}

#[test]
fn conditions_combine_by_all_or_any() {
    let w = world();
    let mut r = rule(0, Trigger::MessageReceived, vec![label("x")]);
    r.conditions.items = vec![
        Condition::ContactField {
            key: "plan".into(),
            op: FieldOp::Eq,
            value: Some("gold".into()),
        },
        Condition::Label {
            label: "vip".into(),
            is: true,
        },
        Condition::Consent {
            purpose: Purpose::Promotional,
            granted: false,
        },
        Condition::ContactField {
            key: "empty".into(),
            op: FieldOp::Absent,
            value: None,
        },
        Condition::MessageText {
            op: TextOp::Contains,
            value: "HELLO".into(),
        },
    ];
    let rules = vec![r.clone()];
    assert_eq!(
        fired(&rules, &received(), &facts(&w, "hello there")),
        vec![r.id]
    );
    assert!(fired(&rules, &received(), &facts(&w, "bye")).is_empty());
    let mut any = r.clone();
    any.conditions.mode = Match::Any;
    any.conditions
        .items
        .push(Condition::BusinessHours { open: false });
    assert_eq!(
        fired(&[any.clone()], &received(), &facts(&w, "bye")),
        vec![any.id]
    );
    let mut f = facts(&w, "hello");
    f.open_now = false;
    let mut closed = rule(0, Trigger::MessageReceived, vec![label("x")]);
    closed.conditions.items = vec![Condition::BusinessHours { open: true }];
    assert!(fired(&[closed], &received(), &f).is_empty());
}

#[test]
fn a_rule_never_reacts_to_its_own_chain_and_chains_stop_past_the_depth() {
    let w = world();
    let r = rule(0, Trigger::LabelAdded { label: None }, vec![label("again")]);
    let other = rule(1, Trigger::LabelAdded { label: None }, vec![label("more")]);
    let rules = vec![r.clone(), other.clone()];
    let added = vec!["again".to_string()];
    let mut ev = Event {
        happening: Happening::LabelsAdded(&added),
        cause: Cause::default().then(r.id),
        automated_sender: false,
    };
    assert_eq!(fired(&rules, &ev, &facts(&w, "")), vec![other.id]);
    let deep: Vec<RuleId> = (0..MAX_DEPTH).map(|_| id()).collect();
    ev.cause = Cause {
        chain: deep.clone(),
    };
    assert_eq!(
        fired(&rules, &ev, &facts(&w, "")).len(),
        2,
        "depth MAX_DEPTH still fires"
    );
    ev.cause = Cause { chain: deep }.then(id());
    assert!(
        fired(&rules, &ev, &facts(&w, "")).is_empty(),
        "past MAX_DEPTH nothing fires"
    );
}

#[test]
fn limits_and_automated_senders_hold_back_messages_only() {
    let w = world();
    let mut r = rule(
        0,
        Trigger::MessageReceived,
        vec![send(), label("x"), send()],
    );
    r.limit = Some(Limit {
        max: 2,
        per_secs: 3600,
    });
    let f = facts(&w, "hi");
    let mut guard = Guard::new();
    guard.insert(r.id, 1);
    let out = evaluate(std::slice::from_ref(&r), &received(), &f, &guard);
    assert_eq!(out[0].actions, vec![send(), label("x")]);
    assert_eq!(
        out[0].held_back,
        vec![HeldBack {
            action: send(),
            reason: "limit"
        }]
    );
    let mut bot = received();
    bot.automated_sender = true;
    let out = evaluate(std::slice::from_ref(&r), &bot, &f, &Guard::new());
    assert_eq!(out[0].actions, vec![label("x")]);
    assert_eq!(out[0].held_back.len(), 2);
    let only_send = Rule {
        actions: vec![send()],
        ..r.clone()
    };
    let out = evaluate(&[only_send], &bot, &f, &Guard::new());
    assert!(out[0].actions.is_empty() && out[0].held_back.len() == 1);
}

#[test]
fn checking_names_the_field() {
    let ok = rule(
        0,
        Trigger::Keyword {
            keywords: vec![" refund ".into()],
        },
        vec![label("VIP")],
    );
    let checked = ok.clone().check().expect("valid");
    assert_eq!(
        checked.trigger,
        Trigger::Keyword {
            keywords: vec!["refund".into()]
        }
    );
    assert_eq!(checked.actions, vec![label("vip")]);
    let field = |r: Rule| r.check().err().map(|e| e.field);
    assert_eq!(
        field(Rule {
            name: " ".into(),
            ..ok.clone()
        }),
        Some("name")
    );
    assert_eq!(
        field(Rule {
            actions: vec![],
            ..ok.clone()
        }),
        Some("actions")
    );
    let kw = Trigger::Keyword {
        keywords: vec!["  ".into()],
    };
    assert_eq!(
        field(Rule {
            trigger: kw,
            ..ok.clone()
        }),
        Some("trigger.keywords")
    );
    let bad = Trigger::Pattern {
        pattern: "(unclosed".into(),
    };
    assert_eq!(
        field(Rule {
            trigger: bad,
            ..ok.clone()
        }),
        Some("trigger.pattern")
    );
    let at = Trigger::TimeOfDay { at: "24:00".into() };
    assert_eq!(
        field(Rule {
            trigger: at,
            ..ok.clone()
        }),
        Some("trigger.at")
    );
    let idle = Trigger::Idle { after_secs: 0 };
    assert_eq!(
        field(Rule {
            trigger: idle,
            ..ok.clone()
        }),
        Some("trigger.after_secs")
    );
    let limit = Some(Limit {
        max: 0,
        per_secs: 60,
    });
    assert_eq!(
        field(Rule {
            limit,
            ..ok.clone()
        }),
        Some("limit")
    );
    assert_eq!(parse_hh_mm("09:30"), Some((9, 30)));
    assert_eq!(parse_hh_mm("9:30"), None);
}

#[test]
fn the_json_shape_round_trips() {
    let v = json!({
        "id": uuid::Uuid::nil(), "name": "Refunds", "enabled": true, "position": 0, "inbox_id": null,
        "trigger": {"kind": "keyword", "keywords": ["refund"]},
        "conditions": {"match": "any", "items": [{"kind": "assignee", "is": "unassigned"}]},
        "actions": [{"kind": "add_labels", "labels": ["refund"]}, {"kind": "resolve"}],
        "limit": {"max": 1, "per_secs": 86400}
    });
    let r: Rule = serde_json::from_value(v.clone()).expect("parses");
    assert_eq!(serde_json::to_value(&r).expect("serialises"), v);
}

proptest! {
    /// Whatever the rules and the guard state, nothing past the limit is sent, nothing is sent to
    /// an automated sender, and no rule in the chain fires again.
    #[test]
    fn guards_hold(sent in 0u32..5, max in 1u32..4, sends in 0usize..5, bot: bool, in_chain: bool) {
        let w = world();
        let mut r = rule(0, Trigger::MessageReceived, vec![send(); sends]);
        r.actions.push(label("x"));
        r.limit = Some(Limit { max, per_secs: 60 });
        let mut ev = received();
        ev.automated_sender = bot;
        if in_chain { ev.cause = Cause::default().then(r.id); }
        let guard: Guard = [(r.id, sent)].into_iter().collect();
        let out = evaluate(std::slice::from_ref(&r), &ev, &facts(&w, "x"), &guard);
        if in_chain {
            prop_assert!(out.is_empty());
        } else {
            let n = out[0].actions.iter().filter(|a| a.sends_message()).count() as u32;
            prop_assert!(n + sent <= max.max(sent));
            prop_assert!(!bot || n == 0);
            prop_assert_eq!(out[0].actions.len() + out[0].held_back.len(), sends + 1);
        }
    }
}

#[test]
fn macros_hold_only_what_an_agent_runs_by_hand() {
    let (name, actions) =
        check_macro(" Close ", vec![label("VIP"), Action::Resolve]).expect("valid");
    assert_eq!(
        (name.as_str(), actions),
        ("Close", vec![label("vip"), Action::Resolve])
    );
    let field = |n: &str, a: Vec<Action>| check_macro(n, a).err().map(|e| e.field);
    assert_eq!(field("", vec![Action::Resolve]), Some("name"));
    assert_eq!(field("x", vec![]), Some("actions"));
    assert_eq!(
        field(
            "x",
            vec![Action::Webhook {
                url: "https://x.test".into()
            }]
        ),
        Some("actions")
    );
    assert_eq!(field("x", vec![Action::SendSurvey]), Some("actions"));
}

#[test]
fn only_a_rule_whose_trigger_matches_makes_the_facts_worth_reading() {
    let inbox = InboxId::from(uuid::Uuid::now_v7());
    let words = |w: &str| Trigger::Keyword {
        keywords: vec![w.into()],
    };
    let refund = vec![rule(0, words("refund"), vec![label("billing")])];
    assert!(!might_fire_on_message(&refund, inbox, "where is my order?"));
    assert!(might_fire_on_message(&refund, inbox, "I want a REFUND"));
    let mut off = refund.clone();
    off[0].enabled = false;
    assert!(!might_fire_on_message(&off, inbox, "refund"));
    let mut elsewhere = refund.clone();
    elsewhere[0].inbox_id = Some(InboxId::from(uuid::Uuid::now_v7()));
    assert!(!might_fire_on_message(&elsewhere, inbox, "refund"));
    let any = vec![rule(0, Trigger::MessageReceived, vec![label("seen")])];
    assert!(might_fire_on_message(&any, inbox, "hi"));
    let first = vec![rule(0, Trigger::ConversationCreated, vec![label("new")])];
    assert!(might_fire_on_message(&first, inbox, "hi"));
}
