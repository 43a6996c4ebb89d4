//! A provider's JSON Web Key Set: fetching it and keeping only the keys we trust.
//!
//! Providers publish whatever their platform supports — Ed25519, P-521, HMAC
//! secrets by mistake, encryption keys — next to the RSA or EC signing keys we
//! can use. biscuit refuses a whole `JWKSet` when one entry does not
//! deserialize, so the `keys` array is read entry by entry: every entry either
//! becomes a usable key or a [`RejectedKey`] with a reason the operator can act
//! on ("Check API Credentials" prints them).
//!
//! What is usable (the contract's accepted algorithms, nothing more):
//! RSA of 2048–8192 bits for RS256/384/512 and PS256/384/512, EC P-256 for
//! ES256 and P-384 for ES384; `use` absent or `sig`; `key_ops`, when present,
//! allowing `verify`; a `kid`, because tokens select keys by it.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use biscuit::jwa::SignatureAlgorithm;
use biscuit::jwk::{EllipticCurveKeyParameters, RSAKeyParameters};
use biscuit::jws::Secret;
use serde_json::{Map, Value};

/// A key set larger than this is refused: real ones are a few KiB, and the
/// limit bounds what a hostile or broken endpoint can make us buffer.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Total time allowed for one fetch, connection to last byte.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

const MAX_REDIRECTS: usize = 5;

/// Why a key set could not be obtained. The messages are written for the
/// operator and are printed as they are by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url} answered HTTP {status}; a JWKS URL must answer 2xx")]
    Status { url: String, status: u16 },
    #[error("the key set at {url} is larger than 1 MiB")]
    TooLarge { url: String },
    #[error("the key set is not JSON ({0})")]
    NotJson(String),
    #[error("the document is JSON but has no \"keys\" array, so it is not a JWKS")]
    NoKeysArray,
    #[error("the key set holds no usable signing key{0}")]
    NoUsableKey(String),
}

/// Which key material a usable key holds; decides which algorithms fit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Rsa,
    EcP256,
    EcP384,
}

#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: String,
    kind: Kind,
    /// The JWK's own `alg`; when present it is the only algorithm allowed.
    alg: Option<SignatureAlgorithm>,
    pub(crate) secret: Secret,
}

impl Kind {
    fn fits(self, alg: SignatureAlgorithm) -> bool {
        use SignatureAlgorithm::*;
        match self {
            Kind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Kind::EcP256 => alg == ES256,
            Kind::EcP384 => alg == ES384,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Rsa => "an RSA key",
            Kind::EcP256 => "an EC P-256 key",
            Kind::EcP384 => "an EC P-384 key",
        }
    }
}

impl Key {
    /// Whether a token signed with `alg` may be checked with this key. This is
    /// what stops key confusion: an RSA key never fits HS256 or ES256.
    pub(crate) fn fits(&self, alg: SignatureAlgorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }

    pub(crate) fn describe(&self) -> String {
        match self.alg {
            Some(alg) => format!("{} for {alg:?}", self.kind.describe()),
            None => self.kind.describe().to_string(),
        }
    }
}

/// The usable keys of one provider, in the order the JWKS lists them.
/// Sets are small (a handful of keys), so lookups by `kid` scan the list.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| &k.kid))
            .finish()
    }
}

/// A usable key, for listing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub kty: String,
    pub alg: Option<String>,
}

/// An entry of the `keys` array that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RejectedKey {
    pub kid: Option<String>,
    /// Position in the `keys` array, to name entries that have no `kid`.
    pub index: usize,
    pub reason: String,
}

impl fmt::Display for RejectedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            Some(kid) => write!(f, "kid {kid:?}: {}", self.reason),
            None => write!(f, "keys[{}]: {}", self.index, self.reason),
        }
    }
}

