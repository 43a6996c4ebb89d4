//! Console sign-in links and sessions. Only the SHA-256 of a link's code and
//! of a session id is stored (hash them with [`crate::apikey::hash`]). Every
//! time here is the database's `now()`.
//!
//! A session signed in with an admin token ends when that token is revoked:
//! [`super::admin_tokens::revoke`] revokes its sessions in the same statement
//! batch, and [`find_session`] checks the token again anyway.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::dsl::{now, sql};
use diesel::prelude::*;
use diesel::sql_types::{Interval, Timestamptz};
use uuid::Uuid;

use super::admin_tokens::Scope;
use super::schema::{admin_tokens, console_links, console_sessions};
use super::{interval, Connection, Result};
use crate::apikey::KeyHash;

/// A sign-in link that was just used.
#[derive(Debug, Clone)]
pub struct UsedLink {
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// Stores a one-time link code's hash, valid for `ttl`; returns when it expires.
pub fn create_link(
    conn: &mut Connection,
    code_hash: &KeyHash,
    ttl: Duration,
    created_by: &str,
) -> Result<DateTime<Utc>> {
    Ok(diesel::insert_into(console_links::table)
        .values((
            console_links::code_hash.eq(code_hash.as_slice()),
            console_links::expires_at
                .eq(sql::<Timestamptz>("now() + ").bind::<Interval, _>(interval(ttl))),
            console_links::created_by.eq(created_by),
        ))
        .returning(console_links::expires_at)
        .get_result(conn.pg())?)
}

/// Uses a link: succeeds once, while it has not expired; `None` otherwise
/// (unknown, used or expired — the caller need not say which).
pub fn use_link(conn: &mut Connection, code_hash: &KeyHash) -> Result<Option<UsedLink>> {
    let used: Option<(String, DateTime<Utc>)> = diesel::update(
        console_links::table
            .filter(console_links::code_hash.eq(code_hash.as_slice()))
            .filter(console_links::used_at.is_null())
            .filter(console_links::expires_at.gt(now)),
    )
    .set(console_links::used_at.eq(now))
    .returning((console_links::created_by, console_links::created_at))
    .get_result(conn.pg())
    .optional()?;
    Ok(used.map(|(created_by, created_at)| UsedLink {
        created_by,
        created_at,
    }))
}

/// A session to open.
pub struct NewSession<'a> {
    pub session_hash: &'a KeyHash,
    /// The admin token signed in with; `None` for a session born of a link.
    pub admin_token_id: Option<Uuid>,
    pub scope: Scope,
    /// Who acts in this session, as the audit names it (`console:<name>`).
    pub actor_name: &'a str,
    pub csrf_token: &'a str,
    pub ttl: Duration,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub admin_token_id: Option<Uuid>,
    pub scope: Scope,
    pub actor_name: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

pub fn create_session(conn: &mut Connection, new: &NewSession<'_>) -> Result<DateTime<Utc>> {
    Ok(diesel::insert_into(console_sessions::table)
        .values((
            console_sessions::session_hash.eq(new.session_hash.as_slice()),
            console_sessions::admin_token_id.eq(new.admin_token_id),
            console_sessions::scope.eq(new.scope.as_str()),
            console_sessions::actor_name.eq(new.actor_name),
            console_sessions::csrf_token.eq(new.csrf_token),
            console_sessions::expires_at
                .eq(sql::<Timestamptz>("now() + ").bind::<Interval, _>(interval(new.ttl))),
        ))
        .returning(console_sessions::expires_at)
        .get_result(conn.pg())?)
}

/// (admin token id, scope, actor name, CSRF token, expiry) as selected.
type SessionRaw = (Option<Uuid>, String, String, String, DateTime<Utc>);

/// The live session with this hash: not revoked, not expired, and its admin
/// token (if any) not revoked.
pub fn find_session(conn: &mut Connection, session_hash: &KeyHash) -> Result<Option<Session>> {
    let row: Option<SessionRaw> = console_sessions::table
        .left_join(admin_tokens::table)
        .filter(console_sessions::session_hash.eq(session_hash.as_slice()))
        .filter(console_sessions::revoked_at.is_null())
        .filter(console_sessions::expires_at.gt(now))
        .filter(
            console_sessions::admin_token_id
                .is_null()
                .or(admin_tokens::revoked_at.is_null()),
        )
        .select((
            console_sessions::admin_token_id,
            console_sessions::scope,
            console_sessions::actor_name,
            console_sessions::csrf_token,
            console_sessions::expires_at,
        ))
        .first(conn.pg())
        .optional()?;
    Ok(row.map(
        |(admin_token_id, scope, actor_name, csrf_token, expires_at)| Session {
            admin_token_id,
            scope: Scope::parse(&scope).unwrap_or(Scope::Read),
            actor_name,
            csrf_token,
            expires_at,
        },
    ))
}

/// Ends a session (sign out).
pub fn revoke_session(conn: &mut Connection, session_hash: &KeyHash) -> Result<bool> {
    let n = diesel::update(
        console_sessions::table
            .filter(console_sessions::session_hash.eq(session_hash.as_slice()))
            .filter(console_sessions::revoked_at.is_null()),
    )
    .set(console_sessions::revoked_at.eq(now))
    .execute(conn.pg())?;
    Ok(n > 0)
}

/// Ends every session signed in with this admin token.
pub(super) fn revoke_for_token(conn: &mut PgConnection, token_id: Uuid) -> Result<usize> {
    Ok(diesel::update(
        console_sessions::table
            .filter(console_sessions::admin_token_id.eq(token_id))
            .filter(console_sessions::revoked_at.is_null()),
    )
    .set(console_sessions::revoked_at.eq(now))
    .execute(conn)?)
}

/// Deletes links and sessions that expired more than a day ago.
pub fn purge_expired(conn: &mut Connection) -> Result<usize> {
    let links = diesel::delete(
        console_links::table
            .filter(console_links::expires_at.lt(sql::<Timestamptz>("now() - interval '1 day'"))),
    )
    .execute(conn.pg())?;
    let sessions = diesel::delete(
        console_sessions::table.filter(
            console_sessions::expires_at.lt(sql::<Timestamptz>("now() - interval '1 day'")),
        ),
    )
    .execute(conn.pg())?;
    Ok(links + sessions)
}
