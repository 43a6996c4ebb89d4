//! The audit log: who changed what, which object, when (the database's
//! clock). Written by the service layer in the same transaction as the
//! change; `detail` never holds a secret.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::audit_log;
use super::{Connection, Result};

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub object_kind: String,
    pub object: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// One entry to write.
pub struct NewEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub object_kind: &'a str,
    pub object: &'a str,
    pub detail: serde_json::Value,
}

pub fn record(conn: &mut Connection, entry: &NewEntry<'_>) -> Result<AuditRow> {
    Ok(diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor.eq(entry.actor),
            audit_log::action.eq(entry.action),
            audit_log::object_kind.eq(entry.object_kind),
            audit_log::object.eq(entry.object),
            audit_log::detail.eq(&entry.detail),
        ))
        .returning(AuditRow::as_returning())
        .get_result(conn.pg())?)
}

/// Newest first: the entries older than `before` (an id from a previous
/// page), at most `limit`.
pub fn list(conn: &mut Connection, before: Option<i64>, limit: i64) -> Result<Vec<AuditRow>> {
    let mut query = audit_log::table
        .order(audit_log::id.desc())
        .select(AuditRow::as_select())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before));
    }
    Ok(query.load(conn.pg())?)
}
