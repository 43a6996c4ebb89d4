//! A provider's JSON Web Key Set, read into the keys we trust.
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
//! allowing `verify`; a `kid`, because tokens select keys by it. The key
//! material itself is checked too, so that a key listed as usable can verify:
//! an RSA modulus must be odd and an EC point must lie on its curve.

use std::fmt;

use biscuit::jwa::SignatureAlgorithm;
use biscuit::jwk::{EllipticCurveKeyParameters, RSAKeyParameters};
use biscuit::jws::Secret;
use serde_json::{Map, Value};

/// A document that is not a key set at all (as opposed to a key set whose
/// entries are all unusable, which is a valid answer).
#[derive(Debug, thiserror::Error)]
pub enum NotAKeySet {
    #[error("the key set is not JSON ({0})")]
    NotJson(String),
    #[error("the document is JSON but has no \"keys\" array, so it is not a JWKS")]
    NoKeysArray,
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
/// An empty set is a valid state: the provider published no usable key, and
/// every token of it is refused.
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
    pub fn parse(json: &[u8]) -> Result<(KeySet, Vec<RejectedKey>), NotAKeySet> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| NotAKeySet::NotJson(e.to_string()))?;
        let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
            return Err(NotAKeySet::NoKeysArray);
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

/// The public RSA key, when *ring* can verify with it. *ring* takes moduli of
/// 2048..=8192 bits, odd (it works in Montgomery form, which needs an odd
/// modulus; and a product of two odd primes is odd), and an odd exponent of
/// 3..2^33. Checking here names the problem up front, where otherwise every
/// token would fail as "the signature does not match".
fn rsa_secret(entry: &Value) -> Result<Secret, String> {
    let rsa: RSAKeyParameters =
        serde_json::from_value(entry.clone()).map_err(|e| format!("malformed RSA key: {e}"))?;
    if rsa.d.is_some() {
        return Err(
            "the JWKS publishes this RSA key's private part (d): the key is compromised".into(),
        );
    }
    let bits = rsa.n.bits();
    if bits < 2048 {
        return Err(format!(
            "RSA key of {bits} bits is too short (minimum 2048)"
        ));
    }
    if bits > 8192 {
        return Err(format!("RSA key of {bits} bits is too long (maximum 8192)"));
    }
    if !rsa.n.bit(0) {
        return Err("RSA modulus (n) is even, so it is not an RSA modulus".into());
    }
    if rsa.e.bits() > 33 || rsa.e.bits() < 2 || !rsa.e.bit(0) {
        return Err("RSA public exponent is not an odd number between 3 and 2^33".into());
    }
    Ok(rsa.jws_public_key_secret())
}

