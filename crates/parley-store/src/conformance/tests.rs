//! The behaviours every backend must show. Each test gets a fresh, empty store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use parley_core::contact::IdentityKind;
use parley_core::conversation::{Priority, Status};
use parley_core::message::DeliveryStatus;
use parley_core::role::Role;
use parley_core::{InboxId, Timestamp, UserId, WorkspaceId};

pub use super::templates::*;
use super::Harness;
use crate::*;

mod automations;
pub use automations::*;

const T0: i64 = 1_800_000_000_000;

fn t(offset_ms: i64) -> Timestamp {
    Timestamp(T0 + offset_ms)
}

struct World {
    ws: WorkspaceId,
    admin: UserId,
    agent: UserId,
    inbox: InboxId,
    other_inbox: InboxId,
}

fn user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        name: email.split('@').next().unwrap_or(email).into(),
        password_hash: "x".into(),
        role,
        bot: false,
    }
}

async fn world(s: &DynStore) -> World {
    let (ws, admin) = s
        .create_workspace("Acme", "UTC", user("admin@acme.test", Role::Admin), t(0))
        .await
        .unwrap();
    let agent = s
        .create_user(ws.id, user("ann@acme.test", Role::Agent), t(0))
        .await
        .unwrap();
    let mk = |name: &str| NewInbox {
        name: name.into(),
        kind: "api".into(),
        settings: serde_json::json!({"callback_url": "http://127.0.0.1:9/cb"}),
        secret: "s3cret".into(),
    };
    let inbox = s.create_inbox(ws.id, mk("Support"), t(0)).await.unwrap();
    let other = s.create_inbox(ws.id, mk("Sales"), t(0)).await.unwrap();
    s.set_inbox_member(ws.id, inbox.id, agent.id, true)
        .await
        .unwrap();
    World {
        ws: ws.id,
        admin: admin.id,
        agent: agent.id,
        inbox: inbox.id,
        other_inbox: other.id,
    }
}

fn inbound(
    inbox: InboxId,
    who: &str,
    ext: Option<&str>,
    body: &str,
    at: Timestamp,
) -> InboundMessage {
    InboundMessage {
        keyword: None,
        survey: None,
        meta: None,
        inbox_id: inbox,
        identity_kind: IdentityKind::Api,
        sender_external_id: who.into(),
        sender_name: Some(format!("Customer {who}")),
        sender_email: None,
        sender_phone: None,
        external_id: ext.map(Into::into),
        body: body.into(),
        at,
        thread: None,
    }
}

/// A scope that sees the whole workspace, as the server's own work does.
fn sys(ws: WorkspaceId) -> Scope {
    Scope::system(ws, UserId(uuid::Uuid::nil()))
}

async fn admin_scope(s: &DynStore, w: &World) -> Scope {
    s.principal(w.ws, w.admin).await.unwrap().scope()
}

async fn agent_scope(s: &DynStore, w: &World) -> Scope {
    s.principal(w.ws, w.agent).await.unwrap().scope()
}

pub async fn inbound_creates_contact_and_conversation_once(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hello", t(10)))
        .await
        .unwrap();
    assert!(!a.duplicate);
    let again = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hello", t(11)))
        .await
        .unwrap();
    assert!(
        again.duplicate,
        "the same provider message id is stored once"
    );
    assert_eq!(again.message_id, a.message_id);
    let b = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m2"), "Still there?", t(20)))
        .await
        .unwrap();
    assert_eq!(
        b.conversation_id, a.conversation_id,
        "one ongoing conversation per contact per inbox"
    );
    assert_eq!(b.contact_id, a.contact_id);
    let other = s
        .apply_inbound(inbound(w.other_inbox, "c1", Some("m1"), "Sales q", t(30)))
        .await
        .unwrap();
    assert!(!other.duplicate, "dedup is per inbox");
    assert_ne!(other.conversation_id, a.conversation_id);

    let scope = admin_scope(s, &w).await;
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!(conv.status, Status::Open);
    assert_eq!(conv.waiting_since, Some(t(10)));
    assert_eq!(conv.last_message.as_deref(), Some("Still there?"));
    assert_eq!(conv.contact_name.as_deref(), Some("Customer c1"));
    let tl = s
        .timeline(&scope, a.conversation_id, None, 50)
        .await
        .unwrap();
    let kinds: Vec<&str> = tl.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(kinds, ["message.created", "message.created"]);
    assert_eq!(
        tl[0].delivery.as_ref().map(|d| d.0),
        Some(DeliveryStatus::Received)
    );
    let contact = s.contact(&sys(w.ws), a.contact_id).await.unwrap();
    assert_eq!(contact.identities.len(), 1);
    assert_eq!(contact.identities[0].external_id, "c1");
}

pub async fn inbound_reopens_resolved_and_snoozed_with_history(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(10)))
        .await
        .unwrap();
    s.act(
        &scope,
        a.conversation_id,
        w.admin,
        Command::Reply {
            meta: None,
            body: "Hello!".into(),
        },
        t(20),
    )
    .await
    .unwrap();
    let r = s
        .act(
            &scope,
            a.conversation_id,
            w.admin,
            Command::SetStatus {
                to: Status::Resolved,
                snoozed_until: None,
            },
            t(30),
        )
        .await
        .unwrap();
    assert_eq!(r.conversation.status, Status::Resolved);
    let b = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m2"), "One more thing", t(40)))
        .await
        .unwrap();
    assert_eq!(
        b.conversation_id, a.conversation_id,
        "the customer never starts over"
    );
    assert!(
        !a.reopened && b.reopened,
        "the outcome says the message reopened it"
    );
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!(conv.status, Status::Open);
    assert_eq!(conv.waiting_since, Some(t(40)));
    let tl = s
        .timeline(&scope, a.conversation_id, None, 50)
        .await
        .unwrap();
    let kinds: Vec<&str> = tl.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "message.created",
            "message.created",
            "conversation.updated",
            "conversation.updated",
            "message.created"
        ]
    );
    assert!(
        tl[3].event.data.contains("\"to\":\"open\""),
        "the reopening is on the timeline: {}",
        tl[3].event.data
    );

    let snooze = Command::SetStatus {
        to: Status::Snoozed,
        snoozed_until: Some(t(10_000)),
    };
    s.act(&scope, a.conversation_id, w.admin, snooze, t(50))
        .await
        .unwrap();
    s.apply_inbound(inbound(w.inbox, "c1", Some("m3"), "Hello?", t(60)))
        .await
        .unwrap();
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!((conv.status, conv.snoozed_until), (Status::Open, None));
}

pub async fn replies_answer_waiting_and_queue_delivery(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = agent_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(10)))
        .await
        .unwrap();
    let note = Command::Note {
        body: "@admin look".into(),
        mentions: vec![w.admin],
    };
    let n = s
        .act(&scope, a.conversation_id, w.agent, note, t(15))
        .await
        .unwrap();
    assert_eq!(n.note.as_ref().unwrap().mentions, vec![w.admin]);
    assert_eq!(
        n.conversation.waiting_since,
        Some(t(10)),
        "a note does not answer the customer"
    );
    assert_eq!(n.conversation.first_reply_at, None);
    let r = s
        .act(
            &scope,
            a.conversation_id,
            w.agent,
            Command::Reply {
                meta: None,
                body: "On it".into(),
            },
            t(20),
        )
        .await
        .unwrap();
    assert_eq!(r.conversation.waiting_since, None);
    assert_eq!(r.conversation.first_reply_at, Some(t(20)));
    let msg = r.message.unwrap();
    assert_eq!(msg.status, DeliveryStatus::Queued);
    assert_eq!(s.next_outbox_due().await.unwrap(), Some(t(20)));
    let jobs = s.claim_outbox(t(21), 10, 30_000).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].message.id, msg.id);
    assert_eq!(jobs[0].identity.external_id, "c1");
    assert_eq!(jobs[0].inbox.secret, "s3cret");
    assert!(
        s.claim_outbox(t(22), 10, 30_000).await.unwrap().is_empty(),
        "a claimed delivery is leased"
    );
    assert_eq!(s.release_claims().await.unwrap(), 1);
    let reclaimed = s.claim_outbox(t(22), 10, 30_000).await.unwrap();
    assert_eq!(
        reclaimed.len(),
        1,
        "a released claim can be claimed again at once"
    );
    assert_eq!(reclaimed[0].id, jobs[0].id);
    s.finish_outbox(
        jobs[0].id,
        OutboxResult::Sent {
            provider_id: Some("p-1".into()),
        },
        t(23),
    )
    .await
    .unwrap();
    let tl = s
        .timeline(&scope, a.conversation_id, None, 50)
        .await
        .unwrap();
    let last = tl.last().unwrap();
    assert_eq!(last.event.kind, "message.created");
    assert_eq!(
        last.delivery.as_ref().map(|d| d.0),
        Some(DeliveryStatus::Sent)
    );
    assert!(
        s.claim_outbox(t(100_000), 10, 30_000)
            .await
            .unwrap()
            .is_empty(),
        "a sent delivery is done"
    );
    assert_eq!(s.next_outbox_due().await.unwrap(), None);
    s.apply_inbound(inbound(w.inbox, "c1", Some("m2"), "Thanks", t(30)))
        .await
        .unwrap();
    let again = s
        .act(
            &scope,
            a.conversation_id,
            w.agent,
            Command::Reply {
                meta: None,
                body: "Welcome".into(),
            },
            t(40),
        )
        .await
        .unwrap();
    assert_eq!(
        again.conversation.first_reply_at,
        Some(t(20)),
        "the first answer stays the first"
    );
    let stored = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!(stored.first_reply_at, Some(t(20)));
}

