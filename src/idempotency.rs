//! `Idempotency-Key`: a repeat within 24 h on the same notification by the
//! same sender (the same API key, or the same JWT provider and principal:
//! `sub` unless the provider names another claim) gets the first answer back
//! and publishes nothing; one sender's keys never affect another's. Records
//! live in PostgreSQL (`store::idempotency`) so they hold across restarts and
//! across every daemon behind a load balancer.
//!
//! [`once`] runs the whole sequence: the key is *claimed* before publishing,
//! *completed* with the 202 answer, and *released* if the publish fails, so
//! a client can retry a refused request with the same key.

use std::future::Future;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::authenticator::Principal;
use crate::catalog::AuthMethod;
use crate::problem::Problem;
use crate::store::{self, idempotency::Claimed, idempotency::Owner};

pub const MAX_KEY_LEN: usize = 255;

/// Whose keys: one notification and one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    notification: Uuid,
    /// SHA-256 of `api_key:<key id>` or `jwt:<provider name>:<principal>`
    /// (the `sub`, or the provider's principal claim)
    /// (provider names hold no `:`, so the two parts never run together).
    sender: Vec<u8>,
}

impl Scope {
    pub fn new(notification: Uuid, sender: &Principal) -> Scope {
        let who = match sender.method {
            AuthMethod::ApiKey => format!("api_key:{}", sender.id),
            AuthMethod::Jwt => format!(
                "jwt:{}:{}",
                sender.provider.as_deref().unwrap_or_default(),
                sender.id
            ),
        };
        Scope {
            notification,
            sender: Sha256::digest(who.as_bytes()).to_vec(),
        }
    }

    fn owner(&self) -> Owner<'_> {
        Owner {
            notification: self.notification,
            sender: &self.sender,
        }
    }
}

/// What a claim decided.
#[derive(Debug, PartialEq, Eq)]
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

impl Claim {
    fn decide(claimed: Claimed, fingerprint: &[u8]) -> Claim {
        match claimed {
            Claimed::Ours => Claim::Owned,
            // Released between the insert and the read: let the client retry.
            Claimed::Held(None) => Claim::InFlight,
            Claimed::Held(Some(r)) if r.fingerprint != fingerprint => Claim::Mismatch,
            Claimed::Held(Some(r)) => match r.response {
                Some((status, body)) => Claim::Replay { status, body },
                None => Claim::InFlight,
            },
        }
    }
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

/// The answer to a request that carried an Idempotency-Key.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Published now; the 202 body.
    Fresh(String),
    /// The first answer, sent again; nothing was published.
    Replayed { status: u16, body: String },
}

/// Why a request with an Idempotency-Key is refused. `problem.rs` turns it
/// into HTTP.
#[derive(Debug)]
pub enum Error {
    /// The first request with this key is still being processed.
    InUse,
    /// The key was used for a different request by this sender.
    Reused,
    /// The records cannot be read or written; nothing was published.
    StoreUnavailable,
    /// The publish itself was refused; the key was released.
    Publish(Problem),
}

/// Runs `publish` at most once per (scope, key) within 24 h: claims the key,
/// publishes, and records the 202 body for replays; on a failed publish the
/// key is released. A replay or a refusal never calls `publish`.
///
/// The database calls run on the blocking thread pool (`web::block`), off
/// the async workers.
pub async fn once<F, Fut>(
    pool: &store::Pool,
    scope: Scope,
    key: String,
    fingerprint: Vec<u8>,
    publish: F,
) -> Result<Answer, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String, Problem>>,
{
    let claim = {
        let (pool, scope, key) = (pool.clone(), scope.clone(), key.clone());
        blocking(move || {
            store::idempotency::claim(&pool, scope.owner(), &key, &fingerprint)
                .map(|claimed| Claim::decide(claimed, &fingerprint))
        })
        .await
        .map_err(|e| {
            log::warn!("Idempotency-Key store failed: {e}");
            Error::StoreUnavailable
        })?
    };
    match claim {
        Claim::Owned => {}
        Claim::Replay { status, body } => return Ok(Answer::Replayed { status, body }),
        Claim::InFlight => return Err(Error::InUse),
        Claim::Mismatch => return Err(Error::Reused),
    }
    match publish().await {
        Ok(body) => {
            // The events are in the broker: failing to record the answer must
            // not turn this into an error the client would retry.
            let (pool, answer) = (pool.clone(), body.clone());
            let done = blocking(move || {
                store::idempotency::complete(&pool, scope.owner(), &key, 202, &answer)
            })
            .await;
            if let Err(e) = done {
                log::warn!("accepted events, but could not record the Idempotency-Key answer: {e}");
            }
            Ok(Answer::Fresh(body))
        }
        Err(problem) => {
            let pool = pool.clone();
            let released =
                blocking(move || store::idempotency::release(&pool, scope.owner(), &key)).await;
            if let Err(e) = released {
                log::warn!("could not release an Idempotency-Key after a failed publish: {e}");
            }
            Err(Error::Publish(problem))
        }
    }
}

/// Runs a store call on the blocking thread pool (`web::block`).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> store::Result<T> + Send + 'static,
) -> Result<T, String> {
    match actix_web::web::block(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("the store call did not finish: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::idempotency::Record;

    fn principal(method: AuthMethod, id: &str, provider: Option<&str>) -> Principal {
        Principal {
            method,
            id: id.into(),
            provider: provider.map(Into::into),
        }
    }

    #[test]
    fn every_sender_has_its_own_scope() {
        let n = Uuid::now_v7();
        let scopes = [
            Scope::new(n, &principal(AuthMethod::ApiKey, "k1", None)),
            Scope::new(n, &principal(AuthMethod::ApiKey, "k2", None)),
            Scope::new(n, &principal(AuthMethod::Jwt, "k1", Some("auth"))),
            Scope::new(n, &principal(AuthMethod::Jwt, "k2", Some("auth"))),
            Scope::new(n, &principal(AuthMethod::Jwt, "k1", Some("other"))),
            Scope::new(Uuid::now_v7(), &principal(AuthMethod::ApiKey, "k1", None)),
        ];
        for (i, a) in scopes.iter().enumerate() {
            assert_eq!(a.sender.len(), 32);
            for b in &scopes[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            scopes[3],
            Scope::new(n, &principal(AuthMethod::Jwt, "k2", Some("auth")))
        );
    }

    #[test]
    fn a_held_record_is_replayed_only_for_the_same_body_once_answered() {
        let fp = fingerprint(false, b"{}");
        let held = |fingerprint: Vec<u8>, response| {
            Claimed::Held(Some(Record {
                fingerprint,
                response,
            }))
        };
        assert_eq!(Claim::decide(Claimed::Ours, &fp), Claim::Owned);
        assert_eq!(Claim::decide(Claimed::Held(None), &fp), Claim::InFlight);
        assert_eq!(Claim::decide(held(fp.clone(), None), &fp), Claim::InFlight);
        assert_eq!(
            Claim::decide(held(fp.clone(), Some((202, "b".into()))), &fp),
            Claim::Replay {
                status: 202,
                body: "b".into()
            }
        );
        let batch = fingerprint(true, b"{}");
        assert_eq!(
            Claim::decide(held(batch, Some((202, "b".into()))), &fp),
            Claim::Mismatch
        );
    }
}
