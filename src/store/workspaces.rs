//! Workspaces: they group notifications and name the first half of a path.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::workspaces;
use super::{check_name, unique, Connection, Result, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = workspaces)]
pub struct Workspace {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub fn create(conn: &mut Connection, slug: &str, name: &str) -> Result<Workspace> {
    check_name("workspace slug", slug)?;
    super::check_text("workspace name", name)?;
    diesel::insert_into(workspaces::table)
        .values((
            workspaces::id.eq(Uuid::now_v7()),
            workspaces::slug.eq(slug),
            workspaces::name.eq(name),
        ))
        .returning(Workspace::as_returning())
        .get_result(conn.pg())
        .map_err(|e| unique(e, || format!("a workspace named {slug} already exists")))
}

pub fn list(conn: &mut Connection) -> Result<Vec<Workspace>> {
    Ok(workspaces::table
        .order(workspaces::slug)
        .select(Workspace::as_select())
        .load(conn.pg())?)
}

/// The id of the workspace `slug`, or a message saying how to create it.
pub(super) fn id(conn: &mut PgConnection, slug: &str) -> Result<Uuid> {
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
