//! `api_key_usage`: when each API key was last used. Written by the daemons'
//! Authenticators, at most once a minute per key; never part of the catalog.
//!
//! Each call takes a connection from the pool and blocks: run it off the
//! async workers.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::{Pool, Result};

/// Records `(key id, unix seconds)` pairs; a later time never goes back, and
/// keys that no longer exist are skipped.
pub fn record(pool: &Pool, used: &[(Uuid, i64)]) -> Result<()> {
    let mut conn = pool.get()?;
    let ids: Vec<Uuid> = used.iter().map(|(id, _)| *id).collect();
    let times: Vec<DateTime<Utc>> = used
        .iter()
        .map(|(_, at)| DateTime::from_timestamp(*at, 0).unwrap_or_default())
        .collect();
    diesel::sql_query(
        "INSERT INTO api_key_usage (api_key_id, last_used_at) \
         SELECT u.id, u.at FROM unnest($1::uuid[], $2::timestamptz[]) AS u (id, at) \
         JOIN api_keys k ON k.id = u.id \
         ON CONFLICT (api_key_id) DO UPDATE \
           SET last_used_at = GREATEST(api_key_usage.last_used_at, EXCLUDED.last_used_at)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Timestamptz>, _>(times)
    .execute(&mut conn)?;
    Ok(())
}
