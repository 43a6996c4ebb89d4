//! The KeyRegistry actor: owns the API keys and endpoints loaded through
//! Diesel and keeps every running daemon in step with the database.
//!
//! A loader thread holds a dedicated connection that has run
//! `LISTEN eventward_catalog`; the catalog tables' triggers notify it on
//! every change, from any process. On each notification (and on a periodic
//! timer, the safety net) it reads the whole catalog in one transaction and
//! hands it to the actor, which has the Authenticators of changed endpoints
//! rebuild their guards, then publishes one [`Snapshot`] of the whole catalog. If PostgreSQL is away, the
//! last catalog keeps serving and the loader reloads as soon as it is back.
//!
//! Every load happens on that one thread, so each reload reuses the memory the
//! previous catalog freed (with 100,000 keys, loads spread over a thread pool
//! grew the process by tens of MB per reload).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::FutureExt;
use uuid::Uuid;

use crate::authenticator::{Authenticator, Guard, JwtOptions, Reconfigure, Retire, Rewire, Wiring};
use crate::catalog::{ApiKeyTable, Catalog, Endpoint};
use crate::jwks_refresher::Providers;
use crate::metrics::CATALOG;
use crate::snapshot::{Current, Routes, Snapshot};
use crate::store;

pub struct KeyRegistry {
    database_url: String,
    current: Arc<Current>,
    version: u64,
    wiring: Wiring,
    /// `database.reload_secs`, read by the loader thread before each wait;
    /// SIGHUP may change it.
    reload_every: Arc<AtomicU64>,
    /// Every endpoint's Authenticator and the guard it last built.
    authenticators: HashMap<Uuid, (Addr<Authenticator>, Arc<Guard>)>,
}

impl KeyRegistry {
    pub fn new(
        database_url: String,
        current: Arc<Current>,
        wiring: Wiring,
        reload_every: Arc<AtomicU64>,
    ) -> KeyRegistry {
        KeyRegistry {
            database_url,
            current,
            version: 0,
            wiring,
            reload_every,
            authenticators: HashMap::new(),
        }
    }

    fn start_authenticator(&self, endpoint: Endpoint) -> (Addr<Authenticator>, Arc<Guard>) {
        Authenticator::start(endpoint, self.wiring.clone())
    }

    /// Brings the Authenticators in line with the new catalog (an endpoint
    /// whose entry did not change keeps its guard, and so its token cache),
    /// then publishes one snapshot of the whole catalog. No further catalog is
    /// applied until this one is published (`ctx.wait`).
    fn apply(&mut self, catalog: Catalog, ctx: &mut Context<Self>) {
        self.wiring
            .jwks_slots
            .refresher()
            .do_send(Providers(catalog.providers.clone()));
        let mut kept = HashMap::with_capacity(catalog.endpoints.len());
        let mut rebuilt = Vec::new();
        for endpoint in catalog.endpoints {
            let id = endpoint.id;
            match self.authenticators.remove(&id) {
                Some((addr, guard)) if guard.endpoint == endpoint => {
                    kept.insert(id, (addr, guard));
                }
                Some((addr, _)) => rebuilt.push(
                    addr.send(Reconfigure(endpoint.clone()))
                        .map(move |guard| (addr, endpoint, guard.ok())),
                ),
                None => {
                    kept.insert(id, self.start_authenticator(endpoint));
                }
            }
        }
        // Endpoints that are gone.
        for (addr, _) in self.authenticators.values() {
            addr.do_send(Retire);
        }
        let api_keys = Arc::new(catalog.api_keys);
        ctx.wait(
            futures_util::future::join_all(rebuilt)
                .into_actor(self)
                .map(move |rebuilt, act, _| {
                    for (addr, endpoint, guard) in rebuilt {
                        let entry = match guard {
                            Some(guard) => (addr, guard),
                            None => act.start_authenticator(endpoint),
                        };
                        kept.insert(entry.1.endpoint.id, entry);
                    }
                    act.authenticators = kept;
                    act.publish(api_keys);
                }),
        );
    }

    fn publish(&mut self, api_keys: Arc<ApiKeyTable>) {
        let mut routes = Routes::new();
        for (_, guard) in self.authenticators.values() {
            routes
                .entry(guard.endpoint.workspace.clone())
                .or_default()
                .insert(guard.endpoint.notification.clone(), guard.clone());
        }
        self.version += 1;
        self.current.store(Some(Arc::new(Snapshot::new(
            self.version,
            routes,
            api_keys,
        ))));
    }
}

