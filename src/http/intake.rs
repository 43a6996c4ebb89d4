//! The hot path: `POST /v1/events/{workspace}/{notification}[/batch]`.
//!
//! request → the catalog snapshot (one atomic load) → route → authenticate
//! (the endpoint's guard, against that snapshot's key table) → read and check
//! the body → [idempotency claim] → publish and wait for RabbitMQ's confirms
//! → 202. Every refusal is a [`Problem`], counted on the endpoint and logged
//! once.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use chrono::Utc;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::request::{self, Kind};
use super::{cors, AppState, Limits};
use crate::authenticator::{Guard, Principal};
use crate::catalog;
use crate::event;
use crate::idempotency::{self, Answer};
use crate::metrics;
use crate::problem::{Code, Problem};
use crate::snapshot::Snapshot;

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
    let started = std::time::Instant::now();
    let limits: Limits = **state.limits.load();
    let (workspace, notification) = path.into_inner();
    // The one load: everything below decides from this catalog version.
    let snapshot = state.current.load_full();
    let guard = route(snapshot.as_deref(), &workspace, &notification);
    let decided = match (&snapshot, &guard) {
        (Some(snapshot), Ok(guard)) => {
            accept(kind, &req, &mut body, &state, &limits, snapshot, guard).await
        }
        (_, Err(problem)) => Err(problem.clone()),
        (None, Ok(_)) => unreachable!("a route needs a snapshot"),
    };
    let mut response = match decided {
        Ok(response) => {
            if let Ok(guard) = &guard {
                guard.usage.accepted();
            }
            response
        }
        Err(problem) => {
            match &guard {
                Ok(guard) => guard.usage.refused(problem.code),
                Err(_) => metrics::unrouted(problem.code),
            }
            let keep_alive = !matches!(problem.code, Code::PayloadTooLarge | Code::RequestTimeout)
                && request::discard(req.headers(), &mut body).await;
            // The path names no secret and the query is never logged; both
            // the path and the detail may hold what a client chose, escaped.
            log::info!(
                "refused POST {}: {} {}",
                req.path().escape_default(),
                problem.code.status().as_u16(),
                problem
            );
            let mut response = problem.error_response();
            if !keep_alive {
                response
                    .head_mut()
                    .set_connection_type(ConnectionType::Close);
                response = response.map_body(|_, answer| {
                    HoldingUnread {
                        answer: answer.try_into_bytes().unwrap_or_default(),
                        _unread: body,
                    }
                    .boxed()
                });
            }
            response
        }
    };
    if let Ok(guard) = guard {
        cors::headers(&guard, req.headers(), response.headers_mut(), false);
    }
    metrics::REQUEST_DURATION.observe(started.elapsed());
    response
}

/// A refusal's body that holds the request's unread body until it is sent.
/// actix drains a dropped chunked request body to its end, however slowly it
/// comes; one still held when the answer is out makes it close the
/// connection instead.
struct HoldingUnread {
    answer: web::Bytes,
    _unread: web::Payload,
}

impl MessageBody for HoldingUnread {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.answer.len() as u64)
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        let answer = std::mem::take(&mut self.get_mut().answer);
        Poll::Ready((!answer.is_empty()).then_some(Ok(answer)))
    }
}

async fn accept(
    kind: Kind,
    req: &HttpRequest,
    body: &mut web::Payload,
    state: &AppState,
    limits: &Limits,
    snapshot: &Snapshot,
    guard: &Guard,
) -> Result<HttpResponse, Problem> {
    // The whole body must arrive within this, counted from routing.
    let deadline = tokio::time::Instant::now() + limits.body_timeout;
    request::refuse_query_credentials(req.query_string())?;
    let credential = request::credential(req.headers())?;
    let principal = guard.authenticate(&credential, &snapshot.api_keys).await?;

    request::check_content_type(req.headers())?;
    let limit = match kind {
        Kind::Single => limits.max_body_bytes,
        Kind::Batch => limits.max_batch_bytes,
    };
    let body = request::read_body(req.headers(), body, limit, deadline).await?;
    let idempotency_key = request::idempotency_key(req.headers())?;
    // Parse before claiming the key, so a malformed body never holds one.
    let events = request::parse(kind, &body, limits.max_json_depth)?;

    let Some(key) = idempotency_key else {
        return Ok(accepted(
            publish(kind, state, guard, &principal, &events).await?,
        ));
    };
    let scope = idempotency::Scope::new(guard.endpoint.id, &principal);
    let fingerprint = idempotency::fingerprint(kind == Kind::Batch, &body);
    let answer = idempotency::once(&state.pool, scope, key, fingerprint, || {
        publish(kind, state, guard, &principal, &events)
    })
    .await?;
    Ok(match answer {
        Answer::Fresh(body) => accepted(body),
        Answer::Replayed { status, body } => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED))
                .content_type("application/json")
                .insert_header(("Idempotent-Replayed", "true"))
                .body(body)
        }
    })
}

fn accepted(body: String) -> HttpResponse {
    HttpResponse::Accepted()
        .content_type("application/json")
        .body(body)
}

/// The endpoint's guard in this catalog version. Until the first catalog
/// load, "no such endpoint" would be a lie: that is a 503.
pub fn route(
    snapshot: Option<&Snapshot>,
    workspace: &str,
    notification: &str,
) -> Result<Arc<Guard>, Problem> {
    let Some(snapshot) = snapshot else {
        return Err(Problem::new(
            Code::StoreUnavailable,
            "eventward is starting and has not loaded its catalog yet; retry shortly",
        ));
    };
    // Not a slug, not an endpoint: said without repeating what was sent.
    if !catalog::is_slug(workspace) || !catalog::is_slug(notification) {
        return Err(Problem::new(
            Code::UnknownEndpoint,
            "no such notification: workspace and notification are slugs (a-z, 0-9, '-')",
        ));
    }
    snapshot
        .route(workspace, notification)
        .cloned()
        .ok_or_else(|| {
            Problem::new(
                Code::UnknownEndpoint,
                format!("no notification {workspace}/{notification}"),
            )
        })
}

/// Publishes the events; on success returns the 202 body.
async fn publish(
    kind: Kind,
    state: &AppState,
    guard: &Guard,
    principal: &Principal,
    events: &[&RawValue],
) -> Result<String, Problem> {
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
    Ok(accepted_body(kind, &ids))
}

/// `{"id":…,"status":"accepted"}` or `{"ids":[…],"status":"accepted"}`.
fn accepted_body(kind: Kind, ids: &[Uuid]) -> String {
    let mut body = String::with_capacity(32 + 39 * ids.len());
    body.push_str(match kind {
        Kind::Single => r#"{"id":"#,
        Kind::Batch => r#"{"ids":["#,
    });
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push('"');
        body.push_str(id.hyphenated().encode_lower(&mut buf));
        body.push('"');
    }
    if kind == Kind::Batch {
        body.push(']');
    }
    body.push_str(r#","status":"accepted"}"#);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accepted_body_is_what_serde_json_writes() {
        let ids = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        assert_eq!(
            accepted_body(Kind::Single, &ids[..1]),
            serde_json::json!({"id": ids[0], "status": "accepted"}).to_string()
        );
        for n in 1..=3 {
            assert_eq!(
                accepted_body(Kind::Batch, &ids[..n]),
                serde_json::json!({"ids": &ids[..n], "status": "accepted"}).to_string()
            );
        }
    }
}
