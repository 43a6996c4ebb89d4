//! PostgreSQL through Diesel: the only module that talks to the database.
//! The CLI writes the catalog here; the daemon reads it whole
//! ([`load_catalog`]) and is woken by the `eventward_catalog` NOTIFY that
//! triggers on every catalog table send.

pub mod key_usage;
pub mod schema;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::{PgConnection, PgRowByRowLoadingMode};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool as R2d2Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use uuid::Uuid;

use crate::apikey::{self, KeyHash};
use schema::*;

pub type Pool = R2d2Pool<ConnectionManager<PgConnection>>;
pub type Conn = PooledConnection<ConnectionManager<PgConnection>>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Channel the catalog triggers notify (see migrations/).
pub const CATALOG_CHANNEL: &str = "eventward_catalog";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(#[from] DieselError),
    #[error("cannot reach the database: {0}")]
    Unavailable(#[from] diesel::r2d2::PoolError),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A pool that does not connect until first used, so the daemon starts (and
/// serves known keys) while PostgreSQL is down.
pub fn pool(url: &str, size: u32) -> Pool {
    R2d2Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(3))
        .build_unchecked(ConnectionManager::new(url))
}

pub fn connect(url: &str) -> Result<PgConnection> {
    PgConnection::establish(url)
        .map_err(|e| StoreError::Invalid(format!("cannot connect to the database: {e}")))
}

/// Applies pending migrations; returns the versions applied.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
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

/// Maps a unique violation to a message the user can act on; anything else
/// stays a database error. Matches Diesel's error kind, never message text.
fn unique(err: DieselError, message: impl FnOnce() -> String) -> StoreError {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            StoreError::Conflict(message())
        }
        other => StoreError::Db(other),
    }
}

// ---------------------------------------------------------------- workspaces

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = workspaces)]
pub struct Workspace {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub fn create_workspace(conn: &mut PgConnection, slug: &str, name: &str) -> Result<Workspace> {
    check_name("workspace slug", slug)?;
    diesel::insert_into(workspaces::table)
        .values((
            workspaces::id.eq(Uuid::now_v7()),
            workspaces::slug.eq(slug),
            workspaces::name.eq(name),
        ))
        .returning(Workspace::as_returning())
        .get_result(conn)
        .map_err(|e| unique(e, || format!("a workspace named {slug} already exists")))
}

pub fn list_workspaces(conn: &mut PgConnection) -> Result<Vec<Workspace>> {
    Ok(workspaces::table
        .order(workspaces::slug)
        .select(Workspace::as_select())
        .load(conn)?)
}

fn workspace_id(conn: &mut PgConnection, slug: &str) -> Result<Uuid> {
    workspaces::table
        .filter(workspaces::slug.eq(slug))
        .select(workspaces::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "no workspace {slug}; create it with `eventward workspace create {slug}`"
            ))
        })
}

// ------------------------------------------------------------- notifications

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    None,
    ApiKey,
    Jwt,
}

impl Security {
    fn parse(s: &str) -> Security {
        match s {
            "api_key" => Security::ApiKey,
            "jwt" => Security::Jwt,
            _ => Security::None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::ApiKey => "api_key",
            Security::Jwt => "jwt",
        }
    }
}

/// A notification as the CLI shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotificationInfo {
    pub id: Uuid,
    pub workspace: String,
    pub slug: String,
    pub name: String,
    pub security: Security,
    pub api_keys: Vec<String>,
    pub jwt_providers: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Splits `WS/SLUG` and checks both halves.
pub fn parse_path(path: &str) -> Result<(&str, &str)> {
    let (ws, slug) = path.split_once('/').ok_or_else(|| {
        StoreError::Invalid(format!(
            "{path:?} is not WORKSPACE/NOTIFICATION (for example acme/order-shipped)"
        ))
    })?;
    check_name("workspace slug", ws)?;
    check_name("notification slug", slug)?;
    Ok((ws, slug))
}

pub fn create_notification(
    conn: &mut PgConnection,
    ws: &str,
    slug: &str,
    name: &str,
) -> Result<NotificationInfo> {
    conn.transaction(|conn| {
        let workspace = workspace_id(conn, ws)?;
        diesel::insert_into(notifications::table)
            .values((
                notifications::id.eq(Uuid::now_v7()),
                notifications::workspace_id.eq(workspace),
                notifications::slug.eq(slug),
                notifications::name.eq(name),
            ))
            .execute(conn)
            .map_err(|e| unique(e, || format!("notification {ws}/{slug} already exists")))?;
        show_notification(conn, ws, slug)
    })
}

pub type NotificationRow = (
    Uuid,
    String,
    String,
    String,
    String,
    Vec<String>,
    DateTime<Utc>,
);

