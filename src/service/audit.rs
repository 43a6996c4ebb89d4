//! The audit log, newest first.

use super::{encode_cursor, Listing, Page, Result, DEFAULT_LIMIT};
use crate::store::{audit, Connection};

pub use crate::store::audit::AuditRow;

/// A page of the log, newest first (`DEFAULT_LIMIT` entries when no limit
/// is given: the log only grows).
pub fn list(db: &mut Connection, page: &Page) -> Result<Listing<AuditRow>> {
    let limit = page.checked_limit()?.unwrap_or(DEFAULT_LIMIT);
    let before = page
        .after()?
        .map(|a| a.parse::<i64>().map_err(|_| super::bad_cursor()))
        .transpose()?;
    let mut rows = audit::list(db, before, i64::from(limit) + 1)?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(&r.id.to_string()))
    } else {
        None
    };
    Ok(Listing {
        items: rows,
        next_cursor,
    })
}
