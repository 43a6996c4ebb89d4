//! Workspaces: create, list, show.

use serde_json::json;

use super::{audit, change, paginate, Actor, Listing, Page, Result, ServiceError};
use crate::store::{self, workspaces, Connection};

pub use crate::store::workspaces::Workspace;

/// Creates workspace `slug`, named `name` (the slug when `None`).
pub fn create(
    db: &mut Connection,
    who: &Actor,
    slug: &str,
    name: Option<&str>,
) -> Result<Workspace> {
    let name = name.unwrap_or(slug);
    change(db, |db| {
        let w = workspaces::create(db, slug, name)?;
        audit(
            db,
            who,
            "workspace.create",
            "workspace",
            &w.slug,
            json!({"name": w.name}),
        )?;
        Ok(w)
    })
}

/// Workspaces by slug.
pub fn list(db: &mut Connection, page: &Page) -> Result<Listing<Workspace>> {
    paginate(workspaces::list(db)?, |w| w.slug.clone(), page)
}

pub fn get(db: &mut Connection, slug: &str) -> Result<Workspace> {
    store::check_name("workspace slug", slug)?;
    workspaces::list(db)?
        .into_iter()
        .find(|w| w.slug == slug)
        .ok_or_else(|| ServiceError::NotFound(format!("no workspace {slug}")))
}
