//! A provider's JSON Web Key Set, read into the keys we trust.
//!
//! Providers publish whatever their platform supports — Ed448, X25519, HMAC
//! secrets by mistake, encryption keys — next to the signing keys we can use.
//! A JWKS parser that refuses a whole set when one entry does not deserialize
//! would lock out every token of the provider, so the `keys` array is read
//! entry by entry: every entry either becomes a usable key or a
//! [`RejectedKey`] with a reason the operator can act on ("Check API
//! Credentials" prints them).
//!
//! What is usable (the contract's accepted algorithms, nothing more):
//! RSA of 2048–8192 bits for RS256/384/512 and PS256/384/512, EC P-256 for
//! ES256, P-384 for ES384 and P-521 for ES512, OKP Ed25519 for EdDSA; `use`
//! absent or `sig`; `key_ops`, when present, allowing `verify`; a `kid`,
//! because tokens select keys by it. The key material itself is checked too,
//! so that a key listed as usable can verify: an RSA modulus must be odd and
//! an EC point must lie on its curve.
//!
//! Each usable key is parsed here, once, into the verifying key of every
//! algorithm it may check (*aws-lc-rs*'s `ParsedPublicKey`), so verifying a
//! token never rebuilds a public key from the JWK's numbers.

use std::fmt;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use data_encoding::BASE64URL_NOPAD;
use serde_json::{Map, Value};

use super::Alg;

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
    EcP521,
    Ed25519,
}

#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: String,
    kind: Kind,
    /// The JWK's own `alg`; when present it is the only algorithm allowed.
    alg: Option<Alg>,
    /// The parsed verifying key for each algorithm this key may check: one
    /// entry, or the six RSA algorithms for an RSA key without `alg`.
    verifiers: Vec<(Alg, ParsedPublicKey)>,
}

const RSA_ALGORITHMS: [Alg; 6] = [
    Alg::RS256,
    Alg::RS384,
    Alg::RS512,
    Alg::PS256,
    Alg::PS384,
    Alg::PS512,
];

impl Kind {
    fn fits(self, alg: Alg) -> bool {
        match self {
            Kind::Rsa => RSA_ALGORITHMS.contains(&alg),
            Kind::EcP256 => alg == Alg::ES256,
            Kind::EcP384 => alg == Alg::ES384,
            Kind::EcP521 => alg == Alg::ES512,
            Kind::Ed25519 => alg == Alg::EdDSA,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Rsa => "an RSA key",
            Kind::EcP256 => "an EC P-256 key",
            Kind::EcP384 => "an EC P-384 key",
            Kind::EcP521 => "an EC P-521 key",
            Kind::Ed25519 => "an Ed25519 (OKP) key",
        }
    }

    fn kty(self) -> &'static str {
        match self {
            Kind::Rsa => "RSA",
            Kind::EcP256 | Kind::EcP384 | Kind::EcP521 => "EC",
            Kind::Ed25519 => "OKP",
        }
    }
}

/// *aws-lc-rs*'s verification algorithm for a JOSE `alg`. The RSA ones take
/// moduli of 2048–8192 bits, the range the key set admits.
fn verification_algorithm(alg: Alg) -> &'static dyn signature::VerificationAlgorithm {
    match alg {
        Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        // JWS ECDSA signatures are r ‖ s, fixed width (RFC 7518 §3.4).
        Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Alg::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        Alg::EdDSA => &signature::ED25519,
    }
}

fn rsa_parameters(alg: Alg) -> &'static signature::RsaParameters {
    match alg {
        Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => unreachable!("only RSA algorithms are asked for"),
    }
}

impl Key {
    /// The verifying key for a token signed with `alg`, when this key may
    /// check it. This is what stops key confusion: an RSA key never fits
    /// HS256 or ES256, an Ed25519 key never fits ES256.
    pub(crate) fn verifier(&self, alg: Alg) -> Option<&ParsedPublicKey> {
        self.verifiers
            .iter()
            .find(|(fits, _)| *fits == alg)
            .map(|(_, key)| key)
    }

