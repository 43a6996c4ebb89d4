//! Admin authentication: `Authorization: Bearer evwa_…` on every admin API
//! request.
//!
//! - The token's format and checksum are checked first (no lookup for a
//!   made-up token); then its SHA-256 is looked up in PostgreSQL **on every
//!   request** ([`authenticate`]). Admin traffic is tiny, and this makes a
//!   revoked token refused at once on every instance, with no cache to wait on.
//! - Missing or bad token: `401` problem+json with `WWW-Authenticate: Bearer`.
//!   A `read` token on a write: `403 insufficient_scope` ([`Writer`]).
//! - Repeated bad tokens are slowed down ([`Throttle`]): per client IP, after
//!   [`FREE_FAILURES`] failures every further request from that address waits
//!   250 ms × 2^(failures − 5), at most [`MAX_DELAY`], before it is looked at;
//!   the count is forgotten [`FORGET_AFTER`] after the last failure or at the
//!   first success. At most [`MAX_TRACKED`] addresses are tracked (bounded
//!   memory): when full, forgotten entries are dropped, then the oldest.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::FutureExt;
use uuid::Uuid;

use super::AdminState;
use crate::apikey;
use crate::problem::{Code, Problem};
use crate::service::Actor;
use crate::store::admin_tokens::Scope;
use crate::store::Pool;

pub const FREE_FAILURES: u32 = 5;
pub const MAX_DELAY: Duration = Duration::from_secs(10);
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
pub const MAX_TRACKED: usize = 10_000;

/// Who made an admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPrincipal {
    pub token_id: Uuid,
    pub name: String,
    pub scope: Scope,
}

impl AdminPrincipal {
    /// The audit's actor for an API request (`token:<name>`).
    pub fn actor(&self) -> Actor {
        Actor::Token {
            name: self.name.clone(),
        }
    }

    /// `403 insufficient_scope` unless the token may change things.
    pub fn require_admin(&self) -> Result<(), Problem> {
        match self.scope {
            Scope::Admin => Ok(()),
            Scope::Read => Err(Problem::new(
                Code::InsufficientScope,
                format!(
                    "admin token {} has the read scope, which cannot change anything; use a token with the admin scope",
                    self.name
                ),
            )),
        }
    }
}

/// The credential of an `Authorization: Bearer` header, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Looks the token up (blocking work on the blocking pool): the live token
/// whose hash it is, or a 401 (`missing_credentials`, `invalid_admin_token`),
/// or 503 `store_unavailable`.
pub async fn authenticate(pool: &Pool, bearer: Option<&str>) -> Result<AdminPrincipal, Problem> {
    let Some(token) = bearer else {
        return Err(Problem::new(
            Code::MissingCredentials,
            "send an admin token as Authorization: Bearer evwa_… (create one with `eventward admin-token create`)",
        ));
    };
    if !apikey::well_formed_with(apikey::ADMIN_PREFIX, token) {
        return Err(Problem::new(
            Code::InvalidAdminToken,
            "not an eventward admin token: expected evwa_ followed by 46 letters and digits with a valid checksum",
        ));
    }
    let hash = apikey::hash(token);
    let found = super::with_db(pool, move |db| {
        crate::store::admin_tokens::authenticate(db, &hash)
    })
    .await
    .map_err(|_| Problem::new(Code::InternalError, "the token lookup was cancelled"))?;
    match found {
        Ok(Some(row)) => Ok(AdminPrincipal {
            token_id: row.id,
            name: row.name,
            scope: row.scope,
        }),
        Ok(None) => Err(Problem::new(
            Code::InvalidAdminToken,
            "unknown or revoked admin token",
        )),
        Err(e) => {
            log::warn!("admin token lookup failed: {e}");
            Err(Problem::new(
                Code::StoreUnavailable,
                "cannot check the admin token: the database is unavailable; retry shortly",
            ))
        }
    }
}

/// Per-address failure counts that slow down guessing (see the module doc).
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// How long a request from `ip` waits before it is looked at.
    pub fn delay(&self, ip: IpAddr) -> Duration {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some((n, last)) if last.elapsed() < FORGET_AFTER => delay_for(*n),
            _ => Duration::ZERO,
        }
    }

    pub fn failed(&self, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            map.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
            if map.len() >= MAX_TRACKED {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, (_, last))| *last)
                    .map(|(k, _)| *k)
                {
                    map.remove(&oldest);
                }
            }
        }
        let entry = map.entry(ip).or_insert((0, now));
        if now.duration_since(entry.1) >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }

    pub fn tracked(&self) -> usize {
        self.failures.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// The wait after `failures` failures.
pub fn delay_for(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = (failures - FREE_FAILURES).min(16);
    (Duration::from_millis(250) * 2u32.pow(exp)).min(MAX_DELAY)
}

/// Authenticates an admin API request: waits out the address's throttle
/// delay, checks the bearer token, and counts a 401 as a failure.
pub async fn authenticate_request(
    req: &HttpRequest,
    pool: &Pool,
    throttle: &Throttle,
) -> Result<AdminPrincipal, Problem> {
    let ip = req.peer_addr().map(|a| a.ip());
    if let Some(ip) = ip {
        let wait = throttle.delay(ip);
        if !wait.is_zero() {
            actix_rt::time::sleep(wait).await;
        }
    }
    let result = authenticate(pool, bearer(req)).await;
    if let Some(ip) = ip {
        match &result {
            Ok(_) => throttle.succeeded(ip),
            // A wrong token is a guess; a missing one is not.
            Err(p) if p.code == Code::InvalidAdminToken => throttle.failed(ip),
            Err(_) => {}
        }
    }
    result
}

/// Extractor: any live admin token (`read` or `admin`).
pub struct Reader(pub AdminPrincipal);

/// Extractor: a live admin token with the `admin` scope (else 403).
pub struct Writer(pub AdminPrincipal);

/// The principal a middleware already authenticated (the API's scope
/// does), else authenticates the request now.
async fn principal(req: HttpRequest) -> Result<AdminPrincipal, Problem> {
    if let Some(p) = req.extensions().get::<AdminPrincipal>() {
        return Ok(p.clone());
    }
    let state = req
        .app_data::<web::Data<AdminState>>()
        .cloned()
        .ok_or_else(|| Problem::new(Code::InternalError, "admin state missing"))?;
    authenticate_request(&req, &state.pool, &state.throttle).await
}

impl FromRequest for Reader {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(principal(req.clone()).map(|r| r.map(Reader)))
    }
}

impl FromRequest for Writer {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(principal(req.clone()).map(|r| {
            let p = r?;
            p.require_admin()?;
            Ok(Writer(p))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_and_is_bounded() {
        assert_eq!(delay_for(0), Duration::ZERO);
        assert_eq!(delay_for(4), Duration::ZERO);
        assert_eq!(delay_for(5), Duration::from_millis(250));
        assert_eq!(delay_for(6), Duration::from_millis(500));
        assert_eq!(delay_for(100), MAX_DELAY);
    }

    #[test]
    fn the_throttle_forgets_on_success_and_stays_bounded() {
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..7 {
            t.failed(ip);
        }
        assert_eq!(t.delay(ip), Duration::from_secs(1));
        t.succeeded(ip);
        assert_eq!(t.delay(ip), Duration::ZERO);
        for i in 0..(MAX_TRACKED as u32 + 10) {
            t.failed(IpAddr::from(std::net::Ipv4Addr::from(i)));
        }
        assert!(t.tracked() <= MAX_TRACKED);
    }
}
