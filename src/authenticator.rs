//! Authentication: which credential a request carries, and whether the
//! notification's endpoint accepts it.
//!
//! Each endpoint has an [`Authenticator`] actor that owns the endpoint's
//! security and publishes it as an immutable [`Guard`] in the endpoint's
//! [`Slot`]. Request handlers decide with [`Guard::authenticate`] on that
//! snapshot, on their own worker thread: the actor is the only writer, so the
//! hot path takes no lock and sends no message (a mailbox round trip per
//! request would serialise every request of an endpoint on one thread).

use std::collections::BTreeSet;
use std::sync::Arc;

use actix::prelude::*;
use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::apikey;
use crate::catalog::{AuthMethod, Endpoint, KeyTable, Provider, Security};
use crate::jwks_refresher::{KeysetSlot, Keysets};
use crate::jwt;
use crate::problem::{Code, Problem};
use crate::token_cache::{self, TokenCache};

/// The credential a request carries, by its shape.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    ApiKey(&'a str),
    Token(&'a str),
}

/// Finds the one credential in `Authorization: Bearer` or `X-API-Key`.
pub fn credential(headers: &HeaderMap) -> Result<Credential<'_>, Problem> {
    let api_key = headers.get("x-api-key");
    let authorization = headers.get(AUTHORIZATION);
    if api_key.is_some() && authorization.is_some() {
        return Err(Problem::new(
            Code::InvalidToken,
            "send one credential: either Authorization or X-API-Key, not both",
        ));
    }
    if let Some(value) = api_key {
        let key = value.to_str().map_err(|_| {
            Problem::new(
                Code::InvalidApiKey,
                "X-API-Key holds characters no API key has",
            )
        })?;
        return Ok(Credential::ApiKey(key.trim()));
    }
    let Some(value) = authorization else {
        return Err(Problem::new(
            Code::MissingCredentials,
            "send the credential as `Authorization: Bearer <API key or JWT>` or `X-API-Key: <API key>`",
        ));
    };
    let value = value.to_str().map_err(|_| {
        Problem::new(
            Code::InvalidToken,
            "Authorization holds non-ASCII characters",
        )
    })?;
    let bearer = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => return Err(Problem::new(
            Code::MissingCredentials,
            "Authorization must use the Bearer scheme: `Authorization: Bearer <API key or JWT>`",
        )),
    };
    if bearer.is_empty() {
        return Err(Problem::new(
            Code::MissingCredentials,
            "the Bearer credential is empty",
        ));
    }
    Ok(if apikey::looks_like_key(bearer) {
        Credential::ApiKey(bearer)
    } else {
        Credential::Token(bearer)
    })
}

/// Who sent an accepted request: written into every published event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub method: AuthMethod,
    /// The API key id, or the JWT's `sub`.
    pub id: String,
    /// The JWT provider's name; `None` for API keys.
    pub provider: Option<String>,
}

/// A JWT provider as one endpoint sees it: its rules and its live key set.
pub struct TrustedProvider {
    pub provider: Arc<Provider>,
    pub rules: jwt::Rules,
    pub keys: Arc<KeysetSlot>,
}

pub enum Policy {
    Closed,
    ApiKeys(BTreeSet<Uuid>),
    Jwt {
        providers: Vec<TrustedProvider>,
        allowed_origins: Vec<String>,
        verified: TokenCache,
    },
}

/// JWT settings every endpoint applies.
#[derive(Debug, Clone, Copy)]
pub struct JwtOptions {
    pub leeway: std::time::Duration,
    /// Verified tokens remembered per endpoint; 0 disables the cache.
    pub cache_size: usize,
}

/// An endpoint's decision procedure, immutable; replaced whole on change.
pub struct Guard {
    pub endpoint: Endpoint,
    pub policy: Policy,
}

