//! `Idempotency-Key`: a repeat within 24 h on the same notification gets the
//! first answer back and publishes nothing. Records live in PostgreSQL so
//! they hold across restarts and across every daemon behind a load balancer.
//!
//! A key is *claimed* before publishing, *completed* with the 202 answer, and
//! *released* if the publish fails, so a client can retry a refused request
//! with the same key.

use diesel::prelude::*;
use diesel::sql_types::{Bytea, Text, Uuid as SqlUuid};
use diesel::PgConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::schema::idempotency_records as records;
use crate::store::Result;

pub const MAX_KEY_LEN: usize = 255;

pub enum Claim {
    /// This request owns the key: publish, then complete or release.
    Owned,
    /// Answered before: send this again.
    Replay { status: u16, body: String },
    /// The first request with this key is still being processed.
    InFlight,
    /// The key was used for a different request body.
    Mismatch,
}

/// What identifies "the same request": the endpoint kind and the exact body.
pub fn fingerprint(batch: bool, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(if batch {
        b"batch:" as &[u8]
    } else {
        b"single:"
    });
    h.update(body);
    h.finalize().to_vec()
}

pub fn claim(
    conn: &mut PgConnection,
    notification: Uuid,
    key: &str,
    fingerprint: &[u8],
) -> Result<Claim> {
    // Insert, or take over a record older than 24 h; one row written means we own it.
    let owned = diesel::sql_query(
        "INSERT INTO idempotency_records (notification_id, key, fingerprint) VALUES ($1, $2, $3) \
         ON CONFLICT (notification_id, key) DO UPDATE \
           SET fingerprint = EXCLUDED.fingerprint, response_status = NULL, \
               response_body = NULL, created_at = now() \
           WHERE idempotency_records.created_at < now() - interval '24 hours'",
    )
    .bind::<SqlUuid, _>(notification)
    .bind::<Text, _>(key)
    .bind::<Bytea, _>(fingerprint)
    .execute(conn)?;
    if owned == 1 {
        return Ok(Claim::Owned);
    }
    let existing: Option<(Vec<u8>, Option<i16>, Option<String>)> = records::table
        .find((notification, key))
        .select((
            records::fingerprint,
            records::response_status,
            records::response_body,
        ))
        .first(conn)
        .optional()?;
    Ok(match existing {
        // Released between our insert and this read: let the client retry.
        None => Claim::InFlight,
        Some((fp, _, _)) if fp != fingerprint => Claim::Mismatch,
        Some((_, Some(status), Some(body))) => Claim::Replay {
            status: status as u16,
            body,
        },
        Some(_) => Claim::InFlight,
    })
}

pub fn complete(
    conn: &mut PgConnection,
    notification: Uuid,
    key: &str,
    status: u16,
    body: &str,
) -> Result<()> {
    diesel::update(records::table.find((notification, key)))
        .set((
            records::response_status.eq(status as i16),
            records::response_body.eq(body),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn release(conn: &mut PgConnection, notification: Uuid, key: &str) -> Result<()> {
    diesel::delete(records::table.find((notification, key))).execute(conn)?;
    Ok(())
}

/// Deletes records past the 24 h window; returns how many.
pub fn purge_expired(conn: &mut PgConnection) -> Result<usize> {
    Ok(diesel::sql_query(
        "DELETE FROM idempotency_records WHERE created_at < now() - interval '24 hours'",
    )
    .execute(conn)?)
}
