//! What only the PostgreSQL backend does: group commit that isolates a failing message, event order
//! across two nodes on one database, migrations that tolerate a race, the append-only tables, and a
//! `Debug` that keeps the password out of logs.

use std::sync::{Arc, Mutex};

use parley_core::contact::IdentityKind;
use parley_core::role::Role;
use parley_core::{InboxId, Timestamp, WorkspaceId};
use parley_store::*;
use parley_store_postgres::{testing, PostgresStore};

/// A sink that keeps what it is given, one batch per commit.
fn recording_sink() -> (EventSink, Arc<Mutex<Vec<Vec<Published>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let sink: EventSink = Arc::new(move |evs: &[Published]| {
        s.lock().expect("sink lock").push(evs.to_vec());
    });
    (sink, seen)
}

fn flat(seen: &Mutex<Vec<Vec<Published>>>) -> Vec<Published> {
    seen.lock().expect("sink lock").concat()
}

async fn fresh_url() -> Option<String> {
    let admin = testing::admin_url()?;
    Some(
        testing::fresh_database(&admin)
            .await
            .expect("creates a test database"),
    )
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connects");
    tokio::spawn(conn);
    client
}

/// A workspace with one API inbox.
async fn world(s: &PostgresStore) -> (WorkspaceId, InboxId, Scope) {
    let admin = NewUser {
        email: "admin@acme.test".into(),
        name: "admin".into(),
        password_hash: "x".into(),
        role: Role::Admin,
        bot: false,
    };
    let (ws, user) = s
        .create_workspace("Acme", "UTC", admin, Timestamp(0))
        .await
        .expect("workspace");
    let inbox = NewInbox {
        name: "Support".into(),
        kind: "api".into(),
        settings: serde_json::json!({}),
        secret: "s".into(),
    };
    let inbox = s
        .create_inbox(ws.id, inbox, Timestamp(0))
        .await
        .expect("inbox");
    (ws.id, inbox.id, Scope::system(ws.id, user.id))
}

