//! The public listener: event intake, CORS preflights, health and readiness.

mod cors;
mod health;
mod intake;
pub mod request;

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::jwks_refresher::JwksSlots;
use crate::problem::{Code, Problem};
use crate::publisher::Publisher;
use crate::snapshot::Current;
use crate::store::Pool;

/// Everything a handler needs, cloned once per worker.
pub struct AppState {
    pub current: Arc<Current>,
    pub publisher: Publisher,
    pub pool: Pool,
    pub jwks_slots: JwksSlots,
    /// Loaded once per request; SIGHUP swaps in new limits.
    pub limits: Arc<arc_swap::ArcSwap<Limits>>,
}

/// What one request may take; from `[http]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_batch_bytes: usize,
    pub body_timeout: std::time::Duration,
    pub max_json_depth: usize,
}

impl Limits {
    pub fn from_settings(http: &crate::config::Http) -> Limits {
        Limits {
            max_body_bytes: http.max_body_bytes,
            max_batch_bytes: http.max_batch_bytes,
            body_timeout: std::time::Duration::from_secs(http.body_timeout_secs),
            max_json_depth: http.max_json_depth,
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/events/{workspace}/{notification}")
            .route(web::post().to(intake::single))
            .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/events/{workspace}/{notification}/batch")
            .route(web::post().to(intake::batch))
            .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight))
            .default_service(web::to(method_not_allowed)),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .default_service(web::to(not_found));
}

async fn method_not_allowed(req: HttpRequest) -> Problem {
    Problem::new(
        Code::MethodNotAllowed,
        format!(
            "{} is not allowed here; send events with POST",
            req.method()
        ),
    )
}

async fn not_found(req: HttpRequest) -> Problem {
    Problem::new(
        Code::UnknownEndpoint,
        format!(
            "no endpoint at {}; events go to POST /v1/events/{{workspace}}/{{notification}}",
            req.path()
        ),
    )
}

impl actix_web::Responder for Problem {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
