//! The one place that turns a refusal into HTTP: an RFC 9457
//! `application/problem+json` body with a stable snake_case `code`.

use std::borrow::Cow;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::jwt;
use crate::publisher::PublishError;

/// One row per refusal: the variant, the `code` string clients branch on,
/// the HTTP status and the title. [`Code`], [`Code::ALL`], [`Code::as_str`],
/// [`Code::status`] and [`Code::title`] are all generated from this one table.
macro_rules! codes {
    ($($variant:ident => ($code:literal, $status:ident, $title:literal),)*) => {
        /// Every way eventward refuses a request. The string form is the `code`
        /// clients branch on: adding one is fine, renaming one breaks clients.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in declaration order (`code as usize` indexes it).
            pub const ALL: [Code; [$(Code::$variant),*].len()] = [$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => StatusCode::$status,)*
                }
            }

            fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)*
                }
            }
        }
    };
}

codes! {
    CredentialsInQuery => ("credentials_in_query", BAD_REQUEST, "Credentials in the query string"),
    InvalidJson => ("invalid_json", BAD_REQUEST, "Body is not valid JSON"),
    InvalidEvent => ("invalid_event", BAD_REQUEST, "Invalid event"),
    InvalidIdempotencyKey => ("invalid_idempotency_key", BAD_REQUEST, "Invalid Idempotency-Key"),
    MissingCredentials => ("missing_credentials", UNAUTHORIZED, "Missing credentials"),
    InvalidApiKey => ("invalid_api_key", UNAUTHORIZED, "Invalid API key"),
    ExpiredApiKey => ("expired_api_key", UNAUTHORIZED, "Expired API key"),
    RevokedApiKey => ("revoked_api_key", UNAUTHORIZED, "Revoked API key"),
    InvalidToken => ("invalid_token", UNAUTHORIZED, "Invalid token"),
    ExpiredToken => ("expired_token", UNAUTHORIZED, "Expired token"),
    TokenNotYetValid => ("token_not_yet_valid", UNAUTHORIZED, "Token not yet valid"),
    InvalidAudience => ("invalid_audience", UNAUTHORIZED, "Invalid audience"),
    InvalidIssuer => ("invalid_issuer", UNAUTHORIZED, "Invalid issuer"),
    UnsupportedAlgorithm => ("unsupported_algorithm", UNAUTHORIZED, "Unsupported algorithm"),
    UnknownKeyId => ("unknown_key_id", UNAUTHORIZED, "Unknown key id"),
    CredentialNotAllowed => ("credential_not_allowed", FORBIDDEN, "Credential not allowed"),
    EndpointNotSecured => ("endpoint_not_secured", FORBIDDEN, "Endpoint not secured"),
    UnknownEndpoint => ("unknown_endpoint", NOT_FOUND, "Unknown endpoint"),
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed"),
    IdempotencyKeyInUse => ("idempotency_key_in_use", CONFLICT, "Idempotency-Key in use"),
    IdempotencyKeyReused => ("idempotency_key_reused", UNPROCESSABLE_ENTITY, "Idempotency-Key reused"),
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE, "Payload too large"),
    UnsupportedMediaType => ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    RequestTimeout => ("request_timeout", REQUEST_TIMEOUT, "Request timeout"),
    BrokerUnavailable => ("broker_unavailable", SERVICE_UNAVAILABLE, "Broker unavailable"),
    NoRoute => ("no_route", SERVICE_UNAVAILABLE, "No route"),
    StoreUnavailable => ("store_unavailable", SERVICE_UNAVAILABLE, "Store unavailable"),
    DisabledApiKey => ("disabled_api_key", UNAUTHORIZED, "Disabled API key"),
    InvalidAdminToken => ("invalid_admin_token", UNAUTHORIZED, "Invalid admin token"),
    InsufficientScope => ("insufficient_scope", FORBIDDEN, "Insufficient scope"),
    NotFound => ("not_found", NOT_FOUND, "Not found"),
    Conflict => ("conflict", CONFLICT, "Conflict"),
    InvalidRequest => ("invalid_request", BAD_REQUEST, "Invalid request"),
    CheckFailed => ("check_failed", UNPROCESSABLE_ENTITY, "Check failed"),
    InternalError => ("internal_error", INTERNAL_SERVER_ERROR, "Internal error"),
    CsrfFailed => ("csrf_failed", FORBIDDEN, "CSRF check failed"),
}

impl Code {
    /// Seconds a client should wait before retrying, for the refusals that
    /// are worth retrying.
    fn retry_after(self) -> Option<u32> {
        match self {
            Code::BrokerUnavailable | Code::StoreUnavailable => Some(5),
            Code::NoRoute => Some(30),
            Code::IdempotencyKeyInUse => Some(1),
            _ => None,
        }
    }
}

