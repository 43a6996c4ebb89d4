//! The KeyRegistry actor: owns the API keys and endpoints loaded through
//! Diesel and keeps every running daemon in step with the database.
//!
//! A listener thread holds a dedicated connection that has run
//! `LISTEN eventward_catalog`; the catalog tables' triggers notify it on
//! every change, from any process. Each notification (and a periodic timer,
//! the safety net) asks for a reload: the whole catalog is read in one
//! snapshot, endpoint guards are rebuilt by their Authenticator actors, and
//! the key table and route table are replaced whole. If PostgreSQL is away,
//! the last catalog keeps serving and the listener reloads when it returns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use arc_swap::ArcSwap;
use uuid::Uuid;

use crate::authenticator::{Authenticator, Reconfigure, Slot};
use crate::catalog::{Catalog, Endpoint, KeyTable};
use crate::jwks_refresher::{Keysets, Providers};
use crate::store::{self, Pool};

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
    pool: Pool,
    database_url: String,
    shared: Arc<Shared>,
    keysets: Keysets,
    leeway: Duration,
    reload_every: Duration,
    authenticators: HashMap<Uuid, (Addr<Authenticator>, Arc<Slot>, Endpoint)>,
    loading: bool,
    reload_again: bool,
}

impl KeyRegistry {
    pub fn new(
        pool: Pool,
        database_url: String,
        shared: Arc<Shared>,
        keysets: Keysets,
        leeway: Duration,
        reload_every: Duration,
    ) -> KeyRegistry {
        KeyRegistry {
            pool,
            database_url,
            shared,
            keysets,
            leeway,
            reload_every,
            authenticators: HashMap::new(),
            loading: false,
            reload_again: false,
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
                        Authenticator::start(endpoint.clone(), self.keysets.clone(), self.leeway);
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
        ctx.notify(Reload);
        ctx.run_interval(self.reload_every, |_, ctx| ctx.notify(Reload));
        let addr = ctx.address();
        let url = self.database_url.clone();
        std::thread::Builder::new()
            .name("catalog-listener".into())
            .spawn(move || listen(url, addr))
            .expect("spawn the catalog listener thread");
    }
}

/// Reload the catalog from the database.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reload;

impl Handler<Reload> for KeyRegistry {
    type Result = ();

    fn handle(&mut self, _: Reload, ctx: &mut Context<Self>) {
        if self.loading {
            self.reload_again = true;
            return;
        }
        self.loading = true;
        let pool = self.pool.clone();
        let load = actix_web::rt::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut conn = pool.get()?;
            Catalog::load(&mut conn).map(|c| (c, started.elapsed()))
        });
        ctx.spawn(load.into_actor(self).map(|result, act, ctx| {
            act.loading = false;
            match result {
                Ok(Ok((catalog, took))) => {
                    log::debug!(
                        "catalog loaded in {took:?}: {} API keys, {} endpoints, {} JWT providers",
                        catalog.keys.len(),
                        catalog.endpoints.len(),
                        catalog.providers.len()
                    );
                    act.apply(catalog, ctx);
                }
                Ok(Err(e)) => log::warn!("cannot reload the catalog, keeping the last one: {e}"),
                Err(e) => log::error!("catalog load task failed: {e}"),
            }
            if std::mem::take(&mut act.reload_again) {
                ctx.notify(Reload);
            }
        }));
    }
}

/// The listener thread: LISTEN on a connection of its own and turn every
/// notification into a Reload. Reconnects (and reloads, to catch up on what
/// it missed) whenever the connection is lost.
fn listen(url: String, registry: Addr<KeyRegistry>) {
    const POLL: Duration = Duration::from_millis(100);
    const PING: Duration = Duration::from_secs(5);
    let mut backoff = Duration::from_millis(200);
    let mut first = true;
    while registry.connected() {
        let mut conn = match store::connect(&url).and_then(|mut c| store::listen(&mut c).map(|_| c))
        {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("catalog listener: {e}; retrying in {backoff:?}");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        if !first {
            log::info!("catalog listener reconnected");
            registry.do_send(Reload);
        }
        first = false;
        let mut last_ping = Instant::now();
        while registry.connected() {
            std::thread::sleep(POLL);
            let alive = match store::drain_notifications(&mut conn) {
                Ok(true) => {
                    registry.do_send(Reload);
                    true
                }
                Ok(false) if last_ping.elapsed() >= PING => {
                    last_ping = Instant::now();
                    store::ping(&mut conn).is_ok()
                }
                Ok(false) => true,
                Err(_) => false,
            };
            if !alive {
                log::warn!("catalog listener lost its database connection");
                break;
            }
        }
    }
}