impl KeySet {
    /// Parses a JWKS document. Only a document that is not JSON or has no
    /// `keys` array is an error; unusable entries are returned beside the set.
    pub fn parse(json: &[u8]) -> Result<(KeySet, Vec<RejectedKey>), JwksError> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| JwksError::NotJson(e.to_string()))?;
        let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
            return Err(JwksError::NoKeysArray);
        };
        let mut keys: Vec<Key> = Vec::new();
        let mut rejected = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            let reason = match parse_key(entry) {
                Ok(key) if keys.iter().any(|k| k.kid == key.kid) => {
                    "duplicate kid (an earlier key has the same kid)".to_string()
                }
                Ok(key) => {
                    keys.push(key);
                    continue;
                }
                Err(reason) => reason,
            };
            rejected.push(RejectedKey { kid, index, reason });
        }
        Ok((KeySet { keys }, rejected))
    }

    pub fn usable(&self) -> Vec<KeyInfo> {
        self.keys
            .iter()
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                kty: match k.kind {
                    Kind::Rsa => "RSA",
                    Kind::EcP256 | Kind::EcP384 => "EC",
                }
                .to_string(),
                alg: k.alg.map(|a| format!("{a:?}")),
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn contains_kid(&self, kid: &str) -> bool {
        self.find(kid).is_some()
    }

    pub(crate) fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub(crate) fn fitting(&self, alg: SignatureAlgorithm) -> impl Iterator<Item = &Key> {
        self.keys.iter().filter(move |k| k.fits(alg))
    }
}

/// Turns one `keys` entry into a usable key, or says why it is not one.
fn parse_key(entry: &Value) -> Result<Key, String> {
    let Value::Object(jwk) = entry else {
        return Err("not a JSON object".into());
    };
    let text = |name: &str| -> Result<Option<&str>, String> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{name} is not a string")),
        }
    };
    let alg = text("alg")?;
    let kty = text("kty")?.ok_or("missing kty")?;
    match kty {
        "RSA" | "EC" => {}
        "oct" => {
            return Err(match alg {
                Some(alg) => format!("{alg} symmetric keys are never accepted"),
                None => "symmetric (oct) keys are never accepted".into(),
            })
        }
        "OKP" => {
            return Err(match alg.or(text("crv")?) {
                Some(what) => format!("{what} (OKP) is not supported"),
                None => "OKP keys are not supported".into(),
            })
        }
        other => return Err(format!("key type {other:?} is not supported")),
    }
    if let Some(usage) = text("use")? {
        if usage != "sig" {
            return Err(format!("use is '{usage}', not 'sig'"));
        }
    }
    check_key_ops(jwk)?;
    let alg = alg.map(signature_alg).transpose()?;
    let (kind, secret) = if kty == "RSA" {
        (Kind::Rsa, rsa_secret(entry)?)
    } else {
        ec_secret(entry)?
    };
    if let Some(alg) = alg {
        if !kind.fits(alg) {
            return Err(format!("alg {alg:?} does not fit {}", kind.describe()));
        }
    }
    let kid = text("kid")?.ok_or("missing kid")?;
    if kid.is_empty() {
        return Err("empty kid".into());
    }
    Ok(Key {
        kid: kid.to_owned(),
        kind,
        alg,
        secret,
    })
}

fn check_key_ops(jwk: &Map<String, Value>) -> Result<(), String> {
    match jwk.get("key_ops") {
        None => Ok(()),
        Some(Value::Array(ops)) if ops.iter().any(|op| op == "verify") => Ok(()),
        Some(Value::Array(_)) => Err("key_ops does not allow 'verify'".into()),
        Some(_) => Err("key_ops is not an array".into()),
    }
}

/// Maps a JWK `alg` to one we accept, or explains the refusal.
fn signature_alg(alg: &str) -> Result<SignatureAlgorithm, String> {
    super::accepted_algorithm(alg).ok_or_else(|| match alg {
        "HS256" | "HS384" | "HS512" => format!("{alg} symmetric keys are never accepted"),
        "none" => "alg 'none' is never accepted".into(),
        other => format!("{other} is not supported"),
    })
}