pub async fn scopes_hide_other_inboxes_and_workspaces(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let agent = agent_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.other_inbox, "c1", Some("m1"), "Sales", t(10)))
        .await
        .unwrap();
    assert!(matches!(
        s.conversation(&agent, a.conversation_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.timeline(&agent, a.conversation_id, None, 10).await,
        Err(StoreError::NotFound)
    ));
    let reply = s
        .act(
            &agent,
            a.conversation_id,
            w.agent,
            Command::Reply {
                body: "x".into(),
                meta: None,
            },
            t(20),
        )
        .await;
    assert!(matches!(reply, Err(StoreError::NotFound)));
    assert!(s
        .list_conversations(&agent, &ConversationQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(s.events_since(&agent, 0, 100).await.unwrap().is_empty());
    assert_eq!(s.list_inboxes(&agent).await.unwrap().len(), 1);
    assert!(matches!(
        s.inbox(&agent, w.other_inbox).await,
        Err(StoreError::NotFound)
    ));

    let (ws2, boss2) = s
        .create_workspace("Other", "UTC", user("boss@other.test", Role::Admin), t(0))
        .await
        .unwrap();
    let other = s.principal(ws2.id, boss2.id).await.unwrap().scope();
    assert!(matches!(
        s.conversation(&other, a.conversation_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(s
        .list_conversations(&other, &ConversationQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        s.contact(&sys(ws2.id), a.contact_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.inbox(&other, w.inbox).await,
        Err(StoreError::NotFound)
    ));
    let admin = admin_scope(s, &w).await;
    assert_eq!(
        s.list_conversations(&admin, &ConversationQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

pub async fn lists_filter_sort_and_paginate(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let o = s
            .apply_inbound(inbound(
                w.inbox,
                &format!("c{i}"),
                Some(&format!("m{i}")),
                "help",
                t(100 - i * 10),
            ))
            .await
            .unwrap();
        ids.push(o.conversation_id);
    }
    // ids[6] has waited longest (t(40)); ids[0] least (t(100)).
    s.act(
        &scope,
        ids[0],
        w.admin,
        Command::SetPriority(Priority::Urgent),
        t(200),
    )
    .await
    .unwrap();
    s.act(
        &scope,
        ids[1],
        w.admin,
        Command::Assign {
            assignee: Some(w.agent),
            team: None,
        },
        t(201),
    )
    .await
    .unwrap();
    s.act(
        &scope,
        ids[2],
        w.admin,
        Command::Labels {
            add: vec!["vip".into()],
            remove: vec![],
        },
        t(202),
    )
    .await
    .unwrap();
    s.act(
        &scope,
        ids[3],
        w.admin,
        Command::Reply {
            meta: None,
            body: "done".into(),
        },
        t(203),
    )
    .await
    .unwrap();
    s.act(
        &scope,
        ids[3],
        w.admin,
        Command::SetStatus {
            to: Status::Resolved,
            snoozed_until: None,
        },
        t(204),
    )
    .await
    .unwrap();

    let q = |f: &dyn Fn(&mut ConversationQuery)| {
        let mut q = ConversationQuery::default();
        f(&mut q);
        q
    };
    let all = s
        .list_conversations(&scope, &q(&|_| {}))
        .await
        .unwrap()
        .items;
    let order: Vec<_> = all.iter().map(|c| c.id).collect();
    assert_eq!(
        order,
        vec![ids[6], ids[5], ids[4], ids[2], ids[1], ids[0], ids[3]],
        "longest waiting first, answered last"
    );
    let open = s
        .list_conversations(&scope, &q(&|q| q.statuses = vec![Status::Open]))
        .await
        .unwrap()
        .items;
    assert_eq!(open.len(), 6);
    let mine = s
        .list_conversations(&scope, &q(&|q| q.assignee = AssigneeFilter::User(w.agent)))
        .await
        .unwrap()
        .items;
    assert_eq!(mine.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[1]]);
    let nobody = s
        .list_conversations(&scope, &q(&|q| q.assignee = AssigneeFilter::Nobody))
        .await
        .unwrap()
        .items;
    assert_eq!(nobody.len(), 6);
    let vip = s
        .list_conversations(&scope, &q(&|q| q.label = Some("vip".into())))
        .await
        .unwrap()
        .items;
    assert_eq!(vip.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[2]]);
    let urgent = s
        .list_conversations(&scope, &q(&|q| q.priority = Some(Priority::Urgent)))
        .await
        .unwrap()
        .items;
    assert_eq!(urgent.len(), 1);
    let by_prio = s
        .list_conversations(&scope, &q(&|q| q.sort = Sort::Priority))
        .await
        .unwrap()
        .items;
    assert_eq!(by_prio[0].id, ids[0]);
    let newest = s
        .list_conversations(&scope, &q(&|q| q.sort = Sort::Activity))
        .await
        .unwrap()
        .items;
    assert_eq!(
        newest[0].id, ids[3],
        "the last touched conversation comes first"
    );
    assert!(s
        .list_conversations(&scope, &q(&|q| q.inbox = Some(w.other_inbox)))
        .await
        .unwrap()
        .items
        .is_empty());

    for sort in [Sort::Waiting, Sort::Activity, Sort::Priority] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = s
                .list_conversations(
                    &scope,
                    &q(&|q| {
                        q.sort = sort;
                        q.limit = 3;
                        q.cursor = cursor.clone();
                    }),
                )
                .await
                .unwrap();
            assert!(page.items.len() <= 3);
            seen.extend(page.items.iter().map(|c| c.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let full: Vec<_> = s
            .list_conversations(&scope, &q(&|q| q.sort = sort))
            .await
            .unwrap()
            .items
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(seen, full, "pages of {sort:?} cover the list exactly once");
    }
    let bad = Cursor {
        keys: vec![1, 2, 3],
        text: None,
        id: uuid::Uuid::nil(),
    };
    let r = s
        .list_conversations(&scope, &q(&|q| q.cursor = Some(bad.clone())))
        .await;
    assert!(matches!(
        r,
        Err(StoreError::Invalid {
            field: "cursor",
            ..
        })
    ));
}

pub async fn contacts_search_identities_and_merge(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let mut fields = serde_json::Map::new();
    fields.insert("plan".into(), "gold".into());
    let ann = s
        .create_contact(
            w.ws,
            NewContact {
                name: Some("Ann Lee".into()),
                email: Some("ann@example.com".into()),
                phone: Some("+14155550100".into()),
                custom_fields: fields,
                identities: vec![NewIdentity {
                    kind: IdentityKind::Email,
                    inbox_id: None,
                    external_id: "ann@example.com".into(),
                }],
            },
            t(0),
        )
        .await
        .unwrap();
    for q in ["ann", "LEE", "example.com", "555 0100", "+1415"] {
        let found = s
            .search_contacts(&sys(w.ws), q, None, 10)
            .await
            .unwrap()
            .items;
        assert_eq!(
            found.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![ann.id],
            "search {q:?}"
        );
    }
    assert!(s
        .search_contacts(&sys(w.ws), "zzz", None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    let dup = s
        .create_contact(
            w.ws,
            NewContact {
                identities: vec![NewIdentity {
                    kind: IdentityKind::Email,
                    inbox_id: None,
                    external_id: "ann@example.com".into(),
                }],
                ..Default::default()
            },
            t(1),
        )
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(_))),
        "an identity belongs to one contact"
    );

    let mut patch_fields = serde_json::Map::new();
    patch_fields.insert("plan".into(), serde_json::Value::Null);
    patch_fields.insert("seats".into(), 5.into());
    let patched = s
        .update_contact(
            w.ws,
            ann.id,
            ContactPatch {
                name: Some(Some("Ann B. Lee".into())),
                custom_fields: Some(patch_fields),
                ..Default::default()
            },
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(patched.name.as_deref(), Some("Ann B. Lee"));
    assert_eq!(
        serde_json::Value::Object(patched.custom_fields.clone()),
        serde_json::json!({"seats": 5})
    );

    // The same person writes through the API channel as "c9": a second contact, until merged.
    let a = s
        .apply_inbound(inbound(w.inbox, "c9", Some("m1"), "Hi from the app", t(10)))
        .await
        .unwrap();
    let b = s
        .apply_inbound(inbound(
            w.other_inbox,
            "c9",
            Some("m2"),
            "Sales question",
            t(11),
        ))
        .await
        .unwrap();
    s.add_identity(
        w.ws,
        ann.id,
        NewIdentity {
            kind: IdentityKind::Api,
            inbox_id: Some(w.inbox),
            external_id: "ann-2".into(),
        },
        t(12),
    )
    .await
    .unwrap();
    let c = s
        .apply_inbound(inbound(w.inbox, "ann-2", Some("m3"), "Me again", t(13)))
        .await
        .unwrap();
    assert_eq!(c.contact_id, ann.id);
    assert_ne!(
        a.contact_id, b.contact_id,
        "an identity is per inbox: the same id in two inboxes is two people until merged"
    );
    s.merge_contacts(w.ws, ann.id, b.contact_id, w.admin, t(19))
        .await
        .unwrap();
    let merged = s
        .merge_contacts(w.ws, ann.id, a.contact_id, w.admin, t(20))
        .await
        .unwrap();
    assert_eq!(merged.identities.len(), 4);
    assert_eq!(merged.name.as_deref(), Some("Ann B. Lee"));
    assert!(matches!(
        s.contact(&sys(w.ws), a.contact_id).await,
        Err(StoreError::NotFound)
    ));
    // Two threads in the Support inbox became one; the Sales thread moved over.
    let convs = s
        .list_conversations(
            &scope,
            &ConversationQuery {
                contact: Some(ann.id),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(convs.len(), 2);
    let support = convs.iter().find(|cv| cv.inbox_id == w.inbox).unwrap();
    let tl = s.timeline(&scope, support.id, None, 50).await.unwrap();
    let bodies: Vec<bool> = ["Hi from the app", "Me again"]
        .iter()
        .map(|b| tl.iter().any(|e| e.event.data.contains(b)))
        .collect();
    assert_eq!(
        bodies,
        vec![true, true],
        "the merged thread keeps both histories"
    );
    assert!(convs.iter().any(|cv| cv.id == b.conversation_id));
    // Replies to a merged thread still reach an identity of the kept contact.
    let r = s
        .act(
            &scope,
            support.id,
            w.admin,
            Command::Reply {
                meta: None,
                body: "Merged!".into(),
            },
            t(30),
        )
        .await
        .unwrap();
    assert_eq!(r.message.unwrap().status, DeliveryStatus::Queued);
    let jobs = s.claim_outbox(t(31), 10, 1000).await.unwrap();
    assert!(["c9", "ann-2"].contains(&jobs[0].identity.external_id.as_str()));
    assert!(matches!(
        s.merge_contacts(w.ws, ann.id, ann.id, w.admin, t(40)).await,
        Err(StoreError::Invalid { .. })
    ));
    let cv = s
        .remove_identity(
            w.ws,
            ann.id,
            merged
                .identities
                .iter()
                .find(|i| i.kind == IdentityKind::Email)
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    assert_eq!(cv.identities.len(), 3);
}

pub async fn events_are_published_in_commit_order_and_replayable(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = s.clone();
        let inbox = w.inbox;
        tasks.push(tokio::spawn(async move {
            s.apply_inbound(inbound(
                inbox,
                &format!("c{}", i % 5),
                Some(&format!("m{i}")),
                "x",
                t(i),
            ))
            .await
            .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let published = h.published();
    assert_eq!(
        published
            .iter()
            .filter(|e| e.kind == "message.created")
            .count(),
        40
    );
    let seqs: Vec<i64> = published.iter().map(|e| e.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        seqs, sorted,
        "the sink sees events once each, in sequence order"
    );
    let replay = s.events_since(&scope, 0, 1000).await.unwrap();
    assert_eq!(replay.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(replay[3].data, published[3].data);
    let tail = s.events_since(&scope, seqs[29], 1000).await.unwrap();
    assert_eq!(tail.len(), seqs.len() - 30);
}

pub async fn outbox_claims_retries_and_fails(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    s.act(
        &scope,
        a.conversation_id,
        w.admin,
        Command::Reply {
            body: "one".into(),
            meta: None,
        },
        t(1),
    )
    .await
    .unwrap();
    let job = s.claim_outbox(t(2), 10, 1000).await.unwrap().remove(0);
    assert_eq!(job.attempts, 0);
    s.finish_outbox(
        job.id,
        OutboxResult::Retry {
            at: t(5000),
            error: "HTTP 503".into(),
        },
        t(3),
    )
    .await
    .unwrap();
    assert!(
        s.claim_outbox(t(4000), 10, 1000).await.unwrap().is_empty(),
        "not before its backoff"
    );
    let job = s.claim_outbox(t(5000), 10, 1000).await.unwrap().remove(0);
    assert_eq!(job.attempts, 1);
    // A lease that runs out (a dispatcher died) makes the delivery claimable again.
    let again = s.claim_outbox(t(6001), 10, 1000).await.unwrap();
    assert_eq!(again.len(), 1);
    s.finish_outbox(
        job.id,
        OutboxResult::Failed {
            error: "HTTP 410 gone".into(),
        },
        t(6002),
    )
    .await
    .unwrap();
    let tl = s
        .timeline(&scope, a.conversation_id, None, 10)
        .await
        .unwrap();
    let d = tl.last().unwrap().delivery.clone().unwrap();
    assert_eq!(d, (DeliveryStatus::Failed, Some("HTTP 410 gone".into())));
    assert!(s
        .claim_outbox(t(1_000_000), 10, 1000)
        .await
        .unwrap()
        .is_empty());
    let updates: Vec<_> = h
        .published()
        .into_iter()
        .filter(|e| e.kind == "message.updated")
        .collect();
    assert_eq!(updates.len(), 2);
    assert!(updates[1].data.contains("\"failed\""));
}

pub async fn users_sessions_and_tokens(h: Harness) {
    let s = &h.store;
    assert!(s.is_empty().await.unwrap());
    let w = world(s).await;
    assert!(!s.is_empty().await.unwrap());
    let dup = s
        .create_user(w.ws, user("ann@acme.test", Role::Agent), t(1))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));
    let (p, hash) = s
        .credentials_by_email("ann@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.user_id, p.role, hash.as_str()),
        (w.agent, Role::Agent, "x")
    );
    assert_eq!(p.inboxes, vec![w.inbox]);
    assert!(s
        .credentials_by_email("nobody@acme.test")
        .await
        .unwrap()
        .is_none());

    s.create_session(NewSession {
        token_hash: "h1".into(),
        user_id: w.agent,
        workspace_id: w.ws,
        csrf_token: "c1".into(),
        created_at: t(0),
        expires_at: t(1000),
    })
    .await
    .unwrap();
    let (sp, csrf) = s.session_principal("h1", t(10)).await.unwrap().unwrap();
    assert_eq!((sp.user_id, csrf.as_str()), (w.agent, "c1"));
    assert!(
        s.session_principal("h1", t(1000)).await.unwrap().is_none(),
        "expired"
    );
    s.delete_session("h1").await.unwrap();
    assert!(s.session_principal("h1", t(10)).await.unwrap().is_none());

    let tok = s
        .create_token(w.ws, w.agent, "ci", "th", t(0))
        .await
        .unwrap();
    assert_eq!(
        s.token_principal("th").await.unwrap().unwrap().user_id,
        w.agent
    );
    assert!(
        matches!(
            s.revoke_token(w.ws, w.admin, tok.id, t(1)).await,
            Err(StoreError::NotFound)
        ),
        "only your own tokens"
    );
    s.revoke_token(w.ws, w.agent, tok.id, t(1)).await.unwrap();
    assert!(s.token_principal("th").await.unwrap().is_none());
    assert!(s.list_tokens(w.ws, w.agent).await.unwrap()[0]
        .revoked_at
        .is_some());

    let up = s
        .update_user(
            w.ws,
            w.agent,
            UserPatch {
                role: Some(Role::Supervisor),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(up.role, Role::Supervisor);
    let last = s
        .update_user(
            w.ws,
            w.admin,
            UserPatch {
                role: Some(Role::Agent),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(
        last,
        Err(StoreError::Rejected {
            code: "last_admin",
            ..
        })
    ));
    let team = s.create_team(w.ws, "Tier 2", t(0)).await.unwrap();
    assert!(matches!(
        s.create_team(w.ws, "Tier 2", t(0)).await,
        Err(StoreError::Conflict(_))
    ));
    let team = s
        .set_team_member(w.ws, team.id, w.agent, true)
        .await
        .unwrap();
    assert_eq!(team.members, vec![w.agent]);
    s.remove_user(w.ws, w.agent).await.unwrap();
    assert_eq!(s.list_users(w.ws).await.unwrap().len(), 1);
    assert!(s.list_teams(w.ws).await.unwrap()[0].members.is_empty());
    s.record_audit(AuditEntry {
        workspace_id: w.ws,
        actor_id: Some(w.admin),
        action: "user.remove".into(),
        target: w.agent.to_string(),
        detail: serde_json::json!({}),
        ip: None,
        at: t(5),
    })
    .await
    .unwrap();
    assert_eq!(
        s.list_audit(w.ws, 10).await.unwrap()[0].action,
        "user.remove"
    );
}

/// Every revocation and change of access is logged, in the same transaction and in commit order,
/// naming the user; what revokes nothing (a rename, an unknown session) logs nothing.
pub async fn revocations_and_access_changes_are_logged_in_order(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let start = s.last_access_change().await.unwrap();
    let session = |hash: &str| NewSession {
        token_hash: hash.into(),
        user_id: w.agent,
        workspace_id: w.ws,
        csrf_token: "c".into(),
        created_at: t(0),
        expires_at: t(1000),
    };
    s.create_session(session("h1")).await.unwrap();
    s.create_session(session("h2")).await.unwrap();
    s.delete_session("h1").await.unwrap();
    s.delete_session("no-such-session").await.unwrap();
    let tok = s
        .create_token(w.ws, w.agent, "ci", "th", t(0))
        .await
        .unwrap();
    s.revoke_token(w.ws, w.agent, tok.id, t(1)).await.unwrap();
    s.update_user(
        w.ws,
        w.agent,
        UserPatch {
            name: Some("Ann B".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.update_user(
        w.ws,
        w.agent,
        UserPatch {
            password_hash: Some("y".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        s.session_principal("h2", t(10)).await.unwrap().is_none(),
        "a new password ends the user's sessions"
    );
    s.update_user(
        w.ws,
        w.agent,
        UserPatch {
            role: Some(Role::Supervisor),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.set_inbox_member(w.ws, w.other_inbox, w.agent, true)
        .await
        .unwrap();
    s.set_inbox_member(w.ws, w.inbox, w.agent, false)
        .await
        .unwrap();
    s.remove_user(w.ws, w.agent).await.unwrap();
    let all = s.access_changes(start, 100).await.unwrap();
    // Session, token, password, role, two memberships, removal.
    assert_eq!(all.len(), 7, "{all:?}");
    assert!(all
        .iter()
        .all(|c| c.user_id == w.agent && c.workspace_id == w.ws));
    assert!(all.windows(2).all(|p| p[0].id < p[1].id));
    assert_eq!(s.last_access_change().await.unwrap(), all[6].id);
    let rest = s.access_changes(all[3].id, 2).await.unwrap();
    assert_eq!(rest, all[4..6].to_vec());
    assert!(s.access_changes(all[6].id, 100).await.unwrap().is_empty());
    // A refused change logs nothing.
    let refused = s
        .update_user(
            w.ws,
            w.admin,
            UserPatch {
                role: Some(Role::Agent),
                ..Default::default()
            },
        )
        .await;
    assert!(refused.is_err());
    assert_eq!(s.last_access_change().await.unwrap(), all[6].id);
}

pub async fn snoozed_conversations_wake_up(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    let snooze = Command::SetStatus {
        to: Status::Snoozed,
        snoozed_until: Some(t(1000)),
    };
    s.act(&scope, a.conversation_id, w.admin, snooze, t(1))
        .await
        .unwrap();
    assert_eq!(s.wake_snoozed(t(999)).await.unwrap(), 0);
    assert_eq!(s.wake_snoozed(t(1000)).await.unwrap(), 1);
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!((conv.status, conv.snoozed_until), (Status::Open, None));
}

pub async fn refused_commands_store_nothing(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    let before = s.events_since(&scope, 0, 100).await.unwrap().len();
    let stranger = s
        .create_user(w.ws, user("bob@acme.test", Role::Agent), t(0))
        .await
        .unwrap();
    let r = s
        .act(
            &scope,
            a.conversation_id,
            w.admin,
            Command::Assign {
                assignee: Some(stranger.id),
                team: None,
            },
            t(1),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Invalid {
                field: "assignee_id",
                ..
            })
        ),
        "bob is not in the inbox"
    );
    let r = s
        .act(
            &scope,
            a.conversation_id,
            w.admin,
            Command::SetStatus {
                to: Status::Open,
                snoozed_until: None,
            },
            t(1),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Rejected { .. })));
    let r = s
        .act(
            &scope,
            a.conversation_id,
            w.admin,
            Command::SetStatus {
                to: Status::Snoozed,
                snoozed_until: Some(t(0)),
            },
            t(1),
        )
        .await;
    assert!(matches!(
        r,
        Err(StoreError::Rejected {
            code: "snooze_in_past",
            ..
        })
    ));
    assert_eq!(s.events_since(&scope, 0, 100).await.unwrap().len(), before);
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!(conv.assignee_id, None);
    let missing = parley_core::ConversationId::from(uuid::Uuid::now_v7());
    assert!(matches!(
        s.act(
            &scope,
            missing,
            w.admin,
            Command::Reply {
                body: "x".into(),
                meta: None
            },
            t(1)
        )
        .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn delivery_reports_move_status_forward_only(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    for body in ["one", "two"] {
        s.act(
            &scope,
            a.conversation_id,
            w.admin,
            Command::Reply {
                body: body.into(),
                meta: None,
            },
            t(1),
        )
        .await
        .unwrap();
    }
    let report = |pid: &str, status, error: Option<&str>, at| DeliveryReport {
        inbox: w.inbox,
        provider_id: pid.into(),
        status,
        error: error.map(String::from),
        at,
    };
    // The provider reports on "SM2" before its API answer for it has been recorded.
    assert!(!s
        .record_delivery(report("SM2", DeliveryStatus::Delivered, None, t(2)))
        .await
        .unwrap());
    let mut jobs = s.claim_outbox(t(2), 10, 1000).await.unwrap();
    jobs.sort_by_key(|j| j.message.body.clone());
    for (job, pid) in jobs.iter().zip(["SM1", "SM2"]) {
        let sent = OutboxResult::Sent {
            provider_id: Some(pid.into()),
        };
        s.finish_outbox(job.id, sent, t(3)).await.unwrap();
    }
    let status_of = |tl: &[TimelineEntry], body: &str| {
        tl.iter()
            .find(|e| e.event.data.contains(&format!("\"body\":\"{body}\"")))
            .and_then(|e| e.delivery.clone())
            .unwrap()
    };
    let tl = s
        .timeline(&scope, a.conversation_id, None, 10)
        .await
        .unwrap();
    assert_eq!(status_of(&tl, "one"), (DeliveryStatus::Sent, None));
    assert_eq!(
        status_of(&tl, "two"),
        (DeliveryStatus::Delivered, None),
        "the early report is applied when the send is recorded"
    );
    // Delivered, then a late "sent": the message stays delivered.
    assert!(s
        .record_delivery(report("SM1", DeliveryStatus::Delivered, None, t(4)))
        .await
        .unwrap());
    assert!(s
        .record_delivery(report("SM1", DeliveryStatus::Sent, None, t(5)))
        .await
        .unwrap());
    // A failure after delivery is not believed either.
    s.record_delivery(report("SM1", DeliveryStatus::Failed, Some("30003"), t(6)))
        .await
        .unwrap();
    s.record_delivery(report("SM2", DeliveryStatus::Read, None, t(7)))
        .await
        .unwrap();
    let tl = s
        .timeline(&scope, a.conversation_id, None, 10)
        .await
        .unwrap();
    assert_eq!(status_of(&tl, "one"), (DeliveryStatus::Delivered, None));
    assert_eq!(status_of(&tl, "two"), (DeliveryStatus::Read, None));
    // Reports for another inbox's message ids do not touch this inbox's messages.
    let other = DeliveryReport {
        inbox: w.other_inbox,
        ..report("SM1", DeliveryStatus::Read, None, t(8))
    };
    assert!(!s.record_delivery(other).await.unwrap());
    let tl = s
        .timeline(&scope, a.conversation_id, None, 10)
        .await
        .unwrap();
    assert_eq!(status_of(&tl, "one"), (DeliveryStatus::Delivered, None));
    let updates: Vec<_> = h
        .published()
        .into_iter()
        .filter(|e| e.kind == "message.updated")
        .map(|e| e.data)
        .collect();
    // Two sends, "one" delivered, "two" read; the refused reports published nothing.
    assert_eq!(updates.len(), 4, "{updates:?}");
    assert!(updates[3].contains("\"read\""));
}

pub async fn failure_reports_carry_the_reason(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    s.act(
        &scope,
        a.conversation_id,
        w.admin,
        Command::Reply {
            body: "one".into(),
            meta: None,
        },
        t(1),
    )
    .await
    .unwrap();
    let job = s.claim_outbox(t(2), 10, 1000).await.unwrap().remove(0);
    let sent = OutboxResult::Sent {
        provider_id: Some("SM9".into()),
    };
    s.finish_outbox(job.id, sent, t(3)).await.unwrap();
    let failed = DeliveryReport {
        inbox: w.inbox,
        provider_id: "SM9".into(),
        status: DeliveryStatus::Failed,
        error: Some("carrier violation (30007)".into()),
        at: t(4),
    };
    assert!(s.record_delivery(failed).await.unwrap());
    let tl = s
        .timeline(&scope, a.conversation_id, None, 10)
        .await
        .unwrap();
    assert_eq!(
        tl.last().unwrap().delivery.clone().unwrap(),
        (
            DeliveryStatus::Failed,
            Some("carrier violation (30007)".into())
        )
    );
}

pub async fn deferred_deliveries_wait_without_an_attempt(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    s.act(
        &scope,
        a.conversation_id,
        w.admin,
        Command::Reply {
            body: "one".into(),
            meta: None,
        },
        t(1),
    )
    .await
    .unwrap();
    let before = h.published().len();
    let job = s.claim_outbox(t(2), 10, 60_000).await.unwrap().remove(0);
    s.finish_outbox(job.id, OutboxResult::Defer { at: t(500) }, t(3))
        .await
        .unwrap();
    assert_eq!(s.next_outbox_due().await.unwrap(), Some(t(500)));
    assert!(s.claim_outbox(t(499), 10, 1000).await.unwrap().is_empty());
    let job = s.claim_outbox(t(500), 10, 1000).await.unwrap().remove(0);
    assert_eq!(job.attempts, 0, "a deferral is not an attempt");
    let tl = s
        .timeline(&scope, a.conversation_id, None, 10)
        .await
        .unwrap();
    assert_eq!(
        tl.last().unwrap().delivery.clone().unwrap(),
        (DeliveryStatus::Queued, None)
    );
    assert_eq!(h.published().len(), before, "a deferral publishes nothing");
}

pub async fn a_known_phone_or_email_on_a_new_channel_is_the_same_contact(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let sms = InboundMessage {
        identity_kind: IdentityKind::Phone,
        sender_phone: Some("+15551230001".into()),
        ..inbound(w.inbox, "+15551230001", Some("sms1"), "Hi by SMS", t(1))
    };
    let a = s.apply_inbound(sms).await.unwrap();
    let wa = InboundMessage {
        identity_kind: IdentityKind::Whatsapp,
        sender_name: Some("Ana WhatsApp".into()),
        sender_phone: Some("+15551230001".into()),
        ..inbound(
            w.other_inbox,
            "15551230001",
            Some("wa1"),
            "Hi on WhatsApp",
            t(2),
        )
    };
    let b = s.apply_inbound(wa).await.unwrap();
    assert_eq!(
        a.contact_id, b.contact_id,
        "the same phone is the same customer"
    );
    assert_ne!(a.conversation_id, b.conversation_id, "one thread per inbox");
    let contact = s.contact(&sys(w.ws), a.contact_id).await.unwrap();
    let mut kinds: Vec<&str> = contact.identities.iter().map(|i| i.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, vec!["phone", "whatsapp"]);
    // The second message of the WhatsApp identity finds it directly.
    let again = InboundMessage {
        identity_kind: IdentityKind::Whatsapp,
        ..inbound(
            w.other_inbox,
            "15551230001",
            Some("wa2"),
            "Still there?",
            t(3),
        )
    };
    let c = s.apply_inbound(again).await.unwrap();
    assert_eq!(
        (c.contact_id, c.conversation_id),
        (b.contact_id, b.conversation_id)
    );
    let mail = InboundMessage {
        sender_email: Some("bo@example.com".into()),
        ..inbound(w.inbox, "bo-1", Some("e1"), "Hello", t(4))
    };
    let d = s.apply_inbound(mail).await.unwrap();
    let mail2 = InboundMessage {
        identity_kind: IdentityKind::Email,
        sender_email: Some("bo@example.com".into()),
        ..inbound(
            w.other_inbox,
            "bo@example.com",
            Some("e2"),
            "Me again",
            t(5),
        )
    };
    assert_eq!(
        s.apply_inbound(mail2).await.unwrap().contact_id,
        d.contact_id
    );
    let stranger = InboundMessage {
        identity_kind: IdentityKind::Phone,
        sender_phone: Some("+15551230002".into()),
        ..inbound(w.other_inbox, "+15551230002", Some("sms2"), "Hi", t(6))
    };
    let e = s.apply_inbound(stranger).await.unwrap();
    assert!(e.contact_id != a.contact_id && e.contact_id != d.contact_id);
}

pub async fn a_named_thread_takes_the_message_and_lookups_find_it(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let mail = |who: &str, ext: &str, at| InboundMessage {
        identity_kind: IdentityKind::Email,
        sender_email: Some(who.into()),
        ..inbound(w.inbox, who, Some(ext), "About my order", t(at))
    };
    let ana = s
        .apply_inbound(mail("ana@example.com", "m1@mail", 1))
        .await
        .unwrap();
    assert_eq!(
        s.identity_conversation(w.inbox, IdentityKind::Email, "ana@example.com")
            .await
            .unwrap(),
        Some((ana.contact_id, Some(ana.conversation_id)))
    );
    assert_eq!(
        s.identity_conversation(w.inbox, IdentityKind::Email, "nobody@example.com")
            .await
            .unwrap(),
        None
    );
    // A colleague in copy answers in Ana's thread: the message joins it, replies still go to Ana.
    let before = s.conversation(&scope, ana.conversation_id).await.unwrap();
    let bo = s
        .apply_inbound(InboundMessage {
            thread: Some(ana.conversation_id),
            meta: Some(serde_json::json!({ "subject": "Re: About my order" })),
            ..mail("bo@example.com", "m2@mail", 2)
        })
        .await
        .unwrap();
    assert_eq!(bo.conversation_id, ana.conversation_id);
    assert_ne!(bo.contact_id, ana.contact_id);
    let after = s.conversation(&scope, ana.conversation_id).await.unwrap();
    assert_eq!(after.identity_id, before.identity_id);
    let tl = s
        .timeline(&scope, ana.conversation_id, None, 10)
        .await
        .unwrap();
    let last: serde_json::Value = serde_json::from_str(&tl.last().unwrap().event.data).unwrap();
    assert_eq!(last["message"]["meta"]["subject"], "Re: About my order");
    assert_eq!(
        s.conversation_by_external_ids(w.inbox, &["x@y".into(), "m2@mail".into()])
            .await
            .unwrap(),
        Some(ana.conversation_id)
    );
    assert_eq!(
        s.conversation_by_external_ids(w.other_inbox, &["m2@mail".into()])
            .await
            .unwrap(),
        None,
        "ids are looked up in one inbox"
    );
    // A thread in another inbox is not followed: the sender's own conversation there is used.
    let elsewhere = s
        .apply_inbound(InboundMessage {
            thread: Some(ana.conversation_id),
            ..inbound(w.other_inbox, "cy", Some("m3@mail"), "Hi", t(3))
        })
        .await
        .unwrap();
    assert_ne!(elsewhere.conversation_id, ana.conversation_id);
    let api: Vec<InboxId> = s
        .inboxes_of_kind("api")
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(api, vec![w.inbox, w.other_inbox]);
    assert!(s.inboxes_of_kind("email").await.unwrap().is_empty());
}

pub async fn a_read_watermark_marks_earlier_replies_read(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    for (body, at) in [("early", 10), ("late", 20), ("unsent", 20)] {
        s.act(
            &scope,
            a.conversation_id,
            w.admin,
            Command::Reply {
                body: body.into(),
                meta: None,
            },
            t(at),
        )
        .await
        .unwrap();
    }
    let mut jobs = s.claim_outbox(t(30), 10, 1000).await.unwrap();
    jobs.sort_by_key(|j| j.message.body.clone());
    // "early" and "late" are sent; "unsent" stays queued.
    for job in jobs.iter().filter(|j| j.message.body != "unsent") {
        let sent = OutboxResult::Sent {
            provider_id: Some(format!("P-{}", job.message.body)),
        };
        s.finish_outbox(job.id, sent, t(31)).await.unwrap();
    }
    assert_eq!(
        s.read_until(a.conversation_id, t(15), t(40)).await.unwrap(),
        1
    );
    assert_eq!(
        s.read_until(a.conversation_id, t(15), t(41)).await.unwrap(),
        0,
        "already read"
    );
    let tl = s
        .timeline(&scope, a.conversation_id, None, 20)
        .await
        .unwrap();
    let status = |body: &str| {
        tl.iter()
            .find(|e| {
                e.event.kind == "message.created"
                    && e.event.data.contains(&format!("\"body\":\"{body}\""))
            })
            .and_then(|e| e.delivery.clone())
            .map(|d| d.0)
    };
    assert_eq!(status("early"), Some(DeliveryStatus::Read));
    assert_eq!(status("late"), Some(DeliveryStatus::Sent));
    assert_eq!(
        status("unsent"),
        Some(DeliveryStatus::Queued),
        "a queued reply is never read"
    );
}

pub async fn the_consent_ledger_appends_and_survives_a_merge(h: Harness) {
    use parley_core::consent::{Action, Purpose};
    let s = &h.store;
    let w = world(s).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    let b = s
        .apply_inbound(inbound(w.inbox, "c2", Some("m2"), "Hi", t(0)))
        .await
        .unwrap();
    let entry = |contact, action, at| NewConsent {
        contact,
        purpose: Purpose::Conversational,
        action,
        source: "carrier".into(),
        channel: Some("sms".into()),
        evidence: serde_json::json!({ "twilio_error": 21610 }),
        at: t(at),
        conversation: None,
    };
    s.record_consent(w.ws, entry(b.contact_id, Action::Revoke, 5))
        .await
        .unwrap();
    s.record_consent(w.ws, entry(a.contact_id, Action::Grant, 3))
        .await
        .unwrap();
    let (other, _) = s
        .create_workspace("Elsewhere", "UTC", user("x@else.test", Role::Admin), t(0))
        .await
        .unwrap();
    assert!(matches!(
        s.record_consent(other.id, entry(a.contact_id, Action::Revoke, 6))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.consent_history(&sys(other.id), a.contact_id).await,
        Err(StoreError::NotFound)
    ));
    // A change shows on the conversation it happened in, and is published; naming another
    // contact's conversation writes no event.
    let on_timeline = |conversation| NewConsent {
        conversation: Some(conversation),
        ..entry(a.contact_id, Action::Revoke, 4)
    };
    s.record_consent(w.ws, on_timeline(a.conversation_id))
        .await
        .unwrap();
    s.record_consent(w.ws, on_timeline(b.conversation_id))
        .await
        .unwrap();
    let scope = admin_scope(s, &w).await;
    let tl = s
        .timeline(&scope, a.conversation_id, None, 50)
        .await
        .unwrap();
    let last = tl.last().unwrap();
    assert_eq!(last.event.kind, "consent.changed");
    let data: serde_json::Value = serde_json::from_str(&last.event.data).unwrap();
    assert_eq!(data["consent"]["action"], "revoke");
    assert!(h.published().iter().any(|e| e.kind == "consent.changed"));
    let tl_b = s
        .timeline(&scope, b.conversation_id, None, 50)
        .await
        .unwrap();
    assert!(tl_b.iter().all(|e| e.event.kind != "consent.changed"));
    // Merging keeps every entry of both people, in order.
    s.merge_contacts(w.ws, a.contact_id, b.contact_id, w.admin, t(9))
        .await
        .unwrap();
    let h2 = s.consent_history(&sys(w.ws), a.contact_id).await.unwrap();
    let got: Vec<(Action, i64)> = h2.iter().map(|e| (e.action, e.at.0)).collect();
    assert_eq!(
        got,
        vec![
            (Action::Grant, t(3).0),
            (Action::Revoke, t(4).0),
            (Action::Revoke, t(4).0),
            (Action::Revoke, t(5).0)
        ]
    );
    assert_eq!(h2[3].evidence["twilio_error"], 21610);
    assert_eq!(h2[3].channel.as_deref(), Some("sms"));
}

pub async fn the_gate_reads_its_facts_and_silent_numbers_are_listed(h: Harness) {
    use parley_core::consent::{Action, Purpose};
    use parley_core::message::SenderKind;
    let s = &h.store;
    let w = world(s).await;
    let rules = serde_json::json!({ "compliance": { "help_text": "Acme: help at acme.test" } });
    let row = s.set_workspace_settings(w.ws, rules.clone()).await.unwrap();
    assert_eq!(row.settings, rules);
    assert_eq!(s.workspace(w.ws).await.unwrap().settings, rules);
    // One never wrote; the other wrote at t(10).
    let mut fields = serde_json::Map::new();
    fields.insert("timezone".into(), serde_json::json!("America/Chicago"));
    let silent = s
        .create_contact(
            w.ws,
            NewContact {
                name: Some("Silent".into()),
                email: None,
                phone: Some("+12125550101".into()),
                custom_fields: serde_json::Map::new(),
                identities: vec![],
            },
            t(0),
        )
        .await
        .unwrap();
    let wrote = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(10)))
        .await
        .unwrap();
    let patch = ContactPatch {
        phone: Some(Some("+14055550100".into())),
        custom_fields: Some(fields),
        ..ContactPatch::default()
    };
    s.update_contact(w.ws, wrote.contact_id, patch, t(11))
        .await
        .unwrap();
    s.record_consent(
        w.ws,
        NewConsent {
            contact: wrote.contact_id,
            purpose: Purpose::Informational,
            action: Action::Request,
            source: "web_form".into(),
            channel: Some("sms".into()),
            evidence: serde_json::json!({}),
            at: t(12),
            conversation: None,
        },
    )
    .await
    .unwrap();
    let ctx = s.consent_context(w.ws, wrote.contact_id).await.unwrap();
    assert_eq!(ctx.phone.as_deref(), Some("+14055550100"));
    assert_eq!(ctx.timezone.as_deref(), Some("America/Chicago"));
    assert_eq!(ctx.ledger.len(), 1);
    assert_eq!(ctx.ledger[0].action, Action::Request);
    assert_eq!(
        s.last_inbound(w.ws, wrote.contact_id).await.unwrap(),
        Some(t(10))
    );
    let none = s.consent_context(w.ws, silent.id).await.unwrap();
    assert_eq!(none.timezone, None);
    assert_eq!(s.last_inbound(w.ws, silent.id).await.unwrap(), None);

    let ids = |v: Vec<InactiveContact>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.inactive_contacts(w.ws, t(5), 10).await.unwrap()),
        vec![silent.id]
    );
    let both = s.inactive_contacts(w.ws, t(20), 10).await.unwrap();
    assert_eq!(both[1].last_inbound_at, Some(t(10)));
    assert_eq!(ids(both), vec![silent.id, wrote.contact_id]);
    let (other, _) = s
        .create_workspace("Elsewhere", "UTC", user("x@else.test", Role::Admin), t(0))
        .await
        .unwrap();
    assert!(s
        .inactive_contacts(other.id, t(20), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        s.consent_context(other.id, silent.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.last_inbound(other.id, silent.id).await,
        Err(StoreError::NotFound)
    ));

    // A notice from Parley itself is not the business answering.
    let out = s
        .start_conversation(
            &Scope::system(w.ws, w.admin),
            NewOutbound {
                inbox: w.inbox,
                contact: wrote.contact_id,
                sender: None,
                body: "Acme: help at acme.test".into(),
                meta: Some(serde_json::json!({ "notice": "help" })),
            },
            t(13),
        )
        .await
        .unwrap();
    let msg = out.message.unwrap();
    assert_eq!(msg.sender_kind, SenderKind::System);
    assert_eq!(msg.sender_id, None);
    assert_eq!(msg.meta, Some(serde_json::json!({ "notice": "help" })));
    assert_eq!(out.conversation.id, wrote.conversation_id);
    assert_eq!(out.conversation.waiting_since, Some(t(10)));
}

pub async fn retention_removes_old_content_and_keeps_the_timeline(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let mut old = inbound(w.inbox, "c1", Some("m1"), "my card is 4242", t(0));
    old.meta = Some(serde_json::json!({ "attachments": [{ "id": "a1", "filename": "card.png" }] }));
    let first = s.apply_inbound(old).await.unwrap();
    let scope = admin_scope(s, &w).await;
    // A note's event holds the conversation as it was, with the first message's preview.
    let note = Command::Note {
        body: "asked about the card".into(),
        mentions: vec![],
    };
    s.act(&scope, first.conversation_id, w.admin, note, t(0))
        .await
        .unwrap();
    let reply = Command::Reply {
        body: "Thanks, noted".into(),
        meta: None,
    };
    s.act(&scope, first.conversation_id, w.admin, reply, t(1))
        .await
        .unwrap();
    s.apply_inbound(inbound(w.inbox, "c1", Some("m2"), "still here?", t(100)))
        .await
        .unwrap();
    // A reply still waiting to be sent is left alone: emptying it would send nothing, or worse.
    assert_eq!(
        s.expiring_messages(w.ws, t(50)).await.unwrap(),
        (1, Some(t(0)))
    );
    let jobs = s.claim_outbox(t(101), 10, 30_000).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let sent = OutboxResult::Sent { provider_id: None };
    s.finish_outbox(jobs[0].id, sent, t(102)).await.unwrap();
    assert_eq!(
        s.expiring_messages(w.ws, t(50)).await.unwrap(),
        (2, Some(t(0)))
    );
    let gone = s.expire_messages(w.ws, t(50), 1, t(200)).await.unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].id, first.message_id);
    assert_eq!(gone[0].attachments, vec!["a1".to_string()]);
    assert_eq!(
        s.expire_messages(w.ws, t(50), 10, t(200))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .expire_messages(w.ws, t(50), 10, t(200))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.expiring_messages(w.ws, t(50)).await.unwrap(), (0, None));

    let tl = s
        .timeline(&scope, first.conversation_id, None, 50)
        .await
        .unwrap();
    let bodies: Vec<(String, bool)> = tl
        .iter()
        .filter(|e| e.event.kind == "message.created")
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.event.data).unwrap();
            (
                v["message"]["body"].as_str().unwrap().to_string(),
                v["message"]["redacted"] == true,
            )
        })
        .collect();
    assert_eq!(
        bodies,
        vec![
            (String::new(), true),
            (String::new(), true),
            ("still here?".to_string(), false)
        ]
    );
    assert!(!tl.iter().any(|e| e.event.data.contains("my card is 4242")));
    let conv = s.conversation(&scope, first.conversation_id).await.unwrap();
    assert_eq!(conv.last_message.as_deref(), Some("still here?"));
    let ids: Vec<WorkspaceId> = s
        .list_workspaces()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, vec![w.ws]);
}

pub async fn erasure_anonymises_and_keeps_revocations(h: Harness) {
    use parley_core::consent::{Action, Purpose};
    let s = &h.store;
    let w = world(s).await;
    let mut first = inbound(w.inbox, "c1", Some("m1"), "ship to 12 Elm St", t(0));
    first.sender_name = Some("Pat Doe".into());
    first.sender_phone = Some("+14155550100".into());
    first.sender_email = Some("pat@example.com".into());
    first.meta = Some(serde_json::json!({ "attachments": [{ "id": "a1", "filename": "id.png" }] }));
    let a = s.apply_inbound(first).await.unwrap();
    let scope = admin_scope(s, &w).await;
    let note = Command::Note {
        body: "Pat Doe lives at 12 Elm St".into(),
        mentions: vec![],
    };
    s.act(&scope, a.conversation_id, w.admin, note, t(1))
        .await
        .unwrap();
    let reply = Command::Reply {
        body: "Shipping to 12 Elm St".into(),
        meta: None,
    };
    s.act(&scope, a.conversation_id, w.admin, reply, t(2))
        .await
        .unwrap();
    let fields = serde_json::json!({ "street": "12 Elm St" });
    let patch = ContactPatch {
        custom_fields: fields.as_object().cloned(),
        ..ContactPatch::default()
    };
    s.update_contact(w.ws, a.contact_id, patch, t(2))
        .await
        .unwrap();
    let consent = |purpose, action, at, evidence| NewConsent {
        contact: a.contact_id,
        purpose,
        action,
        source: "keyword".into(),
        channel: Some("sms".into()),
        evidence,
        at: t(at),
        conversation: Some(a.conversation_id),
    };
    let form = serde_json::json!({ "form": { "name": "Pat Doe" } });
    s.record_consent(w.ws, consent(Purpose::Promotional, Action::Grant, 3, form))
        .await
        .unwrap();
    let stop = serde_json::json!({ "text": "STOP Pat" });
    s.record_consent(
        w.ws,
        consent(Purpose::Informational, Action::Revoke, 4, stop),
    )
    .await
    .unwrap();

    let done = s.erase_contact(w.ws, a.contact_id, t(10)).await.unwrap();
    assert_eq!(
        (
            done.conversations,
            done.identities,
            done.revocations_kept,
            done.cancelled
        ),
        (1, 1, 1, 1)
    );
    assert!(!done.repeated);
    assert_eq!(done.messages, 3, "two messages and a note");
    assert_eq!(done.attachments, vec![(w.inbox, "a1".to_string())]);

    // Nothing of theirs is left to read.
    let gone = s.contact(&sys(w.ws), a.contact_id).await.unwrap();
    assert_eq!((gone.name, gone.email, gone.phone), (None, None, None));
    assert!(gone.custom_fields.is_empty() && gone.identities.is_empty());
    assert_eq!(gone.erased_at, Some(t(10)));
    let tl = s
        .timeline(&scope, a.conversation_id, None, 50)
        .await
        .unwrap();
    assert_eq!(tl.len(), 5, "the timeline keeps its shape");
    for e in &tl {
        for secret in ["Elm", "Pat", "4155550100", "pat@example.com"] {
            assert!(
                !e.event.data.contains(secret),
                "{} holds {secret}",
                e.event.data
            );
        }
    }
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!((conv.contact_name, conv.last_message), (None, None));
    // The queued reply is not sent.
    assert!(s.claim_outbox(t(11), 10, 30_000).await.unwrap().is_empty());
    // Only the revocation stays on the ledger, without its evidence.
    let ledger = s.consent_history(&sys(w.ws), a.contact_id).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].action, Action::Revoke);
    assert_eq!(ledger[0].evidence, serde_json::json!({ "erased": true }));
    // Nothing more is recorded about them; they are not found; a second erasure changes nothing.
    let refused = |r: StoreResult<_>| {
        matches!(
            r,
            Err(StoreError::Rejected {
                code: "contact_erased",
                ..
            })
        )
    };
    assert!(refused(
        s.update_contact(w.ws, a.contact_id, ContactPatch::default(), t(11))
            .await
            .map(|_| ())
    ));
    let again = consent(
        Purpose::Informational,
        Action::Grant,
        11,
        serde_json::json!({}),
    );
    assert!(refused(s.record_consent(w.ws, again).await.map(|_| ())));
    let page = s.search_contacts(&sys(w.ws), "", None, 50).await.unwrap();
    assert!(page.items.iter().all(|c| c.id != a.contact_id));
    let twice = s.erase_contact(w.ws, a.contact_id, t(12)).await.unwrap();
    assert!(twice.repeated);
    assert_eq!((twice.erased_at, twice.conversations), (t(10), 0));

    // Their number comes back as a new contact: the revocation still holds there, until the new
    // contact subscribes again.
    let back = s
        .create_contact(
            w.ws,
            NewContact {
                phone: Some("+14155550100".into()),
                ..NewContact::default()
            },
            t(20),
        )
        .await
        .unwrap();
    let ctx = s.consent_context(w.ws, back.id).await.unwrap();
    let inherited: Vec<_> = ctx
        .ledger
        .iter()
        .map(|e| (e.purpose, e.action, e.channel.as_deref(), e.at))
        .collect();
    assert_eq!(
        inherited,
        vec![(Purpose::Informational, Action::Revoke, Some("sms"), t(4))]
    );
    assert!(!ctx.erased);
    // The same identity writing again is someone new to us.
    let b = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m9"), "hello again", t(30)))
        .await
        .unwrap();
    assert_ne!(b.contact_id, a.contact_id);
    assert_ne!(b.conversation_id, a.conversation_id);
    assert!(s.consent_context(w.ws, a.contact_id).await.unwrap().erased);
    // Another workspace cannot erase this one's contacts.
    let (other, _) = s
        .create_workspace("Elsewhere", "UTC", user("x@else.test", Role::Admin), t(0))
        .await
        .unwrap();
    assert!(matches!(
        s.erase_contact(other.id, b.contact_id, t(31)).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn counts_follow_the_views_and_the_scope(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let admin = admin_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    let b = s
        .apply_inbound(inbound(w.inbox, "c2", Some("m2"), "Hi", t(1)))
        .await
        .unwrap();
    let c = s
        .apply_inbound(inbound(w.other_inbox, "c3", Some("m3"), "Hi", t(2)))
        .await
        .unwrap();
    let d = s
        .apply_inbound(inbound(w.other_inbox, "c4", Some("m4"), "Hi", t(3)))
        .await
        .unwrap();
    let assign = Command::Assign {
        assignee: Some(w.agent),
        team: None,
    };
    s.act(&admin, b.conversation_id, w.admin, assign, t(4))
        .await
        .unwrap();
    let vip = Command::Labels {
        add: vec!["vip".into()],
        remove: vec![],
    };
    s.act(&admin, b.conversation_id, w.admin, vip.clone(), t(4))
        .await
        .unwrap();
    s.act(&admin, c.conversation_id, w.admin, vip, t(4))
        .await
        .unwrap();
    let resolve = Command::SetStatus {
        to: Status::Resolved,
        snoozed_until: None,
    };
    s.act(&admin, d.conversation_id, w.admin, resolve, t(5))
        .await
        .unwrap();
    let _ = a;

    let all = s.conversation_counts(&admin).await.unwrap();
    assert_eq!((all.mine, all.unassigned), (0, 2));
    assert_eq!(all.statuses.get("open"), Some(&3));
    assert_eq!(all.statuses.get("resolved"), Some(&1));
    assert_eq!(all.inboxes.get(&w.inbox.to_string()), Some(&2));
    assert_eq!(all.inboxes.get(&w.other_inbox.to_string()), Some(&1));
    assert_eq!(all.labels.get("vip"), Some(&2));
    // The agent works one inbox: only its conversations count, and "mine" is theirs.
    let agent = agent_scope(s, &w).await;
    let theirs = s.conversation_counts(&agent).await.unwrap();
    assert_eq!((theirs.mine, theirs.unassigned), (1, 1));
    assert_eq!(theirs.statuses.get("open"), Some(&2));
    assert_eq!(theirs.statuses.get("resolved"), None);
    assert_eq!(theirs.labels.get("vip"), Some(&1));
    assert_eq!(theirs.inboxes.len(), 1);
}

pub async fn a_blocked_contact_asks_nothing_of_anyone(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let with_phone = |inbox, ext, body, at| {
        let mut m = inbound(inbox, "c1", Some(ext), body, at);
        m.sender_phone = Some("+14155550100".into());
        m
    };
    let a = s
        .apply_inbound(with_phone(w.inbox, "m1", "hello", t(0)))
        .await
        .unwrap();
    let resolve = Command::SetStatus {
        to: Status::Resolved,
        snoozed_until: None,
    };
    s.act(&scope, a.conversation_id, w.admin, resolve, t(10))
        .await
        .unwrap();
    let k = s
        .set_contact_blocked(w.ws, a.contact_id, Some(t(20)), t(20))
        .await
        .unwrap();
    assert_eq!(k.blocked_at, Some(t(20)));
    assert_eq!(
        s.contact(&sys(w.ws), a.contact_id)
            .await
            .unwrap()
            .blocked_at,
        Some(t(20))
    );

    // Their message is kept, and the conversation stays resolved with nobody waiting.
    let b = s
        .apply_inbound(with_phone(w.inbox, "m2", "spam spam", t(30)))
        .await
        .unwrap();
    assert_eq!(b.conversation_id, a.conversation_id);
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!((conv.status, conv.waiting_since), (Status::Resolved, None));
    let tl = s
        .timeline(&scope, a.conversation_id, None, 50)
        .await
        .unwrap();
    let last = tl.last().unwrap();
    assert_eq!(last.event.kind, "message.created");
    assert!(last.event.data.contains("spam spam"), "the message is kept");
    // On another channel (known by phone) their new conversation starts resolved.
    let c = s
        .apply_inbound(with_phone(w.other_inbox, "m3", "again", t(35)))
        .await
        .unwrap();
    assert_eq!(c.contact_id, a.contact_id);
    let other = s.conversation(&scope, c.conversation_id).await.unwrap();
    assert_eq!(
        (other.status, other.waiting_since),
        (Status::Resolved, None)
    );

    // Unblocked, they are answered again.
    let k = s
        .set_contact_blocked(w.ws, a.contact_id, None, t(40))
        .await
        .unwrap();
    assert_eq!(k.blocked_at, None);
    s.apply_inbound(with_phone(w.inbox, "m4", "real question", t(50)))
        .await
        .unwrap();
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!(
        (conv.status, conv.waiting_since),
        (Status::Open, Some(t(50)))
    );
    // Nobody can block a contact that does not exist.
    assert!(s
        .set_contact_blocked(
            w.ws,
            parley_core::ContactId::from(uuid::Uuid::now_v7()),
            Some(t(60)),
            t(60)
        )
        .await
        .is_err());
}

pub async fn seen_marks_are_per_user_and_only_move_forward(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "hello", t(0)))
        .await
        .unwrap();
    let admin = admin_scope(s, &w).await;
    let agent = s.principal(w.ws, w.agent).await.unwrap().scope();
    let ids = [a.conversation_id];
    assert!(s.seen_at(&admin, &ids).await.unwrap().is_empty());
    s.mark_seen(&admin, a.conversation_id, t(10)).await.unwrap();
    s.mark_seen(&admin, a.conversation_id, t(5)).await.unwrap();
    assert_eq!(
        s.seen_at(&admin, &ids)
            .await
            .unwrap()
            .get(&a.conversation_id),
        Some(&t(10)),
        "never back"
    );
    s.mark_seen(&admin, a.conversation_id, t(20)).await.unwrap();
    assert_eq!(
        s.seen_at(&admin, &ids)
            .await
            .unwrap()
            .get(&a.conversation_id),
        Some(&t(20))
    );
    assert!(
        s.seen_at(&agent, &ids).await.unwrap().is_empty(),
        "each user has their own"
    );
    assert!(s.seen_at(&admin, &[]).await.unwrap().is_empty());
}

pub async fn contact_lists_hold_contacts_through_merges_and_erasure(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let mut ids = Vec::new();
    for (i, who) in ["c1", "c2", "c3"].iter().enumerate() {
        let a = s
            .apply_inbound(inbound(w.inbox, who, None, "hi", t(i as i64)))
            .await
            .unwrap();
        ids.push(a.contact_id);
    }
    let vip = s.create_list(w.ws, "VIP", t(0)).await.unwrap();
    let news = s.create_list(w.ws, "Newsletter", t(0)).await.unwrap();
    assert!(
        matches!(
            s.create_list(w.ws, "VIP", t(1)).await,
            Err(StoreError::Conflict(_))
        ),
        "names are unique in a workspace"
    );
    for (i, c) in ids.iter().enumerate() {
        s.set_list_member(w.ws, vip.id, *c, true, t(10 + i as i64))
            .await
            .unwrap();
    }
    // Adding twice keeps one membership and its first time.
    let again = s
        .set_list_member(w.ws, vip.id, ids[0], true, t(99))
        .await
        .unwrap();
    assert_eq!(again.size, 3);
    s.set_list_member(w.ws, news.id, ids[1], true, t(20))
        .await
        .unwrap();
    let all = s.list_lists(w.ws).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|l| (l.name.as_str(), l.size))
            .collect::<Vec<_>>(),
        [("Newsletter", 1), ("VIP", 3)],
        "by name, with sizes"
    );
    let on = s.contact_lists(&sys(w.ws), ids[1]).await.unwrap();
    assert_eq!(
        on.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["Newsletter", "VIP"]
    );

    // Members, the most recently added first, a page at a time.
    let first = s.list_members(&sys(w.ws), vip.id, None, 2).await.unwrap();
    assert_eq!(
        first.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let rest = s
        .list_members(&sys(w.ws), vip.id, first.next_cursor, 2)
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    assert!(rest.next_cursor.is_none());

    // A merge keeps every membership of both, once.
    s.merge_contacts(w.ws, ids[0], ids[1], w.admin, t(30))
        .await
        .unwrap();
    let on = s.contact_lists(&sys(w.ws), ids[0]).await.unwrap();
    assert_eq!(
        on.iter()
            .map(|l| (l.name.as_str(), l.size))
            .collect::<Vec<_>>(),
        [("Newsletter", 1), ("VIP", 2)]
    );

    // Erasure takes the person off every list, and an erased contact cannot be put back.
    s.erase_contact(w.ws, ids[2], t(40)).await.unwrap();
    assert!(s
        .contact_lists(&sys(w.ws), ids[2])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.list_lists(w.ws).await.unwrap()[1].size, 1);
    assert!(matches!(
        s.set_list_member(w.ws, vip.id, ids[2], true, t(41)).await,
        Err(StoreError::Rejected {
            code: "contact_erased",
            ..
        })
    ));

    // Taking off, renaming and deleting; other workspaces see none of it.
    let off = s
        .set_list_member(w.ws, news.id, ids[0], false, t(50))
        .await
        .unwrap();
    assert_eq!(off.size, 0);
    assert_eq!(
        s.rename_list(w.ws, news.id, "Weekly").await.unwrap().name,
        "Weekly"
    );
    assert!(matches!(
        s.rename_list(w.ws, news.id, "VIP").await,
        Err(StoreError::Conflict(_))
    ));
    let (other, _) = s
        .create_workspace("Other", "UTC", user("admin@other.test", Role::Admin), t(0))
        .await
        .unwrap();
    assert!(s.list_lists(other.id).await.unwrap().is_empty());
    assert!(matches!(
        s.set_list_member(other.id, vip.id, ids[0], true, t(60))
            .await,
        Err(StoreError::NotFound)
    ));
    let theirs = s.create_list(other.id, "VIP", t(0)).await.unwrap();
    assert!(matches!(
        s.set_list_member(other.id, theirs.id, ids[0], true, t(60))
            .await,
        Err(StoreError::Invalid {
            field: "contact_id",
            ..
        })
    ));
    s.delete_list(w.ws, vip.id).await.unwrap();
    assert!(matches!(
        s.list_members(&sys(w.ws), vip.id, None, 10).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.contact(&sys(w.ws), ids[0]).await.unwrap().id,
        ids[0],
        "the contacts stay"
    );
}

pub async fn automated_messages_answer_nobody_and_events_only_record(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = agent_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(10)))
        .await
        .unwrap();
    let out = s
        .act(
            &scope,
            a.conversation_id,
            w.agent,
            Command::Automated {
                body: "How did we do?".into(),
                meta: Some(serde_json::json!({ "survey": true })),
            },
            t(20),
        )
        .await
        .unwrap();
    let msg = out.message.unwrap();
    assert_eq!(
        (msg.sender_kind, msg.sender_id),
        (parley_core::message::SenderKind::Automation, None)
    );
    assert_eq!(msg.status, DeliveryStatus::Queued);
    // It goes out, but the customer still waits for an answer from someone.
    assert_eq!(out.conversation.waiting_since, Some(t(10)));
    assert_eq!(out.conversation.first_reply_at, None);
    let jobs = s.claim_outbox(t(21), 10, 30_000).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].message.id, msg.id);

    s.record_conversation_event(
        w.ws,
        a.conversation_id,
        "survey.answered",
        serde_json::json!({ "rating": 5, "comment": "Quick!" }),
        t(30),
    )
    .await
    .unwrap();
    let tl = s
        .timeline(&scope, a.conversation_id, None, 50)
        .await
        .unwrap();
    let last = tl.last().unwrap();
    assert_eq!(last.event.kind, "survey.answered");
    let data: serde_json::Value = serde_json::from_str(&last.event.data).unwrap();
    assert_eq!(
        (data["rating"].as_i64(), data["comment"].as_str()),
        (Some(5), Some("Quick!"))
    );
    assert_eq!(
        data["conversation"]["id"],
        serde_json::json!(a.conversation_id)
    );
    let conv = s.conversation(&scope, a.conversation_id).await.unwrap();
    assert_eq!(conv.waiting_since, Some(t(10)), "recording changes nothing");
    // Another workspace's conversation is not found.
    let (other, _) = s
        .create_workspace("Other", "UTC", user("boss@other.test", Role::Admin), t(0))
        .await
        .unwrap();
    assert!(matches!(
        s.record_conversation_event(
            other.id,
            a.conversation_id,
            "survey.answered",
            serde_json::json!({}),
            t(40)
        )
        .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn contacts_and_quoted_messages_follow_the_inbox_scope(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    // Only in the other inbox; and one who wrote to both.
    let far = s
        .apply_inbound(inbound(w.other_inbox, "far", Some("f1"), "STOP", t(10)))
        .await
        .unwrap();
    let both = s
        .apply_inbound(inbound(w.inbox, "both", Some("b1"), "Hi", t(20)))
        .await
        .unwrap();
    let both_far = s
        .apply_inbound(inbound(w.other_inbox, "both", Some("b2"), "STOP", t(30)))
        .await
        .unwrap();
    assert_ne!(both_far.contact_id, far.contact_id);
    // The two inbound identities are the same person only when a phone or email says so: link
    // the second address to the first contact so one contact has a conversation in each inbox.
    let both_id = if both_far.contact_id == both.contact_id {
        both.contact_id
    } else {
        s.merge_contacts(w.ws, both.contact_id, both_far.contact_id, w.admin, t(31))
            .await
            .unwrap();
        both.contact_id
    };
    let quote = |c: parley_core::ContactId, inbox: InboxId, text: &str, at: i64| NewConsent {
        contact: c,
        purpose: parley_core::consent::Purpose::Promotional,
        action: parley_core::consent::Action::Revoke,
        source: "keyword".into(),
        channel: None,
        evidence: serde_json::json!({ "text": text, "message_id": "m", "inbox_id": inbox }),
        at: t(at),
        conversation: None,
    };
    for (c, inbox, text, at) in [
        (far.contact_id, w.other_inbox, "STOP far", 40),
        (both_id, w.other_inbox, "STOP sales", 41),
        (both_id, w.inbox, "STOP support", 42),
    ] {
        s.record_consent(w.ws, quote(c, inbox, text, at))
            .await
            .unwrap();
    }
    let list = s.create_list(w.ws, "All", t(50)).await.unwrap();
    for c in [far.contact_id, both_id] {
        s.set_list_member(w.ws, list.id, c, true, t(51))
            .await
            .unwrap();
    }
    let agent = agent_scope(s, &w).await;
    assert!(!agent.sees_all_contacts());
    // The contact who only wrote to an inbox the agent does not work is nowhere to be seen.
    assert!(matches!(
        s.contact(&agent, far.contact_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.consent_history(&agent, far.contact_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.contact_lists(&agent, far.contact_id).await,
        Err(StoreError::NotFound)
    ));
    let ids = |p: Page<ContactView>| p.items.iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.search_contacts(&agent, "", None, 50).await.unwrap()),
        vec![both_id]
    );
    assert_eq!(
        ids(s.list_members(&agent, list.id, None, 50).await.unwrap()),
        vec![both_id]
    );
    // The one they share: evidence from the other inbox is not quoted.
    assert_eq!(s.contact(&agent, both_id).await.unwrap().id, both_id);
    let texts = |l: Vec<ConsentEvent>| {
        l.iter()
            .filter_map(|e| e.evidence["text"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        texts(s.consent_history(&agent, both_id).await.unwrap()),
        vec![plan::UNSEEN_TEXT.to_string(), "STOP support".into()]
    );
    // With every contact visible to agents: the contact is found, the other inbox's text still
    // is not quoted.
    let open = Scope {
        all_contacts: true,
        ..agent.clone()
    };
    assert_eq!(
        s.contact(&open, far.contact_id).await.unwrap().id,
        far.contact_id
    );
    assert_eq!(
        s.search_contacts(&open, "", None, 50)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(
        s.list_members(&open, list.id, None, 50)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(
        texts(s.consent_history(&open, far.contact_id).await.unwrap()),
        vec![plan::UNSEEN_TEXT.to_string()]
    );
    // Admins see everyone and every quote.
    let admin = admin_scope(s, &w).await;
    assert_eq!(
        texts(s.consent_history(&admin, both_id).await.unwrap()),
        vec!["STOP sales".to_string(), "STOP support".into()]
    );
    assert_eq!(
        s.search_contacts(&admin, "", None, 50)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

pub async fn a_survey_takes_one_answer_and_keeps_its_key(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = agent_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(10)))
        .await
        .unwrap();
    let answer = |rating: i64, at: i64| {
        s.record_survey_answer(
            w.ws,
            a.conversation_id,
            t(20),
            serde_json::json!({ "rating": rating }),
            t(at),
        )
    };
    answer(5, 30).await.unwrap();
    assert!(
        matches!(answer(1, 31).await, Err(StoreError::Conflict(_))),
        "a link takes one answer"
    );
    // A survey sent later is another link.
    s.record_survey_answer(
        w.ws,
        a.conversation_id,
        t(25),
        serde_json::json!({ "rating": 3 }),
        t(32),
    )
    .await
    .unwrap();
    let ratings: Vec<i64> = s
        .timeline(&scope, a.conversation_id, None, 50)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event.kind == "survey.answered")
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.event.data).unwrap()["rating"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ratings, [5, 3]);
    let (other, _) = s
        .create_workspace("Other", "UTC", user("boss@other.test", Role::Admin), t(0))
        .await
        .unwrap();
    assert!(matches!(
        s.record_survey_answer(
            other.id,
            a.conversation_id,
            t(26),
            serde_json::json!({}),
            t(40)
        )
        .await,
        Err(StoreError::NotFound)
    ));
    // The first key offered is kept; each workspace has its own.
    let key = s.survey_key(w.ws, "first-key".into(), t(1)).await.unwrap();
    assert_eq!(key, "first-key");
    assert_eq!(
        s.survey_key(w.ws, "second-key".into(), t(2)).await.unwrap(),
        "first-key"
    );
    assert_eq!(
        s.survey_key(other.id, "other-key".into(), t(3))
            .await
            .unwrap(),
        "other-key"
    );
}

pub async fn an_inbox_over_a_lowered_cap_is_left_out(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let reply = || Command::Reply {
        meta: None,
        body: "r".into(),
    };
    let busy = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(1)))
        .await
        .unwrap()
        .conversation_id;
    for i in 0..4 {
        s.act(&scope, busy, w.admin, reply(), t(10 + i))
            .await
            .unwrap();
    }
    let first = s.claim_outbox_fair(t(100), 3, 30_000, 8).await.unwrap();
    assert_eq!(first.len(), 3);
    let quiet = s
        .apply_inbound(inbound(w.other_inbox, "c2", Some("m2"), "Hi", t(1)))
        .await
        .unwrap()
        .conversation_id;
    s.act(&scope, quiet, w.admin, reply(), t(110))
        .await
        .unwrap();
    // The cap is now below what the busy inbox holds: it gets nothing, the other inbox its turn.
    let next = s.claim_outbox_fair(t(120), 10, 30_000, 2).await.unwrap();
    let inboxes: Vec<InboxId> = next.iter().map(|j| j.inbox.id).collect();
    assert_eq!(inboxes, vec![w.other_inbox]);
}

pub async fn the_backlog_counts_deliveries_nobody_holds(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let reply = || Command::Reply {
        meta: None,
        body: "r".into(),
    };
    let just_queued = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(1)))
        .await
        .unwrap()
        .conversation_id;
    s.act(&scope, just_queued, w.admin, reply(), t(10))
        .await
        .unwrap();
    let held = s
        .apply_inbound(inbound(w.other_inbox, "c2", Some("m2"), "Hi", t(1)))
        .await
        .unwrap()
        .conversation_id;
    s.act(&scope, held, w.admin, reply(), t(20)).await.unwrap();
    // The other inbox's delivery was claimed, then put back to wait (quiet hours, a backoff).
    let claimed = s.claim_outbox(t(30), 10, 30_000).await.unwrap();
    let other = claimed
        .iter()
        .find(|j| j.inbox.id == w.other_inbox)
        .unwrap()
        .id;
    s.finish_outbox(other, OutboxResult::Defer { at: t(5_000) }, t(31))
        .await
        .unwrap();
    let mine = claimed.iter().find(|j| j.inbox.id == w.inbox).unwrap().id;
    s.finish_outbox(mine, OutboxResult::Defer { at: t(40) }, t(31))
        .await
        .unwrap();

    // Neither inbox has anything under a live lease.
    let mut backlog = s.outbox_backlog(w.ws, t(50)).await.unwrap();
    backlog.sort_by_key(|b| b.inbox_id.to_string());
    let mut expect = vec![
        InboxBacklog {
            inbox_id: w.inbox,
            queued: 1,
            in_flight: 0,
            oldest_due: Some(t(40)),
        },
        InboxBacklog {
            inbox_id: w.other_inbox,
            queued: 1,
            in_flight: 0,
            oldest_due: Some(t(5_000)),
        },
    ];
    expect.sort_by_key(|b| b.inbox_id.to_string());
    assert_eq!(backlog, expect);
}

pub async fn claims_take_turns_across_inboxes_within_their_cap(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = admin_scope(s, &w).await;
    let reply = |body: &str| Command::Reply {
        meta: None,
        body: body.into(),
    };
    let busy = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(1)))
        .await
        .unwrap()
        .conversation_id;
    for i in 0..3 {
        s.act(&scope, busy, w.admin, reply("r"), t(10 + i))
            .await
            .unwrap();
    }
    let quiet = s
        .apply_inbound(inbound(w.other_inbox, "c2", Some("m2"), "Hi", t(1)))
        .await
        .unwrap()
        .conversation_id;
    s.act(&scope, quiet, w.admin, reply("r"), t(20))
        .await
        .unwrap();
    let inboxes = |jobs: &[OutboxJob]| {
        let mut v: Vec<InboxId> = jobs.iter().map(|j| j.inbox.id).collect();
        v.sort_by_key(|i| i.to_string());
        v
    };
    let mut both = vec![w.inbox, w.other_inbox];
    both.sort_by_key(|i| i.to_string());

    // Two slots: the quiet inbox's one reply goes before the busy inbox's second, though due later.
    let first = s.claim_outbox_fair(t(100), 2, 30_000, 10).await.unwrap();
    assert_eq!(inboxes(&first), both);
    // The busy inbox may have two in flight: it gets one more, and then none.
    let second = s.claim_outbox_fair(t(101), 10, 30_000, 2).await.unwrap();
    assert_eq!(inboxes(&second), vec![w.inbox]);
    assert!(
        s.claim_outbox_fair(t(102), 10, 30_000, 2)
            .await
            .unwrap()
            .is_empty(),
        "an inbox at its cap is not claimed from"
    );
    let backlog = s.outbox_backlog(w.ws, t(102)).await.unwrap();
    let of = |inbox| backlog.iter().find(|b| b.inbox_id == inbox).cloned();
    assert_eq!(
        of(w.inbox),
        Some(InboxBacklog {
            inbox_id: w.inbox,
            queued: 1,
            in_flight: 2,
            oldest_due: Some(t(12)),
        })
    );
    assert_eq!(
        of(w.other_inbox),
        Some(InboxBacklog {
            inbox_id: w.other_inbox,
            queued: 0,
            in_flight: 1,
            oldest_due: None,
        })
    );

    // A finished delivery frees its inbox's slot.
    let done = second[0].id;
    let sent = OutboxResult::Sent { provider_id: None };
    s.finish_outbox(done, sent, t(103)).await.unwrap();
    let third = s.claim_outbox_fair(t(104), 10, 30_000, 2).await.unwrap();
    assert_eq!(inboxes(&third), vec![w.inbox]);

    // Leases that ran out count for nothing: every unfinished delivery is claimable again.
    let later = s
        .claim_outbox_fair(t(200_000), 10, 30_000, 2)
        .await
        .unwrap();
    let mut expect = vec![w.inbox, w.inbox, w.other_inbox];
    expect.sort_by_key(|i| i.to_string());
    assert_eq!(inboxes(&later), expect);
}

pub async fn a_rating_reply_answers_the_survey_without_reopening(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = agent_scope(s, &w).await;
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(10)))
        .await
        .unwrap();
    let conv = a.conversation_id;
    let resolve = Command::SetStatus {
        to: Status::Resolved,
        snoozed_until: None,
    };
    s.act(&scope, conv, w.admin, resolve, t(20)).await.unwrap();
    let rating = |ext: &str, body: &str, at| InboundMessage {
        survey: Some(SurveyReply {
            conversation: conv,
            sent_at: t(20),
            data: serde_json::json!({ "rating": 4, "comment": body }),
        }),
        ..inbound(w.inbox, "c1", Some(ext), body, t(at))
    };
    let r = s.apply_inbound(rating("m2", "4/5", 30)).await.unwrap();
    assert!(r.survey_answered && !r.duplicate);
    let c = s.conversation(&scope, conv).await.unwrap();
    assert_eq!(c.status, Status::Resolved, "a rating does not reopen");
    assert_eq!(c.waiting_since, None, "nor does it wait on anyone");
    // A redelivery is stored once and answers nothing again.
    let again = s.apply_inbound(rating("m2", "4/5", 31)).await.unwrap();
    assert!(again.duplicate && !again.survey_answered);
    let answers = |entries: Vec<TimelineEntry>| -> Vec<serde_json::Value> {
        entries
            .iter()
            .filter(|e| e.event.kind == "survey.answered")
            .map(|e| serde_json::from_str(&e.event.data).unwrap())
            .collect()
    };
    let got = answers(s.timeline(&scope, conv, None, 50).await.unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["rating"], 4);
    assert_eq!(got[0]["message_id"], serde_json::json!(r.message_id));
    // The survey took its answer: a second rating is an ordinary message and reopens.
    let second = s.apply_inbound(rating("m3", "5", 40)).await.unwrap();
    assert!(!second.survey_answered);
    let c = s.conversation(&scope, conv).await.unwrap();
    assert_eq!(c.status, Status::Open);
    assert_eq!(
        answers(s.timeline(&scope, conv, None, 50).await.unwrap()).len(),
        1
    );
    // A reply naming another conversation is an ordinary message.
    let b = s
        .apply_inbound(InboundMessage {
            survey: Some(SurveyReply {
                conversation: conv,
                sent_at: t(45),
                data: serde_json::json!({ "rating": 5 }),
            }),
            ..inbound(w.inbox, "c2", Some("m4"), "5", t(50))
        })
        .await
        .unwrap();
    assert!(!b.survey_answered);
}

pub async fn a_call_lands_on_the_callers_conversation_once(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = agent_scope(s, &w).await;
    let call = |from: &str, id: Option<&str>, at| InboundCall {
        inbox_id: w.inbox,
        identity_kind: IdentityKind::Phone,
        from: from.into(),
        external_id: id.map(Into::into),
        at: t(at),
        data: serde_json::json!({ "answered": false }),
    };
    // A caller Parley has never heard of becomes a contact with a conversation.
    let first = s
        .record_call(call("+15558675310", Some("CA1"), 10))
        .await
        .unwrap();
    assert!(!first.duplicate);
    let conv = first.conversation_id.unwrap();
    let contact = s.contact(&scope, first.contact_id.unwrap()).await.unwrap();
    assert_eq!(contact.phone.as_deref(), Some("+15558675310"));
    // The same call again is stored once; a call without an id is always new.
    assert_eq!(
        s.record_call(call("+15558675310", Some("CA1"), 11))
            .await
            .unwrap(),
        CallOutcome::duplicate()
    );
    let again = s.record_call(call("+15558675310", None, 12)).await.unwrap();
    assert_eq!(again.conversation_id, Some(conv));
    let calls =
        |entries: Vec<TimelineEntry>| entries.iter().filter(|e| e.event.kind == "call").count();
    assert_eq!(calls(s.timeline(&scope, conv, None, 50).await.unwrap()), 2);
    // A resolved conversation takes the call and stays resolved; the caller's message then
    // lands in it too.
    let resolve = Command::SetStatus {
        to: Status::Resolved,
        snoozed_until: None,
    };
    s.act(&scope, conv, w.admin, resolve, t(20)).await.unwrap();
    s.record_call(call("+15558675310", Some("CA2"), 30))
        .await
        .unwrap();
    assert_eq!(
        s.conversation(&scope, conv).await.unwrap().status,
        Status::Resolved
    );
    let ev = s.timeline(&scope, conv, None, 50).await.unwrap();
    let last: serde_json::Value = serde_json::from_str(&ev.last().unwrap().event.data).unwrap();
    assert_eq!(
        (
            last["answered"].as_bool(),
            last["conversation"]["id"].as_str()
        ),
        (Some(false), Some(conv.to_string().as_str()))
    );
    // The same id on another inbox is another call.
    let other = s
        .record_call(InboundCall {
            inbox_id: w.other_inbox,
            ..call("+15558675310", Some("CA1"), 40)
        })
        .await
        .unwrap();
    assert!(!other.duplicate);
    assert_ne!(other.conversation_id, Some(conv));
    assert_eq!(
        other.contact_id, first.contact_id,
        "one customer, known by their number"
    );
}

pub async fn a_keyword_changes_consent_in_its_messages_transaction(h: Harness) {
    use parley_core::consent::{Action, Purpose};
    let s = &h.store;
    let w = world(s).await;
    let said = |ext: &str, body: &str, keyword: Option<Keyword>, at| InboundMessage {
        keyword: keyword.map(|keyword| KeywordIntent {
            keyword,
            channel: "api".into(),
            everywhere: false,
            at: t(at + 1),
        }),
        ..inbound(w.inbox, "c1", Some(ext), body, t(at))
    };
    let hi = s.apply_inbound(said("m1", "Hi", None, 0)).await.unwrap();
    assert!(hi.consent.is_empty());
    // A STOP is on the ledger with its message: every purpose, on this channel, the message as
    // evidence, and published in the same commit right after it.
    let stop = s
        .apply_inbound(said("m2", "STOP", Some(Keyword::OptOut), 10))
        .await
        .unwrap();
    let got: Vec<_> = stop.consent.iter().map(|e| (e.purpose, e.action)).collect();
    assert_eq!(
        got,
        Purpose::ALL.map(|p| (p, Action::Revoke)).to_vec(),
        "{stop:?}"
    );
    let e = &stop.consent[0];
    assert_eq!(
        (e.source.as_str(), e.channel.as_deref(), e.at),
        ("keyword", Some("api"), t(11))
    );
    assert_eq!(e.evidence["message_id"], stop.message_id.to_string());
    assert_eq!(e.evidence["text"], "STOP");
    let ledger = s.consent_history(&sys(w.ws), hi.contact_id).await.unwrap();
    assert_eq!(ledger.len(), 3);
    let published = h.published();
    let at = published
        .iter()
        .position(|p| p.kind == "message.created" && p.data.contains(&stop.message_id.to_string()))
        .unwrap();
    let after: Vec<_> = published[at + 1..]
        .iter()
        .map(|p| (p.kind.as_str(), p.seq))
        .collect();
    let seq = published[at].seq;
    assert_eq!(
        after,
        vec![
            ("consent.changed", seq + 1),
            ("consent.changed", seq + 2),
            ("consent.changed", seq + 3)
        ]
    );
    // Both backends show the conversation as the message left it.
    let data = |i: usize| serde_json::from_str::<serde_json::Value>(&published[i].data).unwrap();
    assert_eq!(data(at + 1)["conversation"], data(at)["conversation"]);
    assert_eq!(
        data(at + 1)["consent"]["id"],
        stop.consent[0].id.to_string()
    );
    // A redelivery changes nothing, and neither does a STOP already recorded or a HELP.
    let again = s
        .apply_inbound(said("m2", "STOP", Some(Keyword::OptOut), 10))
        .await
        .unwrap();
    assert!(again.duplicate && again.consent.is_empty());
    for (ext, body, k) in [
        ("m3", "stop", Keyword::OptOut),
        ("m4", "HELP", Keyword::Help),
    ] {
        let out = s.apply_inbound(said(ext, body, Some(k), 20)).await.unwrap();
        assert!(out.consent.is_empty(), "{body}");
    }
    assert_eq!(h.published().len(), published.len() + 2);
    // START grants what a STOP took; a second START is just an answer.
    let start = s
        .apply_inbound(said("m5", "START", Some(Keyword::OptIn), 30))
        .await
        .unwrap();
    let got: Vec<_> = start
        .consent
        .iter()
        .map(|e| (e.purpose, e.action))
        .collect();
    assert_eq!(
        got,
        vec![
            (Purpose::Conversational, Action::Grant),
            (Purpose::Informational, Action::Grant)
        ]
    );
    let start = s
        .apply_inbound(said("m6", "START", Some(Keyword::OptIn), 40))
        .await
        .unwrap();
    assert!(start.consent.is_empty());
    // CONFIRM grants what is pending on its channel, there.
    s.record_consent(
        w.ws,
        NewConsent {
            contact: hi.contact_id,
            purpose: Purpose::Promotional,
            action: Action::Request,
            source: "web_form".into(),
            channel: Some("api".into()),
            evidence: serde_json::json!({}),
            at: t(50),
            conversation: None,
        },
    )
    .await
    .unwrap();
    let confirm = s
        .apply_inbound(said("m7", "CONFIRM", Some(Keyword::Confirm), 60))
        .await
        .unwrap();
    let got: Vec<_> = confirm
        .consent
        .iter()
        .map(|e| (e.purpose, e.action, e.source.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(Purpose::Promotional, Action::Grant, "double_opt_in")]
    );
    assert_eq!(
        s.consent_history(&sys(w.ws), hi.contact_id)
            .await
            .unwrap()
            .len(),
        7
    );
    // Someone writing into another contact's thread changes their own consent; the thread's
    // timeline does not show it.
    let cc = s
        .apply_inbound(InboundMessage {
            thread: Some(hi.conversation_id),
            keyword: Some(KeywordIntent {
                keyword: Keyword::OptOut,
                channel: "api".into(),
                everywhere: true,
                at: t(71),
            }),
            ..inbound(w.inbox, "c9", Some("m8"), "STOP", t(70))
        })
        .await
        .unwrap();
    assert_eq!(cc.conversation_id, hi.conversation_id);
    assert_ne!(cc.contact_id, hi.contact_id);
    assert_eq!(cc.consent.len(), 3);
    assert!(cc.consent.iter().all(|e| e.channel.is_none()));
    let tl = s
        .timeline(&sys(w.ws), hi.conversation_id, None, 100)
        .await
        .unwrap();
    assert_eq!(
        tl.iter()
            .filter(|e| e.event.kind == "consent.changed")
            .count(),
        3 + 2 + 1
    );
}

pub async fn an_inbox_pace_and_auto_replies_once_per_period(h: Harness) {
    let s = &h.store;
    let w = world(s).await;
    let scope = agent_scope(s, &w).await;
    let reply = |body: &str| Command::Reply {
        body: body.into(),
        meta: None,
    };
    // Answered after a minute; waiting unassigned; waiting assigned; another inbox's.
    let a = s
        .apply_inbound(inbound(w.inbox, "c1", Some("m1"), "Hi", t(0)))
        .await
        .unwrap();
    s.act(
        &scope,
        a.conversation_id,
        w.agent,
        reply("Hello"),
        t(60_000),
    )
    .await
    .unwrap();
    s.apply_inbound(inbound(w.inbox, "c2", Some("m2"), "Hi", t(10)))
        .await
        .unwrap();
    let c = s
        .apply_inbound(inbound(w.inbox, "c3", Some("m3"), "Hi", t(20)))
        .await
        .unwrap();
    let assign = Command::Assign {
        assignee: Some(w.agent),
        team: None,
    };
    s.act(&scope, c.conversation_id, w.agent, assign, t(30))
        .await
        .unwrap();
    s.apply_inbound(inbound(w.other_inbox, "c4", Some("m4"), "Hi", t(40)))
        .await
        .unwrap();

    let pace = s
        .inbox_pace(w.ws, w.inbox, t(0), t(3_600_000))
        .await
        .unwrap();
    assert_eq!(pace.first_responses_ms, vec![60_000]);
    let mut waiting = pace.waiting.clone();
    waiting.sort_by_key(|x| x.since);
    assert_eq!(
        waiting,
        vec![
            Waiting {
                since: t(10),
                unassigned: true
            },
            Waiting {
                since: t(20),
                unassigned: false
            }
        ]
    );
    let later = s
        .inbox_pace(w.ws, w.inbox, t(60_001), t(3_600_000))
        .await
        .unwrap();
    assert!(later.first_responses_ms.is_empty(), "outside the window");
    let (other, _) = s
        .create_workspace("Other", "UTC", user("boss@other.test", Role::Admin), t(0))
        .await
        .unwrap();
    let none = s
        .inbox_pace(other.id, w.inbox, t(0), t(3_600_000))
        .await
        .unwrap();
    assert_eq!(none, InboxPace::default(), "another workspace sees nothing");

    // Once per period and kind; the period counts from the last one sent.
    const DAY: i64 = 86_400_000;
    let conv = a.conversation_id;
    let claim = |kind: &'static str, at: Timestamp| s.claim_auto_reply(w.ws, conv, kind, at, DAY);
    assert!(claim("after_hours", t(0)).await.unwrap());
    assert!(!claim("after_hours", t(3_600_000)).await.unwrap());
    assert!(claim("urgent", t(3_600_000)).await.unwrap(), "another kind");
    assert!(!claim("after_hours", t(DAY - 1)).await.unwrap());
    assert!(claim("after_hours", t(DAY)).await.unwrap());
    assert!(!claim("after_hours", t(DAY + 1)).await.unwrap());
    assert!(matches!(
        s.claim_auto_reply(other.id, conv, "normal", t(0), DAY)
            .await,
        Err(StoreError::NotFound)
    ));
}
mod timers;
pub use timers::*;
