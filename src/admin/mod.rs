//! The admin listener (`admin.listen`, default `127.0.0.1:8081`): a second
//! HTTP server in the `eventward serve` process, apart from the public
//! intake, for operators. It serves `/metrics`, the admin API
//! (`/admin/v1/…`, [`api`], authenticated by [`auth`]) and the web console
//! (`/console/`, [`crate::console`]). Anything else is a problem+json 404.

pub mod api;
pub mod auth;

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::jwks_refresher::JwksSlots;
use crate::metrics;
use crate::problem::{Code, Problem};
use crate::snapshot::Current;
use crate::store::{Connection, Pool, StoreError};

/// What the admin handlers read; shared by the admin workers.
pub struct AdminState {
    pub current: Arc<Current>,
    pub jwks_slots: JwksSlots,
    /// Admin requests take their connections here (under `web::block`).
    pub pool: Pool,
    /// Slows down repeated bad admin tokens, per client address.
    pub throttle: auth::Throttle,
    /// `http.public_url` without a trailing slash: notifications' endpoints
    /// and code samples use it.
    pub public_base: String,
}

/// Runs `f` with a connection from `pool` on the blocking pool, where
/// every admin request's PostgreSQL work goes. The outer error only says
/// the blocking task did not finish (it panicked); callers map it.
pub async fn with_db<T, E, F>(pool: &Pool, f: F) -> Result<Result<T, E>, BlockingError>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut db = pool.connection()?;
        f(&mut db)
    })
    .await
}

pub use actix_web::error::BlockingError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape))
        .configure(api::routes)
        .configure(crate::console::routes)
        .default_service(web::to(not_found));
}

async fn scrape(state: web::Data<AdminState>) -> HttpResponse {
    let state = state.into_inner();
    // Reading /proc and walking the snapshot is blocking work, kept off the worker.
    let text = web::block(move || metrics::expose::render(&state.current, &state.jwks_slots)).await;
    match text {
        Ok(text) => HttpResponse::Ok()
            .content_type(metrics::expose::CONTENT_TYPE)
            .body(text),
        Err(e) => {
            log::error!("rendering /metrics failed: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}

async fn not_found(req: HttpRequest) -> Problem {
    Problem::new(
        Code::UnknownEndpoint,
        format!(
            "nothing at {} on the admin listener; metrics are at GET /metrics",
            req.path().escape_default()
        ),
    )
}
