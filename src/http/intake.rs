//! The hot path: `POST /v1/events/{workspace}/{notification}[/batch]`.
//!
//! request → route (one atomic load) → authenticate (the endpoint's guard)
//! → read and check the body → [idempotency claim] → publish and wait for
//! RabbitMQ's confirms → 202. Every refusal is a [`Problem`], logged once.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use chrono::Utc;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::AppState;
use crate::authenticator::{self, Guard, Principal};
use crate::event;
use crate::idempotency::{self, Answer};
use crate::problem::{Code, Problem};

pub const MAX_BATCH_EVENTS: usize = 500;
/// Query parameters that would put a credential in URLs and access logs.
const QUERY_CREDENTIALS: [&str; 4] = ["api_key", "key", "token", "access_token"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Single,
    Batch,
}

pub async fn single(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    intake(Kind::Single, req, path, body, state).await
}

pub async fn batch(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    intake(Kind::Batch, req, path, body, state).await
}

async fn intake(
    kind: Kind,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    mut body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (workspace, notification) = path.into_inner();
    let mut guard = None;
    let mut response = match accept(
        kind,
        &req,
        &workspace,
        &notification,
        &mut body,
        &state,
        &mut guard,
    )
    .await
    {
        Ok(response) => response,
        Err(problem) => {
            if problem.code != Code::PayloadTooLarge {
                discard(req.headers(), &mut body, state.max_batch_bytes).await;
            }
            // The path names no secret and the query is never logged.
            log::info!(
                "refused POST {}: {} {}",
                req.path(),
                problem.code.status().as_u16(),
                problem
            );
            problem.error_response()
        }
    };
    if let Some(guard) = guard {
        cors(&guard, req.headers(), response.headers_mut(), false);
    }
    response
}

async fn accept(
    kind: Kind,
    req: &HttpRequest,
    workspace: &str,
    notification: &str,
    body: &mut web::Payload,
    state: &AppState,
    guard_out: &mut Option<Arc<Guard>>,
) -> Result<HttpResponse, Problem> {
    refuse_query_credentials(req.query_string())?;
    let guard = route(state, workspace, notification)?;
    *guard_out = Some(guard.clone());
    let credential = authenticator::credential(req.headers())?;
    let principal = guard
        .authenticate(&credential, &state.shared.keys.load())
        .await?;

    check_content_type(req.headers())?;
    let limit = match kind {
        Kind::Single => state.max_body_bytes,
        Kind::Batch => state.max_batch_bytes,
    };
    let body = read_body(req.headers(), body, limit).await?;
    let idempotency_key = idempotency_key(req.headers())?;
    // Parse before claiming the key, so a malformed body never holds one.
    let events = parse(kind, &body)?;

    let Some(key) = idempotency_key else {
        return publish(kind, state, &guard, &principal, &events)
            .await
            .map(|(_, r)| r);
    };
    let scope = idempotency::Scope::new(guard.endpoint.id, &principal);
    let fingerprint = idempotency::fingerprint(kind == Kind::Batch, &body);
    let answer = idempotency::once(&state.pool, scope, key, fingerprint, || async {
        publish(kind, state, &guard, &principal, &events)
            .await
            .map(|(body, _)| body)
    })
    .await?;
    Ok(match answer {
        Answer::Fresh(body) => HttpResponse::Accepted()
            .content_type("application/json")
            .body(body),
        Answer::Replayed { status, body } => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED))
                .content_type("application/json")
                .insert_header(("Idempotent-Replayed", "true"))
                .body(body)
        }
    })
}

fn refuse_query_credentials(query: &str) -> Result<(), Problem> {
    for pair in query.split('&') {
        let name = pair.split('=').next().unwrap_or_default();
        if let Some(found) = QUERY_CREDENTIALS
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
        {
            return Err(Problem::new(
                Code::CredentialsInQuery,
                format!(
                    "the query parameter `{found}` looks like a credential; URLs end up in logs, \
                     so send it in the Authorization header instead (and consider it leaked)"
                ),
            ));
        }
    }
    Ok(())
}

fn route(state: &AppState, workspace: &str, notification: &str) -> Result<Arc<Guard>, Problem> {
    // Until the first catalog load, "no such endpoint" would be a lie.
    if !state.shared.is_loaded() {
        return Err(Problem::new(
            Code::StoreUnavailable,
            "eventward is starting and has not loaded its catalog yet; retry shortly",
        ));
    }
    state
        .shared
        .routes
        .load()
        .get(workspace, notification)
        .map(|slot| slot.load_full())
        .ok_or_else(|| {
            Problem::new(
                Code::UnknownEndpoint,
                format!("no notification {workspace}/{notification}"),
            )
        })
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(Problem::new(
            Code::UnsupportedMediaType,
            if value.is_empty() {
                "send the event with `Content-Type: application/json`".to_string()
            } else {
                format!("Content-Type {value:?} is not accepted; send application/json")
            },
        ))
    }
}

