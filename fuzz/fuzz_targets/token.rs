//! Untrusted tokens must be refused, never panic: `peek_header` then `verify`
//! against a fixed key set, on arbitrary UTF-8. Seeds are in `seeds/token/`
//! (two of them verify at the fixed time below).
#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use eventward::jwt::{peek_header, verify, KeySet, Rules};
use eventward::problem::Problem;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    let (keys, rejected) = KeySet::parse(include_bytes!("../jwks.json")).expect("jwks.json parses");
    assert!(
        rejected.is_empty() && keys.len() == 3,
        "jwks.json: {rejected:?}"
    );
    keys
});

static RULES: LazyLock<Rules> = LazyLock::new(|| Rules {
    audience: Some("eventward".into()),
    issuer: Some("https://issuer.example".into()),
    leeway: Duration::from_secs(60),
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let header = match peek_header(token) {
        Ok(header) => header,
        Err(refusal) => {
            assert!(!refusal.detail().is_empty());
            return;
        }
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    match verify(token, &header, &KEYS, &RULES, now) {
        Ok(verified) => assert!(KEYS.usable().iter().any(|k| k.kid == verified.kid)),
        Err(refusal) => {
            assert!(!refusal.detail().is_empty());
            assert!(!Problem::from(refusal).code.as_str().is_empty());
        }
    }
});