impl Guard {
    /// Decides a request. A JWT whose `kid` no trusted provider knows may
    /// trigger one JWKS refetch (rate-limited per provider); the request that
    /// triggered it waits for it and is decided again, so a rotated-in key
    /// works on first use.
    pub async fn authenticate(
        &self,
        credential: &Credential<'_>,
        keys: &KeyTable,
    ) -> Result<Principal, Problem> {
        match self.decide(credential, keys, Utc::now()) {
            Err(p) if p.code == Code::UnknownKeyId && self.refetch_for_unknown_kid().await => {
                self.decide(credential, keys, Utc::now())
            }
            decided => decided,
        }
    }

    async fn refetch_for_unknown_kid(&self) -> bool {
        let Policy::Jwt { providers, .. } = &self.policy else {
            return false;
        };
        let refetches = providers.iter().map(|p| p.keys.refetch_for_unknown_kid());
        futures_util::future::join_all(refetches)
            .await
            .into_iter()
            .any(|refetched| refetched)
    }

    pub fn decide(
        &self,
        credential: &Credential<'_>,
        keys: &KeyTable,
        now: DateTime<Utc>,
    ) -> Result<Principal, Problem> {
        match credential {
            Credential::ApiKey(key) => self.api_key(key, keys, now),
            Credential::Token(token) => self.token(token),
        }
    }

    fn api_key(
        &self,
        key: &str,
        keys: &KeyTable,
        now: DateTime<Utc>,
    ) -> Result<Principal, Problem> {
        // The checksum refuses made-up and mistyped keys before any hashing or lookup.
        if !apikey::well_formed(key) {
            return Err(Problem::new(
                Code::InvalidApiKey,
                "not an eventward API key: expected evw_ followed by 46 letters and digits with a valid checksum",
            ));
        }
        let Some(found) = keys.get(&apikey::hash(key)) else {
            return Err(Problem::new(Code::InvalidApiKey, "unknown API key"));
        };
        if found.revoked_at.is_some() {
            return Err(Problem::new(
                Code::RevokedApiKey,
                format!("API key {} was revoked", found.name),
            ));
        }
        if found.expires_at.is_some_and(|t| t <= now) {
            return Err(Problem::new(
                Code::ExpiredApiKey,
                format!("API key {} expired", found.name),
            ));
        }
        match &self.policy {
            Policy::ApiKeys(accepted) if accepted.contains(&found.id) => Ok(Principal {
                method: AuthMethod::ApiKey,
                id: found.id.to_string(),
                provider: None,
            }),
            Policy::ApiKeys(_) => Err(Problem::new(
                Code::CredentialNotAllowed,
                format!(
                    "API key {} is not one this notification accepts",
                    found.name
                ),
            )),
            Policy::Jwt { .. } => Err(Problem::new(
                Code::CredentialNotAllowed,
                "this notification accepts JWTs from its JWT providers, not API keys",
            )),
            Policy::Closed => Err(self.not_secured()),
        }
    }