fn notification_rows(conn: &mut PgConnection, ws: Option<&str>) -> Result<Vec<NotificationRow>> {
    let mut query = notifications::table
        .inner_join(workspaces::table)
        .select((
            notifications::id,
            workspaces::slug,
            notifications::slug,
            notifications::name,
            notifications::security,
            notifications::allowed_origins,
            notifications::created_at,
        ))
        .order((workspaces::slug, notifications::slug))
        .into_boxed();
    if let Some(ws) = ws {
        query = query.filter(workspaces::slug.eq(ws.to_string()));
    }
    Ok(query.load(conn)?)
}

fn with_credentials(
    conn: &mut PgConnection,
    rows: Vec<NotificationRow>,
) -> Result<Vec<NotificationInfo>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let keys: Vec<(Uuid, String)> = notification_api_keys::table
        .inner_join(api_keys::table)
        .filter(notification_api_keys::notification_id.eq_any(&ids))
        // A rolled key in its grace period still works, but it is listed
        // under its successor, which holds the name.
        .filter(api_keys::rolled_to.is_null())
        .select((notification_api_keys::notification_id, api_keys::name))
        .order(api_keys::name)
        .load(conn)?;
    let providers: Vec<(Uuid, String)> = notification_jwt_providers::table
        .inner_join(jwt_providers::table)
        .filter(notification_jwt_providers::notification_id.eq_any(&ids))
        .select((
            notification_jwt_providers::notification_id,
            jwt_providers::name,
        ))
        .order(jwt_providers::name)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, workspace, slug, name, security, allowed_origins, created_at)| NotificationInfo {
                id,
                workspace,
                slug,
                name,
                security: Security::parse(&security),
                api_keys: keys
                    .iter()
                    .filter(|k| k.0 == id)
                    .map(|k| k.1.clone())
                    .collect(),
                jwt_providers: providers
                    .iter()
                    .filter(|p| p.0 == id)
                    .map(|p| p.1.clone())
                    .collect(),
                allowed_origins,
                created_at,
            },
        )
        .collect())
}

pub fn list_notifications(
    conn: &mut PgConnection,
    ws: Option<&str>,
) -> Result<Vec<NotificationInfo>> {
    if let Some(ws) = ws {
        workspace_id(conn, ws)?;
    }
    let rows = notification_rows(conn, ws)?;
    with_credentials(conn, rows)
}

pub fn show_notification(
    conn: &mut PgConnection,
    ws: &str,
    slug: &str,
) -> Result<NotificationInfo> {
    list_notifications(conn, Some(ws))?
        .into_iter()
        .find(|n| n.slug == slug)
        .ok_or_else(|| StoreError::NotFound(format!("no notification {ws}/{slug}")))
}

/// How a notification is to be secured: exactly these credentials.
pub enum Securing<'a> {
    ApiKeys(&'a [String]),
    Jwt {
        providers: &'a [String],
        allowed_origins: &'a [String],
    },
}

pub fn secure_notification(
    conn: &mut PgConnection,
    ws: &str,
    slug: &str,
    securing: Securing<'_>,
) -> Result<NotificationInfo> {
    conn.transaction(|conn| {
        let id = show_notification(conn, ws, slug)?.id;
        diesel::delete(
            notification_api_keys::table.filter(notification_api_keys::notification_id.eq(id)),
        )
        .execute(conn)?;
        diesel::delete(
            notification_jwt_providers::table
                .filter(notification_jwt_providers::notification_id.eq(id)),
        )
        .execute(conn)?;
        let (security, origins) = match securing {
            Securing::ApiKeys(names) => {
                for name in names {
                    for key in keys_named(conn, name)? {
                        diesel::insert_into(notification_api_keys::table)
                            .values((
                                notification_api_keys::notification_id.eq(id),
                                notification_api_keys::api_key_id.eq(key),
                            ))
                            .on_conflict_do_nothing()
                            .execute(conn)?;
                    }
                }
                (Security::ApiKey, Vec::new())
            }
            Securing::Jwt {
                providers,
                allowed_origins,
            } => {
                for name in providers {
                    let provider = provider(conn, name)?;
                    diesel::insert_into(notification_jwt_providers::table)
                        .values((
                            notification_jwt_providers::notification_id.eq(id),
                            notification_jwt_providers::provider_id.eq(provider.id),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)?;
                }
                for origin in allowed_origins {
                    check_origin(origin)?;
                }
                (Security::Jwt, allowed_origins.to_vec())
            }
        };
        diesel::update(notifications::table.find(id))
            .set((
                notifications::security.eq(security.as_str()),
                notifications::allowed_origins.eq(origins),
            ))
            .execute(conn)?;
        show_notification(conn, ws, slug)
    })
}

/// An origin as browsers send it: scheme, host and optional port, nothing else.
fn check_origin(origin: &str) -> Result<()> {
    let parsed = url::Url::parse(origin).ok();
    let ok = parsed.as_ref().is_some_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.has_host()
            && u.origin().ascii_serialization() == origin
    });
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "allowed origin {origin:?} must be scheme://host[:port] with no path or trailing slash, \
             for example https://app.example.com"
        )))
    }
}

