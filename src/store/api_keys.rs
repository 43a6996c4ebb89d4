//! API keys: only the SHA-256 of a key is stored. A name belongs to one
//! current key; a rolled key points at its successor and works until its
//! grace period ends. Every time here is the database's `now()`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::dsl::{now, sql};
use diesel::pg::data_types::PgInterval;
use diesel::prelude::*;
use diesel::sql_types::{Interval, Nullable, Timestamptz};
use diesel::Connection as _;
use uuid::Uuid;

use super::schema::{api_key_usage, api_keys};
use super::{check_name, interval, unique, Connection, Result, StoreError};
use crate::apikey;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub key_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub rolled_to: Option<Uuid>,
    /// Set while the key is disabled: refused with `disabled_api_key`.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// What `key create` and `key roll` return: the only time the secret exists
/// outside the caller's hands.
pub struct IssuedKey {
    pub row: ApiKeyRow,
    pub secret: String,
}

fn current(conn: &mut PgConnection, name: &str) -> Result<ApiKeyRow> {
    api_keys::table
        .filter(api_keys::name.eq(name))
        .filter(api_keys::revoked_at.is_null())
        .filter(api_keys::rolled_to.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "no API key named {name}; `eventward key list` shows the keys"
            ))
        })
}

/// A name stands for its current key and any rolled predecessor still in
/// its grace period: securing a notification with the name keeps those
/// working until the grace period ends, as the roll promised.
pub(super) fn named(conn: &mut PgConnection, name: &str) -> Result<Vec<Uuid>> {
    let current = current(conn, name)?;
    let mut ids: Vec<Uuid> = api_keys::table
        .filter(api_keys::name.eq(name))
        .filter(api_keys::revoked_at.is_null())
        .filter(api_keys::rolled_to.is_not_null())
        .filter(api_keys::expires_at.gt(now))
        .select(api_keys::id)
        .load(conn)?;
    ids.push(current.id);
    Ok(ids)
}

/// Inserts a new key; it expires `lifetime` after the database's now, or never.
fn insert(conn: &mut PgConnection, name: &str, lifetime: Option<PgInterval>) -> Result<IssuedKey> {
    let key = apikey::generate();
    let row = diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(Uuid::now_v7()),
            api_keys::name.eq(name),
            api_keys::prefix.eq(&key.prefix),
            api_keys::key_hash.eq(key.hash.as_slice()),
            // now() + NULL is NULL: no expiry.
            api_keys::expires_at
                .eq(sql::<Nullable<Timestamptz>>("now() + ")
                    .bind::<Nullable<Interval>, _>(lifetime)),
        ))
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .map_err(|e| unique(e, || format!("a key named {name} already exists")))?;
    Ok(IssuedKey {
        row,
        secret: key.secret,
    })
}

pub fn create(
    conn: &mut Connection,
    name: &str,
    expires_in: Option<Duration>,
) -> Result<IssuedKey> {
    check_name("key name", name)?;
    insert(conn.pg(), name, expires_in.map(interval))
}

