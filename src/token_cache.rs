//! Verified-token cache: a browser or mobile app sends many events with the
//! same JWT, and verifying its signature again each time is most of the cost
//! of a JWT request (44 µs for RS256, 72 µs for ES256 on the benchmark
//! machine). One cache per endpoint guard, so a change of the endpoint's
//! providers or their rules starts it empty.
//!
//! Keyed by the SHA-256 of the whole token. An entry is used only while the
//! token has not expired (its own `exp`, without leeway) and while the key set
//! it was verified against is still the provider's current one: a JWKS
//! refresh that removes a key ends its tokens' entries too. Bounded: when
//! full, it is emptied (simple, and a working set larger than the cache just
//! verifies as if there were none).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::jwt::KeySet;

pub type TokenDigest = [u8; 32];

pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry<V> {
    value: V,
    expires_at: i64,
    /// Index of the provider in the guard's list, and the key set that verified it.
    provider: usize,
    jwks: Arc<KeySet>,
}

/// Lookups answered from the cache and not, for metrics. Owned by whoever
/// outlives the caches (an endpoint, across its guards), so counts only grow.
#[derive(Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheStats {
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

/// Remembers what verifying a token yielded (`V`, the sender).
pub struct TokenCache<V> {
    capacity: usize,
    entries: Mutex<HashMap<TokenDigest, Entry<V>>>,
    stats: Arc<CacheStats>,
}

impl<V: Clone> TokenCache<V> {
    /// A cache of at most `capacity` tokens; 0 disables it (and counts nothing).
    pub fn new(capacity: usize, stats: Arc<CacheStats>) -> TokenCache<V> {
        TokenCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
            stats,
        }
    }

    /// The remembered value, if the token has not expired at `now` and
    /// `current_keys(provider)` is still the key set that verified it.
    pub fn get(
        &self,
        digest: &TokenDigest,
        now: i64,
        current_keys: impl FnOnce(usize) -> Option<Arc<KeySet>>,
    ) -> Option<V> {
        if self.capacity == 0 {
            return None;
        }
        let found = {
            let entries = self.entries.lock().expect("token cache lock");
            entries.get(digest).and_then(|entry| {
                let current = current_keys(entry.provider)?;
                (now < entry.expires_at && Arc::ptr_eq(&current, &entry.jwks))
                    .then(|| entry.value.clone())
            })
        };
        let counter = match found {
            Some(_) => &self.stats.hits,
            None => &self.stats.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn insert(
        &self,
        digest: TokenDigest,
        value: V,
        expires_at: i64,
        provider: usize,
        jwks: Arc<KeySet>,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().expect("token cache lock");
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(
            digest,
            Entry {
                value,
                expires_at,
                provider,
                jwks,
            },
        );
    }
}