/// The public EC key, when its point is one *ring* accepts.
///
/// The point (x, y) must lie on the named curve: a point off the curve can
/// never verify a signature, and accepting such points is what invalid-curve
/// attacks are built on. *ring*, which verifies the signatures, has no public
/// "validate this key" call, but its ECDH validates the peer's public key
/// fully (coordinates below the field prime, the curve equation; NIST SP
/// 800-56A rev. 2 §5.6.2.3.4, as its documentation of `ECDH_P256`/`ECDH_P384`
/// states) before using it. So the point is offered to an ECDH with a fresh
/// ephemeral key: *ring*'s own check, the one its signature verification makes
/// on the same encoding, decides, and no curve arithmetic is written here.
fn ec_secret(entry: &Value) -> Result<(Kind, Secret), String> {
    let (kind, size, curve, ecdh) = match entry.get("crv").and_then(Value::as_str) {
        Some("P-256") => (Kind::EcP256, 32, "P-256", &ring::agreement::ECDH_P256),
        Some("P-384") => (Kind::EcP384, 48, "P-384", &ring::agreement::ECDH_P384),
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
    // SEC 1 uncompressed, the encoding biscuit hands to ring for ES256/384.
    let point = [&[0x04], &ec.x[..], &ec.y[..]].concat();
    if !on_curve(ecdh, &point)? {
        return Err(format!("the EC point (x, y) is not on curve {curve}"));
    }
    Ok((kind, Secret::PublicKey(point)))
}

/// Whether *ring* accepts `point` (SEC 1 uncompressed: 04 ‖ x ‖ y) as a public
/// key of `curve`. An `Err` means no ephemeral key could be made (the system
/// random source failed), which says nothing about the point.
fn on_curve(curve: &'static ring::agreement::Algorithm, point: &[u8]) -> Result<bool, String> {
    use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey};
    let ours = EphemeralPrivateKey::generate(curve, &ring::rand::SystemRandom::new())
        .map_err(|_| "cannot check the EC point: the system random source failed".to_string())?;
    Ok(agree_ephemeral(ours, &UnparsedPublicKey::new(curve, point), |_| ()).is_ok())
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
        assert!(set.find("ec-384").is_some());
        assert!(set.find("nope").is_none());
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
    fn document_errors() {
        assert!(matches!(
            KeySet::parse(b"<html>"),
            Err(NotAKeySet::NotJson(_))
        ));
        assert!(matches!(
            KeySet::parse(b"{\"keys\": {}}"),
            Err(NotAKeySet::NoKeysArray)
        ));
        assert!(matches!(KeySet::parse(b"[]"), Err(NotAKeySet::NoKeysArray)));
        let (set, rejected) = KeySet::parse(b"{\"keys\": []}").unwrap();
        assert!(set.is_empty() && rejected.is_empty());
    }

    fn rejected_reason(jwk: Value) -> String {
        let (set, rejected) = KeySet::parse(&jwks(&[jwk])).unwrap();
        assert!(set.is_empty(), "{set:?}");
        rejected[0].reason.clone()
    }

    /// The provider's RSA JWK with its modulus replaced by `n` (big-endian).
    fn rsa_with_modulus(n: &[u8]) -> Value {
        let mut jwk = testkit::provider_rsa().jwk("crafted", None);
        jwk["n"] = testkit::b64(n).into();
        jwk
    }

    fn provider_modulus() -> Vec<u8> {
        let jwk = testkit::provider_rsa().jwk("k", None);
        let rsa: RSAKeyParameters = serde_json::from_value(jwk).unwrap();
        rsa.n.to_bytes_be()
    }

    #[test]
    fn rsa_modulus_must_be_odd() {
        let mut n = provider_modulus();
        assert_eq!(n.len(), 256);
        *n.last_mut().unwrap() &= 0xfe;
        assert_eq!(
            rejected_reason(rsa_with_modulus(&n)),
            "RSA modulus (n) is even, so it is not an RSA modulus"
        );
        // The same modulus, odd again, is usable: only the parity was refused.
        *n.last_mut().unwrap() |= 1;
        let (set, rejected) = KeySet::parse(&jwks(&[rsa_with_modulus(&n)])).unwrap();
        assert!(rejected.is_empty() && set.len() == 1, "{rejected:?}");
    }

    #[test]
    fn rsa_modulus_size_is_counted_in_bits_not_bytes() {
        // 256 bytes with the top bit clear: 2047 bits, one short.
        let mut n = provider_modulus();
        n[0] = 0x7f;
        assert_eq!(
            rejected_reason(rsa_with_modulus(&n)),
            "RSA key of 2047 bits is too short (minimum 2048)"
        );
        // A leading zero byte does not make a key longer.
        let mut padded = vec![0u8];
        padded.extend_from_slice(&n);
        assert_eq!(
            rejected_reason(rsa_with_modulus(&padded)),
            "RSA key of 2047 bits is too short (minimum 2048)"
        );
        let huge = vec![0xff; 1025];
        assert_eq!(
            rejected_reason(rsa_with_modulus(&huge)),
            "RSA key of 8200 bits is too long (maximum 8192)"
        );
    }

    #[test]
    fn rsa_exponent_must_be_odd_and_above_one() {
        for (e, what) in [
            (&[0x01, 0x00, 0x00][..], "65536 (even)"),
            (&[0x01], "1"),
            (&[0x00], "0"),
            (&[0x02], "2"),
            (&[0x02, 0x00, 0x00, 0x00, 0x01], "2^33 + 1"),
        ] {
            let mut jwk = testkit::provider_rsa().jwk("e", None);
            jwk["e"] = testkit::b64(e).into();
            assert_eq!(
                rejected_reason(jwk),
                "RSA public exponent is not an odd number between 3 and 2^33",
                "e = {what}"
            );
        }
        let mut three = testkit::provider_rsa().jwk("e3", None);
        three["e"] = testkit::b64(&[3]).into();
        assert_eq!(KeySet::parse(&jwks(&[three])).unwrap().0.len(), 1);
    }

    fn coordinates(jwk: &Value) -> (Vec<u8>, Vec<u8>) {
        let ec: EllipticCurveKeyParameters = serde_json::from_value(jwk.clone()).unwrap();
        (ec.x, ec.y)
    }

    fn with_point(mut jwk: Value, x: &[u8], y: &[u8]) -> Value {
        jwk["x"] = testkit::b64(x).into();
        jwk["y"] = testkit::b64(y).into();
        jwk
    }

    #[test]
    fn ec_points_off_their_curve_are_refused() {
        for (ec, curve) in [(Ec::p256(), "P-256"), (Ec::p384(), "P-384")] {
            let good = ec.jwk("k", None);
            let (x, y) = coordinates(&good);
            let size = x.len();
            let off = format!("the EC point (x, y) is not on curve {curve}");
            let mut y_flipped = y.clone();
            *y_flipped.last_mut().unwrap() ^= 1;
            let mut x_flipped = x.clone();
            x_flipped[size / 2] ^= 0x10;
            for (what, x, y) in [
                ("y changed by one bit", &x, &y_flipped),
                ("x changed by one bit", &x_flipped, &y),
                ("x and y swapped", &y, &x),
                ("the origin (0, 0)", &vec![0; size], &vec![0; size]),
                (
                    "coordinates above the field prime",
                    &vec![0xff; size],
                    &vec![0xff; size],
                ),
            ] {
                assert_eq!(
                    rejected_reason(with_point(good.clone(), x, y)),
                    off,
                    "{curve}: {what}"
                );
            }
            // The untouched point passes the same check.
            let (set, rejected) = KeySet::parse(&jwks(&[with_point(good, &x, &y)])).unwrap();
            assert!(
                rejected.is_empty() && set.len() == 1,
                "{curve}: {rejected:?}"
            );
        }
    }

    #[test]
    fn a_p256_point_is_not_accepted_as_p384_or_the_reverse() {
        let p256 = Ec::p256().jwk("k", None);
        let (x, y) = coordinates(&p256);
        let mut as_384 = with_point(
            p256,
            &[&[0; 16][..], &x].concat(),
            &[&[0; 16][..], &y].concat(),
        );
        as_384["crv"] = "P-384".into();
        assert_eq!(
            rejected_reason(as_384),
            "the EC point (x, y) is not on curve P-384"
        );
    }
}
