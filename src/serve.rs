//! `eventward serve`: wires the actors, the publisher, the public HTTP
//! server and the admin listener; reloads the configuration on SIGHUP
//! (`reload.rs`); and shuts down in order on SIGTERM/SIGINT: stop accepting,
//! finish the requests in flight (their publishes confirmed or refused),
//! close the AMQP channel and connection, exit 0. Under systemd with
//! `WatchdogSec=`, pings the watchdog while it makes progress (`watchdog.rs`).

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::admin::{self, AdminState};
use crate::authenticator::Wiring;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::jwks_refresher::JwksRefresher;
use crate::publisher::Publisher;
use crate::registry::KeyRegistry;
use crate::reload::{self, Live};
use crate::snapshot::Current;
use crate::store;
use crate::watchdog::Watchdog;

/// A client must send its request line and headers within this.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the daemon with `settings`, read from `config_file` (the `--config`
/// given, if any), which SIGHUP reads again.
pub fn run(settings: Settings, config_file: Option<PathBuf>) -> anyhow::Result<()> {
    if !crate::logging::set_level(&settings.log.level) {
        log::debug!("RUST_LOG is set: log.level is not used");
    }
    // The AMQP client's I/O lives here, not on an actix worker, so it outlives them all.
    let amqp_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("amqp")
        .enable_all()
        .build()
        .context("cannot start the AMQP runtime")?;
    let result = actix_rt::System::new().block_on(serve(
        settings,
        config_file,
        amqp_runtime.handle().clone(),
    ));
    amqp_runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn serve(
    settings: Settings,
    config_file: Option<PathBuf>,
    amqp_runtime: tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let listen = settings.listen_addr()?;
    let admin_listen = settings.admin_addr()?;
    let pool = store::pool(&settings.database.url, settings.database.pool_size);
    let current = Arc::new(Current::empty());
    let jwks_slots = JwksRefresher::start(settings.max_stale());
    let reload_secs = Arc::new(AtomicU64::new(settings.database.reload_secs));
    let registry = KeyRegistry::new(
        settings.database.url.clone(),
        current.clone(),
        Wiring {
            jwks_slots: jwks_slots.clone(),
            jwt: reload::jwt_options(&settings),
            pool: pool.clone(),
            usage_flush: Duration::from_secs(settings.database.last_used_flush_secs),
        },
        reload_secs.clone(),
    )
    .start();
    let publisher = Publisher::start(
        settings.amqp.clone(),
        settings.confirm_timeout(),
        amqp_runtime,
    );
    let limits = Arc::new(arc_swap::ArcSwap::from_pointee(
        http::Limits::from_settings(&settings.http),
    ));
    let admin_state = web::Data::new(AdminState {
        current: current.clone(),
        jwks_slots: jwks_slots.clone(),
        pool: pool.clone(),
        throttle: admin::auth::Throttle::default(),
        public_base: settings.public_base().to_string(),
    });
    let state = web::Data::new(AppState {
        current,
        publisher: publisher.clone(),
        pool: pool.clone(),
        jwks_slots,
        limits: limits.clone(),
    });

    let workers = match settings.http.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let watchdog = Watchdog::from_env(workers);
    let beat = watchdog.clone();
    let server = HttpServer::new(move || {
        // actix runs this factory on each worker's thread: its heartbeat.
        if let Some(watchdog) = &beat {
            watchdog.on_worker();
        }
        App::new().app_data(state.clone()).configure(http::routes)
    })
    .disable_signals()
    .client_request_timeout(HEAD_TIMEOUT)
    .keep_alive(Duration::from_secs(settings.http.keep_alive_secs));
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
    let admin = match admin_listen {
        Some(addr) => {
            // One worker: scrapes are rare, and each renders on the blocking pool.
            let admin = HttpServer::new(move || {
                App::new()
                    .app_data(admin_state.clone())
                    .configure(admin::routes)
            })
            .disable_signals()
            .client_request_timeout(HEAD_TIMEOUT)
            .workers(1)
            .shutdown_timeout(5)
            .bind(addr)
            .with_context(|| format!("cannot listen on {addr} (admin.listen)"))?
            .run();
            log::info!("admin listener on http://{addr} (/metrics)");
            log::info!(
                "web console at {}/console/ (sign in with an admin token, or run `eventward console-link` for a one-time link)",
                crate::console::console_base(&settings)
            );
            Some(admin)
        }
        None => {
            log::info!("admin listener disabled (admin.listen is empty)");
            None
        }
    };
    let admin_handle = admin.as_ref().map(|a| a.handle());
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    if let Some(watchdog) = &watchdog {
        actix_rt::spawn(watchdog.clone().run(publisher.clone()));
    }

    actix_rt::spawn(async move {
        wait_for_signal().await;
        log::info!("shutting down: finishing requests in flight");
        if let Some(watchdog) = watchdog {
            watchdog.stop();
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        handle.stop(true).await;
        if let Some(admin) = admin_handle {
            admin.stop(true).await;
        }
    });
    actix_rt::spawn(purge_expired_records(pool));
    let live = Live {
        limits,
        reload_secs,
        registry,
    };
    actix_rt::spawn(reload_on_hangup(settings, config_file, live));

    let admin = actix_rt::spawn(async move {
        match admin {
            Some(admin) => admin.await,
            None => Ok(()),
        }
    });
    server.await?;
    if let Ok(Err(e)) = admin.await {
        log::warn!("admin listener: {e}");
    }
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

/// On every SIGHUP: read the configuration again and apply what can change
/// live; an invalid configuration changes nothing.
async fn reload_on_hangup(mut running: Settings, config_file: Option<PathBuf>, live: Live) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup()).expect("install the SIGHUP handler");
    while hangup.recv().await.is_some() {
        let file = Settings::file(config_file.as_deref());
        let from = file
            .as_ref()
            .map_or("defaults and environment".to_string(), |f| {
                f.display().to_string()
            });
        log::info!("SIGHUP: reloading the configuration from {from}");
        let path = config_file.clone();
        match web::block(move || Settings::load(path.as_deref())).await {
            Ok(Ok(new)) => running = live.apply(&running, new),
            Ok(Err(e)) => {
                log::error!("configuration reload failed, keeping the running settings: {e:#}")
            }
            Err(e) => log::error!("configuration reload failed: {e}"),
        }
    }
}

async fn purge_expired_records(pool: store::Pool) {
    let mut every = actix_rt::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        let idempotency = pool.clone();
        let purged = web::block(move || store::idempotency::purge_expired(&idempotency)).await;
        match purged {
            Ok(Ok(n)) if n > 0 => log::info!("purged {n} expired Idempotency-Key records"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => log::warn!("cannot purge Idempotency-Key records: {e}"),
            Err(e) => log::warn!("Idempotency-Key purge task failed: {e}"),
        }
        // Console sign-in links and sessions a day past their expiry.
        let console = pool.clone();
        let purged = web::block(move || {
            let mut conn = console.connection()?;
            store::console_sessions::purge_expired(&mut conn)
        })
        .await;
        match purged {
            Ok(Ok(n)) if n > 0 => log::info!("purged {n} expired console links and sessions"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => log::warn!("cannot purge console links and sessions: {e}"),
            Err(e) => log::warn!("console session purge task failed: {e}"),
        }
    }
}