// ------------------------------------------------------------------ API keys

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub key_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub rolled_to: Option<Uuid>,
}

/// What `key create` and `key roll` return: the only time the secret exists
/// outside the caller's hands.
pub struct IssuedKey {
    pub row: ApiKeyRow,
    pub secret: String,
}

fn current_key(conn: &mut PgConnection, name: &str) -> Result<ApiKeyRow> {
    api_keys::table
        .filter(api_keys::name.eq(name))
        .filter(api_keys::revoked_at.is_null())
        .filter(api_keys::rolled_to.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "no API key named {name}; `eventward key list` shows the keys"
            ))
        })
}

/// A name stands for its current key and any rolled predecessor still in
/// its grace period: securing a notification with the name keeps those
/// working until the grace period ends, as the roll promised.
fn keys_named(conn: &mut PgConnection, name: &str) -> Result<Vec<Uuid>> {
    let current = current_key(conn, name)?;
    let mut ids: Vec<Uuid> = api_keys::table
        .filter(api_keys::name.eq(name))
        .filter(api_keys::revoked_at.is_null())
        .filter(api_keys::rolled_to.is_not_null())
        .filter(api_keys::expires_at.gt(Utc::now()))
        .select(api_keys::id)
        .load(conn)?;
    ids.push(current.id);
    Ok(ids)
}

fn insert_key(
    conn: &mut PgConnection,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<IssuedKey> {
    let key = apikey::generate();
    let row = diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(Uuid::now_v7()),
            api_keys::name.eq(name),
            api_keys::prefix.eq(&key.prefix),
            api_keys::key_hash.eq(key.hash.as_slice()),
            api_keys::expires_at.eq(expires_at),
        ))
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .map_err(|e| unique(e, || format!("a key named {name} already exists")))?;
    Ok(IssuedKey {
        row,
        secret: key.secret,
    })
}

pub fn create_key(
    conn: &mut PgConnection,
    name: &str,
    expires_in: Option<Duration>,
) -> Result<IssuedKey> {
    check_name("key name", name)?;
    let expires_at = expires_in.map(|d| Utc::now() + d);
    insert_key(conn, name, expires_at)
}

pub fn list_keys(conn: &mut PgConnection) -> Result<Vec<ApiKeyRow>> {
    Ok(api_keys::table
        .order((api_keys::name, api_keys::created_at.desc()))
        .select(ApiKeyRow::as_select())
        .load(conn)?)
}

/// Revokes the key that holds `name` and any rolled predecessor still in its
/// grace period: after a revoke, nothing issued under that name works.
pub fn revoke_key(conn: &mut PgConnection, name: &str) -> Result<Vec<ApiKeyRow>> {
    conn.transaction(|conn| {
        current_key(conn, name)?;
        Ok(diesel::update(
            api_keys::table
                .filter(api_keys::name.eq(name))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(Utc::now()))
        .returning(ApiKeyRow::as_returning())
        .get_results(conn)?)
    })
}

/// Issues a new key under the same name, accepted wherever the old one was;
/// the old key keeps working until `grace` ends (or its own expiry, if sooner).
/// The new key gets the same lifetime the old one was created with.
pub fn roll_key(conn: &mut PgConnection, name: &str, grace: Duration) -> Result<IssuedKey> {
    conn.transaction(|conn| {
        let old = current_key(conn, name)?;
        let now = Utc::now();
        let lifetime = old.expires_at.map(|e| e - old.created_at);
        let grace_end = now + grace;
        // The name belongs to one current key (partial unique index): the new
        // key is inserted under a name no user can choose ('~' is not allowed),
        // the old key is marked rolled, then the new key takes the name.
        let issued = insert_key(conn, &format!("{name}~rolling"), lifetime.map(|l| now + l))?;
        diesel::update(api_keys::table.find(old.id))
            .set((
                api_keys::rolled_to.eq(issued.row.id),
                api_keys::expires_at.eq(old.expires_at.map_or(grace_end, |e| e.min(grace_end))),
            ))
            .execute(conn)?;
        let row = diesel::update(api_keys::table.find(issued.row.id))
            .set(api_keys::name.eq(name))
            .returning(ApiKeyRow::as_returning())
            .get_result(conn)?;
        diesel::sql_query(
            "INSERT INTO notification_api_keys (notification_id, api_key_id) \
             SELECT notification_id, $1 FROM notification_api_keys WHERE api_key_id = $2",
        )
        .bind::<diesel::sql_types::Uuid, _>(issued.row.id)
        .bind::<diesel::sql_types::Uuid, _>(old.id)
        .execute(conn)?;
        Ok(IssuedKey {
            row,
            secret: issued.secret,
        })
    })
}

