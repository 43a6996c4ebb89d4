//! The service layer: **every operation on the catalog, admin tokens and
//! the audit log, with its rules, in one place**, used by the CLI, the admin
//! API and the console. Callers only print or serialise what it returns.
//!
//! Every change writes its audit row ([`Actor`], action, object, detail —
//! never a secret) in the same transaction as the change. Functions here
//! block on PostgreSQL: the daemon calls them under `web::block` with a
//! connection from [`crate::store::Pool::connection`]. The JWKS check and
//! OpenID discovery are the only network calls, and they are `async`
//! ([`providers::prepare`]), separate from the save ([`providers::add`]).

pub mod admin_tokens;
pub mod audit;
pub mod console;
pub mod keys;
pub mod notifications;
pub mod providers;
pub mod samples;
pub mod workspaces;

use std::fmt;

use serde::Serialize;

use crate::problem::{Code, Problem};
use crate::store::{self, Connection, StoreError};

/// Who makes a change, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The command line, run by this OS user: `cli:<user>`.
    Cli { os_user: String },
    /// The admin API with this admin token: `token:<name>`.
    Token { name: String },
    /// The console, signed in as this token (or link) name: `console:<name>`.
    Console { token_name: String },
}

impl Actor {
    /// The CLI's actor: the OS user running it (`$USER`, else `$LOGNAME`,
    /// else the numeric uid).
    pub fn cli() -> Actor {
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                std::fs::read_to_string("/proc/self/status")
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("Uid:"))
                            .and_then(|l| l.split_whitespace().next().map(|u| format!("uid{u}")))
                    })
                    .unwrap_or_else(|| "unknown".into())
            });
        Actor::Cli { os_user }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names come from the environment or the database; escaped so an
        // audit line is always one line.
        match self {
            Actor::Cli { os_user } => write!(f, "cli:{}", os_user.escape_default()),
            Actor::Token { name } => write!(f, "token:{}", name.escape_default()),
            Actor::Console { token_name } => write!(f, "console:{}", token_name.escape_default()),
        }
    }
}

