//! JWT providers: a JWKS URL, the audiences and issuer tokens must carry, and
//! the claim that names a token's sender.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::Connection as _;
use uuid::Uuid;

use super::schema::jwt_providers;
use super::{check_name, unique, Connection, Result, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = jwt_providers)]
pub struct ProviderRow {
    pub id: Uuid,
    pub name: String,
    pub jwks_url: String,
    pub issuer: Option<String>,
    pub created_at: DateTime<Utc>,
    /// A token's `aud` must hold one of these; empty: `aud` is not checked.
    pub audiences: Vec<String>,
    /// The claim whose value is the sender (`authprincipal`); `sub` by default.
    pub principal_claim: String,
}

/// The principal claim when none is configured.
pub const DEFAULT_PRINCIPAL_CLAIM: &str = "sub";

/// A provider to add.
#[derive(Debug, Clone)]
pub struct NewProvider<'a> {
    pub name: &'a str,
    pub jwks_url: &'a str,
    pub audiences: &'a [String],
    pub issuer: Option<&'a str>,
    pub principal_claim: &'a str,
}

/// A principal claim is a claim name: 1 to 128 printable ASCII characters
/// without spaces (namespaced claims such as `https://acme.test/uid` are
/// fine), and not one of the claims that never name a sender (the time
/// claims, `iss` and `aud`, which every token of the provider shares).
pub fn check_principal_claim(claim: &str) -> Result<()> {
    if claim.is_empty() || claim.len() > 128 || !claim.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StoreError::Invalid(format!(
            "the principal claim {claim:?} is not a claim name (1 to 128 printable ASCII \
             characters, no spaces), e.g. sub, client_id or azp"
        )));
    }
    if matches!(claim, "exp" | "nbf" | "iat" | "iss" | "aud") {
        return Err(StoreError::Invalid(format!(
            "the principal claim cannot be {claim}: it does not name who sent a token; \
             use sub (the default), client_id or azp"
        )));
    }
    Ok(())
}

/// The audiences and the issuer a provider's tokens must carry: each
/// audience non-empty, neither holding a control character.
pub fn check_claims(audiences: &[String], issuer: Option<&str>) -> Result<()> {
    for a in audiences {
        if a.is_empty() {
            return Err(StoreError::Invalid("an audience cannot be empty".into()));
        }
        super::check_text("the audience", a)?;
    }
    if let Some(issuer) = issuer {
        super::check_text("the issuer", issuer)?;
    }
    Ok(())
}

pub fn add(conn: &mut Connection, new: &NewProvider<'_>) -> Result<ProviderRow> {
    let name = new.name;
    check_name("provider name", name)?;
    check_principal_claim(new.principal_claim)?;
    check_claims(new.audiences, new.issuer)?;
    let mut audiences: Vec<String> = Vec::with_capacity(new.audiences.len());
    for a in new.audiences {
        if !audiences.contains(a) {
            audiences.push(a.clone());
        }
    }
    diesel::insert_into(jwt_providers::table)
        .values((
            jwt_providers::id.eq(Uuid::now_v7()),
            jwt_providers::name.eq(name),
            jwt_providers::jwks_url.eq(new.jwks_url),
            jwt_providers::audiences.eq(&audiences),
            jwt_providers::issuer.eq(new.issuer),
            jwt_providers::principal_claim.eq(new.principal_claim),
        ))
        .returning(ProviderRow::as_returning())
        .get_result(conn.pg())
        .map_err(|e| unique(e, || format!("a JWT provider named {name} already exists")))
}

pub fn get(conn: &mut Connection, name: &str) -> Result<ProviderRow> {
    named(conn.pg(), name)
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
    all(conn.pg())
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
    conn.pg().transaction(|conn| {
        let row = named(conn, name)?;
        diesel::delete(jwt_providers::table.find(row.id)).execute(conn)?;
        Ok(row)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_claims() {
        for ok in [
            "sub",
            "client_id",
            "azp",
            "oid",
            "https://acme.test/uid",
            "x",
        ] {
            assert!(check_principal_claim(ok).is_ok(), "{ok}");
        }
        let long = "c".repeat(129);
        for bad in [
            "",
            "client id",
            "é",
            "a\n",
            &long,
            "exp",
            "iat",
            "nbf",
            "iss",
            "aud",
        ] {
            assert!(check_principal_claim(bad).is_err(), "{bad:?}");
        }
    }
}