fn rsa_secret(entry: &Value) -> Result<Secret, String> {
    let rsa: RSAKeyParameters =
        serde_json::from_value(entry.clone()).map_err(|e| format!("malformed RSA key: {e}"))?;
    if rsa.d.is_some() {
        return Err(
            "the JWKS publishes this RSA key's private part (d): the key is compromised".into(),
        );
    }
    // ring verifies RSA signatures only for 2048..=8192-bit moduli and an odd
    // exponent of 3..2^33; refusing others here names the problem up front
    // instead of failing every token.
    let bits = rsa.n.bits();
    if bits < 2048 {
        return Err(format!(
            "RSA key of {bits} bits is too short (minimum 2048)"
        ));
    }
    if bits > 8192 {
        return Err(format!("RSA key of {bits} bits is too long (maximum 8192)"));
    }
    if rsa.e.bits() > 33 || rsa.e.bits() < 2 || !rsa.e.bit(0) {
        return Err("RSA public exponent is not an odd number between 3 and 2^33".into());
    }
    Ok(rsa.jws_public_key_secret())
}

fn ec_secret(entry: &Value) -> Result<(Kind, Secret), String> {
    let (kind, size) = match entry.get("crv").and_then(Value::as_str) {
        Some("P-256") => (Kind::EcP256, 32),
        Some("P-384") => (Kind::EcP384, 48),
        Some("P-521") => return Err("curve P-521 (ES512) is not supported".into()),
        Some(other) => return Err(format!("curve {other:?} is not supported")),
        None => return Err("EC key without crv".into()),
    };
    let ec: EllipticCurveKeyParameters =
        serde_json::from_value(entry.clone()).map_err(|e| format!("malformed EC key: {e}"))?;
    if ec.d.is_some() {
        return Err(
            "the JWKS publishes this EC key's private part (d): the key is compromised".into(),
        );
    }
    if ec.x.len() != size || ec.y.len() != size {
        return Err(format!(
            "EC point coordinates must be {size} bytes for this curve"
        ));
    }
    Ok((kind, ec.jws_public_key_secret()))
}

/// A fetched key set.
#[derive(Debug)]
pub struct Fetched {
    pub keys: KeySet,
    pub rejected: Vec<RejectedKey>,
    /// `Cache-Control: max-age`, as sent; the caller bounds it.
    pub max_age: Option<Duration>,
}

impl Fetched {
    /// A key set without a usable key cannot verify anything; this names the
    /// reasons in one message, for callers that treat that as a failure.
    pub fn check_usable(&self) -> Result<(), JwksError> {
        if !self.keys.is_empty() {
            return Ok(());
        }
        let detail = if self.rejected.is_empty() {
            " (the keys array is empty)".to_string()
        } else {
            let reasons: Vec<String> = self.rejected.iter().map(ToString::to_string).collect();
            format!(": {}", reasons.join("; "))
        };
        Err(JwksError::NoUsableKey(detail))
    }
}

/// The JWKS URL rule of the contract: `https://`, or `http://` on loopback only.
pub fn check_url(s: &str) -> Result<url::Url, String> {
    let url =
        url::Url::parse(s).map_err(|e| format!("the JWKS URL {s:?} is not a valid URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "the JWKS URL must use https://; http:// is allowed only on a loopback host \
             (127.0.0.0/8, ::1, localhost), and {:?} is not one",
            url.host_str().unwrap_or_default()
        )),
        other => Err(format!("the JWKS URL must use https:// (not {other}://)")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The HTTP client for JWKS fetches. Redirects are followed only to
/// `https://`: a provider must not be able to bounce us to plain HTTP, and a
/// public host must not be able to point us at a loopback service.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("eventward/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.url().scheme() != "https" {
                let refused = format!("refused a redirect to the non-https URL {}", attempt.url());
                attempt.error(refused)
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        }))
        .build()
        .expect("a client with rustls and no custom certificates always builds")
}

