//! An endpoint's decision procedure: given the credential a request carries
//! and the snapshot's key table, who sent it, or why it is refused.
//!
//! A [`Guard`] is immutable and belongs to one catalog version of one
//! endpoint; its Authenticator builds a new one when the endpoint's security
//! changes. Request handlers evaluate it on their own worker thread with no
//! lock and no message (the verified-token cache has a short mutex of its own).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::WeakAddr;
use chrono::{DateTime, Utc};

use super::usage::Usage;
use super::{Authenticator, UnknownKid};
use crate::apikey;
use crate::catalog::{ApiKeyTable, AuthMethod, Endpoint, Provider, Security};
use crate::jwks_refresher::{JwksSlot, JwksSlots};
use crate::jwt;
use crate::problem::{Code, Problem};
use crate::token_cache::{self, TokenCache};

/// The credential a request carries, by its shape.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    ApiKey(&'a str),
    Token(&'a str),
}

/// Who sent an accepted request: written into every published event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub method: AuthMethod,
    /// The API key id, or the value of the JWT provider's principal claim
    /// (`sub` unless configured).
    pub id: String,
    /// The JWT provider's name; `None` for API keys.
    pub provider: Option<String>,
}

/// A JWT provider as one endpoint sees it: its rules and its live key set.
pub struct TrustedProvider {
    pub provider: Arc<Provider>,
    pub rules: jwt::Rules,
    pub jwks: Arc<JwksSlot>,
}

/// What a JWT endpoint holds beyond its catalog entry.
pub struct JwtTrust {
    /// In provider-name order.
    pub providers: Vec<TrustedProvider>,
    pub verified: TokenCache<Principal>,
}

/// JWT settings every endpoint applies.
#[derive(Debug, Clone, Copy)]
pub struct JwtOptions {
    pub leeway: Duration,
    /// Verified tokens remembered per endpoint; 0 disables the cache.
    pub cache_size: usize,
}

/// Asks the endpoint's Authenticator for a JWKS refetch when a token names an
/// unknown `kid`, at most once per [`UNKNOWN_KID_GATE`] per endpoint, so a
/// flood of made-up `kid`s costs an atomic load each, not a message each.
pub struct RefetchGate {
    authenticator: WeakAddr<Authenticator>,
    epoch: Instant,
    /// Milliseconds since `epoch` before which no request asks again.
    closed_until_ms: AtomicU64,
}

/// How often one endpoint may ask its Authenticator for an unknown-`kid`
/// refetch. Each provider's slot has its own limit, shared by every endpoint.
pub const UNKNOWN_KID_GATE: Duration = Duration::from_secs(1);

impl RefetchGate {
    pub fn new(authenticator: WeakAddr<Authenticator>) -> RefetchGate {
        RefetchGate {
            authenticator,
            epoch: Instant::now(),
            closed_until_ms: AtomicU64::new(0),
        }
    }

    /// True when a refetch happened and the request should be decided again.
    async fn refetch(&self) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        let until = self.closed_until_ms.load(Ordering::Relaxed);
        if now < until {
            return false;
        }
        let next = now + UNKNOWN_KID_GATE.as_millis() as u64;
        if self
            .closed_until_ms
            .compare_exchange(until, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        match self.authenticator.upgrade() {
            Some(authenticator) => authenticator.send(UnknownKid).await.unwrap_or(false),
            None => false,
        }
    }
}

/// An endpoint's decision procedure, immutable; replaced whole on change.
pub struct Guard {
    pub endpoint: Endpoint,
    /// `Some` exactly when the endpoint is secured by JWT providers.
    pub jwt: Option<JwtTrust>,
    pub usage: Arc<Usage>,
    pub(super) refetch: RefetchGate,
}

impl Guard {
    /// Decides a request. A JWT whose `kid` no trusted provider knows may
    /// trigger one JWKS refetch (rate-limited per provider); the request that
    /// triggered it waits for it and is decided again, so a rotated-in key
    /// works on first use.
    pub async fn authenticate(
        &self,
        credential: &Credential<'_>,
        api_keys: &ApiKeyTable,
    ) -> Result<Principal, Problem> {
        match self.decide(credential, api_keys, Utc::now()) {
            Err(p) if p.code == Code::UnknownKeyId && self.refetch.refetch().await => {
                self.decide(credential, api_keys, Utc::now())
            }
            decided => decided,
        }
    }

    pub fn decide(
        &self,
        credential: &Credential<'_>,
        api_keys: &ApiKeyTable,
        now: DateTime<Utc>,
    ) -> Result<Principal, Problem> {
        match credential {
            Credential::ApiKey(key) => self.api_key(key, api_keys, now),
            Credential::Token(token) => self.token(token),
        }
    }

