//! Reading a request: its credential, its headers, its body, and the shape
//! of the events in it. Everything here is hostile until checked, and every
//! refusal is a [`Problem`] whose detail is safe to log and to show.

use std::time::Duration;

use actix_web::http::header::{self, HeaderMap, AUTHORIZATION};
use actix_web::web;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::apikey;
use crate::authenticator::Credential;
use crate::idempotency;
use crate::problem::{Code, Problem};

pub const MAX_BATCH_EVENTS: usize = 500;
/// Query parameters that would put a credential in URLs and access logs.
const QUERY_CREDENTIALS: [&str; 4] = ["api_key", "key", "token", "access_token"];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Single,
    Batch,
}

/// Finds the one credential in `Authorization: Bearer` or `X-API-Key`.
/// Two credential headers are refused, whatever they hold: a proxy that reads
/// another one than we do would disagree about who is calling.
pub fn credential(headers: &HeaderMap) -> Result<Credential<'_>, Problem> {
    let count = |name| headers.get_all(name).count();
    if count(header::HeaderName::from_static("x-api-key")) + count(AUTHORIZATION) > 1 {
        return Err(Problem::new(
            Code::InvalidToken,
            "send one credential: one Authorization or one X-API-Key header",
        ));
    }
    let api_key = headers.get("x-api-key");
    let authorization = headers.get(AUTHORIZATION);
    if let Some(value) = api_key {
        let key = value.to_str().map_err(|_| {
            Problem::new(
                Code::InvalidApiKey,
                "X-API-Key holds characters no API key has",
            )
        })?;
        return Ok(Credential::ApiKey(key.trim()));
    }
    let Some(value) = authorization else {
        return Err(Problem::new(
            Code::MissingCredentials,
            "send the credential as `Authorization: Bearer <API key or JWT>` or `X-API-Key: <API key>`",
        ));
    };
    let value = value.to_str().map_err(|_| {
        Problem::new(
            Code::InvalidToken,
            "Authorization holds non-ASCII characters",
        )
    })?;
    let bearer = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => return Err(Problem::new(
            Code::MissingCredentials,
            "Authorization must use the Bearer scheme: `Authorization: Bearer <API key or JWT>`",
        )),
    };
    if bearer.is_empty() {
        return Err(Problem::new(
            Code::MissingCredentials,
            "the Bearer credential is empty",
        ));
    }
    Ok(if apikey::looks_like_key(bearer) {
        Credential::ApiKey(bearer)
    } else {
        Credential::Token(bearer)
    })
}

