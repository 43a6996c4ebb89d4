//! The JwksRefresher actor: keeps every JWT provider's key set fresh in the
//! background, so verification never waits on the network.
//!
//! Each provider in use has a [`JwksSlot`] that endpoints' guards read.
//! The refresher fetches on first use, then again when the `Cache-Control:
//! max-age` runs out (bounded to 1 min – 24 h; 15 min without one). A token
//! with an unknown `kid` asks for an early refetch, at most once per provider
//! per 30 s.
//!
//! What a fetch brings decides what the slot serves:
//! - a well-formed JWKS replaces the key set, even when it holds no usable
//!   key: that is the provider withdrawing its keys, and its tokens are
//!   refused from then on (logged at warn, since it is rarely intended);
//! - a failure (unreachable, non-2xx, not JSON, no `keys` array, timeout) keeps
//!   the last good key set serving, but only for `jwt.max_stale_secs` after
//!   the first failed fetch; after that the slot serves nothing, so the
//!   provider's tokens are refused, and [`JwksSlots::stale`] names it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use arc_swap::ArcSwapOption;
use uuid::Uuid;

use crate::catalog::Provider;
use crate::jwt::fetch;
use crate::jwt::KeySet;

const DEFAULT_MAX_AGE: Duration = Duration::from_secs(15 * 60);
const MIN_MAX_AGE: Duration = Duration::from_secs(60);
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// An unknown `kid` refetches at most this often per provider.
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(30);

/// One provider's current key set, read by every guard that trusts it.
pub struct JwksSlot {
    provider_id: Uuid,
    provider_name: String,
    jwks: ArcSwapOption<KeySet>,
    /// The first fetch has finished (successfully or not).
    attempted: AtomicBool,
    /// Milliseconds since `epoch` of the first fetch that failed after the
    /// last successful one; 0 while the last fetch succeeded.
    failing_since_ms: AtomicU64,
    /// How long after `failing_since_ms` the last good key set still serves.
    max_stale: Duration,
    /// Milliseconds since `epoch` of the last unknown-kid refetch request.
    last_refetch_ms: AtomicU64,
    epoch: Instant,
    refresher: Addr<JwksRefresher>,
    /// Woken after every fetch attempt, successful or not.
    fetched: tokio::sync::Notify,
    /// For metrics: fetches that brought a well-formed JWKS, and that failed.
    fetches_ok: AtomicU64,
    fetches_failed: AtomicU64,
    /// Unix milliseconds of the last good fetch; 0 before the first.
    last_good_unix_ms: AtomicU64,
}

/// One provider's key-set state, as `/metrics` shows it.
pub struct SlotStats {
    pub provider: String,
    pub fetches_ok: u64,
    pub fetches_failed: u64,
    /// Unix milliseconds of the last good fetch.
    pub last_good_unix_ms: Option<u64>,
    /// Usable keys the slot serves now (0 once it no longer serves).
    pub keys: usize,
}

impl JwksSlot {
    /// The key set to verify with; `None` before the first good fetch, and
    /// once fetches have failed for longer than `jwt.max_stale_secs`.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        let keys = self.jwks.load_full()?;
        (!self.outage_outlasted_bound()).then_some(keys)
    }

    /// Fetches have been failing for longer than the bound.
    fn outage_outlasted_bound(&self) -> bool {
        let since = self.failing_since_ms.load(Ordering::Acquire);
        since != 0 && self.now_ms().saturating_sub(since) > self.max_stale.as_millis() as u64
    }

    /// There is a last good key set, and it no longer serves.
    fn is_stale(&self) -> bool {
        self.jwks.load().is_some() && self.outage_outlasted_bound()
    }

    /// Milliseconds since `epoch`, never 0 (0 means "unset" in the fields above).
    fn now_ms(&self) -> u64 {
        (self.epoch.elapsed().as_millis() as u64).max(1)
    }

    /// A token named a `kid` we do not know: maybe the provider rotated.
    /// Cheap to call on every such token: one call per 30 s starts a refetch,
    /// and only that caller waits for it (so a new key works on first use);
    /// every other caller gets `false` at once.
    pub async fn refetch_for_unknown_kid(&self) -> bool {
        let now = self.now_ms();
        let last = self.last_refetch_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < UNKNOWN_KID_INTERVAL.as_millis() as u64 {
            return false;
        }
        if self
            .last_refetch_ms
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        let fetched = self.fetched.notified();
        tokio::pin!(fetched);
        fetched.as_mut().enable();
        self.refresher.do_send(Refetch(self.provider_id));
        // The fetch itself gives up after 5 s; this is only a backstop.
        tokio::time::timeout(Duration::from_secs(6), fetched)
            .await
            .is_ok()
    }
}

