//! Schema migrations, embedded in the binary and applied in order on connect. A session-level
//! advisory lock makes nodes that start together take turns: the first migrates, the rest find it done.

use anyhow::Context;
use deadpool_postgres::Pool;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_channels.sql")),
    (3, include_str!("../migrations/0003_message_meta.sql")),
    (4, include_str!("../migrations/0004_consent.sql")),
    (5, include_str!("../migrations/0005_redaction.sql")),
    (6, include_str!("../migrations/0006_erasure.sql")),
    (7, include_str!("../migrations/0007_data_keys.sql")),
    (8, include_str!("../migrations/0008_sealed_addresses.sql")),
    (9, include_str!("../migrations/0009_resealing.sql")),
    (10, include_str!("../migrations/0010_sealing_pending.sql")),
    (11, include_str!("../migrations/0011_blocked.sql")),
    (12, include_str!("../migrations/0012_seen.sql")),
    (13, include_str!("../migrations/0013_lists.sql")),
    (14, include_str!("../migrations/0014_first_reply.sql")),
    (15, include_str!("../migrations/0015_bots.sql")),
    (16, include_str!("../migrations/0016_survey_age.sql")),
    (17, include_str!("../migrations/0017_access_change.sql")),
    (18, include_str!("../migrations/0018_survey_keys.sql")),
    (19, include_str!("../migrations/0019_nodes.sql")),
    (20, include_str!("../migrations/0020_outbox_by_inbox.sql")),
    (21, include_str!("../migrations/0021_timers.sql")),
    (22, include_str!("../migrations/0022_templates.sql")),
    (23, include_str!("../migrations/0023_auto_replies.sql")),
    (24, include_str!("../migrations/0024_automations.sql")),
    (25, include_str!("../migrations/0025_calls.sql")),
];

/// How many migrations this build knows.
pub const MIGRATION_COUNT: i64 = MIGRATIONS.len() as i64;

/// Advisory-lock key held while migrating ("parley" + "mg").
const MIGRATE_LOCK: i64 = 0x7061_726c_6579_6d67;

pub(crate) async fn run(pool: &Pool) -> anyhow::Result<()> {
    let mut client = pool.get().await.context("connecting to PostgreSQL")?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])
        .await
        .context("waiting for the migration lock")?;
    let result = apply(&mut client).await;
    // Unlock even after a failure; if this fails too, closing the session releases the lock.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK])
        .await;
    if unlocked.is_err() {
        let _ = deadpool_postgres::Object::take(client);
    }
    result
}

async fn apply(client: &mut deadpool_postgres::Object) -> anyhow::Result<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at bigint NOT NULL)",
        )
        .await
        .context("creating schema_migrations")?;
    // Every migration not yet recorded, in order: one written on a branch that landed after a
    // later-numbered one still runs.
    let applied = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.try_get::<_, i64>(0))
        .collect::<Result<std::collections::HashSet<i64>, _>>()?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying migration {version}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, (extract(epoch FROM now()) * 1000)::bigint)",
            &[version],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    Ok(())
}
