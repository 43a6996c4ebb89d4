//! Prometheus metrics: what the daemon counts, and the text it serves at
//! `/metrics` on the admin listener ([`expose`]).
//!
//! Recording is relaxed atomics only: no lock, no allocation, no label lookup
//! on the request path. Most series are not recorded here at all but read at
//! scrape time from what their owners already keep: requests by outcome from
//! each endpoint's `Outcomes` (through the snapshot), authentication
//! decisions derived from the same counts, JWKS state from the slots, catalog
//! sizes from the snapshot. What has no owner of its own lives in the
//! statics below: the request-duration histogram, requests refused before
//! any endpoint was found, the catalog loader's state, and the publisher's
//! [`Publishing`] handle.

pub mod expose;
mod process;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::problem::Code;

/// A histogram with fixed bucket bounds (seconds): one relaxed add for the
/// bucket, one for the sum, one for the count. Buckets are stored
/// non-cumulative and summed at scrape time, so an observation touches one.
pub struct Histogram {
    bounds: &'static [f64],
    buckets: [AtomicU64; MAX_BUCKETS],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

const MAX_BUCKETS: usize = 16;

/// Request duration, seconds: 1 ms to 10 s.
pub const REQUEST_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Broker confirm latency, seconds: 0.25 ms to 5 s (the confirm timeout's default).
pub const CONFIRM_BOUNDS: &[f64] = &[
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Catalog load, seconds: 1 ms to 30 s.
pub const LOAD_BOUNDS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Histogram {
    /// `bounds` ascending, fewer than 16 (the last bucket is `+Inf`).
    pub const fn new(bounds: &'static [f64]) -> Histogram {
        assert!(bounds.len() < MAX_BUCKETS);
        Histogram {
            bounds,
            buckets: [const { AtomicU64::new(0) }; MAX_BUCKETS],
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(self.bounds.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Cumulative counts per bound (then `+Inf`), the sum in seconds, the count.
    pub fn read(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len() + 1);
        for (i, le) in self
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .enumerate()
        {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            buckets.push((le, cumulative));
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        // The +Inf bucket is the count; read separately, an add between the
        // loads could make them disagree.
        (buckets, sum, cumulative)
    }
}

/// How long intake requests took, from routing to the answer's head.
pub static REQUEST_DURATION: Histogram = Histogram::new(REQUEST_BOUNDS);

/// Requests refused before an endpoint was found (`unknown_endpoint`,
/// `store_unavailable`), by code: they belong to no notification.
pub static UNROUTED: [AtomicU64; Code::ALL.len()] = [const { AtomicU64::new(0) }; Code::ALL.len()];

pub fn unrouted(code: Code) {
    UNROUTED[code as usize].fetch_add(1, Ordering::Relaxed);
}

/// The catalog loader's state (`registry.rs`).
pub struct CatalogLoads {
    /// Unix milliseconds of the last successful load; 0 before the first.
    last_load_ms: AtomicU64,
    pub load_duration: Histogram,
    pub failures: AtomicU64,
    listening: AtomicBool,
}

pub static CATALOG: CatalogLoads = CatalogLoads {
    last_load_ms: AtomicU64::new(0),
    load_duration: Histogram::new(LOAD_BOUNDS),
    failures: AtomicU64::new(0),
    listening: AtomicBool::new(false),
};

impl CatalogLoads {
    pub fn loaded(&self, took: Duration) {
        self.load_duration.observe(took);
        self.last_load_ms.store(unix_ms(), Ordering::Relaxed);
    }

    pub fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The loader's LISTEN connection is up (or not).
    pub fn listening(&self, up: bool) {
        self.listening.store(up, Ordering::Relaxed);
    }

    fn last_load_ms(&self) -> Option<u64> {
        Some(self.last_load_ms.load(Ordering::Relaxed)).filter(|&ms| ms != 0)
    }
}

/// How a publish ended, as `eventward_publishes_total{result}` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishResult {
    /// RabbitMQ confirmed it (and routed it).
    Ack,
    /// RabbitMQ refused it (basic.nack).
    Nack,
    /// Confirmed but returned unroutable (mandatory, no queue bound).
    Returned,
    /// No confirm within `amqp.confirm_timeout_ms`.
    Timeout,
    /// Not sent: not connected, blocked, or the connection was lost.
    Unavailable,
}

impl PublishResult {
    pub const ALL: [PublishResult; 5] = [
        PublishResult::Ack,
        PublishResult::Nack,
        PublishResult::Returned,
        PublishResult::Timeout,
        PublishResult::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PublishResult::Ack => "ack",
            PublishResult::Nack => "nack",
            PublishResult::Returned => "returned",
            PublishResult::Timeout => "timeout",
            PublishResult::Unavailable => "unavailable",
        }
    }
}

/// What the publisher reports; every call is one or two relaxed atomics, so
/// it may be called per message on the publish path. Reach it as
/// [`PUBLISHING`].
pub struct Publishing {
    results: [AtomicU64; PublishResult::ALL.len()],
    /// From `basic.publish` to the broker's confirm (ack, nack or return).
    pub confirm_latency: Histogram,
    in_flight: AtomicI64,
    connected: AtomicBool,
    reconnects: AtomicU64,
}

pub static PUBLISHING: Publishing = Publishing {
    results: [const { AtomicU64::new(0) }; PublishResult::ALL.len()],
    confirm_latency: Histogram::new(CONFIRM_BOUNDS),
    in_flight: AtomicI64::new(0),
    connected: AtomicBool::new(false),
    reconnects: AtomicU64::new(0),
};

impl Publishing {
    /// One message's publish ended. `latency` is the time from sending to the
    /// broker's answer: `Some` for `Ack`, `Nack` and `Returned` (observed in
    /// the confirm-latency histogram), `None` for `Timeout` and `Unavailable`.
    pub fn confirmed(&self, result: PublishResult, latency: Option<Duration>) {
        self.results[result as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(latency) = latency {
            self.confirm_latency.observe(latency);
        }
    }

    /// Messages sent and not yet answered: `+n` when sent, `-n` when
    /// answered, timed out or lost with the connection.
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Ordering::Relaxed);
    }

    /// The broker connection (with its confirm channel) came up or went down.
    pub fn connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    /// A connection was re-established after one was lost (not the first).
    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    fn result(&self, result: PublishResult) -> u64 {
        self.results[result as usize].load(Ordering::Relaxed)
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_observation_in_its_bucket_once() {
        static H: Histogram = Histogram::new(&[0.01, 0.1, 1.0]);
        H.observe(Duration::from_millis(5));
        H.observe(Duration::from_millis(10)); // on the bound: le is inclusive
        H.observe(Duration::from_millis(50));
        H.observe(Duration::from_secs(3));
        let (buckets, sum, count) = H.read();
        assert_eq!(
            buckets,
            vec![(0.01, 2), (0.1, 3), (1.0, 3), (f64::INFINITY, 4)]
        );
        assert_eq!(count, 4);
        assert!((sum - 3.065).abs() < 1e-9, "{sum}");
    }
}
