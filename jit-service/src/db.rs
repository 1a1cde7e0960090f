//! Storage: one store over two real backends. sqlx's `any` driver runs the same SQL (one
//! migration set, `$n` placeholders, BIGINT/TEXT columns) on the embedded SQLite (the default,
//! a file in the working directory) and on PostgreSQL (several replicas of one deployment).
//!
//! Writes go through [`Store::write`], a transaction that serialises with every other writer
//! on the rows it touches: on PostgreSQL by row locks (`FOR UPDATE`, see [`Write::lock`]), on
//! SQLite by `BEGIN IMMEDIATE` (the database's single writer lock, shared with other
//! processes on the same file) plus an in-process mutex so this process's own writers queue
//! instead of spinning on `SQLITE_BUSY`.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The migrations, in order of version; each runs once, recorded in `schema_migrations`.
/// Versions may have gaps (a version reserved by work not merged yet): each missing version
/// is applied on its own, whatever the versions around it.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "provisioning", include_str!("../migrations/0002_provisioning.sql")),
    (3, "aws_login", include_str!("../migrations/0003_aws_login.sql")),
    (4, "onboarding", include_str!("../migrations/0004_onboarding.sql")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    write_lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish()
    }
}

/// A write transaction; commit it or it rolls back when dropped.
pub struct Write {
    pub tx: Transaction<'static, Any>,
    _guard: Option<OwnedMutexGuard<()>>,
    backend: Backend,
}

impl Write {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Serialise one-time set-up (the first admin) across processes: an advisory lock on
    /// PostgreSQL until commit; SQLite's write lock already covers it.
    pub async fn bootstrap_lock(&mut self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7341002)").execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// `" FOR UPDATE"` on PostgreSQL (row lock until commit), nothing on SQLite (where the
    /// whole database is already locked for writing).
    pub fn lock(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }
}

/// The database URL for a `--database` value: a `sqlite:`/`postgres:` URL, or a file path.
pub fn normalise_url(database: &str) -> String {
    if database.starts_with("sqlite:") || database.starts_with("postgres://") || database.starts_with("postgresql://") {
        database.to_string()
    } else {
        format!("sqlite://{database}")
    }
}

impl Store {
    /// Connect and run the migrations. SQLite files are created when missing.
    pub async fn connect(database: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let url = normalise_url(database);
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url,
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        options = match backend {
            Backend::Sqlite => options.max_connections(4).after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL: readers never wait for the writer; busy_timeout: another process
                    // (`iam-jit token create` on the server host) waits instead of failing.
                    sqlx::raw_sql(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options.max_connections(16),
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database `{}`: {e}", redact(&url)))?;
        let store = Store { pool, backend, write_lock: Arc::new(Mutex::new(())) };
        store.migrate().await?;
        Ok(store)
    }

    /// Start a write transaction (see the module docs for how writers serialise).
    pub async fn write(&self) -> Result<Write, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let guard = Arc::clone(&self.write_lock).lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Write { tx, _guard: Some(guard), backend: self.backend })
            }
            Backend::Postgres => {
                let tx = self.pool.begin().await?;
                Ok(Write { tx, _guard: None, backend: self.backend })
            }
        }
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        if self.backend == Backend::Postgres {
            // Replicas starting together: one migrates, the others wait here.
            sqlx::query("SELECT pg_advisory_xact_lock(7341001)").execute(&mut *w.tx).await?;
        }
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *w.tx)
        .await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&mut *w.tx)
            .await?
            .iter()
            .map(|r| r.get::<i64, _>(0))
            .collect();
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            sqlx::raw_sql(AssertSqlSafe(*sql))
                .execute(&mut *w.tx)
                .await
                .map_err(|e| anyhow::anyhow!("migration {version} ({name}) failed: {e}"))?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(*version)
                .bind(*name)
                .bind(crate::now_ms())
                .execute(&mut *w.tx)
                .await?;
        }
        if let Some(max) = applied.iter().max() {
            let known = MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0);
            if *max > known {
                anyhow::bail!(
                    "the database schema is version {max}, newer than this iam-jit ({known}): upgrade iam-jit"
                );
            }
        }
        w.commit().await?;
        Ok(())
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await.is_ok()
    }
}

/// Hide the password of a database URL in messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Read an optional i64 column.
pub fn opt_i64(row: &AnyRow, col: &str) -> Option<i64> {
    row.try_get::<Option<i64>, _>(col).ok().flatten()
}

/// Read an optional text column.
pub fn opt_str(row: &AnyRow, col: &str) -> Option<String> {
    row.try_get::<Option<String>, _>(col).ok().flatten()
}
