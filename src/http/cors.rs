//! CORS: answered only for JWT endpoints, only for their allowed origins.
//! API-key endpoints never answer CORS: keys do not belong in browsers.

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::intake::route;
use super::AppState;
use crate::authenticator::Guard;

/// `OPTIONS` on an event endpoint.
pub async fn preflight(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (workspace, notification) = path.into_inner();
    let guard = match route(state.current.load().as_deref(), &workspace, &notification) {
        Ok(guard) => guard,
        Err(problem) => return problem.error_response(),
    };
    let mut response = HttpResponse::NoContent().finish();
    headers(&guard, req.headers(), response.headers_mut(), true);
    response
}

/// Adds the CORS headers this endpoint answers for this request, if any.
pub fn headers(guard: &Guard, request: &HeaderMap, response: &mut HeaderMap, preflight: bool) {
    let allowed = guard.allowed_origins();
    if allowed.is_empty() {
        return;
    }
    response.append(header::VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = request.get(header::ORIGIN) else {
        return;
    };
    if !allowed.iter().any(|a| a.as_bytes() == origin.as_bytes()) {
        return;
    }
    if preflight
        && request
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .is_some_and(|m| m.as_bytes() != b"POST")
    {
        return;
    }
    response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    if preflight {
        response.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        response.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type, Idempotency-Key"),
        );
        response.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    } else {
        response.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Idempotent-Replayed, Retry-After"),
        );
    }
}