    fn api_key(
        &self,
        key: &str,
        api_keys: &ApiKeyTable,
        now: DateTime<Utc>,
    ) -> Result<Principal, Problem> {
        // The checksum refuses made-up and mistyped keys before any hashing or lookup.
        if !apikey::well_formed(key) {
            return Err(Problem::new(
                Code::InvalidApiKey,
                "not an eventward API key: expected evw_ followed by 46 letters and digits with a valid checksum",
            ));
        }
        let Some(found) = api_keys.get(&apikey::hash(key)) else {
            return Err(Problem::new(Code::InvalidApiKey, "unknown API key"));
        };
        // Revoked is revoked at once: the time is the database's, not ours.
        if found.revoked_at.is_some() {
            return Err(Problem::new(
                Code::RevokedApiKey,
                format!("API key {} was revoked", found.name),
            ));
        }
        if found.disabled {
            return Err(Problem::new(
                Code::DisabledApiKey,
                format!(
                    "API key {} is disabled; an operator can enable it again",
                    found.name
                ),
            ));
        }
        if found.expires_at.is_some_and(|t| t <= now) {
            return Err(Problem::new(
                Code::ExpiredApiKey,
                format!("API key {} expired", found.name),
            ));
        }
        match &self.endpoint.security {
            Security::ApiKeys(accepted) if accepted.contains(&found.id) => {
                self.usage.key_used(&found.id, now.timestamp());
                Ok(Principal {
                    method: AuthMethod::ApiKey,
                    id: found.id.to_string(),
                    provider: None,
                })
            }
            Security::ApiKeys(_) => Err(Problem::new(
                Code::CredentialNotAllowed,
                format!(
                    "API key {} is not one this notification accepts",
                    found.name
                ),
            )),
            Security::Jwt { .. } => Err(Problem::new(
                Code::CredentialNotAllowed,
                "this notification accepts JWTs from its JWT providers, not API keys",
            )),
            Security::Closed => Err(self.not_secured()),
        }
    }

    fn token(&self, token: &str) -> Result<Principal, Problem> {
        match (&self.endpoint.security, &self.jwt) {
            (Security::Jwt { .. }, Some(trust)) => verify_token(token, trust),
            // Answered as a JWT endpoint answers a token none of its
            // providers knows, so a client without a valid credential does
            // not learn how the notification is secured.
            (Security::ApiKeys(_), _) => {
                let header = jwt::peek_header(token)?;
                Err(jwt::Refusal::UnknownKeyId(header.kid.unwrap_or_default()).into())
            }
            _ => Err(self.not_secured()),
        }
    }

    fn not_secured(&self) -> Problem {
        Problem::new(
            Code::EndpointNotSecured,
            format!(
                "notification {}/{} is not secured, so it accepts nothing; secure it with `eventward notification secure`",
                self.endpoint.workspace, self.endpoint.notification
            ),
        )
    }

    /// The origins a browser may call this endpoint from (JWT endpoints only).
    pub fn allowed_origins(&self) -> &[String] {
        match &self.endpoint.security {
            Security::Jwt {
                allowed_origins, ..
            } => allowed_origins,
            _ => &[],
        }
    }
}

/// Builds an endpoint's guard; `usage` carries over from the guard it replaces.
pub(super) fn build(
    endpoint: Endpoint,
    jwks_slots: &JwksSlots,
    options: JwtOptions,
    usage: Arc<Usage>,
    refetch: RefetchGate,
) -> Guard {
    let jwt = match &endpoint.security {
        Security::Jwt { providers, .. } => Some(JwtTrust {
            providers: providers
                .iter()
                .map(|p| TrustedProvider {
                    rules: jwt::Rules {
                        audiences: p.audiences.clone(),
                        issuer: p.issuer.clone(),
                        leeway: options.leeway,
                        principal_claim: p.principal_claim.clone(),
                    },
                    jwks: jwks_slots.slot(p),
                    provider: p.clone(),
                })
                .collect(),
            verified: TokenCache::new(options.cache_size, usage.outcomes.token_cache.clone()),
        }),
        _ => None,
    };
    Guard {
        endpoint,
        jwt,
        usage,
        refetch,
    }
}

/// Verifies a JWT against the providers this endpoint trusts, in name order;
/// a token verified before (and still valid) is answered from the cache.
/// Every provider whose key set holds the token's `kid` gets its try: the
/// first refusal is returned only when none of them accepts the token.
fn verify_token(token: &str, trust: &JwtTrust) -> Result<Principal, Problem> {
    let now = std::time::SystemTime::now();
    let now_secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let digest = token_cache::digest(token);
    let current = |provider: usize| trust.providers.get(provider)?.jwks.current();
    if let Some(principal) = trust.verified.get(&digest, now_secs, current) {
        return Ok(principal);
    }
    let header = jwt::peek_header(token)?;
    let mut first_refusal = None;
    for (index, trusted) in trust.providers.iter().enumerate() {
        let Some(keys) = trusted.jwks.current() else {
            continue;
        };
        match jwt::verify(token, &header, &keys, &trusted.rules, now) {
            Ok(verified) => {
                // The sender is the provider and this claim's value: it is
                // what events carry as `authprincipal` and what scopes
                // Idempotency-Key records, so a token without it is refused.
                let id = verified
                    .principal
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        Problem::new(
                            Code::InvalidToken,
                            format!(
                                "the token has no {} claim to name its sender",
                                trusted.rules.principal_claim
                            ),
                        )
                    })?;
                let principal = Principal {
                    method: AuthMethod::Jwt,
                    id,
                    provider: Some(trusted.provider.name.clone()),
                };
                trust
                    .verified
                    .insert(digest, principal.clone(), verified.expires_at, index, keys);
                return Ok(principal);
            }
            Err(jwt::Refusal::UnknownKeyId(_)) => continue,
            Err(other) => {
                first_refusal.get_or_insert(other);
            }
        }
    }
    // The module's detail escapes and truncates the attacker-chosen kid.
    Err(first_refusal
        .unwrap_or_else(|| jwt::Refusal::UnknownKeyId(header.kid.unwrap_or_default()))
        .into())
}
