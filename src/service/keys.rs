//! API keys: create, list, revoke, roll, disable, enable. The secret of a
//! new key is in [`IssuedKey`] only: never in a list, a show or the audit.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{audit, change, encode_cursor, Actor, Listing, Page, Result};
use crate::store::api_keys::{self, ApiKeyRow};
use crate::store::{self, Connection};

/// A key just created or rolled: the only value that holds its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    /// The key itself: shown in this response only.
    pub key: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<api_keys::IssuedKey> for IssuedKey {
    fn from(i: api_keys::IssuedKey) -> IssuedKey {
        IssuedKey {
            id: i.row.id,
            name: i.row.name,
            prefix: i.row.prefix,
            key: i.secret,
            expires_at: i.row.expires_at,
        }
    }
}

/// A key's status, judged on the database's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Disabled,
    Revoked,
    Expired,
    /// Rolled: replaced by a new key, still working until its grace period ends.
    Rolled,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Disabled => "disabled",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Expired => "expired",
            KeyStatus::Rolled => "rolled",
        }
    }
}

/// A key as listed: never its secret, never its hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Recorded by the daemons at most once a minute per key.
    pub last_used_at: Option<DateTime<Utc>>,
    pub status: KeyStatus,
}

fn status(k: &ApiKeyRow, now: DateTime<Utc>) -> KeyStatus {
    if k.revoked_at.is_some() {
        KeyStatus::Revoked
    } else if k.expires_at.is_some_and(|e| e <= now) {
        KeyStatus::Expired
    } else if k.disabled_at.is_some() {
        KeyStatus::Disabled
    } else if k.rolled_to.is_some() {
        KeyStatus::Rolled
    } else {
        KeyStatus::Active
    }
}

fn view(k: ApiKeyRow, last_used_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> KeyView {
    KeyView {
        status: status(&k, now),
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        created_at: k.created_at,
        expires_at: k.expires_at,
        revoked_at: k.revoked_at,
        disabled_at: k.disabled_at,
        last_used_at,
    }
}

/// Creates a key named `name`, expiring `expires_in` after the database's now.
pub fn create(
    db: &mut Connection,
    who: &Actor,
    name: &str,
    expires_in: Option<Duration>,
) -> Result<IssuedKey> {
    change(db, |db| {
        let issued = api_keys::create(db, name, expires_in)?;
        audit(
            db,
            who,
            "api_key.create",
            "api_key",
            name,
            json!({"id": issued.row.id, "prefix": issued.row.prefix, "expires_at": issued.row.expires_at}),
        )?;
        Ok(issued.into())
    })
}

/// Every key ever issued (rolled and revoked ones too), by name then id.
pub fn list(db: &mut Connection, page: &Page) -> Result<Listing<KeyView>> {
    let limit = page.checked_limit()?;
    let after = page
        .after()?
        .map(|a| {
            a.rsplit_once('/')
                .and_then(|(name, id)| Some((name.to_string(), Uuid::parse_str(id).ok()?)))
                .ok_or_else(super::bad_cursor)
        })
        .transpose()?;
    let now = store::now(db)?;
    let mut rows = api_keys::list_page(
        db,
        after.as_ref().map(|(n, id)| (n.as_str(), *id)),
        limit.map(|n| i64::from(n) + 1),
    )?;
    let next_cursor = match limit {
        Some(n) if rows.len() > n as usize => {
            rows.truncate(n as usize);
            rows.last()
                .map(|k| encode_cursor(&format!("{}/{}", k.row.name, k.row.id)))
        }
        _ => None,
    };
    Ok(Listing {
        items: rows
            .into_iter()
            .map(|l| view(l.row, l.last_used_at, now))
            .collect(),
        next_cursor,
    })
}

/// The current key holding `name`.
pub fn show(db: &mut Connection, name: &str) -> Result<KeyView> {
    store::check_name("key name", name)?;
    let now = store::now(db)?;
    let row = api_keys::get(db, name)?;
    let last_used = api_keys::last_used(db, row.id)?;
    Ok(view(row, last_used, now))
}

/// Revokes the key holding `name` and any rolled predecessor in its grace
/// period. Returns how many keys were revoked.
pub fn revoke(db: &mut Connection, who: &Actor, name: &str) -> Result<Vec<Uuid>> {
    store::check_name("key name", name)?;
    change(db, |db| {
        let revoked: Vec<Uuid> = api_keys::revoke(db, name)?.iter().map(|k| k.id).collect();
        audit(
            db,
            who,
            "api_key.revoke",
            "api_key",
            name,
            json!({"ids": revoked}),
        )?;
        Ok(revoked)
    })
}

/// Issues a new key under `name`; the old one works until `grace` ends.
pub fn roll(db: &mut Connection, who: &Actor, name: &str, grace: Duration) -> Result<IssuedKey> {
    store::check_name("key name", name)?;
    change(db, |db| {
        let issued = api_keys::roll(db, name, grace)?;
        audit(
            db,
            who,
            "api_key.roll",
            "api_key",
            name,
            json!({"id": issued.row.id, "prefix": issued.row.prefix, "grace_secs": grace.as_secs()}),
        )?;
        Ok(issued.into())
    })
}

/// Disables the key holding `name` (and a rolled predecessor in its grace
/// period): refused with `disabled_api_key` until enabled. Idempotent.
pub fn disable(db: &mut Connection, who: &Actor, name: &str) -> Result<KeyView> {
    set_disabled(db, who, name, true)
}

/// Enables a disabled key again. Idempotent.
pub fn enable(db: &mut Connection, who: &Actor, name: &str) -> Result<KeyView> {
    set_disabled(db, who, name, false)
}

fn set_disabled(db: &mut Connection, who: &Actor, name: &str, disabled: bool) -> Result<KeyView> {
    store::check_name("key name", name)?;
    change(db, |db| {
        let changed: Vec<Uuid> = api_keys::set_disabled(db, name, disabled)?
            .iter()
            .map(|k| k.id)
            .collect();
        let action = if disabled {
            "api_key.disable"
        } else {
            "api_key.enable"
        };
        audit(db, who, action, "api_key", name, json!({"ids": changed}))?;
        show(db, name)
    })
}
