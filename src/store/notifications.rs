//! Notifications, and which credentials each accepts (`notification secure`).
//!
//! The `security` column (`none`, `api_key`, `jwt`) is read in one place,
//! [`rows`], as an `Option<AuthMethod>` (`None`: not secured, accepts
//! nothing), and written in one place, [`secure`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::Connection as _;
use uuid::Uuid;

use super::schema::{
    api_keys, jwt_providers, notification_api_keys, notification_jwt_providers, notifications,
    workspaces,
};
use super::{api_keys as keys, check_name, jwt_providers as providers, unique, workspaces as ws};
use super::{Connection, Result, StoreError};
use crate::catalog::AuthMethod;

/// How the `security` column spells "not secured".
const NOT_SECURED: &str = "none";

/// A notification as the CLI shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NotificationInfo {
    pub id: Uuid,
    pub workspace: String,
    pub slug: String,
    pub name: String,
    /// `None`: not secured. Shown as `"none"`, `"api_key"` or `"jwt"`.
    #[serde(serialize_with = "security_json")]
    #[schema(value_type = String, example = "api_key")]
    pub security: Option<AuthMethod>,
    pub api_keys: Vec<String>,
    pub jwt_providers: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn security_json<S: serde::Serializer>(
    security: &Option<AuthMethod>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(security.map_or(NOT_SECURED, AuthMethod::as_str))
}

/// A notification's own row, as both the CLI listing and the daemon's
/// catalog load read it.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: Uuid,
    pub workspace: String,
    pub slug: String,
    pub name: String,
    pub security: Option<AuthMethod>,
    pub allowed_origins: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A notification row as selected, before its `security` is parsed.
type RawRow = (
    Uuid,
    String,
    String,
    String,
    String,
    Vec<String>,
    DateTime<Utc>,
);

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

pub fn create(conn: &mut Connection, ws: &str, slug: &str, name: &str) -> Result<NotificationInfo> {
    super::check_text("notification name", name)?;
    conn.pg().transaction(|conn| {
        let workspace = ws::id(conn, ws)?;
        diesel::insert_into(notifications::table)
            .values((
                notifications::id.eq(Uuid::now_v7()),
                notifications::workspace_id.eq(workspace),
                notifications::slug.eq(slug),
                notifications::name.eq(name),
            ))
            .execute(conn)
            .map_err(|e| unique(e, || format!("notification {ws}/{slug} already exists")))?;
        find(conn, ws, slug)
    })
}

/// Every notification (of workspace `ws`, if given), by workspace and slug.
/// The one place the `security` column is parsed.
pub(super) fn rows(conn: &mut PgConnection, ws: Option<&str>) -> Result<Vec<NotificationRow>> {
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
    let rows: Vec<RawRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, workspace, slug, name, security, allowed_origins, created_at)| NotificationRow {
                id,
                workspace,
                slug,
                name,
                // The CHECK constraint allows 'none', 'api_key' and 'jwt' only.
                security: AuthMethod::parse(&security),
                allowed_origins,
                created_at,
            },
        )
        .collect())
}

fn with_credentials(
    conn: &mut PgConnection,
    rows: Vec<NotificationRow>,
) -> Result<Vec<NotificationInfo>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
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
    let named = |of: &[(Uuid, String)], id: Uuid| -> Vec<String> {
        of.iter()
            .filter(|(n, _)| *n == id)
            .map(|(_, name)| name.clone())
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|r| NotificationInfo {
            api_keys: named(&keys, r.id),
            jwt_providers: named(&providers, r.id),
            id: r.id,
            workspace: r.workspace,
            slug: r.slug,
            name: r.name,
            security: r.security,
            allowed_origins: r.allowed_origins,
            created_at: r.created_at,
        })
        .collect())
}

pub fn list(conn: &mut Connection, ws: Option<&str>) -> Result<Vec<NotificationInfo>> {
    all(conn.pg(), ws)
}

fn all(conn: &mut PgConnection, ws: Option<&str>) -> Result<Vec<NotificationInfo>> {
    if let Some(ws) = ws {
        ws::id(conn, ws)?;
    }
    let rows = rows(conn, ws)?;
    with_credentials(conn, rows)
}

pub fn show(conn: &mut Connection, ws: &str, slug: &str) -> Result<NotificationInfo> {
    find(conn.pg(), ws, slug)
}

fn find(conn: &mut PgConnection, ws: &str, slug: &str) -> Result<NotificationInfo> {
    all(conn, Some(ws))?
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

/// Sets exactly which credentials the notification accepts (replaces, does
/// not add).
pub fn secure(
    conn: &mut Connection,
    ws: &str,
    slug: &str,
    securing: Securing<'_>,
) -> Result<NotificationInfo> {
    conn.pg().transaction(|conn| {
        let id = find(conn, ws, slug)?.id;
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
                    for key in keys::named(conn, name)? {
                        diesel::insert_into(notification_api_keys::table)
                            .values((
                                notification_api_keys::notification_id.eq(id),
                                notification_api_keys::api_key_id.eq(key),
                            ))
                            .on_conflict_do_nothing()
                            .execute(conn)?;
                    }
                }
                (AuthMethod::ApiKey, Vec::new())
            }
            Securing::Jwt {
                providers,
                allowed_origins,
            } => {
                for name in providers {
                    let provider = providers::named(conn, name)?;
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
                (AuthMethod::Jwt, allowed_origins.to_vec())
            }
        };
        diesel::update(notifications::table.find(id))
            .set((
                notifications::security.eq(security.as_str()),
                notifications::allowed_origins.eq(origins),
            ))
            .execute(conn)?;
        find(conn, ws, slug)
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
