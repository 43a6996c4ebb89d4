//! The systemd watchdog (`WatchdogSec=` in the unit): `WATCHDOG=1` is sent
//! every half interval, but only while the daemon makes progress, so that
//! systemd restarts a daemon that hangs rather than one that is merely busy.
//!
//! Progress means both:
//! - every HTTP worker ran its heartbeat recently: a task spawned on each
//!   actix worker stamps its slot every quarter of the ping period; a worker
//!   whose thread is blocked (a handler that never yields) stops stamping;
//! - the publisher is not stalled ([`Publisher::stalled`]): no message has
//!   waited for the broker's confirm longer than `amqp.confirm_timeout_ms`
//!   on a connection that is up. A broker that is down is not a stall: the
//!   daemon then answers 503 at once, which is what it should do.
//!
//! The pinging task runs on the main actix arbiter, so a stuck main loop
//! stops the pings too. Stamps and checks are relaxed atomics.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::publisher::Publisher;

/// Milliseconds on a monotonic clock since the first call in this process.
pub fn monotonic_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

pub struct Watchdog {
    /// How often `WATCHDOG=1` is sent: half of `WATCHDOG_USEC`.
    period: Duration,
    /// Per HTTP worker: [`monotonic_ms`] + 1 of its last heartbeat; 0 before
    /// the first.
    beats: Box<[AtomicU64]>,
    next_slot: AtomicUsize,
    stopping: AtomicBool,
}

thread_local! {
    static BEATING: Cell<bool> = const { Cell::new(false) };
}

/// Why no ping was sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Stuck {
    /// HTTP worker (slot) has not beaten for this many milliseconds (or
    /// never, `None`).
    Worker(usize, Option<u64>),
    Publisher,
}

impl std::fmt::Display for Stuck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stuck::Worker(slot, Some(ms)) => {
                write!(
                    f,
                    "HTTP worker {slot} has not run its heartbeat for {ms} ms"
                )
            }
            Stuck::Worker(slot, None) => write!(f, "HTTP worker {slot} has not started"),
            Stuck::Publisher => write!(
                f,
                "the publisher is stalled: RabbitMQ has not confirmed messages in time \
                 on a connection that is up"
            ),
        }
    }
}

impl Watchdog {
    /// The watchdog systemd asked for (`WATCHDOG_USEC` for this process), if
    /// any, for `workers` HTTP workers.
    pub fn from_env(workers: usize) -> Option<Arc<Watchdog>> {
        let mut usec = 0;
        if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
            return None;
        }
        Some(Arc::new(Watchdog::new(
            Duration::from_micros(usec) / 2,
            workers,
        )))
    }

    pub fn new(period: Duration, workers: usize) -> Watchdog {
        Watchdog {
            period,
            beats: (0..workers.max(1)).map(|_| AtomicU64::new(0)).collect(),
            next_slot: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// Called on each HTTP worker's thread (from the App factory, which
    /// actix runs there): starts that worker's heartbeat, once per thread.
    pub fn on_worker(self: &Arc<Self>) {
        if BEATING.with(|b| b.replace(true)) {
            return;
        }
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        if slot >= self.beats.len() {
            return;
        }
        let watchdog = self.clone();
        actix_rt::spawn(async move {
            loop {
                watchdog.beats[slot].store(monotonic_ms() + 1, Ordering::Relaxed);
                actix_rt::time::sleep(watchdog.period / 4).await;
            }
        });
    }

    /// Whether every worker beat within the last period and the publisher
    /// is not stalled.
    pub fn check(&self, now_ms: u64, publisher_stalled: bool) -> Result<(), Stuck> {
        let limit = self.period.as_millis() as u64;
        for (slot, beat) in self.beats.iter().enumerate() {
            match beat.load(Ordering::Relaxed) {
                0 => return Err(Stuck::Worker(slot, None)),
                at => {
                    let age = now_ms.saturating_sub(at - 1);
                    if age > limit {
                        return Err(Stuck::Worker(slot, Some(age)));
                    }
                }
            }
        }
        if publisher_stalled {
            return Err(Stuck::Publisher);
        }
        Ok(())
    }

    /// Pings systemd every period while [`Watchdog::check`] passes; logs
    /// when the pings stop and when they resume. Ends at [`Watchdog::stop`].
    pub async fn run(self: Arc<Self>, publisher: Publisher) {
        log::info!(
            "systemd watchdog on: WATCHDOG=1 every {:?} while the workers and the publisher make progress",
            self.period
        );
        let mut every = actix_rt::time::interval(self.period);
        let mut withheld = false;
        while !self.stopping.load(Ordering::Relaxed) {
            every.tick().await;
            match self.check(monotonic_ms(), publisher.stalled()) {
                Ok(()) => {
                    if std::mem::take(&mut withheld) {
                        log::info!("watchdog: progress again; pinging systemd");
                    }
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                }
                // Workers start after the first tick: not worth a warning.
                Err(Stuck::Worker(_, None)) if !withheld => {}
                Err(stuck) => {
                    if !std::mem::replace(&mut withheld, true) {
                        log::warn!("watchdog: not pinging systemd: {stuck}");
                    }
                }
            }
        }
    }

    /// Shutting down: workers stop beating, which is no hang; stop pinging
    /// (systemd stops the watchdog once the unit is stopping anyway).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_must_beat_within_a_period_and_the_publisher_must_move() {
        let w = Watchdog::new(Duration::from_millis(1000), 2);
        assert_eq!(w.check(5_000, false), Err(Stuck::Worker(0, None)));
        w.beats[0].store(4_500 + 1, Ordering::Relaxed);
        assert_eq!(w.check(5_000, false), Err(Stuck::Worker(1, None)));
        w.beats[1].store(4_900 + 1, Ordering::Relaxed);
        assert_eq!(w.check(5_000, false), Ok(()));
        assert_eq!(w.check(5_000, true), Err(Stuck::Publisher));
        // Worker 0 stopped beating: 1.2 s is more than a period.
        assert_eq!(w.check(5_700, false), Err(Stuck::Worker(0, Some(1_200))));
    }
}
