//! The conformance suite on PostgreSQL, each test on a fresh database of the server named by
//! `PARLEY_TEST_POSTGRES_URL`, and the behaviours only this backend has (`postgres`). Without the
//! variable, every test says it was skipped and passes.

mod postgres;

use std::sync::Arc;

use parley_store::{DynStore, EventSink};
use parley_store_postgres::{testing, PostgresStore};

async fn fresh(admin_url: String, sink: EventSink) -> DynStore {
    let url = testing::fresh_database(&admin_url)
        .await
        .expect("creates a test database");
    Arc::new(
        PostgresStore::connect(&url, sink)
            .await
            .expect("connects and migrates"),
    )
}

// The block runs first in each test: without a server it returns from the test before any store
// is built.
parley_store::conformance_tests!({
    let Some(admin_url) = testing::admin_url() else {
        return;
    };
    move |sink| fresh(admin_url, sink)
});

/// The same suite with encryption at rest on: every field sealed and opened on the way.
mod encrypted {
    use super::*;

    async fn fresh(admin_url: String, sink: EventSink) -> DynStore {
        let url = testing::fresh_database(&admin_url)
            .await
            .expect("creates a test database");
        let key = parley_store::crypt::MasterKey::generate();
        Arc::new(
            PostgresStore::connect(&url, sink)
                .await
                .expect("connects and migrates")
                .with_master_key(Some(&key), false)
                .await
                .expect("keys"),
        )
    }

    parley_store::conformance_tests!({
        let Some(admin_url) = testing::admin_url() else {
            return;
        };
        move |sink| fresh(admin_url, sink)
    });
}