// ------------------------------------------------------------- JWT providers

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = jwt_providers)]
pub struct ProviderRow {
    pub id: Uuid,
    pub name: String,
    pub jwks_url: String,
    pub audience: Option<String>,
    pub issuer: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub fn add_provider(
    conn: &mut PgConnection,
    name: &str,
    jwks_url: &str,
    audience: Option<&str>,
    issuer: Option<&str>,
) -> Result<ProviderRow> {
    check_name("provider name", name)?;
    diesel::insert_into(jwt_providers::table)
        .values((
            jwt_providers::id.eq(Uuid::now_v7()),
            jwt_providers::name.eq(name),
            jwt_providers::jwks_url.eq(jwks_url),
            jwt_providers::audience.eq(audience),
            jwt_providers::issuer.eq(issuer),
        ))
        .returning(ProviderRow::as_returning())
        .get_result(conn)
        .map_err(|e| unique(e, || format!("a JWT provider named {name} already exists")))
}

pub fn provider(conn: &mut PgConnection, name: &str) -> Result<ProviderRow> {
    jwt_providers::table
        .filter(jwt_providers::name.eq(name))
        .select(ProviderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "no JWT provider named {name}; `eventward provider list` shows the providers"
            ))
        })
}

pub fn list_providers(conn: &mut PgConnection) -> Result<Vec<ProviderRow>> {
    Ok(jwt_providers::table
        .order(jwt_providers::name)
        .select(ProviderRow::as_select())
        .load(conn)?)
}

/// Removes a provider. Notifications it secured lose it; one left with no
/// provider accepts nothing (fail closed) until it is secured again.
pub fn remove_provider(conn: &mut PgConnection, name: &str) -> Result<ProviderRow> {
    conn.transaction(|conn| {
        let row = provider(conn, name)?;
        diesel::delete(jwt_providers::table.find(row.id)).execute(conn)?;
        Ok(row)
    })
}

// ------------------------------------------------------------------ catalog

/// An API key as the daemon needs it: id, name, hash, expiry, revocation.
pub type KeyRow = (
    Uuid,
    String,
    KeyHash,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// The rest of the catalog, read in the same snapshot as the keys.
pub struct CatalogRows {
    pub endpoints: Vec<NotificationRow>,
    pub endpoint_keys: Vec<(Uuid, Uuid)>,
    pub providers: Vec<ProviderRow>,
    pub endpoint_providers: Vec<(Uuid, Uuid)>,
}

/// Reads the whole catalog in one consistent snapshot. API keys (there may be
/// hundreds of thousands) are streamed to `on_key` one row at a time, so no
/// full result set or intermediate list of them is ever held in memory.
pub fn load_catalog(
    conn: &mut PgConnection,
    mut on_key: impl FnMut(KeyRow),
) -> Result<CatalogRows> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            let keys = api_keys::table
                .select((
                    api_keys::id,
                    api_keys::name,
                    api_keys::key_hash,
                    api_keys::expires_at,
                    api_keys::revoked_at,
                ))
                .load_iter::<(
                    Uuid,
                    String,
                    Vec<u8>,
                    Option<DateTime<Utc>>,
                    Option<DateTime<Utc>>,
                ), PgRowByRowLoadingMode>(conn)?;
            for row in keys {
                let (id, name, hash, expires_at, revoked_at) = row?;
                // The CHECK constraint guarantees 32 bytes.
                if let Ok(hash) = KeyHash::try_from(hash.as_slice()) {
                    on_key((id, name, hash, expires_at, revoked_at));
                }
            }
            Ok(CatalogRows {
                endpoints: notification_rows(conn, None)?,
                endpoint_keys: notification_api_keys::table
                    .select((
                        notification_api_keys::notification_id,
                        notification_api_keys::api_key_id,
                    ))
                    .load(conn)?,
                providers: list_providers(conn)?,
                endpoint_providers: notification_jwt_providers::table
                    .select((
                        notification_jwt_providers::notification_id,
                        notification_jwt_providers::provider_id,
                    ))
                    .load(conn)?,
            })
        })
}

/// Subscribes this connection to catalog changes.
pub fn listen(conn: &mut PgConnection) -> Result<()> {
    diesel::sql_query(format!("LISTEN {CATALOG_CHANNEL}")).execute(conn)?;
    Ok(())
}

/// Drains pending notifications; true if there was at least one.
pub fn drain_notifications(conn: &mut PgConnection) -> Result<bool> {
    let mut any = false;
    for n in conn.notifications_iter() {
        n?;
        any = true;
    }
    Ok(any)
}

/// A cheap round trip that also tells whether the LISTEN connection is alive.
pub fn ping(conn: &mut PgConnection) -> Result<()> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}