impl Actor for KeyRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let registry = ctx.address();
        let url = self.database_url.clone();
        let reload_every = self.reload_every.clone();
        std::thread::Builder::new()
            .name("catalog-loader".into())
            .spawn(move || load_forever(url, registry, reload_every))
            .expect("spawn the catalog loader thread");
    }
}

/// New JWT settings for every endpoint (SIGHUP): each Authenticator rebuilds
/// its guard with them, then one snapshot publishes them all.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetJwtOptions(pub JwtOptions);

impl Handler<SetJwtOptions> for KeyRegistry {
    type Result = ();

    fn handle(&mut self, msg: SetJwtOptions, ctx: &mut Context<Self>) {
        self.wiring.jwt = msg.0;
        let Some(api_keys) = self.current.load_full().map(|s| s.api_keys.clone()) else {
            // Nothing loaded yet: the first load builds with the new settings.
            return;
        };
        let rebuilt: Vec<_> = self
            .authenticators
            .iter()
            .map(|(id, (addr, guard))| {
                let (id, addr, old) = (*id, addr.clone(), guard.clone());
                addr.send(Rewire(msg.0))
                    .map(move |new| (id, addr, new.unwrap_or(old)))
            })
            .collect();
        ctx.wait(
            futures_util::future::join_all(rebuilt)
                .into_actor(self)
                .map(move |rebuilt, act, _| {
                    for (id, addr, guard) in rebuilt {
                        act.authenticators.insert(id, (addr, guard));
                    }
                    act.publish(api_keys);
                }),
        );
    }
}

/// A freshly read catalog, from the loader thread.
#[derive(Message)]
#[rtype(result = "()")]
struct Loaded(Catalog);

impl Handler<Loaded> for KeyRegistry {
    type Result = ();

    fn handle(&mut self, msg: Loaded, ctx: &mut Context<Self>) {
        self.apply(msg.0, ctx);
    }
}

/// The loader thread: LISTEN on a connection of its own; load the catalog at
/// once, after every notification, and every `reload_every`. Reconnects (and
/// reloads, to catch up on what it missed) whenever the connection is lost.
fn load_forever(url: String, registry: Addr<KeyRegistry>, reload_every: Arc<AtomicU64>) {
    const POLL: Duration = Duration::from_millis(100);
    const PING: Duration = Duration::from_secs(5);
    let mut backoff = Duration::from_millis(200);
    let mut expected_keys = 0;
    while registry.connected() {
        let mut listener = match store::catalog::Listener::connect(&url) {
            Ok(listener) => listener,
            Err(e) => {
                CATALOG.listening(false);
                log::warn!(
                    "catalog loader: {e}; keeping the last catalog, retrying in {backoff:?}"
                );
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        CATALOG.listening(true);
        let mut due = Instant::now();
        let mut last_ping = Instant::now();
        while registry.connected() {
            if Instant::now() >= due {
                let started = Instant::now();
                match Catalog::load(&mut listener, expected_keys) {
                    Ok(catalog) => {
                        CATALOG.loaded(started.elapsed());
                        log::debug!(
                            "catalog loaded in {:?}: {} API keys, {} endpoints, {} JWT providers",
                            started.elapsed(),
                            catalog.api_keys.len(),
                            catalog.endpoints.len(),
                            catalog.providers.len()
                        );
                        expected_keys = catalog.api_keys.len();
                        registry.do_send(Loaded(catalog));
                    }
                    Err(e) => {
                        CATALOG.failed();
                        log::warn!("cannot load the catalog, keeping the last one: {e}");
                        break;
                    }
                }
                due = Instant::now() + Duration::from_secs(reload_every.load(Ordering::Relaxed));
            }
            std::thread::sleep(POLL);
            let alive = match listener.drain_notifications() {
                Ok(true) => {
                    due = Instant::now();
                    true
                }
                Ok(false) if last_ping.elapsed() >= PING => {
                    last_ping = Instant::now();
                    listener.ping().is_ok()
                }
                Ok(false) => true,
                Err(_) => false,
            };
            if !alive {
                CATALOG.listening(false);
                log::warn!("catalog loader lost its database connection; keeping the last catalog");
                break;
            }
        }
    }
}