/// Refuses a credential in the query string; names are compared decoded, so
/// `api%5Fkey` is `api_key`.
pub fn refuse_query_credentials(query: &str) -> Result<(), Problem> {
    for (name, _) in url::form_urlencoded::parse(query.as_bytes()) {
        if let Some(found) = QUERY_CREDENTIALS
            .iter()
            .find(|c| c.eq_ignore_ascii_case(&name))
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

pub fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
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

/// The most of a refused request's body that is read to keep its connection.
pub const DISCARD_MAX: usize = 64 * 1024;
/// How long a refused request's body may take to arrive before the
/// connection is closed instead.
pub const DISCARD_WITHIN: Duration = Duration::from_millis(500);

/// After a refusal: reads and drops a small body that is already arriving, so
/// the connection stays usable (a client sending many refused requests keeps
/// its connection). Returns false when the connection must be closed
/// instead: the body is declared large, grows past [`DISCARD_MAX`], fails,
/// or is not all there within [`DISCARD_WITHIN`]. A refusal never waits on a
/// slow body.
pub async fn discard(headers: &HeaderMap, body: &mut web::Payload) -> bool {
    if declared_length(headers).is_some_and(|n| n > DISCARD_MAX) {
        return false;
    }
    let drained = async {
        let mut seen = 0;
        while let Some(chunk) = body.next().await {
            seen += chunk.map_err(|_| ())?.len();
            if seen > DISCARD_MAX {
                return Err(());
            }
        }
        Ok(())
    };
    matches!(
        tokio::time::timeout(DISCARD_WITHIN, drained).await,
        Ok(Ok(()))
    )
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads the whole body, refusing it past `limit` bytes or when it is not all
/// there by `deadline`.
pub async fn read_body(
    headers: &HeaderMap,
    body: &mut web::Payload,
    limit: usize,
    deadline: Instant,
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
    loop {
        let next = tokio::time::timeout_at(deadline, body.next()).await;
        let chunk = match next {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => {
                return Err(Problem::new(
                    Code::RequestTimeout,
                    "the body did not arrive in time; send it at once, after the headers",
                ))
            }
        };
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

pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
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
pub fn parse(kind: Kind, body: &[u8], max_depth: usize) -> Result<Vec<&RawValue>, Problem> {
    let raw: &RawValue = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            Code::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    check_consumable(raw.get().as_bytes(), max_depth)?;
    let events = match kind {
        Kind::Single => vec![raw],
        Kind::Batch => {
            // serde's message would quote an unknown field name: say where instead.
            let batch: Batch = serde_json::from_str(raw.get()).map_err(|e| {
                Problem::new(
                    Code::InvalidEvent,
                    format!(
                        "a batch is {{\"events\": [object, …]}} and nothing else \
                         (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
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

/// Refuses valid JSON that common consumers cannot read back: nesting deeper
/// than `max_depth` (recursive parsers overflow or give up: serde_json stops
/// at 128, Python's json at about 1,000) and strings holding a lone UTF-16
/// surrogate escape (`"\ud800"`: no Unicode scalar value, so serde_json and
/// many others refuse it). `json` must already be valid JSON; one pass, no
/// recursion, no allocation.
pub fn check_consumable(json: &[u8], max_depth: usize) -> Result<(), Problem> {
    let lone = || {
        Problem::new(
            Code::InvalidEvent,
            "a string holds a lone UTF-16 surrogate escape (\\uD800-\\uDFFF without its pair)",
        )
    };
    let hex4 = |at: usize| -> Option<u16> {
        let digits = std::str::from_utf8(json.get(at..at + 4)?).ok()?;
        u16::from_str_radix(digits, 16).ok()
    };
    let mut depth = 0usize;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(Problem::new(
                        Code::InvalidEvent,
                        format!("the body nests objects and arrays deeper than {max_depth} levels"),
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    if json[i] != b'\\' {
                        i += 1;
                        continue;
                    }
                    if json.get(i + 1) != Some(&b'u') {
                        i += 2;
                        continue;
                    }
                    let unit = hex4(i + 2).ok_or_else(lone)?;
                    i += 6;
                    match unit {
                        0xD800..=0xDBFF => {
                            let low = (json.get(i) == Some(&b'\\')
                                && json.get(i + 1) == Some(&b'u'))
                            .then(|| hex4(i + 2))
                            .flatten();
                            if !matches!(low, Some(0xDC00..=0xDFFF)) {
                                return Err(lone());
                            }
                            i += 6;
                        }
                        0xDC00..=0xDFFF => return Err(lone()),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<(), Problem> {
        assert!(
            serde_json::from_str::<&RawValue>(json).is_ok(),
            "valid JSON: {json}"
        );
        check_consumable(json.as_bytes(), 4)
    }

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert!(check(r#"{"a":[[[1]]]}"#).is_ok());
        assert_eq!(
            check(r#"{"a":[[[[1]]]]}"#).unwrap_err().code,
            Code::InvalidEvent
        );
        assert!(check(r#"{"a":"[[[[[[{{{{"}"#).is_ok());
        assert!(check(r#"{"a":"\"[[[[[[","b":[[[]]]}"#).is_ok());
        assert!(check(r#"[{}, {}, {}, {}, {}, [[]]]"#).is_ok());
    }

    #[test]
    fn surrogates_must_come_in_pairs() {
        assert!(check(r#"{"a":"\ud83d\ude00"}"#).is_ok());
        assert!(
            check(r#"{"a":"\u00e9\\ud800"}"#).is_ok(),
            "an escaped backslash, then text"
        );
        assert!(check(r#"{"a":"\ud800"}"#).is_err());
        assert!(check(r#"{"a":"\ud800x"}"#).is_err());
        assert!(check(r#"{"a":"\ud800\u0041"}"#).is_err());
        assert!(check(r#"{"a":"\udc00"}"#).is_err());
        assert!(check(r#"{"\udfff":1}"#).is_err(), "in a key too");
    }

    #[test]
    fn query_credentials_are_found_by_their_decoded_names() {
        assert!(refuse_query_credentials("a=1&b=2").is_ok());
        for query in [
            "api_key=x",
            "API_KEY=x",
            "api%5Fkey=x",
            "x=1&access%5ftoken=y",
            "token",
        ] {
            let refused = refuse_query_credentials(query).unwrap_err();
            assert_eq!(refused.code, Code::CredentialsInQuery, "{query}");
        }
    }
}