    pub(crate) fn fits(&self, alg: Alg) -> bool {
        self.verifier(alg).is_some()
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
                kty: k.kind.kty().to_string(),
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

    pub(crate) fn fitting(&self, alg: Alg) -> impl Iterator<Item = &Key> {
        self.keys.iter().filter(move |k| k.fits(alg))
    }
}

/// The material of a usable key, checked, before it is parsed for the
/// algorithms it may verify.
enum Material {
    /// n and e, big-endian, without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Parsed already: the EC and OKP checks are the parse itself.
    Parsed(Kind, ParsedPublicKey),
}

/// Turns one `keys` entry into a usable key, or says why it is not one.
fn parse_key(entry: &Value) -> Result<Key, String> {
    let Value::Object(jwk) = entry else {
        return Err("not a JSON object".into());
    };
    let alg = text(jwk, "alg")?;
    let kty = text(jwk, "kty")?.ok_or("missing kty")?;
    match kty {
        "RSA" | "EC" | "OKP" => {}
        "oct" => {
            return Err(match alg {
                Some(alg) => format!("{alg} symmetric keys are never accepted"),
                None => "symmetric (oct) keys are never accepted".into(),
            })
        }
        other => return Err(format!("key type {other:?} is not supported")),
    }
    if let Some(usage) = text(jwk, "use")? {
        if usage != "sig" {
            return Err(format!("use is '{usage}', not 'sig'"));
        }
    }
    check_key_ops(jwk)?;
    let alg = alg.map(signature_alg).transpose()?;
    let material = match kty {
        "RSA" => rsa_material(jwk)?,
        "EC" => ec_material(jwk)?,
        _ => okp_material(jwk)?,
    };
    let kind = match &material {
        Material::Rsa { .. } => Kind::Rsa,
        Material::Parsed(kind, _) => *kind,
    };
    if let Some(alg) = alg {
        if !kind.fits(alg) {
            return Err(format!("alg {alg:?} does not fit {}", kind.describe()));
        }
    }
    let kid = text(jwk, "kid")?.ok_or("missing kid")?;
    if kid.is_empty() {
        return Err("empty kid".into());
    }
    let verifiers = match material {
        Material::Parsed(kind, parsed) => {
            let alg = alg.unwrap_or(match kind {
                Kind::EcP256 => Alg::ES256,
                Kind::EcP384 => Alg::ES384,
                Kind::EcP521 => Alg::ES512,
                _ => Alg::EdDSA,
            });
            vec![(alg, parsed)]
        }
        Material::Rsa { n, e } => {
            let components = RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            };
            let algs = match alg {
                Some(alg) => vec![alg],
                None => RSA_ALGORITHMS.to_vec(),
            };
            algs.into_iter()
                .map(|alg| {
                    components
                        .to_parsed_public_key(rsa_parameters(alg))
                        .map(|parsed| (alg, parsed))
                        .map_err(|e| format!("the RSA key is not usable ({e})"))
                })
                .collect::<Result<_, _>>()?
        }
    };
    Ok(Key {
        kid: kid.to_owned(),
        kind,
        alg,
        verifiers,
    })
}

/// A member that must be a string when present.
fn text<'j>(jwk: &'j Map<String, Value>, name: &str) -> Result<Option<&'j str>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

