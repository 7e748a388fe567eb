//! The conformance suite on SQLite, each test on a fresh database file.

use std::sync::Arc;

use parley_store::{DynStore, EventSink};
use parley_store_sqlite::{Durability, SqliteStore};

async fn fresh(sink: EventSink) -> DynStore {
    // Kept (the store outlives this function) under the build's own temporary directory.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let path = dir.keep().join("parley.db");
    Arc::new(SqliteStore::open(&path, Durability::Normal, sink).expect("opens"))
}

parley_store::conformance_tests!(fresh);

/// The same suite with encryption at rest on: every field sealed and opened on the way.
mod encrypted {
    use super::*;

    async fn fresh(sink: EventSink) -> DynStore {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let path = dir.keep().join("parley.db");
        let key = parley_store::crypt::MasterKey::generate();
        Arc::new(
            SqliteStore::open(&path, Durability::Normal, sink)
                .expect("opens")
                .with_master_key(Some(&key), false)
                .await
                .expect("keys"),
        )
    }

    parley_store::conformance_tests!(fresh);
}

/// Events are append-only, except that retention and erasure may rewrite an event's data, each time with a later stamp.
#[tokio::test]
async fn event_data_changes_only_by_a_later_redaction() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let path = dir.path().join("parley.db");
    drop(SqliteStore::open(&path, Durability::Normal, parley_store::null_sink()).expect("opens"));
    let db = rusqlite::Connection::open(&path).expect("raw");
    db.execute_batch(
        "INSERT INTO event (workspace_id, inbox_id, conversation_id, kind, message_id, at, data) \
         VALUES ('w', 'i', 'c', 'message.created', 'm', 1, '{\"message\":{\"body\":\"secret\"}}')",
    )
    .expect("append");
    for sql in [
        "UPDATE event SET data = '{}'",
        "UPDATE event SET kind = 'x'",
        "DELETE FROM event",
    ] {
        assert!(db.execute_batch(sql).is_err(), "{sql} was allowed");
    }
    db.execute_batch("UPDATE event SET data = '{}', redacted_at = 5")
        .expect("a redaction");
    for sql in [
        "UPDATE event SET data = '{\"edited\":1}'",
        "UPDATE event SET data = '{\"edited\":1}', redacted_at = 5",
        "UPDATE event SET data = '{\"edited\":1}', redacted_at = 4",
        "UPDATE event SET redacted_at = NULL",
    ] {
        assert!(db.execute_batch(sql).is_err(), "{sql} was allowed");
    }
    db.execute_batch("UPDATE event SET data = '{\"less\":1}', redacted_at = 6")
        .expect("a later redaction");
    let data: String = db
        .query_row("SELECT data FROM event", [], |r| r.get(0))
        .expect("row");
    assert_eq!(data, "{\"less\":1}");
}

/// The saved replies a workspace kept in its settings become templates when the migration runs,
/// and leave the settings.
#[tokio::test]
async fn saved_replies_move_into_templates() {
    use parley_store::{Accounts, NewUser, Templates};
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let path = dir.path().join("parley.db");
    let store =
        SqliteStore::open(&path, Durability::Normal, parley_store::null_sink()).expect("opens");
    let admin = NewUser {
        email: "a@acme.test".into(),
        name: "Admin".into(),
        password_hash: "x".into(),
        role: parley_core::role::Role::Admin,
        bot: false,
    };
    let (ws, _) = store
        .create_workspace("Acme", "UTC", admin, parley_core::Timestamp(1))
        .await
        .expect("workspace");
    drop(store);
    // The database as it was before templates: replies in the settings, no template table.
    let db = rusqlite::Connection::open(&path).expect("raw");
    db.execute_batch(
        "DROP TABLE template; DELETE FROM schema_migrations WHERE version = 22; \
         UPDATE workspace SET settings = '{\"replies\":[{\"body\":\"Bye now\",\"shortcut\":\"bye\"},{\"body\":\"Hi there\",\"shortcut\":\"hi\"}],\"sla\":[]}'",
    )
    .expect("rewinds");
    drop(db);
    let store =
        SqliteStore::open(&path, Durability::Normal, parley_store::null_sink()).expect("migrates");
    let rows = store.list_templates(ws.id).await.expect("templates");
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.shortcut.as_str(), r.body.as_str()))
        .collect();
    assert_eq!(got, [("bye", "bye", "Bye now"), ("hi", "hi", "Hi there")]);
    assert!(rows.iter().all(|r| r.channels.is_empty() && r.uses == 0));
    let settings = store.workspace(ws.id).await.expect("workspace").settings;
    assert_eq!(settings, serde_json::json!({ "sla": [] }));
}

/// The timers migration gives a conversation snoozed before timers existed its wake-up.
#[tokio::test]
async fn the_timers_migration_wakes_conversations_snoozed_before_it() {
    use parley_core::conversation::Status;
    use parley_core::{role::Role, Timestamp};
    use parley_store::prelude::*;
    use parley_store::Command;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let path = dir.path().join("parley.db");
    let store =
        SqliteStore::open(&path, Durability::Normal, parley_store::null_sink()).expect("opens");
    let at = Timestamp(1_800_000_000_000);
    let admin = parley_store::NewUser {
        email: "a@acme.test".into(),
        name: "A".into(),
        password_hash: "x".into(),
        role: Role::Admin,
        bot: false,
    };
    let (ws, user) = store
        .create_workspace("Acme", "UTC", admin, at)
        .await
        .expect("workspace");
    let inbox = parley_store::NewInbox {
        name: "Support".into(),
        kind: "api".into(),
        settings: serde_json::json!({"callback_url": "http://127.0.0.1:9/cb"}),
        secret: "s".into(),
    };
    let inbox = store.create_inbox(ws.id, inbox, at).await.expect("inbox");
    let msg = parley_store::InboundMessage {
        keyword: None,
        survey: None,
        meta: None,
        inbox_id: inbox.id,
        identity_kind: parley_core::contact::IdentityKind::Api,
        sender_external_id: "c1".into(),
        sender_name: None,
        sender_email: None,
        sender_phone: None,
        external_id: Some("m1".into()),
        body: "Hi".into(),
        at,
        thread: None,
    };
    let conv = store
        .apply_inbound(msg)
        .await
        .expect("inbound")
        .conversation_id;
    let scope = store
        .principal(ws.id, user.id)
        .await
        .expect("principal")
        .scope();
    let until = Timestamp(at.0 + 60_000);
    let snooze = Command::SetStatus {
        to: Status::Snoozed,
        snoozed_until: Some(until),
    };
    store
        .act(&scope, conv, user.id, snooze, at)
        .await
        .expect("snoozed");
    drop(store);
    // As before the migration: no timers. Then its back-fill.
    let db = rusqlite::Connection::open(&path).expect("raw");
    db.execute_batch("DELETE FROM timer").expect("emptied");
    let migration = include_str!("../../migrations/0021_timers.sql");
    let backfill = &migration[migration.find("INSERT INTO timer").expect("a back-fill")..];
    db.execute_batch(backfill).expect("back-fills");
    drop(db);
    let store =
        SqliteStore::open(&path, Durability::Normal, parley_store::null_sink()).expect("opens");
    let wake = store
        .timer(ws.id, parley_store::snooze_key(conv))
        .await
        .expect("read")
        .expect("set");
    assert_eq!((wake.kind.as_str(), wake.due_at), ("snooze", until));
    assert_eq!(wake.payload["conversation_id"], conv.to_string());
    let due = store
        .claim_due_timers(until, 10, 1000, "n".into())
        .await
        .expect("claims");
    assert_eq!(due.len(), 1);
}
