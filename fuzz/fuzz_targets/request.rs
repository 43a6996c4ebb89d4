//! The request-reading code of the intake (`eventward::http::request`) on
//! hostile input: it must refuse, never panic, and what it accepts must be
//! what it promises. Seeds are in `seeds/request/`.
//!
//! Input: a head, an empty line (`\n\n` or `\r\n\r\n`), then the body. The
//! head's first line is the query string; every other line is a
//! `Name: value` header. Lines an HTTP/1 parser would have refused (no colon,
//! a name that is not a token, a value with control characters) are
//! skipped; values are trimmed of spaces and tabs, as the parser does.
#![no_main]

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use eventward::apikey;
use eventward::authenticator::Credential;
use eventward::http::request::{
    check_consumable, check_content_type, credential, idempotency_key, parse,
    refuse_query_credentials, Kind, MAX_BATCH_EVENTS,
};
use eventward::idempotency::MAX_KEY_LEN;
use eventward::problem::Code;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;

/// The intake's default `http.max_json_depth`.
const DEPTH: usize = 64;

fuzz_target!(|data: &[u8]| {
    let (head, body) = split(data);
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let query = lines.next().unwrap_or_default();
    let headers = header_map(lines);

    if let Ok(query) = std::str::from_utf8(query) {
        query_credentials(query);
    }
    credentials(&headers);
    content_type(&headers);
    idempotency(&headers);
    body_checks(body);
});

fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let crlf = find(data, b"\r\n\r\n").map(|at| (at, 4));
    let lf = find(data, b"\n\n").map(|at| (at, 2));
    match crlf.into_iter().chain(lf).min_by_key(|&(at, _)| at) {
        Some((at, len)) => (&data[..at], &data[at + len..]),
        None => (data, &[]),
    }
}

fn find(data: &[u8], needle: &[u8]) -> Option<usize> {
    data.windows(needle.len()).position(|w| w == needle)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn header_map<'a>(lines: impl Iterator<Item = &'a [u8]>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = trim_ows(value);
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        else {
            continue;
        };
        headers.append(name, value);
    }
    headers
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

fn query_credentials(query: &str) {
    let refused = refuse_query_credentials(query);
    if let Err(problem) = &refused {
        assert_eq!(problem.code, Code::CredentialsInQuery);
    }
    // A plain name (nothing to decode) is compared as written.
    let plain = query
        .split('&')
        .map(|pair| pair.split('=').next().unwrap_or(""));
    let named = ["api_key", "key", "token", "access_token"];
    for name in plain.filter(|n| !n.contains(['%', '+'])) {
        if named.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            assert!(refused.is_err(), "{query:?} names {name:?}");
        }
    }
}

fn credentials(headers: &HeaderMap) {
    let sent = headers.get_all("x-api-key").count() + headers.get_all(AUTHORIZATION).count();
    let found = credential(headers);
    match (&found, sent) {
        (Err(problem), 2..) => assert_eq!(problem.code, Code::InvalidToken),
        (Err(problem), 0) => assert_eq!(problem.code, Code::MissingCredentials),
        (Err(problem), 1) => assert!(matches!(
            problem.code,
            Code::InvalidToken | Code::InvalidApiKey | Code::MissingCredentials
        )),
        (Ok(_), 1) => {}
        (Ok(_), _) => panic!("a credential from {sent} credential headers"),
    }
    let (Ok(found), Some(value)) = (
        found,
        headers.get("x-api-key").or(headers.get(AUTHORIZATION)),
    ) else {
        return;
    };
    let value = value
        .to_str()
        .expect("an accepted credential header is ASCII");
    let text = match found {
        Credential::ApiKey(key) => key,
        Credential::Token(token) => {
            assert!(!token.is_empty() && !apikey::looks_like_key(token));
            token
        }
    };
    assert_eq!(text, text.trim(), "the credential is trimmed");
    assert!(
        value.contains(text),
        "the credential is taken from the header"
    );
    if headers.contains_key(AUTHORIZATION) {
        assert!(!text.is_empty());
        assert_eq!(
            matches!(found, Credential::ApiKey(_)),
            apikey::looks_like_key(text)
        );
    }
}