/// Fetches and parses the key set at `url` (which [`check_url`] accepted).
pub async fn fetch(client: &reqwest::Client, url: &url::Url) -> Result<Fetched, JwksError> {
    fetch_within(client, url, FETCH_TIMEOUT).await
}

async fn fetch_within(
    client: &reqwest::Client,
    url: &url::Url,
    limit: Duration,
) -> Result<Fetched, JwksError> {
    let timeout = || JwksError::Timeout {
        url: url.to_string(),
        after: limit,
    };
    let (body, max_age) = tokio::time::timeout(limit, download(client, url))
        .await
        .map_err(|_| timeout())?
        .map_err(|e| {
            if e.is_timeout() {
                timeout()
            } else {
                e.into_jwks_error(url)
            }
        })?;
    let (keys, rejected) = KeySet::parse(&body)?;
    Ok(Fetched {
        keys,
        rejected,
        max_age,
    })
}

enum DownloadError {
    Http(reqwest::Error),
    Status(u16),
    TooLarge,
}

impl DownloadError {
    fn is_timeout(&self) -> bool {
        matches!(self, DownloadError::Http(e) if e.is_timeout())
    }

    fn into_jwks_error(self, url: &url::Url) -> JwksError {
        let url = url.to_string();
        match self {
            DownloadError::Http(e) => JwksError::Unreachable {
                url,
                reason: root_cause(&e),
            },
            DownloadError::Status(status) => JwksError::Status { url, status },
            DownloadError::TooLarge => JwksError::TooLarge { url },
        }
    }
}

async fn download(
    client: &reqwest::Client,
    url: &url::Url,
) -> Result<(Vec<u8>, Option<Duration>), DownloadError> {
    let mut response = client
        .get(url.clone())
        .header(
            reqwest::header::ACCEPT,
            "application/jwk-set+json, application/json",
        )
        .send()
        .await
        .map_err(DownloadError::Http)?;
    let status = response.status();
    if !status.is_success() {
        return Err(DownloadError::Status(status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(DownloadError::TooLarge);
    }
    let max_age = response
        .headers()
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(max_age);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(DownloadError::Http)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(DownloadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, max_age))
}

/// `max-age=N` from one Cache-Control header value (directive names are
/// case-insensitive; the value may be quoted).
fn max_age(header: &str) -> Option<Duration> {
    header.split(',').find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let secs = value.trim().trim_matches('"').parse().ok()?;
        Some(Duration::from_secs(secs))
    })
}

