//! Idempotency-Key records: claimed before publishing (no response yet),
//! completed with the 202 answer, deleted when the publish fails, purged
//! after 24 h. A record is keyed by notification, sender and key: what a
//! record *means* is decided in `crate::idempotency`.
//!
//! Each call takes a connection from the pool and blocks: run it off the
//! async workers.

use diesel::prelude::*;
use diesel::sql_types::{Bytea, Text, Uuid as SqlUuid};
use uuid::Uuid;

use super::schema::idempotency_records as records;
use super::{Pool, Result};

/// Whose record: a notification and a sender (the SHA-256 of who sent).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub notification: Uuid,
    pub sender: &'a [u8],
}

/// A record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub fingerprint: Vec<u8>,
    /// The answer, once the first request completed.
    pub response: Option<(u16, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This call wrote the record (new, or taking over one older than 24 h).
    Ours,
    /// The record someone else holds; `None` if it was released in between.
    Held(Option<Record>),
}

pub fn claim(pool: &Pool, owner: Owner<'_>, key: &str, fingerprint: &[u8]) -> Result<Claimed> {
    let mut conn = pool.get()?;
    // Insert, or take over a record older than 24 h; one row written means we own it.
    let owned = diesel::sql_query(
        "INSERT INTO idempotency_records (notification_id, sender, key, fingerprint) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (notification_id, sender, key) DO UPDATE \
           SET fingerprint = EXCLUDED.fingerprint, response_status = NULL, \
               response_body = NULL, created_at = now() \
           WHERE idempotency_records.created_at < now() - interval '24 hours'",
    )
    .bind::<SqlUuid, _>(owner.notification)
    .bind::<Bytea, _>(owner.sender)
    .bind::<Text, _>(key)
    .bind::<Bytea, _>(fingerprint)
    .execute(&mut conn)?;
    if owned == 1 {
        return Ok(Claimed::Ours);
    }
    let held: Option<(Vec<u8>, Option<i16>, Option<String>)> = records::table
        .find((owner.notification, owner.sender, key))
        .select((
            records::fingerprint,
            records::response_status,
            records::response_body,
        ))
        .first(&mut conn)
        .optional()?;
    Ok(Claimed::Held(held.map(|(fingerprint, status, body)| {
        Record {
            fingerprint,
            response: status.zip(body).map(|(s, b)| (s as u16, b)),
        }
    })))
}

/// Records the answer to replay.
pub fn complete(pool: &Pool, owner: Owner<'_>, key: &str, status: u16, body: &str) -> Result<()> {
    let mut conn = pool.get()?;
    diesel::update(records::table.find((owner.notification, owner.sender, key)))
        .set((
            records::response_status.eq(status as i16),
            records::response_body.eq(body),
        ))
        .execute(&mut conn)?;
    Ok(())
}

/// Gives the key back, so the client can retry with it.
pub fn release(pool: &Pool, owner: Owner<'_>, key: &str) -> Result<()> {
    let mut conn = pool.get()?;
    diesel::delete(records::table.find((owner.notification, owner.sender, key)))
        .execute(&mut conn)?;
    Ok(())
}

/// Deletes records past the 24 h window; returns how many.
pub fn purge_expired(pool: &Pool) -> Result<usize> {
    let mut conn = pool.get()?;
    Ok(diesel::sql_query(
        "DELETE FROM idempotency_records WHERE created_at < now() - interval '24 hours'",
    )
    .execute(&mut conn)?)
}
