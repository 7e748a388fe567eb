//! `parley bench privacy`: what erasure and encryption at rest cost. The gate's read of a
//! contact's consent (which also looks for revocations erased contacts left on its addresses), a
//! contact search (which opens every contact when they are sealed), and the erasure of a contact
//! with a long history, on a store with many other contacts; with `--encrypted`, all of it sealed.

use std::time::Instant;

use anyhow::Context;
use parley_core::contact::IdentityKind;
use parley_core::role::Role;
use parley_core::Timestamp;
use parley_server::Database;
use parley_store::{InboundMessage, NewInbox, NewUser};

#[derive(clap::Args)]
pub struct PrivacyArgs {
    /// Run on PostgreSQL: an admin URL; a fresh database is created under it
    #[arg(long)]
    postgres: Option<String>,
    /// Contacts in the store
    #[arg(long, default_value_t = 2_000)]
    contacts: usize,
    /// Messages of each contact erased
    #[arg(long, default_value_t = 500)]
    messages: usize,
    /// Contacts erased (the median is reported)
    #[arg(long, default_value_t = 5)]
    erasures: usize,
    /// With encryption at rest (a fresh master key)
    #[arg(long)]
    encrypted: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub async fn privacy(args: PrivacyArgs) -> anyhow::Result<()> {
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
    let key = args
        .encrypted
        .then(parley_store::crypt::MasterKey::generate);
    let store =
        parley_server::open_store(&database, parley_store::null_sink(), key.as_ref(), false)
            .await?;
    let t0 = Timestamp(1_800_000_000_000);
    let admin = NewUser {
        email: "bench@parley.test".into(),
        name: "Bench".into(),
        password_hash: "-".into(),
        role: Role::Admin,
        bot: false,
    };
    let (ws, _) = store.create_workspace("Bench", "UTC", admin, t0).await?;
    let inbox = store
        .create_inbox(
            ws.id,
            NewInbox {
                name: "SMS".into(),
                kind: "api".into(),
                settings: serde_json::json!({ "callback_url": "http://127.0.0.1:9/cb" }),
                secret: "bench".into(),
            },
            t0,
        )
        .await?;
    let message = |who: usize, n: usize| InboundMessage {
        keyword: None,
        survey: None,
        inbox_id: inbox.id,
        identity_kind: IdentityKind::Api,
        sender_external_id: format!("c{who}"),
        sender_name: Some(format!("Customer {who}")),
        sender_email: Some(format!("c{who}@example.com")),
        sender_phone: Some(format!("+1212555{:04}", who % 10_000)),
        external_id: Some(format!("m{who}-{n}")),
        body: format!("message {n} from customer {who}, with an address in it"),
        meta: None,
        at: Timestamp(t0.0 + (who * 1000 + n) as i64),
        thread: None,
    };
    let started = Instant::now();
    let mut contacts = Vec::with_capacity(args.contacts);
    for who in 0..args.contacts {
        contacts.push(store.apply_inbound(message(who, 0)).await?.contact_id);
    }
    for who in 0..args.erasures.min(args.contacts) {
        for n in 1..args.messages {
            store.apply_inbound(message(who, n)).await?;
        }
    }
    println!(
        "set up {} contacts, {} of them with {} messages, in {:.1} s",
        args.contacts,
        args.erasures,
        args.messages,
        started.elapsed().as_secs_f64()
    );

    let reads = 2_000usize.min(args.contacts);
    let timed = Instant::now();
    for k in contacts.iter().take(reads) {
        store.consent_context(ws.id, *k).await?;
    }
    println!(
        "the gate's consent read: {:.1} µs per contact (mean of {reads})",
        timed.elapsed().as_secs_f64() * 1e6 / reads as f64
    );

    let mut ms = Vec::new();
    for q in ["customer 1234", "5551234", "nobody"] {
        let timed = Instant::now();
        let page = store
            .search_contacts(
                &parley_store::Scope::system(ws.id, parley_core::UserId(uuid::Uuid::nil())),
                q,
                None,
                50,
            )
            .await?;
        ms.push(timed.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(q == "nobody" || !page.items.is_empty(), "{q} found nothing");
    }
    println!(
        "searching {} contacts: median {:.1} ms, runs {:?}",
        args.contacts,
        median(ms.clone()),
        ms.iter().map(|m| format!("{m:.1}")).collect::<Vec<_>>()
    );

    let mut ms = Vec::new();
    for k in contacts.iter().take(args.erasures) {
        let timed = Instant::now();
        let done = store
            .erase_contact(ws.id, *k, Timestamp(t0.0 + 10_000_000))
            .await?;
        ms.push(timed.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            done.messages as usize == args.messages,
            "erased {} messages",
            done.messages
        );
    }
    let per = median(ms.clone());
    println!(
        "erasing a contact with {} messages: median {per:.1} ms ({:.1} µs per message), runs {:?}",
        args.messages,
        per * 1e3 / args.messages as f64,
        ms.iter().map(|m| format!("{m:.1}")).collect::<Vec<_>>()
    );

    let timed = Instant::now();
    for k in contacts.iter().skip(args.erasures).take(reads) {
        store.consent_context(ws.id, *k).await?;
    }
    println!(
        "the gate's consent read after the erasures: {:.1} µs per contact",
        timed.elapsed().as_secs_f64() * 1e6 / reads as f64
    );
    Ok(())
}