/// reqwest's own message is "error sending request for url (…)"; the innermost
/// cause ("Connection refused", "dns error: …", "invalid peer certificate: …")
/// is what tells the operator what to fix.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::testkit::{self, Ec};

    fn jwks(keys: &[Value]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap()
    }

    fn reasons(rejected: &[RejectedKey]) -> Vec<(Option<&str>, &str)> {
        rejected
            .iter()
            .map(|r| (r.kid.as_deref(), r.reason.as_str()))
            .collect()
    }

    #[test]
    fn parses_usable_rsa_and_ec_keys() {
        let p256 = Ec::p256();
        let p384 = Ec::p384();
        let doc = jwks(&[
            testkit::provider_rsa().jwk("rsa-1", Some("RS256")),
            testkit::provider_rsa().jwk("rsa-any", None),
            p256.jwk("ec-256", Some("ES256")),
            p384.jwk("ec-384", None),
        ]);
        let (set, rejected) = KeySet::parse(&doc).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(set.len(), 4);
        assert!(!set.is_empty());
        assert!(set.contains_kid("ec-384"));
        assert!(!set.contains_kid("nope"));
        let info = set.usable();
        assert_eq!(
            info[0],
            KeyInfo {
                kid: "rsa-1".into(),
                kty: "RSA".into(),
                alg: Some("RS256".into())
            }
        );
        assert_eq!(
            info[3],
            KeyInfo {
                kid: "ec-384".into(),
                kty: "EC".into(),
                alg: None
            }
        );
    }

    #[test]
    fn unsupported_keys_are_reported_beside_usable_ones() {
        let rsa = testkit::provider_rsa();
        let p256 = Ec::p256();
        let mut enc = rsa.jwk("enc", None);
        enc["use"] = "enc".into();
        let mut verify_ops = rsa.jwk("ops-ok", None);
        verify_ops["key_ops"] = serde_json::json!(["verify"]);
        let mut encrypt_ops = rsa.jwk("ops-enc", None);
        encrypt_ops["key_ops"] = serde_json::json!(["encrypt"]);
        let mut private = rsa.jwk("private", None);
        private["d"] = "AQAB".into();
        let mut no_kid = rsa.jwk("x", None);
        no_kid.as_object_mut().unwrap().remove("kid");
        let mut p521 = p256.jwk("p521", None);
        p521["crv"] = "P-521".into();
        let doc = jwks(&[
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            rsa.jwk("rsa-1", Some("RS256")),
            serde_json::json!({"kty": "oct", "alg": "HS256", "kid": "hmac", "k": "c2VjcmV0"}),
            serde_json::from_slice(testkit::RSA_1024_JWK).unwrap(),
            no_kid,
            serde_json::json!({"kty": "EC", "crv": "P-521", "alg": "ES512", "kid": "es512", "x": "AA", "y": "AA"}),
            p521,
            enc,
            rsa.jwk("rsa-1", Some("PS256")),
            rsa.jwk("wrong-alg", Some("ES256")),
            p256.jwk("wrong-curve", Some("ES384")),
            serde_json::json!({"kty": "RSA", "kid": "bad-n", "n": 5, "e": "AQAB"}),
            encrypt_ops,
            verify_ops,
            private,
            serde_json::json!("not a key"),
            rsa.jwk("rsa-none", Some("none")),
        ]);
        let (set, rejected) = KeySet::parse(&doc).unwrap();
        assert_eq!(
            set.usable()
                .iter()
                .map(|k| k.kid.as_str())
                .collect::<Vec<_>>(),
            ["rsa-1", "ops-ok"]
        );
        let r = reasons(&rejected);
        assert_eq!(r[0], (Some("ed"), "EdDSA (OKP) is not supported"));
        assert_eq!(
            r[1],
            (Some("hmac"), "HS256 symmetric keys are never accepted")
        );
        assert_eq!(
            r[2],
            (
                Some("rsa-1024"),
                "RSA key of 1024 bits is too short (minimum 2048)"
            )
        );
        assert_eq!(r[3], (None, "missing kid"));
        assert_eq!(rejected[3].index, 4);
        assert_eq!(r[4], (Some("es512"), "ES512 is not supported"));
        assert_eq!(r[5], (Some("p521"), "curve P-521 (ES512) is not supported"));
        assert_eq!(r[6], (Some("enc"), "use is 'enc', not 'sig'"));
        assert_eq!(
            r[7],
            (
                Some("rsa-1"),
                "duplicate kid (an earlier key has the same kid)"
            )
        );
        assert_eq!(
            r[8],
            (Some("wrong-alg"), "alg ES256 does not fit an RSA key")
        );
        assert_eq!(
            r[9],
            (
                Some("wrong-curve"),
                "alg ES384 does not fit an EC P-256 key"
            )
        );
        assert_eq!(r[10].0, Some("bad-n"));
        assert!(r[10].1.starts_with("malformed RSA key"), "{}", r[10].1);
        assert_eq!(r[11], (Some("ops-enc"), "key_ops does not allow 'verify'"));
        assert_eq!(
            r[12],
            (
                Some("private"),
                "the JWKS publishes this RSA key's private part (d): the key is compromised"
            )
        );
        assert_eq!(r[13], (None, "not a JSON object"));
        assert_eq!(r[14], (Some("rsa-none"), "alg 'none' is never accepted"));
        assert_eq!(rejected.len(), 15);
    }

    #[test]
    fn okp_and_oct_without_alg_are_named_by_curve_and_type() {
        let doc = jwks(&[
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}),
            serde_json::json!({"kty": "oct", "kid": "k", "k": "AA"}),
            serde_json::json!({"kty": "RSA", "kid": "r", "alg": "RSA-OAEP", "n": "AA", "e": "AQAB"}),
            serde_json::json!({"kty": "XYZ", "kid": "x"}),
        ]);
        let (set, rejected) = KeySet::parse(&doc).unwrap();
        assert!(set.is_empty());
        assert_eq!(
            reasons(&rejected),
            [
                (Some("ed"), "Ed25519 (OKP) is not supported"),
                (Some("k"), "symmetric (oct) keys are never accepted"),
                (Some("r"), "RSA-OAEP is not supported"),
                (Some("x"), "key type \"XYZ\" is not supported"),
            ]
        );
    }

    #[test]
    fn rsa_exponent_must_be_one_ring_accepts() {
        let mut even = testkit::provider_rsa().jwk("even", None);
        even["e"] = "AQAA".into();
        let (_, rejected) = KeySet::parse(&jwks(&[even])).unwrap();
        assert_eq!(
            rejected[0].reason,
            "RSA public exponent is not an odd number between 3 and 2^33"
        );
    }

    #[test]
    fn document_errors() {
        assert!(matches!(
            KeySet::parse(b"<html>"),
            Err(JwksError::NotJson(_))
        ));
        assert!(matches!(
            KeySet::parse(b"{\"keys\": {}}"),
            Err(JwksError::NoKeysArray)
        ));
        assert!(matches!(KeySet::parse(b"[]"), Err(JwksError::NoKeysArray)));
        let (set, rejected) = KeySet::parse(b"{\"keys\": []}").unwrap();
        assert!(set.is_empty() && rejected.is_empty());
    }

    #[test]
    fn check_usable_names_the_reasons() {
        let fetched = |doc: &[u8]| {
            let (keys, rejected) = KeySet::parse(doc).unwrap();
            Fetched {
                keys,
                rejected,
                max_age: None,
            }
        };
        let empty = fetched(b"{\"keys\": []}").check_usable().unwrap_err();
        assert_eq!(
            empty.to_string(),
            "the key set holds no usable signing key (the keys array is empty)"
        );
        let hmac = fetched(br#"{"keys": [{"kty": "oct", "alg": "HS256", "k": "AA"}]}"#);
        assert_eq!(
            hmac.check_usable().unwrap_err().to_string(),
            "the key set holds no usable signing key: keys[0]: HS256 symmetric keys are never accepted"
        );
        let good = fetched(&jwks(&[testkit::provider_rsa().jwk("k", None)]));
        assert!(good.check_usable().is_ok());
    }

    #[test]
    fn url_rule() {
        for ok in [
            "https://login.example.com/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:9000/jwks",
            "http://localhost/jwks",
            "http://LOCALHOST:80/jwks",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        let err = check_url("http://example.com/jwks").unwrap_err();
        assert!(
            err.contains("loopback") && err.contains("example.com"),
            "{err}"
        );
        for bad in [
            "http://10.0.0.1/jwks",
            "http://localhost.example.com/jwks",
            "http://[::2]/jwks",
            "ftp://localhost/jwks",
            "file:///etc/jwks.json",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_url("ftp://x/").unwrap_err(),
            "the JWKS URL must use https:// (not ftp://)"
        );
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=3600"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            max_age("Max-Age=\"60\", must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("s-maxage=60, no-cache"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    /// Serves one canned HTTP/1.1 response per connection on 127.0.0.1,
    /// after an optional delay, and returns the URL to fetch.
    async fn serve(status: &str, headers: &str, body: Vec<u8>, delay: Duration) -> url::Url {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        );
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            }
        });
        check_url(&format!("http://{addr}/jwks")).unwrap()
    }

    #[tokio::test]
    async fn fetch_reads_keys_and_max_age() {
        let body = jwks(&[
            testkit::provider_rsa().jwk("rsa-1", Some("RS256")),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}),
        ]);
        let url = serve(
            "200 OK",
            "Content-Type: application/json\r\nCache-Control: public, max-age=900\r\n",
            body,
            Duration::ZERO,
        )
        .await;
        let fetched = fetch(&client(), &url).await.unwrap();
        assert_eq!(fetched.keys.len(), 1);
        assert_eq!(fetched.rejected.len(), 1);
        assert_eq!(fetched.max_age, Some(Duration::from_secs(900)));
    }

    #[tokio::test]
    async fn fetch_without_cache_control_has_no_max_age() {
        let body = jwks(&[testkit::provider_rsa().jwk("rsa-1", None)]);
        let url = serve("200 OK", "", body, Duration::ZERO).await;
        assert_eq!(fetch(&client(), &url).await.unwrap().max_age, None);
    }

    #[tokio::test]
    async fn fetch_refuses_error_status() {
        let url = serve(
            "500 Internal Server Error",
            "",
            b"oops".to_vec(),
            Duration::ZERO,
        )
        .await;
        let err = fetch(&client(), &url).await.unwrap_err();
        assert!(
            matches!(err, JwksError::Status { status: 500, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("{url} answered HTTP 500; a JWKS URL must answer 2xx")
        );
    }

    #[tokio::test]
    async fn fetch_refuses_non_json() {
        let url = serve("200 OK", "", b"<html>hello</html>".to_vec(), Duration::ZERO).await;
        let err = fetch(&client(), &url).await.unwrap_err();
        assert!(matches!(err, JwksError::NotJson(_)), "{err}");
        assert!(
            err.to_string().starts_with("the key set is not JSON ("),
            "{err}"
        );
    }

    #[tokio::test]
    async fn fetch_refuses_json_without_keys() {
        let url = serve(
            "200 OK",
            "",
            b"{\"issuer\": \"x\"}".to_vec(),
            Duration::ZERO,
        )
        .await;
        assert!(matches!(
            fetch(&client(), &url).await,
            Err(JwksError::NoKeysArray)
        ));
    }

    #[tokio::test]
    async fn fetch_times_out() {
        let url = serve(
            "200 OK",
            "",
            b"{\"keys\": []}".to_vec(),
            Duration::from_secs(2),
        )
        .await;
        let started = std::time::Instant::now();
        let err = fetch_within(&client(), &url, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(err, JwksError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            err.to_string(),
            format!("{url} did not answer within 300ms")
        );
    }

    #[tokio::test]
    async fn fetch_refuses_oversize_body() {
        let mut body = b"{\"keys\": [], \"pad\": \"".to_vec();
        body.resize(MAX_BODY_BYTES + 1, b'a');
        let url = serve("200 OK", "", body, Duration::ZERO).await;
        let err = fetch(&client(), &url).await.unwrap_err();
        assert!(matches!(err, JwksError::TooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn fetch_refuses_oversize_body_without_content_length() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..20 {
                if socket.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        });
        let url = check_url(&format!("http://{addr}/jwks")).unwrap();
        let err = fetch(&client(), &url).await.unwrap_err();
        assert!(matches!(err, JwksError::TooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn fetch_reports_unreachable_with_the_cause() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = check_url(&format!("http://{addr}/jwks")).unwrap();
        let err = fetch(&client(), &url).await.unwrap_err();
        let JwksError::Unreachable { reason, .. } = &err else {
            panic!("{err}")
        };
        assert!(reason.to_lowercase().contains("refused"), "{reason}");
    }

    #[tokio::test]
    async fn fetch_refuses_redirect_to_plain_http() {
        let target = serve("200 OK", "", b"{\"keys\": []}".to_vec(), Duration::ZERO).await;
        let url = serve(
            "302 Found",
            &format!("Location: {target}\r\n"),
            Vec::new(),
            Duration::ZERO,
        )
        .await;
        let err = fetch(&client(), &url).await.unwrap_err();
        let JwksError::Unreachable { reason, .. } = &err else {
            panic!("{err}")
        };
        assert!(reason.contains("non-https"), "{reason}");
    }
}
