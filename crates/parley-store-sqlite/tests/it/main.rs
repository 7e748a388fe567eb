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
