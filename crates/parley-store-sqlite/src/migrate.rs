//! Schema migrations, embedded in the binary and applied in order on open.

use rusqlite::Connection;

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

pub(crate) fn run(conn: &mut Connection) -> anyhow::Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")?;
    // Every migration not yet recorded, in order: one written on a branch that landed after a
    // later-numbered one still runs.
    let applied: std::collections::HashSet<i64> = conn
        .prepare("SELECT version FROM schema_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, CAST(strftime('%s','now') AS INTEGER) * 1000)",
            [version],
        )?;
        tx.commit()?;
    }
    Ok(())
}
