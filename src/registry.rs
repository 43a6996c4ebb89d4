//! The KeyRegistry actor: owns the API keys and endpoints loaded through
//! Diesel and keeps every running daemon in step with the database.
//!
//! A loader thread holds a dedicated connection that has run
//! `LISTEN eventward_catalog`; the catalog tables' triggers notify it on
//! every change, from any process. On each notification (and on a periodic
//! timer, the safety net) it reads the whole catalog in one snapshot and hands
//! it to the actor, which has the Authenticators rebuild their guards and then
//! replaces the key table and route table whole. If PostgreSQL is away, the
//! last catalog keeps serving and the loader reloads as soon as it is back.
//!
//! Every load happens on that one thread, so each reload reuses the memory the
//! previous catalog freed (with 100,000 keys, loads spread over a thread pool
//! grew the process by tens of MB per reload).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use arc_swap::ArcSwap;
use uuid::Uuid;

use crate::authenticator::{Authenticator, JwtOptions, Reconfigure, Slot};
use crate::catalog::{Catalog, Endpoint, KeyTable};
use crate::jwks_refresher::{Keysets, Providers};
use crate::store;

/// `workspace -> notification -> guard slot`, nested so a lookup borrows the
/// path segments instead of allocating a key.
#[derive(Default)]
pub struct Routes(HashMap<String, HashMap<String, Arc<Slot>>>);

impl Routes {
    pub fn get(&self, workspace: &str, notification: &str) -> Option<&Arc<Slot>> {
        self.0.get(workspace)?.get(notification)
    }
}

/// What request handlers read: replaced whole, never mutated in place.
#[derive(Default)]
pub struct Shared {
    pub keys: ArcSwap<KeyTable>,
    pub routes: ArcSwap<Routes>,
    loaded: AtomicBool,
}

impl Shared {
    /// True once the catalog has been loaded at least once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }
}

pub struct KeyRegistry {
    database_url: String,
    shared: Arc<Shared>,
    keysets: Keysets,
    jwt: JwtOptions,
    reload_every: Duration,
    authenticators: HashMap<Uuid, (Addr<Authenticator>, Arc<Slot>, Endpoint)>,
}

impl KeyRegistry {
    pub fn new(
        database_url: String,
        shared: Arc<Shared>,
        keysets: Keysets,
        jwt: JwtOptions,
        reload_every: Duration,
    ) -> KeyRegistry {
        KeyRegistry {
            database_url,
            shared,
            keysets,
            jwt,
            reload_every,
            authenticators: HashMap::new(),
        }
    }

    /// Brings the Authenticators in line with the new catalog, then publishes
    /// the new key table and routes.
    fn apply(&mut self, catalog: Catalog, ctx: &mut Context<Self>) {
        self.keysets
            .providers()
            .do_send(Providers(catalog.providers.clone()));
        let mut routes: HashMap<String, HashMap<String, Arc<Slot>>> = HashMap::new();
        let mut reconfigured = Vec::new();
        let mut current = HashMap::with_capacity(catalog.endpoints.len());
        for endpoint in catalog.endpoints {
            let entry = match self.authenticators.remove(&endpoint.id) {
                Some((addr, slot, old)) => {
                    if old != endpoint {
                        reconfigured.push(addr.send(Reconfigure(endpoint.clone())));
                    }
                    (addr, slot, endpoint)
                }
                None => {
                    let (addr, slot) =
                        Authenticator::start(endpoint.clone(), self.keysets.clone(), self.jwt);
                    (addr, slot, endpoint)
                }
            };
            routes
                .entry(entry.2.workspace.clone())
                .or_default()
                .insert(entry.2.notification.clone(), entry.1.clone());
            current.insert(entry.2.id, entry);
        }
        // Endpoints that are gone: their actors stop when the last Addr drops.
        self.authenticators = current;
        let keys = catalog.keys;
        let routes = Routes(routes);
        let shared = self.shared.clone();
        ctx.wait(
            futures_util::future::join_all(reconfigured)
                .into_actor(self)
                .map(move |_, _, _| {
                    shared.keys.store(Arc::new(keys));
                    shared.routes.store(Arc::new(routes));
                    shared.loaded.store(true, Ordering::Release);
                }),
        );
    }
}

impl Actor for KeyRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let registry = ctx.address();
        let url = self.database_url.clone();
        let reload_every = self.reload_every;
        std::thread::Builder::new()
            .name("catalog-loader".into())
            .spawn(move || load_forever(url, registry, reload_every))
            .expect("spawn the catalog loader thread");
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
fn load_forever(url: String, registry: Addr<KeyRegistry>, reload_every: Duration) {
    const POLL: Duration = Duration::from_millis(100);
    const PING: Duration = Duration::from_secs(5);
    let mut backoff = Duration::from_millis(200);
    let mut expected_keys = 0;
    while registry.connected() {
        let mut listener = match store::catalog::Listener::connect(&url) {
            Ok(listener) => listener,
            Err(e) => {
                log::warn!(
                    "catalog loader: {e}; keeping the last catalog, retrying in {backoff:?}"
                );
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        let mut due = Instant::now();
        let mut last_ping = Instant::now();
        while registry.connected() {
            if Instant::now() >= due {
                let started = Instant::now();
                match Catalog::load(&mut listener, expected_keys) {
                    Ok(catalog) => {
                        log::debug!(
                            "catalog loaded in {:?}: {} API keys, {} endpoints, {} JWT providers",
                            started.elapsed(),
                            catalog.keys.len(),
                            catalog.endpoints.len(),
                            catalog.providers.len()
                        );
                        expected_keys = catalog.keys.len();
                        registry.do_send(Loaded(catalog));
                    }
                    Err(e) => {
                        log::warn!("cannot load the catalog, keeping the last one: {e}");
                        break;
                    }
                }
                due = Instant::now() + reload_every;
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
                log::warn!("catalog loader lost its database connection; keeping the last catalog");
                break;
            }
        }
    }
}
