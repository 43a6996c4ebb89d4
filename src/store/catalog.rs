//! The daemon's view: the whole catalog read in one snapshot, and the
//! LISTEN connection that says when to read it again. Every catalog table's
//! trigger sends `NOTIFY eventward_catalog` (see migrations/).

use chrono::{DateTime, Utc};
use diesel::pg::{PgConnection, PgRowByRowLoadingMode};
use diesel::prelude::*;
use uuid::Uuid;

use super::jwt_providers::{self, ProviderRow};
use super::notifications::{self, NotificationRow};
use super::schema::{api_keys, notification_api_keys, notification_jwt_providers};
use super::{establish, Result};
use crate::apikey::KeyHash;

/// Channel the catalog triggers notify.
pub const CHANNEL: &str = "eventward_catalog";

/// An API key as the daemon needs it.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: Uuid,
    pub name: String,
    pub hash: KeyHash,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The rest of the catalog, read in the same snapshot as the keys.
pub struct CatalogRows {
    /// Every notification, its `security` already parsed.
    pub endpoints: Vec<NotificationRow>,
    /// (notification id, API key id)
    pub endpoint_keys: Vec<(Uuid, Uuid)>,
    pub providers: Vec<ProviderRow>,
    /// (notification id, provider id)
    pub endpoint_providers: Vec<(Uuid, Uuid)>,
}

/// A connection of its own that has run `LISTEN eventward_catalog`: the
/// catalog loader thread reads the catalog on it and polls it for changes.
pub struct Listener(PgConnection);

impl Listener {
    /// Connects and subscribes to catalog changes.
    pub fn connect(url: &str) -> Result<Listener> {
        let mut conn = establish(url)?;
        diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn)?;
        Ok(Listener(conn))
    }

    /// Reads the whole catalog in one consistent snapshot. API keys (there
    /// may be hundreds of thousands) are streamed to `on_key` one row at a
    /// time, so no full result set or list of them is ever held in memory.
    pub fn load(&mut self, mut on_key: impl FnMut(KeyRow)) -> Result<CatalogRows> {
        self.0
            .build_transaction()
            .read_only()
            .repeatable_read()
            .run(|conn| {
                let keys = api_keys::table
                    .select((
                        api_keys::id,
                        api_keys::name,
                        api_keys::key_hash,
                        api_keys::expires_at,
                        api_keys::revoked_at,
                        api_keys::disabled_at,
                    ))
                    .load_iter::<(
                        Uuid,
                        String,
                        Vec<u8>,
                        Option<DateTime<Utc>>,
                        Option<DateTime<Utc>>,
                        Option<DateTime<Utc>>,
                    ), PgRowByRowLoadingMode>(conn)?;
                for row in keys {
                    let (id, name, hash, expires_at, revoked_at, disabled_at) = row?;
                    // The CHECK constraint guarantees 32 bytes.
                    if let Ok(hash) = KeyHash::try_from(hash.as_slice()) {
                        on_key(KeyRow {
                            id,
                            name,
                            hash,
                            expires_at,
                            revoked_at,
                            disabled_at,
                        });
                    }
                }
                Ok(CatalogRows {
                    endpoints: notifications::rows(conn, None)?,
                    endpoint_keys: notification_api_keys::table
                        .select((
                            notification_api_keys::notification_id,
                            notification_api_keys::api_key_id,
                        ))
                        .load(conn)?,
                    providers: jwt_providers::all(conn)?,
                    endpoint_providers: notification_jwt_providers::table
                        .select((
                            notification_jwt_providers::notification_id,
                            notification_jwt_providers::provider_id,
                        ))
                        .load(conn)?,
                })
            })
    }

    /// Drains pending notifications; true if there was at least one.
    pub fn drain_notifications(&mut self) -> Result<bool> {
        let mut any = false;
        for n in self.0.notifications_iter() {
            n?;
            any = true;
        }
        Ok(any)
    }

    /// A cheap round trip that also tells whether the connection is alive.
    pub fn ping(&mut self) -> Result<()> {
        diesel::sql_query("SELECT 1").execute(&mut self.0)?;
        Ok(())
    }
}
