//! PostgreSQL through Diesel: **the only module that speaks SQL.** Callers
//! get plain functions and types; no Diesel type leaves this module.
//!
//! - [`Pool`] — the daemon's connection pool (idempotency records);
//! - [`Connection`] — one connection, for the CLI's short transactions;
//! - [`catalog::Listener`] — the daemon's LISTEN connection and catalog load.
//!
//! One file per table or concern: [`workspaces`], [`notifications`],
//! [`api_keys`], [`jwt_providers`], [`idempotency`], [`catalog`],
//! [`admin_tokens`], [`audit`], [`console_sessions`] (links and sessions). Every time
//! that decides access (`created_at`, `expires_at`, `revoked_at`, the end of
//! a roll's grace period) is the database's `now()`, never a client's clock.

pub mod admin_tokens;
pub mod api_keys;
pub mod audit;
pub mod catalog;
pub mod console_sessions;
pub mod idempotency;
pub mod jwt_providers;
pub mod key_usage;
pub mod notifications;
pub mod workspaces;

mod schema;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::data_types::PgInterval;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool as R2d2Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection as _;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(#[from] DbError),
    #[error("cannot reach the database: {0}")]
    Unavailable(#[from] PoolError),
}

/// A database error, opaque outside the store.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DbError(DieselError);

/// No connection from the pool in time, opaque outside the store.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PoolError(diesel::r2d2::PoolError);

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> StoreError {
        StoreError::Db(DbError(e))
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> StoreError {
        StoreError::Unavailable(PoolError(e))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The daemon's connection pool; cheap to clone.
#[derive(Clone)]
pub struct Pool(R2d2Pool<ConnectionManager<PgConnection>>);

impl Pool {
    fn get(&self) -> Result<PooledConnection<ConnectionManager<PgConnection>>> {
        Ok(self.0.get()?)
    }
}

/// A pool that does not connect until first used, so the daemon starts (and
/// serves known keys) while PostgreSQL is down.
pub fn pool(url: &str, size: u32) -> Pool {
    Pool(
        R2d2Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(3))
            .build_unchecked(ConnectionManager::new(url)),
    )
}

/// One connection: the CLI's own, or one taken from the daemon's [`Pool`]
/// for an admin request. Every service operation is a short transaction on it.
/// Opaque: no Diesel type leaves the store.
pub struct Connection(Conn);

enum Conn {
    Own(PgConnection),
    Pooled(PooledConnection<ConnectionManager<PgConnection>>),
}

impl Connection {
    fn pg(&mut self) -> &mut PgConnection {
        match &mut self.0 {
            Conn::Own(c) => c,
            Conn::Pooled(c) => c,
        }
    }
}

pub fn connect(url: &str) -> Result<Connection> {
    establish(url).map(|c| Connection(Conn::Own(c)))
}

impl Pool {
    /// A connection from the pool (blocks up to 3 s; run it off the async workers).
    pub fn connection(&self) -> Result<Connection> {
        Ok(Connection(Conn::Pooled(self.get()?)))
    }
}

/// Runs `f` in one transaction on `conn`: committed when it returns `Ok`,
/// rolled back when it returns `Err`. Store functions called inside that open
/// their own transaction get a savepoint, so a change and its audit row
/// commit together or not at all.
pub fn transaction<T, E>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    E: From<StoreError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    AnsiTransactionManager::begin_transaction(conn.pg()).map_err(StoreError::from)?;
    match f(conn) {
        Ok(value) => {
            if let Err(e) = AnsiTransactionManager::commit_transaction(conn.pg()) {
                let _ = AnsiTransactionManager::rollback_transaction(conn.pg());
                return Err(StoreError::from(e).into());
            }
            Ok(value)
        }
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(conn.pg());
            Err(e)
        }
    }
}

fn establish(url: &str) -> Result<PgConnection> {
    PgConnection::establish(url)
        .map_err(|e| StoreError::Invalid(format!("cannot connect to the database: {e}")))
}

/// Applies pending migrations; returns the versions applied.
pub fn migrate(conn: &mut Connection) -> anyhow::Result<Vec<String>> {
    let applied = conn
        .pg()
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// The migrations not applied yet (for `config check`).
pub fn pending_migrations(conn: &mut Connection) -> anyhow::Result<Vec<String>> {
    let pending = conn
        .pg()
        .pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(pending.iter().map(|m| m.name().to_string()).collect())
}

/// The database's clock: the one every access decision is made on.
pub fn now(conn: &mut Connection) -> Result<DateTime<Utc>> {
    Ok(
        diesel::select(diesel::dsl::now.into_sql::<diesel::sql_types::Timestamptz>())
            .get_result(conn.pg())?,
    )
}

/// Slugs and names: `^[a-z0-9][a-z0-9-]{0,62}$`, so a routing key never
/// holds `.`, `*` or `#`.
pub fn check_name(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && value.as_bytes()[0] != b'-';
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{what} {value:?} is not valid: use 1 to 63 characters from a-z, 0-9 and '-', \
             starting with a letter or digit"
        )))
    }
}

/// Free text the catalog stores (display names, audiences, issuers,
/// origins): anything printable, no control characters. PostgreSQL cannot
/// store NUL at all, and a control character in a name only ever serves to
/// forge a line in a log or a terminal.
pub fn check_text(what: &str, value: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} {value:?} contains a control character"
        )));
    }
    Ok(())
}

/// Maps a unique violation to a message the user can act on; anything else
/// stays a database error. Matches Diesel's error kind, never message text.
fn unique(err: DieselError, message: impl FnOnce() -> String) -> StoreError {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            StoreError::Conflict(message())
        }
        other => other.into(),
    }
}

/// A duration as a PostgreSQL interval, to add to the database's `now()`.
fn interval(d: Duration) -> PgInterval {
    PgInterval::from_microseconds(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