/// A base64url member holding key material (`n`, `e`, `x`, `y`); `what` names
/// the key type in messages.
fn material(jwk: &Map<String, Value>, name: &str, what: &str) -> Result<Vec<u8>, String> {
    match jwk.get(name) {
        None => Err(format!("malformed {what} key: missing {name}")),
        Some(Value::String(s)) => BASE64URL_NOPAD
            .decode(s.as_bytes())
            .map_err(|_| format!("malformed {what} key: {name} is not base64url")),
        Some(_) => Err(format!("malformed {what} key: {name} is not a string")),
    }
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
fn signature_alg(alg: &str) -> Result<Alg, String> {
    super::accepted_algorithm(alg).ok_or_else(|| match alg {
        "HS256" | "HS384" | "HS512" => format!("{alg} symmetric keys are never accepted"),
        "none" => "alg 'none' is never accepted".into(),
        other => format!("{other} is not supported"),
    })
}

/// Big-endian bytes without their leading zeros, and how many bits they hold.
fn strip_zeros(bytes: &[u8]) -> (&[u8], usize) {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    let bits = match bytes.first() {
        Some(&top) => bytes.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    (bytes, bits)
}

/// The public RSA key, when it is one we verify with: moduli of 2048..=8192
/// bits, odd (verification works in Montgomery form, which needs an odd
/// modulus; and a product of two odd primes is odd), and an odd exponent of
/// 3..2^33 (the range *ring* accepted, kept so that no key changes status).
/// Checking here names the problem up front, where otherwise every token
/// would fail as "the signature does not match".
fn rsa_material(jwk: &Map<String, Value>) -> Result<Material, String> {
    let n = material(jwk, "n", "RSA")?;
    let e = material(jwk, "e", "RSA")?;
    if jwk.contains_key("d") {
        return Err(
            "the JWKS publishes this RSA key's private part (d): the key is compromised".into(),
        );
    }
    let (n, bits) = strip_zeros(&n);
    if bits < 2048 {
        return Err(format!(
            "RSA key of {bits} bits is too short (minimum 2048)"
        ));
    }
    if bits > 8192 {
        return Err(format!("RSA key of {bits} bits is too long (maximum 8192)"));
    }
    if n.last().is_none_or(|low| low & 1 == 0) {
        return Err("RSA modulus (n) is even, so it is not an RSA modulus".into());
    }
    let (e, e_bits) = strip_zeros(&e);
    if !(2..=33).contains(&e_bits) || e.last().is_none_or(|low| low & 1 == 0) {
        return Err("RSA public exponent is not an odd number between 3 and 2^33".into());
    }
    Ok(Material::Rsa {
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

/// The public EC key, parsed for its curve's algorithm.
///
/// The point (x, y) must lie on the named curve: a point off the curve can
/// never verify a signature, and accepting such points is what invalid-curve
/// attacks are built on. Parsing the SEC 1 encoding (04 ‖ x ‖ y) with
/// *aws-lc-rs* checks exactly that (coordinates below the field prime, the
/// curve equation), so its refusal is the answer and no curve arithmetic is
/// written here.
fn ec_material(jwk: &Map<String, Value>) -> Result<Material, String> {
    let (kind, size, curve) = match text(jwk, "crv")? {
        Some("P-256") => (Kind::EcP256, 32, "P-256"),
        Some("P-384") => (Kind::EcP384, 48, "P-384"),
        Some("P-521") => (Kind::EcP521, 66, "P-521"),
        Some(other) => return Err(format!("curve {other:?} is not supported")),
        None => return Err("EC key without crv".into()),
    };
    let x = material(jwk, "x", "EC")?;
    let y = material(jwk, "y", "EC")?;
    if jwk.contains_key("d") {
        return Err(
            "the JWKS publishes this EC key's private part (d): the key is compromised".into(),
        );
    }
    if x.len() != size || y.len() != size {
        return Err(format!(
            "EC point coordinates must be {size} bytes for this curve"
        ));
    }
    // Parsed for the curve's own algorithm; a JWK alg naming another is
    // refused by the caller, with that reason.
    let own = match kind {
        Kind::EcP256 => Alg::ES256,
        Kind::EcP384 => Alg::ES384,
        _ => Alg::ES512,
    };
    let point = [&[0x04], &x[..], &y[..]].concat();
    let parsed = ParsedPublicKey::new(verification_algorithm(own), point)
        .map_err(|_| format!("the EC point (x, y) is not on curve {curve}"))?;
    Ok(Material::Parsed(kind, parsed))
}

/// The y coordinates (little-endian, sign bit clear) of the Ed25519 points of
/// small order: 1 (the neutral point), p − 1, 0, and the two of order 8. A
/// public key among them makes a signature check pass with probability up to
/// 1/8 whatever the message (no one holds a private key for them); libsodium
/// refuses the same list.
const ED25519_SMALL_ORDER_Y: [[u8; 32]; 5] = {
    let mut neutral = [0u8; 32];
    neutral[0] = 1;
    let mut minus_one = [0xff; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    [
        neutral,
        minus_one,
        [0; 32],
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
    ]
};

/// What can be told of an Ed25519 point (RFC 8032 §5.1.3) without curve
/// arithmetic: its y is below the field prime p = 2^255 − 19 (a larger one is
/// a non-canonical encoding, which decoding refuses), and it is not a point
/// of small order. Whether a canonical y has an x on the curve is found when
/// a signature is checked, where such a key never verifies.
fn ed25519_point_check(x: &[u8]) -> Result<(), String> {
    let mut y = [0u8; 32];
    y.copy_from_slice(x);
    y[31] &= 0x7f;
    // Little-endian: compare from the most significant byte down.
    let mut prime = [0xff; 32];
    prime[0] = 0xed;
    prime[31] = 0x7f;
    if y.iter().rev().cmp(prime.iter().rev()) != std::cmp::Ordering::Less {
        return Err("the Ed25519 public key (x) is not a canonical point encoding".into());
    }
    if ED25519_SMALL_ORDER_Y.contains(&y) {
        return Err(
            "the Ed25519 public key (x) is a point of small order, which anyone can sign for"
                .into(),
        );
    }
    Ok(())
}

/// The public Ed25519 key (RFC 8037: `kty` OKP, `crv` Ed25519, `x` the 32
/// bytes of the encoded point). Other OKP curves are key agreement (X25519,
/// X448) or Ed448, which the contract does not accept.
fn okp_material(jwk: &Map<String, Value>) -> Result<Material, String> {
    match text(jwk, "crv")? {
        Some("Ed25519") => {}
        Some(other) => {
            return Err(match text(jwk, "alg")? {
                Some(alg) => format!("{alg} with curve {other} (OKP) is not supported"),
                None => format!("{other} (OKP) is not supported"),
            })
        }
        None => return Err("OKP key without crv".into()),
    }
    let x = material(jwk, "x", "Ed25519")?;
    if jwk.contains_key("d") {
        return Err(
            "the JWKS publishes this Ed25519 key's private part (d): the key is compromised".into(),
        );
    }
    if x.len() != signature::ED25519_PUBLIC_KEY_LEN {
        return Err("an Ed25519 public key (x) must be 32 bytes".into());
    }
    ed25519_point_check(&x)?;
    let parsed = ParsedPublicKey::new(&signature::ED25519, x)
        .map_err(|_| "the Ed25519 public key (x) is not usable".to_string())?;
    Ok(Material::Parsed(Kind::Ed25519, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::testkit::{self, Ec, Ed};

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
    fn parses_usable_rsa_ec_and_okp_keys() {
        let p256 = Ec::p256();
        let p384 = Ec::p384();
        let doc = jwks(&[
            testkit::provider_rsa().jwk("rsa-1", Some("RS256")),
            testkit::provider_rsa().jwk("rsa-any", None),
            p256.jwk("ec-256", Some("ES256")),
            p384.jwk("ec-384", None),
            Ec::p521().jwk("ec-521", Some("ES512")),
            Ed::generate().jwk("ed", Some("EdDSA")),
            Ed::generate().jwk("ed-any", None),
        ]);
        let (set, rejected) = KeySet::parse(&doc).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(set.len(), 7);
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
        assert_eq!(
            info[4],
            KeyInfo {
                kid: "ec-521".into(),
                kty: "EC".into(),
                alg: Some("ES512".into())
            }
        );
        assert_eq!(
            info[6],
            KeyInfo {
                kid: "ed-any".into(),
                kty: "OKP".into(),
                alg: None
            }
        );
        // Each key holds a verifying key for exactly the algorithms it fits.
        let fitting = |kid: &str| -> Vec<Alg> {
            crate::jwt::ACCEPTED_ALGORITHMS
                .iter()
                .map(|&(_, alg)| alg)
                .filter(|&alg| set.find(kid).unwrap().fits(alg))
                .collect()
        };
        assert_eq!(fitting("rsa-1"), [Alg::RS256]);
        assert_eq!(fitting("rsa-any"), RSA_ALGORITHMS);
        assert_eq!(fitting("ec-256"), [Alg::ES256]);
        assert_eq!(fitting("ec-384"), [Alg::ES384]);
        assert_eq!(fitting("ec-521"), [Alg::ES512]);
        assert_eq!(fitting("ed"), [Alg::EdDSA]);
        assert_eq!(fitting("ed-any"), [Alg::EdDSA]);
    }

    /// RFC 8037 appendix A.2's public key, as a provider would publish it.
    #[test]
    fn the_rfc_8037_ed25519_key_is_usable() {
        let doc = jwks(&[
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "rfc", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
        ]);
        let (set, rejected) = KeySet::parse(&doc).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        assert!(set.find("rfc").unwrap().fits(Alg::EdDSA));
    }

    #[test]
    fn ed25519_keys_are_checked() {
        let ed = Ed::generate();
        let good = ed.jwk("ed", None);
        let with = |name: &str, value: Value| {
            let mut jwk = good.clone();
            jwk[name] = value;
            jwk
        };
        for (jwk, reason) in [
            (
                with("x", testkit::b64(&[7; 31]).into()),
                "an Ed25519 public key (x) must be 32 bytes",
            ),
            (
                with("x", testkit::b64(&[7; 33]).into()),
                "an Ed25519 public key (x) must be 32 bytes",
            ),
            (
                with("x", "not base64!".into()),
                "malformed Ed25519 key: x is not base64url",
            ),
            (
                with("x", 5.into()),
                "malformed Ed25519 key: x is not a string",
            ),
            (
                with("d", testkit::b64(&[1; 32]).into()),
                "the JWKS publishes this Ed25519 key's private part (d): the key is compromised",
            ),
            (
                with("alg", "ES256".into()),
                "alg ES256 does not fit an Ed25519 (OKP) key",
            ),
            (
                with("alg", "RS256".into()),
                "alg RS256 does not fit an Ed25519 (OKP) key",
            ),
            (with("crv", "Ed448".into()), "Ed448 (OKP) is not supported"),
            (
                with("crv", "X25519".into()),
                "X25519 (OKP) is not supported",
            ),
            (with("crv", 1.into()), "crv is not a string"),
        ] {
            assert_eq!(rejected_reason(jwk), reason);
        }
        let mut p_le = [0xffu8; 32];
        p_le[0] = 0xed;
        p_le[31] = 0x7f;
        let mut p_minus_1 = p_le;
        p_minus_1[0] = 0xec;
        let mut p_minus_2 = p_le;
        p_minus_2[0] = 0xeb;
        let mut with_sign = p_minus_1;
        with_sign[31] |= 0x80;
        let small_order =
            "the Ed25519 public key (x) is a point of small order, which anyone can sign for";
        let non_canonical = "the Ed25519 public key (x) is not a canonical point encoding";
        let mut neutral = [0u8; 32];
        neutral[0] = 1;
        let mut order_8 = ED25519_SMALL_ORDER_Y[3];
        order_8[31] |= 0x80;
        for (x, reason) in [
            (p_le, non_canonical),
            ([0xff; 32], non_canonical),
            (p_minus_1, small_order),
            (with_sign, small_order),
            (neutral, small_order),
            ([0; 32], small_order),
            (order_8, small_order),
            (ED25519_SMALL_ORDER_Y[4], small_order),
        ] {
            assert_eq!(
                rejected_reason(with("x", testkit::b64(&x).into())),
                reason,
                "{x:02x?}"
            );
        }
        // p − 2 is canonical and not of small order: the check lets it by.
        let (set, _) = KeySet::parse(&jwks(&[with("x", testkit::b64(&p_minus_2).into())])).unwrap();
        assert_eq!(set.len(), 1);
        let mut no_crv = good.clone();
        no_crv.as_object_mut().unwrap().remove("crv");
        assert_eq!(rejected_reason(no_crv), "OKP key without crv");
        let mut no_x = good.clone();
        no_x.as_object_mut().unwrap().remove("x");
        assert_eq!(rejected_reason(no_x), "malformed Ed25519 key: missing x");
        // An EC key may not claim EdDSA, nor an RSA key.
        assert_eq!(
            rejected_reason(Ec::p256().jwk("ec", Some("EdDSA"))),
            "alg EdDSA does not fit an EC P-256 key"
        );
        assert_eq!(
            rejected_reason(testkit::provider_rsa().jwk("rsa", Some("EdDSA"))),
            "alg EdDSA does not fit an RSA key"
        );
        assert_eq!(KeySet::parse(&jwks(&[good])).unwrap().0.len(), 1);
    }

    #[test]
    fn p521_keys_fit_es512_only() {
        let p521 = Ec::p521();
        for (alg, reason) in [
            ("ES256", "alg ES256 does not fit an EC P-521 key"),
            ("ES384", "alg ES384 does not fit an EC P-521 key"),
            ("EdDSA", "alg EdDSA does not fit an EC P-521 key"),
            ("PS512", "alg PS512 does not fit an EC P-521 key"),
        ] {
            assert_eq!(rejected_reason(p521.jwk("k", Some(alg))), reason);
        }
        assert_eq!(
            rejected_reason(Ec::p384().jwk("k", Some("ES512"))),
            "alg ES512 does not fit an EC P-384 key"
        );
        let mut private = p521.jwk("k", None);
        private["d"] = testkit::b64(&[1; 66]).into();
        assert_eq!(
            rejected_reason(private),
            "the JWKS publishes this EC key's private part (d): the key is compromised"
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
            serde_json::json!({"kty": "OKP", "crv": "Ed448", "alg": "EdDSA", "kid": "ed448", "x": "X9dEm1m0Yf0s54fsYWrUah2hNCSFpw4fig6nXYDpZ3jt8SR2m0bHBhvWeD3x5Q9s0foavq_oJWGA"}),
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
        assert_eq!(
            r[0],
            (
                Some("ed448"),
                "EdDSA with curve Ed448 (OKP) is not supported"
            )
        );
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
        assert_eq!(
            r[4],
            (
                Some("es512"),
                "EC point coordinates must be 66 bytes for this curve"
            )
        );
        assert_eq!(
            r[5],
            (
                Some("p521"),
                "EC point coordinates must be 66 bytes for this curve"
            )
        );
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
            serde_json::json!({"kty": "OKP", "crv": "X25519", "kid": "ed", "x": "AA"}),
            serde_json::json!({"kty": "oct", "kid": "k", "k": "AA"}),
            serde_json::json!({"kty": "RSA", "kid": "r", "alg": "RSA-OAEP", "n": "AA", "e": "AQAB"}),
            serde_json::json!({"kty": "XYZ", "kid": "x"}),
        ]);
        let (set, rejected) = KeySet::parse(&doc).unwrap();
        assert!(set.is_empty());
        assert_eq!(
            reasons(&rejected),
            [
                (Some("ed"), "X25519 (OKP) is not supported"),
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
        unb64(&jwk["n"])
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

    fn unb64(value: &Value) -> Vec<u8> {
        BASE64URL_NOPAD
            .decode(value.as_str().unwrap().as_bytes())
            .unwrap()
    }

    fn coordinates(jwk: &Value) -> (Vec<u8>, Vec<u8>) {
        (unb64(&jwk["x"]), unb64(&jwk["y"]))
    }

    fn with_point(mut jwk: Value, x: &[u8], y: &[u8]) -> Value {
        jwk["x"] = testkit::b64(x).into();
        jwk["y"] = testkit::b64(y).into();
        jwk
    }

    #[test]
    fn ec_points_off_their_curve_are_refused() {
        for (ec, curve) in [
            (Ec::p256(), "P-256"),
            (Ec::p384(), "P-384"),
            (Ec::p521(), "P-521"),
        ] {
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
