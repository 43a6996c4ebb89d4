//! What an endpoint's requests leave behind, recorded on the hot path with
//! relaxed atomics only (no lock, no allocation, no message) and read off it:
//! requests by outcome (for metrics), and each API key's last use, which the
//! endpoint's Authenticator writes to PostgreSQL at most once a minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use uuid::Uuid;

use crate::problem::Code;
use crate::token_cache::CacheStats;

/// Requests of one endpoint by outcome; lives as long as the endpoint, across
/// guard rebuilds, so the counts only grow. Read by `/metrics`.
pub struct Outcomes {
    accepted: AtomicU64,
    refused: [AtomicU64; Code::ALL.len()],
    /// The endpoint's verified-token cache lookups, across its guards.
    pub token_cache: Arc<CacheStats>,
}

impl Default for Outcomes {
    fn default() -> Outcomes {
        Outcomes {
            accepted: AtomicU64::new(0),
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
            token_cache: Arc::default(),
        }
    }
}

impl Outcomes {
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    pub fn refused(&self, code: Code) -> u64 {
        self.refused[code as usize].load(Ordering::Relaxed)
    }
}

pub struct Usage {
    pub outcomes: Arc<Outcomes>,
    /// Unix seconds of the last accepted request, per API key the endpoint
    /// accepts (fixed when the guard is built; 0 = not used since).
    last_used: HashMap<Uuid, AtomicI64>,
}

impl Usage {
    pub fn new(outcomes: Arc<Outcomes>, keys: impl IntoIterator<Item = Uuid>) -> Usage {
        Usage {
            outcomes,
            last_used: keys.into_iter().map(|k| (k, AtomicI64::new(0))).collect(),
        }
    }

    pub fn accepted(&self) {
        self.outcomes.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, code: Code) {
        self.outcomes.refused[code as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Writes only when the second changed, so a busy key does not bounce
    /// a cache line between workers on every request.
    pub fn key_used(&self, key: &Uuid, at: i64) {
        if let Some(last) = self.last_used.get(key) {
            if last.load(Ordering::Relaxed) < at {
                last.store(at, Ordering::Relaxed);
            }
        }
    }

    /// Keys used since `flushed` says they were last written, with the time;
    /// updates `flushed`.
    pub fn unflushed(&self, flushed: &mut HashMap<Uuid, i64>) -> Vec<(Uuid, i64)> {
        let mut due = Vec::new();
        for (key, last) in &self.last_used {
            let at = last.load(Ordering::Relaxed);
            let written = flushed.entry(*key).or_insert(0);
            if at > *written {
                *written = at;
                due.push((*key, at));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_due_once_per_new_use() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let usage = Usage::new(Arc::default(), [a, b]);
        let mut flushed = HashMap::new();
        assert!(usage.unflushed(&mut flushed).is_empty());
        usage.key_used(&a, 100);
        usage.key_used(&a, 99);
        usage.key_used(&Uuid::now_v7(), 100); // not accepted here: ignored
        assert_eq!(usage.unflushed(&mut flushed), vec![(a, 100)]);
        assert!(usage.unflushed(&mut flushed).is_empty());
        usage.key_used(&a, 160);
        assert_eq!(usage.unflushed(&mut flushed), vec![(a, 160)]);
    }

    #[test]
    fn outcomes_count_by_code() {
        let usage = Usage::new(Arc::default(), []);
        usage.accepted();
        usage.accepted();
        usage.refused(Code::InvalidApiKey);
        usage.refused(Code::InvalidApiKey);
        assert_eq!(usage.outcomes.accepted(), 2);
        assert_eq!(usage.outcomes.refused(Code::InvalidApiKey), 2);
        assert_eq!(usage.outcomes.refused(Code::NoRoute), 0);
    }
}