/// A refused request's body is read and dropped (up to `limit`), so the
/// connection stays usable: unread, actix would close it, and every refused
/// request would cost the client, and us, a new connection.
async fn discard(headers: &HeaderMap, body: &mut web::Payload, limit: usize) {
    if declared_length(headers).is_some_and(|n| n > limit) {
        return;
    }
    let mut seen = 0;
    while let Some(Ok(chunk)) = body.next().await {
        seen += chunk.len();
        if seen > limit {
            return;
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

async fn read_body(
    headers: &HeaderMap,
    body: &mut web::Payload,
    limit: usize,
) -> Result<web::Bytes, Problem> {
    let too_large = || {
        Problem::new(
            Code::PayloadTooLarge,
            format!("the body is over the {limit}-byte limit of this endpoint"),
        )
    };
    if declared_length(headers).is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            Problem::new(Code::InvalidJson, format!("could not read the body: {e}"))
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(v) if !v.is_empty() && v.len() <= idempotency::MAX_KEY_LEN => Ok(Some(v.to_string())),
        _ => Err(Problem::new(
            Code::InvalidIdempotencyKey,
            format!(
                "Idempotency-Key must be 1 to {} visible ASCII characters",
                idempotency::MAX_KEY_LEN
            ),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// Checks the body's shape without building a document: the events are kept
/// as the exact bytes the client sent.
fn parse(kind: Kind, body: &[u8]) -> Result<Vec<&RawValue>, Problem> {
    let raw: &RawValue = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            Code::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let events = match kind {
        Kind::Single => vec![raw],
        Kind::Batch => {
            let batch: Batch = serde_json::from_str(raw.get()).map_err(|e| {
                Problem::new(
                    Code::InvalidEvent,
                    format!("a batch is {{\"events\": [object, …]}}: {e}"),
                )
            })?;
            if batch.events.is_empty() || batch.events.len() > MAX_BATCH_EVENTS {
                return Err(Problem::new(
                    Code::InvalidEvent,
                    format!(
                        "a batch holds 1 to {MAX_BATCH_EVENTS} events, not {}",
                        batch.events.len()
                    ),
                ));
            }
            batch.events
        }
    };
    for (i, event) in events.iter().enumerate() {
        if !event.get().starts_with('{') {
            return Err(Problem::new(
                Code::InvalidEvent,
                match kind {
                    Kind::Single => "an event is a JSON object".to_string(),
                    Kind::Batch => format!("events[{i}] is not a JSON object"),
                },
            ));
        }
    }
    Ok(events)
}

/// Publishes the events; on success returns the 202 body and response.
async fn publish(
    kind: Kind,
    state: &AppState,
    guard: &Guard,
    principal: &Principal,
    events: &[&RawValue],
) -> Result<(String, HttpResponse), Problem> {
    let received = Utc::now();
    let endpoint = &guard.endpoint;
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let messages = ids
        .iter()
        .zip(events)
        .map(|(id, data)| {
            event::outbound(
                *id,
                &endpoint.workspace,
                &endpoint.notification,
                principal,
                received,
                data,
            )
        })
        .collect();
    state.publisher.publish(messages).await?;
    let body = match kind {
        Kind::Single => serde_json::json!({"id": ids[0], "status": "accepted"}),
        Kind::Batch => serde_json::json!({"ids": ids, "status": "accepted"}),
    }
    .to_string();
    let response = HttpResponse::Accepted()
        .content_type("application/json")
        .body(body.clone());
    Ok((body, response))
}

/// CORS preflight: answered only for JWT endpoints, only for their allowed
/// origins. API-key endpoints never answer CORS: keys do not belong in browsers.
pub async fn preflight(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (workspace, notification) = path.into_inner();
    let guard = match route(&state, &workspace, &notification) {
        Ok(guard) => guard,
        Err(problem) => return problem.error_response(),
    };
    let mut response = HttpResponse::NoContent().finish();
    cors(&guard, req.headers(), response.headers_mut(), true);
    response
}

fn cors(guard: &Guard, request: &HeaderMap, response: &mut HeaderMap, preflight: bool) {
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