    fn token(&self, token: &str) -> Result<Principal, Problem> {
        match &self.policy {
            Policy::Closed => Err(self.not_secured()),
            Policy::ApiKeys(_) => Err(Problem::new(
                Code::InvalidApiKey,
                "this notification accepts API keys (evw_…), and the credential sent is not one",
            )),
            Policy::Jwt {
                providers,
                verified,
                ..
            } => verify_token(token, providers, verified),
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
        match &self.policy {
            Policy::Jwt {
                allowed_origins, ..
            } => allowed_origins,
            _ => &[],
        }
    }
}

/// Verifies a JWT against the providers this endpoint trusts, in name order;
/// a token verified before (and still valid) is answered from `cache`.
fn verify_token(
    token: &str,
    providers: &[TrustedProvider],
    cache: &TokenCache,
) -> Result<Principal, Problem> {
    let now = std::time::SystemTime::now();
    let now_secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let digest = token_cache::digest(token);
    if let Some(principal) = cache.get(&digest, now_secs, providers) {
        return Ok(principal);
    }
    let header = jwt::peek_header(token).map_err(refusal)?;
    for (index, trusted) in providers.iter().enumerate() {
        let Some(keys) = trusted.keys.current() else {
            continue;
        };
        match jwt::verify(token, &header, &keys, &trusted.rules, now) {
            Ok(verified) => {
                let sub = verified.sub.filter(|s| !s.is_empty()).ok_or_else(|| {
                    Problem::new(
                        Code::InvalidToken,
                        "the token has no sub claim to name its sender",
                    )
                })?;
                let principal = Principal {
                    method: AuthMethod::Jwt,
                    id: sub,
                    provider: Some(trusted.provider.name.clone()),
                };
                cache.insert(digest, principal.clone(), verified.expires_at, index, keys);
                return Ok(principal);
            }
            Err(jwt::Refusal::UnknownKeyId(_)) => continue,
            Err(other) => return Err(refusal(other)),
        }
    }
    // The module's detail escapes and truncates the attacker-chosen kid.
    Err(refusal(jwt::Refusal::UnknownKeyId(
        header.kid.unwrap_or_default(),
    )))
}

fn refusal(r: jwt::Refusal) -> Problem {
    use jwt::Refusal::*;
    let code = match &r {
        InvalidToken(_) => Code::InvalidToken,
        Expired => Code::ExpiredToken,
        NotYetValid => Code::TokenNotYetValid,
        InvalidAudience => Code::InvalidAudience,
        InvalidIssuer => Code::InvalidIssuer,
        UnsupportedAlgorithm(_) => Code::UnsupportedAlgorithm,
        UnknownKeyId(_) => Code::UnknownKeyId,
    };
    Problem::new(code, r.detail())
}

/// Where an endpoint's current guard lives; the route table holds these.
pub type Slot = ArcSwap<Guard>;

/// Owns one endpoint's guard: rebuilds it when the endpoint's security
/// changes, and makes sure the JWKS of its providers are being refreshed.
pub struct Authenticator {
    slot: Arc<Slot>,
    keysets: Keysets,
    jwt: JwtOptions,
}

impl Authenticator {
    /// Builds the first guard synchronously so the endpoint is routable the
    /// moment the registry publishes it.
    pub fn start(
        endpoint: Endpoint,
        keysets: Keysets,
        jwt: JwtOptions,
    ) -> (Addr<Authenticator>, Arc<Slot>) {
        let guard = build(endpoint, &keysets, jwt);
        let slot = Arc::new(ArcSwap::from_pointee(guard));
        let actor = Authenticator {
            slot: slot.clone(),
            keysets,
            jwt,
        };
        (actor.start(), slot)
    }
}

fn build(endpoint: Endpoint, keysets: &Keysets, jwt: JwtOptions) -> Guard {
    let policy = match &endpoint.security {
        Security::Closed => Policy::Closed,
        Security::ApiKeys(ids) => Policy::ApiKeys(ids.clone()),
        Security::Jwt {
            providers,
            allowed_origins,
        } => Policy::Jwt {
            providers: providers
                .iter()
                .map(|p| TrustedProvider {
                    rules: jwt::Rules {
                        audience: p.audience.clone(),
                        issuer: p.issuer.clone(),
                        leeway: jwt.leeway,
                    },
                    keys: keysets.slot(p),
                    provider: p.clone(),
                })
                .collect(),
            allowed_origins: allowed_origins.clone(),
            verified: TokenCache::new(jwt.cache_size),
        },
    };
    Guard { endpoint, policy }
}

impl Actor for Authenticator {
    type Context = Context<Self>;
}

/// The endpoint's security changed: rebuild and publish its guard.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure(pub Endpoint);

impl Handler<Reconfigure> for Authenticator {
    type Result = ();

    fn handle(&mut self, msg: Reconfigure, _: &mut Context<Self>) {
        self.slot
            .store(Arc::new(build(msg.0, &self.keysets, self.jwt)));
    }
}
