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
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::authenticator::{Principal, TrustedProvider};
use crate::jwt::KeySet;

pub type TokenDigest = [u8; 32];

pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    principal: Principal,
    expires_at: i64,
    /// Index of the provider in the guard's list, and the key set that verified it.
    provider: usize,
    keys: Arc<KeySet>,
}

pub struct TokenCache {
    capacity: usize,
    entries: Mutex<HashMap<TokenDigest, Entry>>,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 disables it.
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(
        &self,
        digest: &TokenDigest,
        now: i64,
        providers: &[TrustedProvider],
    ) -> Option<Principal> {
        if self.capacity == 0 {
            return None;
        }
        let entries = self.entries.lock().expect("token cache lock");
        let entry = entries.get(digest)?;
        let current = providers.get(entry.provider)?.keys.current()?;
        (now < entry.expires_at && Arc::ptr_eq(&current, &entry.keys))
            .then(|| entry.principal.clone())
    }

    pub fn insert(
        &self,
        digest: TokenDigest,
        principal: Principal,
        expires_at: i64,
        provider: usize,
        keys: Arc<KeySet>,
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
                principal,
                expires_at,
                provider,
                keys,
            },
        );
    }
}