/// Why an operation was refused. Each maps to one stable problem code
/// (`From<ServiceError> for Problem`, the one mapping).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// 404 `not_found`
    #[error("{0}")]
    NotFound(String),
    /// 409 `conflict`
    #[error("{0}")]
    Conflict(String),
    /// 400 `invalid_request`
    #[error("{0}")]
    Invalid(String),
    /// 422 `check_failed`: a JWKS check or discovery failed; the report says why.
    #[error("{message}")]
    CheckFailed {
        message: String,
        report: Box<providers::AddReport>,
    },
    /// 503 `store_unavailable`
    #[error("{0}")]
    Unavailable(String),
    /// 500 `internal_error`: a database error (details logged, not shown).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> ServiceError {
        match e {
            StoreError::NotFound(m) => ServiceError::NotFound(m),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::Invalid(m) => ServiceError::Invalid(m),
            StoreError::Unavailable(e) => {
                ServiceError::Unavailable(format!("cannot reach the database: {e}"))
            }
            StoreError::Db(e) => ServiceError::Internal(format!("database error: {e}")),
        }
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Problem {
        match e {
            ServiceError::NotFound(m) => Problem::new(Code::NotFound, m),
            ServiceError::Conflict(m) => Problem::new(Code::Conflict, m),
            ServiceError::Invalid(m) => Problem::new(Code::InvalidRequest, m),
            ServiceError::CheckFailed { message, report } => {
                let mut p = Problem::new(Code::CheckFailed, message);
                if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&*report) {
                    p.extensions = Some(Box::new(map));
                }
                p
            }
            ServiceError::Unavailable(m) => Problem::new(Code::StoreUnavailable, m),
            ServiceError::Internal(m) => {
                log::error!("admin operation failed: {}", m.escape_default());
                Problem::new(
                    Code::InternalError,
                    "the operation failed on a database error; the daemon's log has the details",
                )
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, ServiceError>;

/// Writes the audit row of a change (call it inside the change's transaction).
fn audit(
    db: &mut Connection,
    who: &Actor,
    action: &str,
    object_kind: &str,
    object: &str,
    detail: serde_json::Value,
) -> Result<()> {
    store::audit::record(
        db,
        &store::audit::NewEntry {
            actor: &who.to_string(),
            action,
            object_kind,
            object,
            detail,
        },
    )?;
    Ok(())
}

/// Runs a change and its audit row in one transaction.
fn change<T>(db: &mut Connection, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
    store::transaction(db, f)
}

/// The largest page a list returns.
pub const MAX_LIMIT: u32 = 500;
/// The page size when none is asked for (API); the CLI asks for everything.
pub const DEFAULT_LIMIT: u32 = 100;

/// Which page of a list: at most `limit` items (all when `None`) after
/// `cursor` (a previous page's `next_cursor`).
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl Page {
    /// Everything, in one page (the CLI's lists).
    pub fn all() -> Page {
        Page::default()
    }

    fn checked_limit(&self) -> Result<Option<u32>> {
        match self.limit {
            Some(0) => Err(ServiceError::Invalid("limit must be at least 1".into())),
            Some(n) if n > MAX_LIMIT => Err(ServiceError::Invalid(format!(
                "limit must be at most {MAX_LIMIT}"
            ))),
            other => Ok(other),
        }
    }

    /// The cursor: the sort key of the previous page's last item (a slug,
    /// `ws/slug`, `name/uuid` or an audit id). Any value is a position in
    /// the list's order, so a made-up one pages from there, never errs,
    /// except where the key has a shape (`name/uuid`, an id).
    fn after(&self) -> Result<Option<String>> {
        match &self.cursor {
            Some(c)
                if c.is_empty() || c.len() > 200 || !c.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Err(bad_cursor())
            }
            other => Ok(other.clone()),
        }
    }
}

fn encode_cursor(key: &str) -> String {
    key.to_string()
}

/// The message for a cursor of the wrong shape.
fn bad_cursor() -> ServiceError {
    ServiceError::Invalid(
        "cursor is not one this API returned; pass next_cursor as it was given".into(),
    )
}

/// One page of a list, with the cursor of the next (`None`: the last page).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Pages a list already ordered by `key` (the small lists: workspaces,
/// notifications, providers, admin tokens).
fn paginate<T>(items: Vec<T>, key: impl Fn(&T) -> String, page: &Page) -> Result<Listing<T>> {
    let limit = page.checked_limit()?;
    let after = page.after()?;
    let mut rest: Vec<T> = match &after {
        Some(a) => items.into_iter().filter(|i| key(i) > *a).collect(),
        None => items,
    };
    let next_cursor = match limit {
        Some(n) if rest.len() > n as usize => {
            rest.truncate(n as usize);
            rest.last().map(|i| encode_cursor(&key(i)))
        }
        _ => None,
    };
    Ok(Listing {
        items: rest,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_cursor_to_the_end() {
        let items: Vec<String> = (0..7).map(|i| format!("n{i}")).collect();
        let mut page = Page {
            limit: Some(3),
            cursor: None,
        };
        let mut seen = Vec::new();
        loop {
            let l = paginate(items.clone(), |s| s.clone(), &page).unwrap();
            seen.extend(l.items);
            match l.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(paginate(
            items.clone(),
            |s| s.clone(),
            &Page {
                limit: Some(0),
                cursor: None
            }
        )
        .is_err());
        // A cursor is a position: a made-up one pages from there.
        let rest = paginate(
            items,
            |s| s.clone(),
            &Page {
                limit: None,
                cursor: Some("n4".into()),
            },
        )
        .unwrap();
        assert_eq!(rest.items, ["n5", "n6"]);
    }

    #[test]
    fn actors_render_as_the_audit_names_them() {
        assert_eq!(
            Actor::Cli {
                os_user: "ops".into()
            }
            .to_string(),
            "cli:ops"
        );
        assert_eq!(Actor::Token { name: "ci".into() }.to_string(), "token:ci");
        assert_eq!(
            Actor::Console {
                token_name: "ana".into()
            }
            .to_string(),
            "console:ana"
        );
        assert_eq!(
            Actor::Cli {
                os_user: "a\nb".into()
            }
            .to_string(),
            "cli:a\\nb"
        );
    }
}
