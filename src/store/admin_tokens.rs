//! Admin tokens: `evwa_…`, only their SHA-256 stored, a name (unique among
//! live tokens) and a scope, `read` or `admin`. Looked up here on every admin
//! request, so a revoke is effective at once on every instance.

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::admin_tokens;
use super::{check_name, unique, Connection, Result, StoreError};
use crate::apikey;

/// What an admin token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Look only.
    Read,
    /// Look and change.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_tokens)]
struct Raw {
    id: Uuid,
    name: String,
    scope: String,
    prefix: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

/// An admin token as listed (never its secret or hash).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AdminTokenRow {
    pub id: Uuid,
    pub name: String,
    pub scope: Scope,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<Raw> for AdminTokenRow {
    fn from(r: Raw) -> AdminTokenRow {
        AdminTokenRow {
            id: r.id,
            name: r.name,
            // The CHECK constraint allows 'read' and 'admin' only; anything
            // else would be read as the lesser scope.
            scope: Scope::parse(&r.scope).unwrap_or(Scope::Read),
            prefix: r.prefix,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A new token: the only time its secret exists outside the caller's hands.
pub struct IssuedToken {
    pub row: AdminTokenRow,
    pub secret: String,
}

pub fn create(conn: &mut Connection, name: &str, scope: Scope) -> Result<IssuedToken> {
    check_name("admin token name", name)?;
    let token = apikey::generate_with(apikey::ADMIN_PREFIX);
    let raw = diesel::insert_into(admin_tokens::table)
        .values((
            admin_tokens::id.eq(Uuid::now_v7()),
            admin_tokens::name.eq(name),
            admin_tokens::scope.eq(scope.as_str()),
            admin_tokens::prefix.eq(&token.prefix),
            admin_tokens::token_hash.eq(token.hash.as_slice()),
        ))
        .returning(Raw::as_returning())
        .get_result(conn.pg())
        .map_err(|e| unique(e, || format!("an admin token named {name} already exists")))?;
    Ok(IssuedToken {
        row: raw.into(),
        secret: token.secret,
    })
}

/// Every token, live ones and revoked ones, by name then age.
pub fn list(conn: &mut Connection) -> Result<Vec<AdminTokenRow>> {
    let rows: Vec<Raw> = admin_tokens::table
        .order((admin_tokens::name, admin_tokens::id))
        .select(Raw::as_select())
        .load(conn.pg())?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Revokes the live token named `name` (the database's now).
/// The token's console sessions end with it.
pub fn revoke(conn: &mut Connection, name: &str) -> Result<AdminTokenRow> {
    let row: AdminTokenRow = diesel::update(
        admin_tokens::table
            .filter(admin_tokens::name.eq(name))
            .filter(admin_tokens::revoked_at.is_null()),
    )
    .set(admin_tokens::revoked_at.eq(now))
    .returning(Raw::as_returning())
    .get_result::<Raw>(conn.pg())
    .optional()?
    .map(Into::into)
    .ok_or_else(|| {
        StoreError::NotFound(format!(
            "no live admin token named {name}; `eventward admin-token list` shows them"
        ))
    })?;
    super::console_sessions::revoke_for_token(conn.pg(), row.id)?;
    Ok(row)
}

/// The live (not revoked) token whose SHA-256 is `hash`, and marks it used
/// (at most once a minute, so a busy script does not write on every call).
pub fn authenticate(
    conn: &mut Connection,
    hash: &apikey::KeyHash,
) -> Result<Option<AdminTokenRow>> {
    let found: Option<Raw> = admin_tokens::table
        .filter(admin_tokens::token_hash.eq(hash.as_slice()))
        .filter(admin_tokens::revoked_at.is_null())
        .select(Raw::as_select())
        .first(conn.pg())
        .optional()?;
    let Some(raw) = found else {
        return Ok(None);
    };
    diesel::sql_query(
        "UPDATE admin_tokens SET last_used_at = now() WHERE id = $1 \
         AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
    )
    .bind::<diesel::sql_types::Uuid, _>(raw.id)
    .execute(conn.pg())?;
    Ok(Some(raw.into()))
}
