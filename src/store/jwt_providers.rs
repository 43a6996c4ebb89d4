//! JWT providers: a JWKS URL and the audience and issuer tokens must carry.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::Connection as _;
use uuid::Uuid;

use super::schema::jwt_providers;
use super::{check_name, unique, Connection, Result, StoreError};

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

pub fn add(
    conn: &mut Connection,
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
        .get_result(&mut conn.0)
        .map_err(|e| unique(e, || format!("a JWT provider named {name} already exists")))
}

pub fn get(conn: &mut Connection, name: &str) -> Result<ProviderRow> {
    named(&mut conn.0, name)
}

pub(super) fn named(conn: &mut PgConnection, name: &str) -> Result<ProviderRow> {
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

pub fn list(conn: &mut Connection) -> Result<Vec<ProviderRow>> {
    all(&mut conn.0)
}

pub(super) fn all(conn: &mut PgConnection) -> Result<Vec<ProviderRow>> {
    Ok(jwt_providers::table
        .order(jwt_providers::name)
        .select(ProviderRow::as_select())
        .load(conn)?)
}

/// Removes a provider. Notifications it secured lose it; one left with no
/// provider accepts nothing (fail closed) until it is secured again.
pub fn remove(conn: &mut Connection, name: &str) -> Result<ProviderRow> {
    conn.0.transaction(|conn| {
        let row = named(conn, name)?;
        diesel::delete(jwt_providers::table.find(row.id)).execute(conn)?;
        Ok(row)
    })
}
