//! Admin tokens: create (the secret in the result only), list, revoke.

use serde_json::json;

use super::{audit, change, paginate, Actor, Listing, Page, Result};
use crate::store::admin_tokens;
use crate::store::{self, Connection};

pub use crate::store::admin_tokens::{AdminTokenRow, Scope};

/// A token just created: the only value that holds its secret.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub id: uuid::Uuid,
    pub name: String,
    pub scope: Scope,
    pub prefix: String,
    /// The token itself: shown in this response only.
    pub token: String,
}

pub fn create(db: &mut Connection, who: &Actor, name: &str, scope: Scope) -> Result<IssuedToken> {
    change(db, |db| {
        let issued = admin_tokens::create(db, name, scope)?;
        audit(
            db,
            who,
            "admin_token.create",
            "admin_token",
            name,
            json!({"id": issued.row.id, "scope": scope.as_str(), "prefix": issued.row.prefix}),
        )?;
        Ok(IssuedToken {
            id: issued.row.id,
            name: issued.row.name,
            scope: issued.row.scope,
            prefix: issued.row.prefix,
            token: issued.secret,
        })
    })
}

/// Every token, live and revoked, by name.
pub fn list(db: &mut Connection, page: &Page) -> Result<Listing<AdminTokenRow>> {
    paginate(
        admin_tokens::list(db)?,
        |t| format!("{}/{}", t.name, t.id),
        page,
    )
}

/// Revokes the live token `name`, and its console sessions; refused at once
/// on every instance (admin requests look the token up every time).
pub fn revoke(db: &mut Connection, who: &Actor, name: &str) -> Result<AdminTokenRow> {
    store::check_name("admin token name", name)?;
    change(db, |db| {
        let row = admin_tokens::revoke(db, name)?;
        audit(
            db,
            who,
            "admin_token.revoke",
            "admin_token",
            name,
            json!({"id": row.id}),
        )?;
        Ok(row)
    })
}
