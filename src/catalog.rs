//! The catalog as the daemon holds it in memory: immutable snapshots built
//! from [`CatalogRows`], shared read-only by every request and
//! replaced whole when the database changes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::apikey::KeyHash;
use crate::store::{
    self,
    catalog::{CatalogRows, KeyRow, Listener},
};

/// Slugs and names: `^[a-z0-9][a-z0-9-]{0,62}$`, so a routing key never
/// holds `.`, `*` or `#`.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

/// How a notification is secured, and so which credential a request carries
/// and a code sample sends. Stored as `api_key` / `jwt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ApiKey,
    Jwt,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Jwt => "jwt",
        }
    }

    /// The stored form back; anything else is `None`.
    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "api_key" => Some(AuthMethod::ApiKey),
            "jwt" => Some(AuthMethod::Jwt),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// A disabled key is refused with `disabled_api_key` until enabled.
    pub disabled: bool,
}

/// Every API key eventward issued, by the SHA-256 of the key.
#[derive(Debug, Default)]
pub struct ApiKeyTable {
    by_hash: HashMap<KeyHash, ApiKey>,
}

impl ApiKeyTable {
    pub fn get(&self, hash: &KeyHash) -> Option<&ApiKey> {
        self.by_hash.get(hash)
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub id: Uuid,
    pub name: String,
    pub jwks_url: String,
    /// A token's `aud` must hold one of these; empty: `aud` is not checked.
    pub audiences: Vec<String>,
    pub issuer: Option<String>,
    /// The claim naming the sender (`authprincipal`): `sub` unless configured.
    pub principal_claim: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Not secured: accepts nothing.
    Closed,
    ApiKeys(BTreeSet<Uuid>),
    Jwt {
        providers: Vec<Arc<Provider>>,
        allowed_origins: Vec<String>,
    },
}

/// One notification's endpoint and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: Uuid,
    pub workspace: String,
    pub notification: String,
    pub security: Security,
}

pub struct Catalog {
    pub api_keys: ApiKeyTable,
    pub endpoints: Vec<Endpoint>,
    pub providers: Vec<Arc<Provider>>,
}

impl Catalog {
    /// Reads the catalog; `expected_keys` sizes the key table up front (the
    /// previous catalog's count) so it is built without rehashing.
    pub fn load(listener: &mut Listener, expected_keys: usize) -> store::Result<Catalog> {
        let mut by_hash = HashMap::with_capacity(expected_keys);
        let rows = listener.load(
            |KeyRow {
                 id,
                 name,
                 hash,
                 expires_at,
                 revoked_at,
                 disabled_at,
             }| {
                by_hash.insert(
                    hash,
                    ApiKey {
                        id,
                        name,
                        expires_at,
                        revoked_at,
                        disabled: disabled_at.is_some(),
                    },
                );
            },
        )?;
        Ok(Catalog::build(ApiKeyTable { by_hash }, rows))
    }

    fn build(keys: ApiKeyTable, rows: CatalogRows) -> Catalog {
        let providers: Vec<Arc<Provider>> = rows
            .providers
            .into_iter()
            .map(|p| {
                Arc::new(Provider {
                    id: p.id,
                    name: p.name,
                    jwks_url: p.jwks_url,
                    audiences: p.audiences,
                    issuer: p.issuer,
                    principal_claim: p.principal_claim,
                })
            })
            .collect();
        let mut keys_of: HashMap<Uuid, BTreeSet<Uuid>> = HashMap::new();
        for (endpoint, key) in rows.endpoint_keys {
            keys_of.entry(endpoint).or_default().insert(key);
        }
        let mut providers_of: HashMap<Uuid, Vec<Arc<Provider>>> = HashMap::new();
        for (endpoint, provider) in rows.endpoint_providers {
            if let Some(p) = providers.iter().find(|p| p.id == provider) {
                providers_of.entry(endpoint).or_default().push(p.clone());
            }
        }
        let endpoints = rows
            .endpoints
            .into_iter()
            .map(|row| {
                let id = row.id;
                let security = match row.security {
                    Some(AuthMethod::ApiKey) => {
                        Security::ApiKeys(keys_of.remove(&id).unwrap_or_default())
                    }
                    Some(AuthMethod::Jwt) => {
                        let mut providers = providers_of.remove(&id).unwrap_or_default();
                        providers.sort_by(|a, b| a.name.cmp(&b.name));
                        Security::Jwt {
                            providers,
                            allowed_origins: row.allowed_origins,
                        }
                    }
                    None => Security::Closed,
                };
                Endpoint {
                    id,
                    workspace: row.workspace,
                    notification: row.slug,
                    security,
                }
            })
            .collect();
        Catalog {
            api_keys: keys,
            endpoints,
            providers,
        }
    }
}