/// The handle Authenticators use to find a provider's slot.
#[derive(Clone)]
pub struct JwksSlots {
    slots: Arc<Mutex<HashMap<Uuid, Arc<JwksSlot>>>>,
    refresher: Addr<JwksRefresher>,
    max_stale: Duration,
}

impl JwksSlots {
    /// The slot for `provider`, created (and its first fetch started) on first use.
    pub fn slot(&self, provider: &Arc<Provider>) -> Arc<JwksSlot> {
        let mut slots = self.slots.lock().expect("keyset slots lock");
        slots
            .entry(provider.id)
            .or_insert_with(|| {
                self.refresher.do_send(Track(provider.clone()));
                Arc::new(JwksSlot {
                    provider_id: provider.id,
                    provider_name: provider.name.clone(),
                    jwks: ArcSwapOption::empty(),
                    attempted: AtomicBool::new(false),
                    failing_since_ms: AtomicU64::new(0),
                    max_stale: self.max_stale,
                    last_refetch_ms: AtomicU64::new(0),
                    epoch: Instant::now(),
                    refresher: self.refresher.clone(),
                    fetched: tokio::sync::Notify::new(),
                    fetches_ok: AtomicU64::new(0),
                    fetches_failed: AtomicU64::new(0),
                    last_good_unix_ms: AtomicU64::new(0),
                })
            })
            .clone()
    }

    pub fn refresher(&self) -> &Addr<JwksRefresher> {
        &self.refresher
    }

    /// True when every provider in use has had its first fetch.
    pub fn ready(&self) -> bool {
        let slots = self.slots.lock().expect("keyset slots lock");
        slots.values().all(|s| s.attempted.load(Ordering::Acquire))
    }

    /// Every provider in use, for `/metrics`; by name.
    pub fn stats(&self) -> Vec<SlotStats> {
        let slots: Vec<Arc<JwksSlot>> = {
            let slots = self.slots.lock().expect("keyset slots lock");
            slots.values().cloned().collect()
        };
        let mut stats: Vec<SlotStats> = slots
            .iter()
            .map(|s| SlotStats {
                provider: s.provider_name.clone(),
                fetches_ok: s.fetches_ok.load(Ordering::Relaxed),
                fetches_failed: s.fetches_failed.load(Ordering::Relaxed),
                last_good_unix_ms: Some(s.last_good_unix_ms.load(Ordering::Relaxed))
                    .filter(|&ms| ms != 0),
                keys: s.current().map_or(0, |keys| keys.len()),
            })
            .collect();
        stats.sort_by(|a, b| a.provider.cmp(&b.provider));
        stats
    }

    /// The providers in use whose last good key set no longer serves: their
    /// JWKS fetches have failed for longer than `jwt.max_stale_secs`. By name.
    pub fn stale(&self) -> Vec<String> {
        let slots = self.slots.lock().expect("keyset slots lock");
        let mut stale: Vec<String> = slots
            .values()
            .filter(|s| s.is_stale())
            .map(|s| s.provider_name.clone())
            .collect();
        stale.sort();
        stale
    }
}

pub struct JwksRefresher {
    client: reqwest::Client,
    slots: Arc<Mutex<HashMap<Uuid, Arc<JwksSlot>>>>,
    providers: HashMap<Uuid, Arc<Provider>>,
    timers: HashMap<Uuid, SpawnHandle>,
}

impl JwksRefresher {
    /// Starts the refresher; a provider's last good key set serves for at
    /// most `max_stale` after its JWKS fetches start failing.
    pub fn start(max_stale: Duration) -> JwksSlots {
        let slots = Arc::new(Mutex::new(HashMap::new()));
        let refresher = JwksRefresher {
            client: fetch::client(),
            slots: slots.clone(),
            providers: HashMap::new(),
            timers: HashMap::new(),
        }
        .start();
        JwksSlots {
            slots,
            refresher,
            max_stale,
        }
    }

    fn slot(&self, id: Uuid) -> Option<Arc<JwksSlot>> {
        self.slots
            .lock()
            .expect("keyset slots lock")
            .get(&id)
            .cloned()
    }

