//! Test support: a fresh, empty database per test on a PostgreSQL server, so tests never share
//! state. Used by this crate's conformance run and by end-to-end tests of the application.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};

/// The environment variable naming the server tests run against (an admin URL, such as
/// `postgres://postgres@127.0.0.1:5432/postgres`). Tests skip when it is unset.
pub const TEST_URL_VAR: &str = "PARLEY_TEST_POSTGRES_URL";

/// Test databases are named `parley_t_<unix seconds>_<hex>`.
const PREFIX: &str = "parley_t_";

/// A database older than this is a leftover of an earlier run, dropped by the next one.
const LEFTOVER_AGE: Duration = Duration::from_secs(15 * 60);

/// Whether this process has dropped the leftovers yet: once is enough, and tests starting together
/// should not all queue up behind the same drops.
static SWEPT: AtomicBool = AtomicBool::new(false);

/// The admin URL from `PARLEY_TEST_POSTGRES_URL`, or `None` (with a note on stderr) when unset.
pub fn admin_url() -> Option<String> {
    match std::env::var(TEST_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipped: set {TEST_URL_VAR} to run the PostgreSQL tests");
            None
        }
    }
}

/// Creates a new empty database on the server of `admin_url` and returns its URL. The first call
/// in a process also drops test databases more than a quarter of an hour old.
pub async fn fresh_database(admin_url: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .context("connecting to the PostgreSQL test server")?;
    let conn = tokio::spawn(connection);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("reading the clock")?;
    if !SWEPT.swap(true, Ordering::Relaxed) {
        drop_leftovers(&client, now).await;
    }
    let name = format!(
        "{PREFIX}{}_{}",
        now.as_secs(),
        uuid::Uuid::now_v7().simple()
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .with_context(|| format!("creating database {name}"))?;
    drop(client);
    let _ = conn.await;
    with_database(admin_url, &name)
}

async fn drop_leftovers(client: &tokio_postgres::Client, now: Duration) {
    let Ok(rows) = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'parley\\_t\\_%'",
            &[],
        )
        .await
    else {
        return;
    };
    let cutoff = now.saturating_sub(LEFTOVER_AGE).as_secs();
    for row in rows {
        let Ok(name) = row.try_get::<_, String>(0) else {
            continue;
        };
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|c| c < cutoff) {
            // Another run may be dropping it at the same moment; either way it goes.
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = client.batch_execute(&sql).await {
                tracing::debug!(database = %name, error = %e, "could not drop a leftover test database");
            }
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let Some(scheme_end) = url.find("://") else {
        bail!("{TEST_URL_VAR} must be a postgres:// URL");
    };
    let after = scheme_end + 3;
    let (base, query) = match url[after..].find('?') {
        Some(q) => url.split_at(after + q),
        None => (url, ""),
    };
    let authority_end = base[after..].find('/').map_or(base.len(), |i| after + i);
    Ok(format!("{}/{name}{query}", &base[..authority_end]))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        let cases = [
            ("postgres://u@h:5432/test", "postgres://u@h:5432/db"),
            ("postgres://u@h", "postgres://u@h/db"),
            (
                "postgresql://u:p@h/x?sslmode=disable",
                "postgresql://u:p@h/db?sslmode=disable",
            ),
            (
                "postgres://u@h?application_name=a",
                "postgres://u@h/db?application_name=a",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "db").ok().as_deref(), Some(want));
        }
    }
}