fn content_type(headers: &HeaderMap) {
    match check_content_type(headers) {
        Ok(()) => {
            let value = headers
                .get(CONTENT_TYPE)
                .expect("accepted, so present")
                .to_str()
                .expect("accepted, so ASCII");
            let media = value.split(';').next().unwrap_or("").trim();
            assert!(media.to_ascii_lowercase().starts_with("application/"));
        }
        Err(problem) => assert_eq!(problem.code, Code::UnsupportedMediaType),
    }
}

fn idempotency(headers: &HeaderMap) {
    match idempotency_key(headers) {
        Ok(None) => assert!(!headers.contains_key("idempotency-key")),
        Ok(Some(key)) => {
            assert!((1..=MAX_KEY_LEN).contains(&key.len()) && key.is_ascii());
            assert_eq!(
                key.as_bytes(),
                headers
                    .get("idempotency-key")
                    .expect("Some, so present")
                    .as_bytes()
            );
        }
        Err(problem) => assert_eq!(problem.code, Code::InvalidIdempotencyKey),
    }
}

/// What a consumer reading the event with serde_json gets: a `Value`, or an
/// error. `None` for the one refusal `parse` does not promise to prevent: a
/// number beyond `f64` (`1e400`), which is valid JSON that serde_json refuses
/// and others read as infinity.
fn read_back(json: &[u8]) -> Option<Result<Value, serde_json::Error>> {
    match serde_json::from_slice::<Value>(json) {
        Err(e) if e.to_string().starts_with("number out of range") => None,
        read => Some(read),
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn body_checks(body: &[u8]) {
    // Documented for valid JSON only, but it must not panic on anything.
    let consumable = check_consumable(body, DEPTH);

    let read = read_back(body);
    // serde_json reads what is valid, nested at most 64 deep, with paired
    // surrogates: that is what `parse` must accept (as one object).
    let readable = match &read {
        Some(Ok(value)) if depth(value) <= DEPTH => Some(value),
        _ => None,
    };
    if readable.is_some() {
        assert!(consumable.is_ok(), "{consumable:?}");
    }
    // Valid JSON that serde_json cannot read back (lone surrogate, too deep)
    // is what `check_consumable` is for.
    if serde_json::from_slice::<&RawValue>(body).is_ok() && matches!(read, Some(Err(_))) {
        assert!(consumable.is_err(), "valid JSON serde_json cannot read");
    }

    let single = parse(Kind::Single, body, DEPTH);
    match &single {
        Ok(events) => {
            assert_eq!(events.len(), 1);
            let trimmed = std::str::from_utf8(body)
                .expect("accepted, so UTF-8")
                .trim_matches([' ', '\t', '\n', '\r']);
            assert_eq!(events[0].get(), trimmed, "the event is kept byte for byte");
            if let Some(read) = &read {
                let value = read.as_ref().expect("accepted, so serde_json reads it");
                assert!(value.is_object() && depth(value) <= DEPTH);
            }
        }
        Err(problem) => {
            assert!(matches!(
                problem.code,
                Code::InvalidJson | Code::InvalidEvent
            ));
            assert!(!readable.is_some_and(Value::is_object), "{problem:?}");
        }
    }

    match parse(Kind::Batch, body, DEPTH) {
        Ok(events) => {
            assert!((1..=MAX_BATCH_EVENTS).contains(&events.len()));
            for event in &events {
                if let Some(read) = read_back(event.get().as_bytes()) {
                    assert!(read.expect("accepted, so serde_json reads it").is_object());
                }
            }
            if let Some(read) = &read {
                let value = read.as_ref().expect("accepted, so serde_json reads it");
                let fields = value.as_object().expect("a batch is an object");
                assert_eq!(fields.len(), 1);
                assert_eq!(
                    fields["events"].as_array().map(Vec::len),
                    Some(events.len())
                );
            }
        }
        Err(problem) => {
            assert!(matches!(
                problem.code,
                Code::InvalidJson | Code::InvalidEvent
            ));
        }
    }
}