    fn fetch(&mut self, id: Uuid, ctx: &mut Context<Self>) {
        let Some(provider) = self.providers.get(&id).cloned() else {
            return;
        };
        if let Some(timer) = self.timers.remove(&id) {
            ctx.cancel_future(timer);
        }
        let client = self.client.clone();
        let fetching = async move {
            let url = fetch::check_url(&provider.jwks_url)?;
            fetch::fetch(&client, &url).await.map_err(|e| e.to_string())
        };
        ctx.spawn(fetching.into_actor(self).map(move |result, act, ctx| {
            let Some(slot) = act.slot(id) else { return };
            let Some(provider) = act.providers.get(&id) else {
                return;
            };
            let next = match result {
                Ok(fetched) => {
                    for r in &fetched.rejected {
                        log::debug!("JWT provider {}: skipped key {r}", provider.name);
                    }
                    if fetched.keys.is_empty() {
                        log::warn!(
                            "JWT provider {}: the JWKS answered with no usable key ({} unusable); \
                             its tokens are refused until it publishes one",
                            provider.name,
                            fetched.rejected.len()
                        );
                    } else {
                        log::info!(
                            "JWT provider {}: {} usable keys ({} skipped)",
                            provider.name,
                            fetched.keys.len(),
                            fetched.rejected.len()
                        );
                    }
                    slot.jwks.store(Some(Arc::new(fetched.keys)));
                    slot.failing_since_ms.store(0, Ordering::Release);
                    slot.fetches_ok.fetch_add(1, Ordering::Relaxed);
                    slot.last_good_unix_ms
                        .store(crate::metrics::unix_ms(), Ordering::Relaxed);
                    fetched
                        .max_age
                        .unwrap_or(DEFAULT_MAX_AGE)
                        .clamp(MIN_MAX_AGE, MAX_MAX_AGE)
                }
                Err(e) => {
                    slot.fetches_failed.fetch_add(1, Ordering::Relaxed);
                    let _ = slot.failing_since_ms.compare_exchange(
                        0,
                        slot.now_ms(),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    );
                    if slot.is_stale() {
                        log::error!(
                            "JWT provider {}: JWKS fetch failed ({e}); fetches have failed for \
                             longer than jwt.max_stale_secs ({}s), so its tokens are refused",
                            provider.name,
                            slot.max_stale.as_secs()
                        );
                    } else {
                        log::warn!(
                            "JWT provider {}: JWKS fetch failed ({e}); the last good key set \
                             (if any) keeps serving for at most jwt.max_stale_secs ({}s) \
                             from the first failure",
                            provider.name,
                            slot.max_stale.as_secs()
                        );
                    }
                    RETRY_AFTER_FAILURE
                }
            };
            slot.attempted.store(true, Ordering::Release);
            slot.fetched.notify_waiters();
            // Two fetches can overlap (a scheduled one and an unknown-kid
            // refetch); only one timer may stay, or the chains would multiply.
            let timer = ctx.run_later(next, move |act, ctx| act.fetch(id, ctx));
            if let Some(previous) = act.timers.insert(id, timer) {
                ctx.cancel_future(previous);
            }
        }));
    }
}

impl Actor for JwksRefresher {
    type Context = Context<Self>;
}

/// Start refreshing this provider's key set.
#[derive(Message)]
#[rtype(result = "()")]
struct Track(Arc<Provider>);

impl Handler<Track> for JwksRefresher {
    type Result = ();

    fn handle(&mut self, msg: Track, ctx: &mut Context<Self>) {
        let id = msg.0.id;
        if self.providers.insert(id, msg.0).is_none() {
            self.fetch(id, ctx);
        }
    }
}

/// Fetch this provider's key set now (an unknown `kid` was seen).
#[derive(Message)]
#[rtype(result = "()")]
struct Refetch(Uuid);

impl Handler<Refetch> for JwksRefresher {
    type Result = ();

    fn handle(&mut self, msg: Refetch, ctx: &mut Context<Self>) {
        if let Some(name) = self.providers.get(&msg.0).map(|p| p.name.clone()) {
            log::info!("JWT provider {name}: unknown kid seen, refetching the JWKS");
            self.fetch(msg.0, ctx);
        }
    }
}

/// The providers now in the catalog: forget the ones that were removed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Providers(pub Vec<Arc<Provider>>);

impl Handler<Providers> for JwksRefresher {
    type Result = ();

    fn handle(&mut self, msg: Providers, ctx: &mut Context<Self>) {
        let live: std::collections::HashSet<Uuid> = msg.0.iter().map(|p| p.id).collect();
        self.providers.retain(|id, _| live.contains(id));
        for (id, timer) in self.timers.iter() {
            if !live.contains(id) {
                ctx.cancel_future(*timer);
            }
        }
        self.timers.retain(|id, _| live.contains(id));
        self.slots
            .lock()
            .expect("keyset slots lock")
            .retain(|id, _| live.contains(id));
    }
}