/// A refusal: a code and a detail that tells the client what to do. The
/// detail is shown to the client and logged, so it never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: Code,
    /// Most details are fixed sentences: borrowed, not allocated per refusal.
    pub detail: Cow<'static, str>,
    /// Extension members (RFC 9457 §3.2) added to the body, e.g. the JWKS
    /// check report of a refused provider.
    pub extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<Cow<'static, str>>) -> Problem {
        Problem {
            code,
            detail: detail.into(),
            extensions: None,
        }
    }
}

/// A JWT refusal names its own code; the detail escapes whatever the token
/// said.
impl From<jwt::Refusal> for Problem {
    fn from(r: jwt::Refusal) -> Problem {
        use jwt::Refusal::*;
        let code = match &r {
            InvalidToken(_) => Code::InvalidToken,
            Expired => Code::ExpiredToken,
            NotYetValid => Code::TokenNotYetValid,
            InvalidAudience => Code::InvalidAudience,
            InvalidIssuer => Code::InvalidIssuer,
            UnsupportedAlgorithm(_) => Code::UnsupportedAlgorithm,
            UnknownKeyId(_) => Code::UnknownKeyId,
        };
        Problem::new(code, r.detail())
    }
}

/// Every failed publish is a 503 the client may retry, except a message no
/// queue took, which will fail again until a queue is bound.
impl From<PublishError> for Problem {
    fn from(e: PublishError) -> Problem {
        match e {
            PublishError::NoRoute => Problem::new(
                Code::NoRoute,
                "RabbitMQ has no queue bound for this notification, so the event was not kept",
            ),
            PublishError::NotConnected => Problem::new(
                Code::BrokerUnavailable,
                "eventward is not connected to RabbitMQ; retry shortly",
            ),
            other => Problem::new(Code::BrokerUnavailable, format!("{other}; retry shortly")),
        }
    }
}

/// For log lines: the detail may quote what a client sent, so every control
/// character and every non-ASCII character is escaped (`\n`, `\u{202e}`):
/// one refusal is one log line, and a client cannot forge another.
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.code.as_str(),
            self.detail.escape_default()
        )
    }
}

#[derive(Serialize)]
struct Body<'a> {
    /// `urn:eventward:problem:<code>`: one problem type per code, so the
    /// specific `title` is allowed (RFC 9457 §4.2).
    #[serde(rename = "type")]
    kind: TypeUrn,
    title: &'static str,
    status: u16,
    detail: &'a str,
    code: &'static str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extensions: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

/// `urn:eventward:problem:<code>`, written straight into the body.
struct TypeUrn(Code);

impl Serialize for TypeUrn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("urn:eventward:problem:{}", self.0.as_str()))
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.code.status();
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if self.code == Code::InsufficientScope {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                r#"Bearer realm="eventward", error="insufficient_scope", scope="admin""#,
            ));
        } else if status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="eventward", error="invalid_token""#),
            ));
        }
        if let Some(secs) = self.code.retry_after() {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.code == Code::MethodNotAllowed {
            response.insert_header((header::ALLOW, "POST, OPTIONS"));
        }
        response.body(
            serde_json::to_vec(&Body {
                kind: TypeUrn(self.code),
                title: self.code.title(),
                status: status.as_u16(),
                detail: &self.detail,
                code: self.code.as_str(),
                extensions: self.extensions.as_deref(),
            })
            .expect("problem serializes"),
        )
    }
}

impl From<crate::idempotency::Error> for Problem {
    fn from(e: crate::idempotency::Error) -> Problem {
        use crate::idempotency::Error;
        match e {
            Error::InUse => Problem::new(
                Code::IdempotencyKeyInUse,
                "a request with this Idempotency-Key is still being processed; retry shortly",
            ),
            Error::Reused => Problem::new(
                Code::IdempotencyKeyReused,
                "this Idempotency-Key was already used for a different request on this notification",
            ),
            Error::StoreUnavailable => Problem::new(
                Code::StoreUnavailable,
                "the Idempotency-Key store is unavailable; retry shortly (nothing was published)",
            ),
            Error::Publish(problem) => problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_code_at_its_own_index() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{}", code.as_str());
        }
        let names: std::collections::HashSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "codes are distinct");
    }

    #[test]
    fn a_logged_detail_stays_on_one_line() {
        let p = Problem::new(Code::UnknownEndpoint, "no a\n[INFO] forged\u{202e}");
        assert_eq!(
            p.to_string(),
            "unknown_endpoint: no a\\n[INFO] forged\\u{202e}"
        );
    }
}