fn inbound(inbox: InboxId, who: &str, ext: &str, body: &str, at: i64) -> InboundMessage {
    InboundMessage {
        keyword: None,
        survey: None,
        meta: None,
        thread: None,
        inbox_id: inbox,
        identity_kind: IdentityKind::Api,
        sender_external_id: who.into(),
        sender_name: None,
        sender_email: None,
        sender_phone: None,
        external_id: Some(ext.into()),
        body: body.into(),
        at: Timestamp(at),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_isolates_a_failing_message() {
    let Some(url) = fresh_url().await else { return };
    let (sink, seen) = recording_sink();
    let store = PostgresStore::connect(&url, sink).await.expect("connects");
    let (_, inbox, scope) = world(&store).await;
    let mut tasks = Vec::new();
    for i in 0..90 {
        let s = store.clone();
        // PostgreSQL refuses NUL in text: every fifth message fails inside the database. Messages
        // 60 and up repeat earlier ones, as a provider's retry would, likely in the same batch.
        let n = if i < 60 { i } else { i - 60 };
        let body = if n % 5 == 0 { "bad\0body" } else { "fine" };
        let msg = inbound(inbox, &format!("c{}", n % 7), &format!("m{n}"), body, i);
        tasks.push(tokio::spawn(async move { s.apply_inbound(msg).await }));
    }
    let mut stored = std::collections::HashMap::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let n = if i < 60 { i } else { i - 60 };
        let r = t.await.expect("task");
        assert_eq!(r.is_err(), n % 5 == 0, "message {i}: {r:?}");
        if let Ok(o) = r {
            stored
                .entry(n)
                .or_insert_with(Vec::new)
                .push((o.duplicate, o.message_id));
        }
    }
    for (n, outcomes) in &stored {
        let new: Vec<_> = outcomes.iter().filter(|(dup, _)| !dup).collect();
        assert_eq!(new.len(), 1, "message m{n} is stored once: {outcomes:?}");
        assert!(outcomes.iter().all(|(_, id)| *id == new[0].1));
    }
    let ok = stored.len();
    let published = flat(&seen);
    let created = published.iter().filter(|e| e.kind == "message.created");
    assert_eq!(created.count(), ok);
    let replay = store.events_since(&scope, 0, 1000).await.expect("replay");
    let seqs = |v: &[Published]| v.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(&replay), seqs(&published));
    // The sink is called once per commit.
    let commits = seen.lock().expect("sink lock").len();
    assert!(
        commits < ok,
        "concurrent messages share commits ({commits} commits for {ok} messages)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_publish_in_commit_order() {
    let Some(url) = fresh_url().await else { return };
    let (sink_a, seen_a) = recording_sink();
    let (sink_b, seen_b) = recording_sink();
    // Both nodes start at once: one migrates, the other waits for it.
    let (a, b) = tokio::join!(
        PostgresStore::connect(&url, sink_a),
        PostgresStore::connect(&url, sink_b)
    );
    let (a, b) = (a.expect("node a"), b.expect("node b"));
    let (_, inbox, scope) = world(&a).await;
    let mut tasks = Vec::new();
    for i in 0..80 {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        let scope = scope.clone();
        tasks.push(tokio::spawn(async move {
            let o = node
                .apply_inbound(inbound(
                    inbox,
                    &format!("c{}", i % 4),
                    &format!("m{i}"),
                    "hi",
                    i,
                ))
                .await
                .expect("inbound");
            let reply = Command::Reply {
                meta: None,
                body: format!("r{i}"),
            };
            node.act(&scope, o.conversation_id, scope.user, reply, Timestamp(i))
                .await
                .expect("reply");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let a_seqs: Vec<i64> = flat(&seen_a).iter().map(|e| e.seq).collect();
    let b_seqs: Vec<i64> = flat(&seen_b).iter().map(|e| e.seq).collect();
    for seqs in [&a_seqs, &b_seqs] {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "a node publishes in seq order"
        );
    }
    let mut all: Vec<i64> = a_seqs.iter().chain(&b_seqs).copied().collect();
    all.sort_unstable();
    let replay: Vec<i64> = a
        .events_since(&scope, 0, 10_000)
        .await
        .expect("replay")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(all, replay, "together the nodes published every event once");
    let versions: i64 = raw(&url)
        .await
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .await
        .expect("counts")
        .get(0);
    assert_eq!(
        versions,
        parley_store_postgres::MIGRATION_COUNT,
        "each migration applied once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_and_audit_are_append_only() {
    let Some(url) = fresh_url().await else { return };
    let store = PostgresStore::connect(&url, null_sink())
        .await
        .expect("connects");
    let (ws, inbox, _) = world(&store).await;
    store
        .apply_inbound(inbound(inbox, "c1", "m1", "hello", 1))
        .await
        .expect("inbound");
    store
        .record_audit(AuditEntry {
            workspace_id: ws,
            actor_id: None,
            action: "test".into(),
            target: "t".into(),
            detail: serde_json::json!({}),
            ip: None,
            at: Timestamp(1),
        })
        .await
        .expect("audit");
    let db = raw(&url).await;
    db.execute("UPDATE event SET conversation_id = conversation_id", &[])
        .await
        .expect("a merge may re-parent events");
    for sql in [
        "UPDATE event SET data = '{}'",
        "DELETE FROM event",
        "TRUNCATE event",
        "UPDATE audit SET action = 'x'",
        "DELETE FROM audit",
    ] {
        let err = db.batch_execute(sql).await.expect_err(sql);
        assert!(format!("{err:?}").contains("append-only"), "{sql}: {err:?}");
    }
    // Retention and erasure may rewrite an event's data, each time with a later stamp.
    db.batch_execute("UPDATE event SET data = '{}', redacted_at = 5")
        .await
        .expect("a redaction");
    db.batch_execute("UPDATE event SET data = '{\"less\":1}', redacted_at = 6")
        .await
        .expect("a later redaction");
    for sql in [
        "UPDATE event SET data = '{\"edited\":1}'",
        "UPDATE event SET data = '{\"edited\":1}', redacted_at = 6",
        "UPDATE event SET redacted_at = NULL",
        "UPDATE event SET kind = 'x'",
    ] {
        let err = db.batch_execute(sql).await.expect_err(sql);
        assert!(format!("{err:?}").contains("append-only"), "{sql}: {err:?}");
    }
}

#[tokio::test]
async fn reconnecting_does_not_migrate_twice_and_debug_hides_the_password() {
    let Some(url) = fresh_url().await else { return };
    let first = PostgresStore::connect(&url, null_sink())
        .await
        .expect("connects");
    drop(first);
    // The server trusts local connections, so any password is accepted (and never sent).
    let with_password = match url.split_once("://") {
        Some((scheme, rest)) if rest.contains('@') => {
            format!("{scheme}://{}", rest.replacen('@', ":hunter2@", 1))
        }
        Some((scheme, rest)) => format!("{scheme}://postgres:hunter2@{rest}"),
        None => url.clone(),
    };
    let store = PostgresStore::connect(&with_password, null_sink())
        .await
        .expect("reconnects");
    let shown = format!("{store:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("parley_t_"), "{shown}");
    assert!(store.is_empty().await.expect("reads"));
}

/// The saved replies a workspace kept in its settings become templates when the migration runs,
/// and leave the settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_replies_move_into_templates() {
    let Some(url) = fresh_url().await else { return };
    let store = PostgresStore::connect(&url, null_sink())
        .await
        .expect("connects");
    let (ws, _, _) = world(&store).await;
    drop(store);
    // The database as it was before templates: replies in the settings, no template table.
    raw(&url)
        .await
        .batch_execute(
            "DROP TABLE template; DELETE FROM schema_migrations WHERE version = 22; \
             UPDATE workspace SET settings = '{\"replies\":[{\"body\":\"Bye now\",\"shortcut\":\"bye\"},{\"body\":\"Hi there\",\"shortcut\":\"hi\"}],\"sla\":[]}'",
        )
        .await
        .expect("rewinds");
    let store = PostgresStore::connect(&url, null_sink())
        .await
        .expect("migrates");
    let rows = store.list_templates(ws).await.expect("templates");
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.shortcut.as_str(), r.body.as_str()))
        .collect();
    assert_eq!(got, [("bye", "bye", "Bye now"), ("hi", "hi", "Hi there")]);
    assert!(rows.iter().all(|r| r.channels.is_empty() && r.uses == 0));
    let settings = store.workspace(ws).await.expect("workspace").settings;
    assert_eq!(settings, serde_json::json!({ "sla": [] }));
}