/// A key as `key list` shows it: its row and when it was last used (written
/// by the daemons at most once a minute).
pub struct ListedKey {
    pub row: ApiKeyRow,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub fn list(conn: &mut Connection) -> Result<Vec<ListedKey>> {
    list_page(conn, None, None)
}

/// Keys ordered by (name, id), those after `after` (a previous page's last
/// key), at most `limit` of them (all without a limit).
pub fn list_page(
    conn: &mut Connection,
    after: Option<(&str, Uuid)>,
    limit: Option<i64>,
) -> Result<Vec<ListedKey>> {
    let mut query = api_keys::table
        .left_join(api_key_usage::table)
        .order((api_keys::name, api_keys::id))
        .select((
            ApiKeyRow::as_select(),
            api_key_usage::last_used_at.nullable(),
        ))
        .into_boxed();
    if let Some((name, id)) = after {
        query = query.filter(
            api_keys::name
                .gt(name.to_string())
                .or(api_keys::name.eq(name.to_string()).and(api_keys::id.gt(id))),
        );
    }
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    let rows: Vec<(ApiKeyRow, Option<DateTime<Utc>>)> = query.load(conn.pg())?;
    Ok(rows
        .into_iter()
        .map(|(row, last_used_at)| ListedKey { row, last_used_at })
        .collect())
}

/// Revokes the key that holds `name` and any rolled predecessor still in its
/// grace period: after a revoke, nothing issued under that name works.
pub fn revoke(conn: &mut Connection, name: &str) -> Result<Vec<ApiKeyRow>> {
    conn.pg().transaction(|conn| {
        current(conn, name)?;
        Ok(diesel::update(
            api_keys::table
                .filter(api_keys::name.eq(name))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(now))
        .returning(ApiKeyRow::as_returning())
        .get_results(conn)?)
    })
}

/// Disables (`disabled = true`) or enables the key that holds `name` and any
/// rolled predecessor still in its grace period. Returns the keys changed.
pub fn set_disabled(conn: &mut Connection, name: &str, disabled: bool) -> Result<Vec<ApiKeyRow>> {
    conn.pg().transaction(|conn| {
        current(conn, name)?;
        let target = api_keys::table
            .filter(api_keys::name.eq(name))
            .filter(api_keys::revoked_at.is_null());
        let rows = if disabled {
            diesel::update(target.filter(api_keys::disabled_at.is_null()))
                .set(api_keys::disabled_at.eq(now))
                .returning(ApiKeyRow::as_returning())
                .get_results(conn)?
        } else {
            diesel::update(target.filter(api_keys::disabled_at.is_not_null()))
                .set(api_keys::disabled_at.eq(None::<DateTime<Utc>>))
                .returning(ApiKeyRow::as_returning())
                .get_results(conn)?
        };
        Ok(rows)
    })
}

/// When the key was last used (as the daemons recorded it), if ever.
pub fn last_used(conn: &mut Connection, id: Uuid) -> Result<Option<DateTime<Utc>>> {
    Ok(api_key_usage::table
        .find(id)
        .select(api_key_usage::last_used_at)
        .first(conn.pg())
        .optional()?)
}

/// The current key holding `name`.
pub fn get(conn: &mut Connection, name: &str) -> Result<ApiKeyRow> {
    current(conn.pg(), name)
}

/// Issues a new key under the same name, accepted wherever the old one was;
/// the old key keeps working until `grace` ends (or its own expiry, if sooner).
/// The new key gets the same lifetime the old one was created with.
pub fn roll(conn: &mut Connection, name: &str, grace: Duration) -> Result<IssuedKey> {
    conn.pg().transaction(|conn| {
        let old = current(conn, name)?;
        // Both ends are the database's times.
        let lifetime = old.expires_at.map(|e| {
            PgInterval::from_microseconds(
                (e - old.created_at).num_microseconds().unwrap_or(i64::MAX),
            )
        });
        // The name belongs to one current key (partial unique index): the new
        // key is inserted under a name no user can choose ('~' is not allowed),
        // the old key is marked rolled, then the new key takes the name.
        let issued = insert(conn, &format!("{name}~rolling"), lifetime)?;
        diesel::update(api_keys::table.find(old.id))
            .set((
                api_keys::rolled_to.eq(issued.row.id),
                // LEAST ignores NULL: a key that never expired gets the grace end.
                api_keys::expires_at.eq(sql::<Nullable<Timestamptz>>("LEAST(expires_at, now() + ")
                    .bind::<Interval, _>(interval(grace))
                    .sql(")")),
            ))
            .execute(conn)?;
        let row = diesel::update(api_keys::table.find(issued.row.id))
            .set(api_keys::name.eq(name))
            .returning(ApiKeyRow::as_returning())
            .get_result(conn)?;
        diesel::sql_query(
            "INSERT INTO notification_api_keys (notification_id, api_key_id) \
             SELECT notification_id, $1 FROM notification_api_keys WHERE api_key_id = $2",
        )
        .bind::<diesel::sql_types::Uuid, _>(issued.row.id)
        .bind::<diesel::sql_types::Uuid, _>(old.id)
        .execute(conn)?;
        Ok(IssuedKey {
            row,
            secret: issued.secret,
        })
    })
}
