//! `eventward serve`: wires the actors, the publisher and the HTTP server,
//! and shuts down in order on SIGTERM/SIGINT: stop accepting, finish the
//! requests in flight (their publishes confirmed or refused), close the AMQP
//! channel and connection, exit 0.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::authenticator::{JwtOptions, Wiring};
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::jwks_refresher::JwksRefresher;
use crate::publisher::Publisher;
use crate::registry::KeyRegistry;
use crate::snapshot::Current;
use crate::store;

/// A client must send its request line and headers within this.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(settings: Settings) -> anyhow::Result<()> {
    // The AMQP client's I/O lives here, not on an actix worker, so it outlives them all.
    let amqp_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("amqp")
        .enable_all()
        .build()
        .context("cannot start the AMQP runtime")?;
    let result = actix_rt::System::new().block_on(serve(settings, amqp_runtime.handle().clone()));
    amqp_runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn serve(settings: Settings, amqp_runtime: tokio::runtime::Handle) -> anyhow::Result<()> {
    let listen = settings.listen_addr()?;
    let pool = store::pool(&settings.database.url, settings.database.pool_size);
    let current = Arc::new(Current::empty());
    let jwks_slots = JwksRefresher::start(settings.max_stale());
    KeyRegistry::new(
        settings.database.url.clone(),
        current.clone(),
        Wiring {
            jwks_slots: jwks_slots.clone(),
            jwt: JwtOptions {
                leeway: settings.leeway(),
                cache_size: settings.jwt.cache_size,
            },
            pool: pool.clone(),
            usage_flush: Duration::from_secs(settings.database.last_used_flush_secs),
        },
        Duration::from_secs(settings.database.reload_secs),
    )
    .start();
    let publisher = Publisher::start(
        settings.amqp.clone(),
        settings.confirm_timeout(),
        amqp_runtime,
    );
    let state = web::Data::new(AppState {
        current,
        publisher: publisher.clone(),
        pool: pool.clone(),
        jwks_slots,
        limits: http::Limits {
            max_body_bytes: settings.http.max_body_bytes,
            max_batch_bytes: settings.http.max_batch_bytes,
            body_timeout: Duration::from_secs(settings.http.body_timeout_secs),
            max_json_depth: settings.http.max_json_depth,
        },
    });

    let server =
        HttpServer::new(move || App::new().app_data(state.clone()).configure(http::routes))
            .disable_signals()
            .client_request_timeout(HEAD_TIMEOUT)
            .keep_alive(Duration::from_secs(settings.http.keep_alive_secs));
    let workers = match settings.http.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // actix counts connections per worker.
    let server = server
        .workers(workers)
        .max_connections(settings.http.max_connections.div_ceil(workers))
        .shutdown_timeout(settings.http.shutdown_timeout_secs)
        .bind(listen)
        .with_context(|| format!("cannot listen on {listen} (http.listen)"))?
        .run();
    let handle = server.handle();
    log::info!("eventward listening on http://{listen}");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);

    actix_rt::spawn(async move {
        wait_for_signal().await;
        log::info!("shutting down: finishing requests in flight");
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        handle.stop(true).await;
    });
    actix_rt::spawn(purge_idempotency_records(pool));

    server.await?;
    publisher.close().await;
    log::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install the SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn purge_idempotency_records(pool: store::Pool) {
    let mut every = actix_rt::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        let pool = pool.clone();
        let purged = web::block(move || store::idempotency::purge_expired(&pool)).await;
        match purged {
            Ok(Ok(n)) if n > 0 => log::info!("purged {n} expired Idempotency-Key records"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => log::warn!("cannot purge Idempotency-Key records: {e}"),
            Err(e) => log::warn!("Idempotency-Key purge task failed: {e}"),
        }
    }
}
