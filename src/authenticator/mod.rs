//! Authentication: whether a notification's endpoint accepts the credential
//! a request carries, and who sent it.
//!
//! Each endpoint has an [`Authenticator`] actor that owns the endpoint's
//! mutable life: its [`Guard`] (rebuilt when the KeyRegistry reconfigures
//! it; the guard holds the verified-token cache), the coordination of an
//! unknown-`kid` JWKS refetch for its providers, and its usage (outcome
//! counters, and each API key's last use, written to PostgreSQL at most once
//! a minute, off the request path).
//!
//! Requests never wait on this actor's mailbox: they read the guard from the
//! catalog snapshot and decide on their own worker thread. The only message
//! a request may send is [`UnknownKid`], at most once a second per endpoint.

mod guard;
pub mod usage;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix::WeakAddr;
use uuid::Uuid;

pub use guard::{Credential, Guard, JwtOptions, Principal, TrustedProvider, UNKNOWN_KID_GATE};
use usage::{Outcomes, Usage};

use crate::catalog::{Endpoint, Security};
use crate::jwks_refresher::JwksSlots;
use crate::store;

/// What every Authenticator is started with; the KeyRegistry holds one.
#[derive(Clone)]
pub struct Wiring {
    pub jwks_slots: JwksSlots,
    pub jwt: JwtOptions,
    pub pool: store::Pool,
    /// How often an endpoint writes its API keys' last use
    /// (`database.last_used_flush_secs`).
    pub usage_flush: Duration,
}

pub struct Authenticator {
    guard: Arc<Guard>,
    wiring: Wiring,
    outcomes: Arc<Outcomes>,
    /// Last-use times already written, per key.
    flushed: HashMap<Uuid, i64>,
}

impl Authenticator {
    /// Starts the endpoint's actor and builds its first guard synchronously,
    /// so the endpoint is routable the moment the registry publishes it.
    pub fn start(endpoint: Endpoint, wiring: Wiring) -> (Addr<Authenticator>, Arc<Guard>) {
        let mut first = None;
        let addr = Authenticator::create(|ctx| {
            let outcomes = Arc::new(Outcomes::default());
            let usage = usage_for(&outcomes, &endpoint.security);
            let guard = Arc::new(guard::build(
                endpoint,
                &wiring.jwks_slots,
                wiring.jwt,
                Arc::new(usage),
                guard::RefetchGate::new(ctx.address().downgrade()),
            ));
            first = Some(guard.clone());
            Authenticator {
                guard,
                wiring,
                outcomes,
                flushed: HashMap::new(),
            }
        });
        (addr, first.expect("the guard is built in create"))
    }

    fn rebuild(&mut self, endpoint: Endpoint, me: WeakAddr<Authenticator>) -> Arc<Guard> {
        self.flush_usage();
        let usage = usage_for(&self.outcomes, &endpoint.security);
        self.guard = Arc::new(guard::build(
            endpoint,
            &self.wiring.jwks_slots,
            self.wiring.jwt,
            Arc::new(usage),
            guard::RefetchGate::new(me),
        ));
        self.guard.clone()
    }

    /// Writes the last use of every key used since the previous flush.
    fn flush_usage(&mut self) {
        let due = self.guard.usage.unflushed(&mut self.flushed);
        if due.is_empty() {
            return;
        }
        let pool = self.wiring.pool.clone();
        actix_rt::spawn(async move {
            let written =
                actix_web::web::block(move || store::key_usage::record(&pool, &due)).await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::warn!("cannot record API keys' last use: {e}"),
                Err(e) => log::warn!("recording API keys' last use failed: {e}"),
            }
        });
    }
}

fn usage_for(outcomes: &Arc<Outcomes>, security: &Security) -> Usage {
    let keys = match security {
        Security::ApiKeys(ids) => ids.iter().copied().collect(),
        _ => Vec::new(),
    };
    Usage::new(outcomes.clone(), keys)
}

impl Actor for Authenticator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.wiring.usage_flush, |act, _| act.flush_usage());
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.flush_usage();
    }
}

/// The endpoint's security changed: rebuild its guard (with a fresh token
/// cache) and answer with it, for the registry's next snapshot.
#[derive(Message)]
#[rtype(result = "Arc<Guard>")]
pub struct Reconfigure(pub Endpoint);

impl Handler<Reconfigure> for Authenticator {
    type Result = MessageResult<Reconfigure>;

    fn handle(&mut self, msg: Reconfigure, ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.rebuild(msg.0, ctx.address().downgrade()))
    }
}

/// New JWT settings (SIGHUP changed `jwt.leeway_secs` or `jwt.cache_size`):
/// rebuild the guard with them (a fresh token cache of the new size) and
/// answer with it, for the registry's next snapshot.
#[derive(Message)]
#[rtype(result = "Arc<Guard>")]
pub struct Rewire(pub JwtOptions);

impl Handler<Rewire> for Authenticator {
    type Result = MessageResult<Rewire>;

    fn handle(&mut self, msg: Rewire, ctx: &mut Context<Self>) -> Self::Result {
        self.wiring.jwt = msg.0;
        let endpoint = self.guard.endpoint.clone();
        MessageResult(self.rebuild(endpoint, ctx.address().downgrade()))
    }
}

/// The endpoint is gone from the catalog: write its usage and stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

impl Handler<Retire> for Authenticator {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// A token named a `kid` none of the endpoint's providers knows: maybe a
/// provider rotated its keys. Asks each provider's key set for a refetch
/// (each is limited to one per 30 s, whichever endpoint asks) and answers
/// `true` once one has happened, so the request is decided again.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct UnknownKid;

impl Handler<UnknownKid> for Authenticator {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, _: UnknownKid, _: &mut Context<Self>) -> Self::Result {
        let slots: Vec<_> = self
            .guard
            .jwt
            .iter()
            .flat_map(|trust| trust.providers.iter().map(|p| p.jwks.clone()))
            .collect();
        Box::pin(async move {
            let refetches = slots.iter().map(|slot| slot.refetch_for_unknown_kid());
            futures_util::future::join_all(refetches)
                .await
                .into_iter()
                .any(|refetched| refetched)
        })
    }
}
