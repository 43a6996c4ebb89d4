//! `/healthz` answers while the process runs; `/readyz` only when requests
//! can be served: the catalog is loaded, the JWKS of every provider in use
//! has been fetched once, and RabbitMQ is connected. A provider whose key set
//! went stale (`jwt.max_stale_secs`) is named in the body, without making the
//! daemon unready: its tokens are refused, everything else is served.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let catalog = state.current.load().is_some();
    let broker = state.publisher.is_ready();
    let jwks = state.jwks_slots.ready();
    let body = json!({
        "status": if catalog && broker && jwks { "ready" } else { "not_ready" },
        "checks": { "catalog": catalog, "broker": broker, "jwks": jwks },
        "stale_jwt_providers": state.jwks_slots.stale(),
    });
    if catalog && broker && jwks {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .json(body)
    }
}
