//! `parley bench inbox`: the agent app's first screen on a busy workspace. The store's time for
//! the first page of the open conversations (each sort) and for the views' counts, with
//! thousands of open conversations, with the SLA clock of each row; and the contact lists the
//! customer panel reads and changes.

use std::time::Instant;

use anyhow::Context;
use parley_core::contact::IdentityKind;
use parley_core::role::Role;
use parley_core::Timestamp;
use parley_server::Database;
use parley_store::{ConversationQuery, InboundMessage, NewInbox, NewUser, Sort};

#[derive(clap::Args)]
pub struct InboxArgs {
    /// Run on PostgreSQL: an admin URL; a fresh database is created under it
    #[arg(long)]
    postgres: Option<String>,
    /// Open conversations in the workspace
    #[arg(long, default_value_t = 10_000)]
    conversations: usize,
    /// Timed reads of each kind (the median is reported)
    #[arg(long, default_value_t = 9)]
    runs: usize,
    /// Contacts put on one list, one at a time as agents do
    #[arg(long, default_value_t = 2_000)]
    list_members: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub async fn inbox(args: InboxArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database = match &args.postgres {
        Some(admin) => Database::Postgres {
            url: parley_store_postgres::testing::fresh_database(admin)
                .await
                .context("creating a database for the bench")?
                .into(),
        },
        None => Database::Sqlite {
            path: dir.path().join("parley.db"),
            durable: true,
        },
    };
    let store =
        parley_server::open_store(&database, parley_store::null_sink(), None, false).await?;
    let t0 = Timestamp(1_800_000_000_000);
    let admin = NewUser {
        email: "bench@parley.test".into(),
        name: "Bench".into(),
        password_hash: "-".into(),
        role: Role::Admin,
        bot: false,
    };
    let (ws, user) = store.create_workspace("Bench", "UTC", admin, t0).await?;
    let inbox = store
        .create_inbox(
            ws.id,
            NewInbox {
                name: "Support".into(),
                kind: "api".into(),
                settings: serde_json::json!({ "callback_url": "http://127.0.0.1:9/cb" }),
                secret: "bench".into(),
            },
            t0,
        )
        .await?;
    let started = Instant::now();
    // Sent in parallel, so the store commits them in groups as it would under load.
    let mut pending = Vec::new();
    for who in 0..args.conversations {
        let store = store.clone();
        let m = InboundMessage {
            keyword: None,
            survey: None,
            inbox_id: inbox.id,
            identity_kind: IdentityKind::Api,
            sender_external_id: format!("c{who}"),
            sender_name: Some(format!("Customer {who}")),
            sender_email: None,
            sender_phone: None,
            external_id: Some(format!("m{who}")),
            body: format!("Where is my order {who}?"),
            meta: None,
            at: Timestamp(t0.0 + who as i64),
            thread: None,
        };
        pending.push(tokio::spawn(async move { store.apply_inbound(m).await }));
        if pending.len() == 256 {
            for p in pending.drain(..) {
                p.await??;
            }
        }
    }
    for p in pending {
        p.await??;
    }
    println!(
        "set up {} open conversations in {:.1} s",
        args.conversations,
        started.elapsed().as_secs_f64()
    );
    let scope = store.principal(ws.id, user.id).await?.scope();
    // SLA policies as a large workspace might keep them; the last one matches every row.
    let mut policies: Vec<parley_core::sla::SlaPolicy> = (0..19)
        .map(|i| parley_core::sla::SlaPolicy {
            name: format!("Team {i}"),
            inbox_id: Some(parley_core::InboxId(uuid::Uuid::from_u128(i))),
            priority: None,
            first_response_minutes: Some(30),
            next_response_minutes: Some(60),
        })
        .collect();
    policies.push(parley_core::sla::SlaPolicy {
        name: "Everyone".into(),
        inbox_id: None,
        priority: None,
        first_response_minutes: Some(60),
        next_response_minutes: None,
    });
    // The agent has looked at every other conversation near the top of each sort.
    for sort in [Sort::Waiting, Sort::Activity, Sort::Priority] {
        let q = ConversationQuery {
            statuses: vec![parley_core::conversation::Status::Open],
            sort,
            limit: 100,
            ..ConversationQuery::default()
        };
        for c in store
            .list_conversations(&scope, &q)
            .await?
            .items
            .iter()
            .step_by(2)
        {
            store.mark_seen(&scope, c.id, c.last_activity_at).await?;
        }
    }
    for sort in [Sort::Waiting, Sort::Activity, Sort::Priority] {
        let q = ConversationQuery {
            statuses: vec![parley_core::conversation::Status::Open],
            sort,
            limit: 50,
            ..ConversationQuery::default()
        };
        let mut ms = Vec::new();
        for _ in 0..args.runs {
            // The page and the agent's seen marks for its rows (what `unread` needs), as the API
            // reads them.
            let timed = Instant::now();
            let page = store.list_conversations(&scope, &q).await?;
            let ids: Vec<_> = page.items.iter().map(|c| c.id).collect();
            let seen = store.seen_at(&scope, &ids).await?;
            let clocks = page
                .items
                .iter()
                .filter_map(|c| {
                    parley_core::sla::due(
                        &policies,
                        c.inbox_id,
                        c.priority,
                        c.status,
                        c.waiting_since,
                        c.first_reply_at,
                        t0,
                    )
                })
                .count();
            ms.push(timed.elapsed().as_secs_f64() * 1e3);
            anyhow::ensure!(
                page.items.len() == 50.min(args.conversations)
                    && seen.len() <= ids.len()
                    && clocks == page.items.len(),
                "a short page"
            );
        }
        println!(
            "first page of 50 with the agent's seen marks and SLA clocks, sorted {sort:?}: median {:.2} ms",
            median(ms)
        );
    }
    let mut ms = Vec::new();
    for _ in 0..args.runs {
        let timed = Instant::now();
        let c = store.conversation_counts(&scope).await?;
        ms.push(timed.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(c.unassigned as usize == args.conversations, "counts {c:?}");
    }
    println!("the views' counts: median {:.2} ms", median(ms));

    // Contact lists: agents put contacts on a list one at a time from the panel.
    let list = store.create_list(ws.id, "Newsletter", t0).await?;
    let q = ConversationQuery {
        statuses: vec![parley_core::conversation::Status::Open],
        limit: 100,
        ..ConversationQuery::default()
    };
    let mut contacts = Vec::new();
    let mut page = store.list_conversations(&scope, &q).await?;
    loop {
        contacts.extend(page.items.iter().map(|c| c.contact_id));
        match page.next_cursor {
            Some(cursor) if contacts.len() < args.list_members => {
                let next = ConversationQuery {
                    cursor: Some(cursor),
                    ..q.clone()
                };
                page = store.list_conversations(&scope, &next).await?;
            }
            _ => break,
        }
    }
    contacts.truncate(args.list_members);
    let mut ms = Vec::new();
    for (i, c) in contacts.iter().enumerate() {
        let timed = Instant::now();
        store
            .set_list_member(ws.id, list.id, *c, true, Timestamp(t0.0 + i as i64))
            .await?;
        ms.push(timed.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "put a contact on a list (of up to {}): median {:.2} ms",
        contacts.len(),
        median(ms)
    );
    let all = parley_store::Scope::system(ws.id, parley_core::UserId(uuid::Uuid::nil()));
    let mut ms = Vec::new();
    for _ in 0..args.runs {
        let timed = Instant::now();
        let members = store.list_members(&all, list.id, None, 50).await?;
        ms.push(timed.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            members.items.len() == 50.min(contacts.len()),
            "short members page"
        );
    }
    println!("the list's first 50 members: median {:.2} ms", median(ms));
    let mut ms = Vec::new();
    for c in contacts.iter().take(args.runs) {
        let timed = Instant::now();
        let on = store.contact_lists(&all, *c).await?;
        ms.push(timed.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(on.len() == 1, "lists of a contact {on:?}");
    }
    println!(
        "the lists one contact is on (the panel): median {:.2} ms",
        median(ms)
    );
    let mut ms = Vec::new();
    for _ in 0..args.runs {
        let timed = Instant::now();
        let all = store.list_lists(ws.id).await?;
        ms.push(timed.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(all[0].size as usize == contacts.len(), "list size {all:?}");
    }
    println!("every list with its size: median {:.2} ms", median(ms));
    Ok(())
}
