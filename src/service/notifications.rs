//! Notifications: create, list, show, secure.

use serde_json::json;

use super::{audit, change, paginate, Actor, Listing, Page, Result};
use crate::store::notifications::{self, Securing};
use crate::store::{self, Connection};

pub use crate::store::notifications::NotificationInfo;

/// What a notification is to accept: exactly these credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    ApiKeys(Vec<String>),
    Jwt {
        providers: Vec<String>,
        allowed_origins: Vec<String>,
    },
}

/// `WS/SLUG` split and checked.
pub fn parse_path(path: &str) -> Result<(&str, &str)> {
    Ok(notifications::parse_path(path)?)
}

/// The notification's event endpoint under the public base URL.
pub fn endpoint_url(public_base: &str, ws: &str, slug: &str) -> String {
    format!(
        "{}/v1/events/{ws}/{slug}",
        public_base.trim_end_matches('/')
    )
}

/// Creates `ws/slug` (named `name`, the slug when `None`); it accepts
/// nothing until secured.
pub fn create(
    db: &mut Connection,
    who: &Actor,
    ws: &str,
    slug: &str,
    name: Option<&str>,
) -> Result<NotificationInfo> {
    store::check_name("workspace slug", ws)?;
    store::check_name("notification slug", slug)?;
    let name = name.unwrap_or(slug);
    change(db, |db| {
        let n = notifications::create(db, ws, slug, name)?;
        audit(
            db,
            who,
            "notification.create",
            "notification",
            &format!("{ws}/{slug}"),
            json!({"name": n.name}),
        )?;
        Ok(n)
    })
}

/// Notifications (of workspace `ws`, if given) by workspace and slug.
pub fn list(
    db: &mut Connection,
    ws: Option<&str>,
    page: &Page,
) -> Result<Listing<NotificationInfo>> {
    if let Some(ws) = ws {
        store::check_name("workspace slug", ws)?;
    }
    paginate(
        notifications::list(db, ws)?,
        |n| format!("{}/{}", n.workspace, n.slug),
        page,
    )
}

pub fn show(db: &mut Connection, ws: &str, slug: &str) -> Result<NotificationInfo> {
    store::check_name("workspace slug", ws)?;
    store::check_name("notification slug", slug)?;
    Ok(notifications::show(db, ws, slug)?)
}

/// Sets exactly which credentials `ws/slug` accepts (replaces, does not add).
pub fn secure(
    db: &mut Connection,
    who: &Actor,
    ws: &str,
    slug: &str,
    security: &Security,
) -> Result<NotificationInfo> {
    store::check_name("workspace slug", ws)?;
    store::check_name("notification slug", slug)?;
    let (securing, detail) = match security {
        Security::ApiKeys(names) => {
            if names.is_empty() {
                return Err(super::ServiceError::Invalid(
                    "name at least one API key (or secure it with JWT providers)".into(),
                ));
            }
            (Securing::ApiKeys(names), json!({"api_keys": names}))
        }
        Security::Jwt {
            providers,
            allowed_origins,
        } => {
            if providers.is_empty() {
                return Err(super::ServiceError::Invalid(
                    "name at least one JWT provider (or secure it with API keys)".into(),
                ));
            }
            (
                Securing::Jwt {
                    providers,
                    allowed_origins,
                },
                json!({"jwt_providers": providers, "allowed_origins": allowed_origins}),
            )
        }
    };
    change(db, |db| {
        let n = notifications::secure(db, ws, slug, securing)?;
        audit(
            db,
            who,
            "notification.secure",
            "notification",
            &format!("{ws}/{slug}"),
            detail,
        )?;
        Ok(n)
    })
}
