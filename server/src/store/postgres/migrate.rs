//! Numbered migrations, embedded, applied at start in one transaction
//! under an advisory lock: instances starting at once apply each one once
//! (the others wait on the lock, then find nothing to do).

use postgres::Client;

use super::backend;
use crate::store::{StoreError, StoreResult};

pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_devices.sql")),
];

/// The advisory lock's key (one bigint: apart from the two-key [`super::Lock`]s).
const MIGRATION_LOCK: i64 = 0x4175_7468_656e_7471; // "Authentq"

pub(super) fn run(c: &mut Client) -> StoreResult<()> {
    let mut t = c.transaction().map_err(backend)?;
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(backend)?;
    t.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .map_err(backend)?;
    let current: i64 = t
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .map_err(backend)?;
    if let Some((latest, _)) = MIGRATIONS.last()
        && current > *latest
    {
        return Err(StoreError::Backend(format!(
            "the database's schema (version {current}) is newer than this server's ({latest})"
        )));
    }
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        t.batch_execute(sql).map_err(|e| match backend(e) {
            StoreError::Backend(e) => StoreError::Backend(format!("migration {version}: {e}")),
            other => other,
        })?;
        t.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .map_err(backend)?;
        applied.push(*version);
    }
    t.commit().map_err(backend)?;
    for version in applied {
        tracing::info!(version, "applied database migration (PostgreSQL)");
    }
    Ok(())
}
