//! Console sign-in links: made by `eventward console-link`, audited like
//! every other credential (`console_link.create`; the detail holds when it
//! expires, never the code).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{audit, change, Actor, Result};
use crate::apikey::KeyHash;
use crate::store::{console_sessions, Connection};

/// Stores a one-time link's code hash, valid for `ttl`; returns its expiry.
pub fn create_link(
    db: &mut Connection,
    who: &Actor,
    code_hash: &KeyHash,
    ttl: Duration,
) -> Result<DateTime<Utc>> {
    change(db, |db| {
        let who_text = who.to_string();
        let expires_at = console_sessions::create_link(db, code_hash, ttl, &who_text)?;
        audit(
            db,
            who,
            "console_link.create",
            "console_link",
            &who_text,
            json!({ "expires_at": expires_at }),
        )?;
        Ok(expires_at)
    })
}
