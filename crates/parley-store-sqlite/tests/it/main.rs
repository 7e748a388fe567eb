//! The conformance suite on SQLite, each test on a fresh database file.

use std::sync::Arc;

use parley_store::{DynStore, EventSink};
use parley_store_sqlite::{Durability, SqliteStore};

async fn fresh(sink: EventSink) -> DynStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.keep().join("parley.db");
    Arc::new(SqliteStore::open(&path, Durability::Normal, sink).expect("opens"))
}

parley_store::conformance_tests!(fresh);
