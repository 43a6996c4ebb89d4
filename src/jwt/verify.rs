//! Verifying a compact JWS (a signed JWT) against one provider's [`KeySet`].
//!
//! Verification is split in two so the caller can act between the steps:
//! [`peek_header`] does the cheap, key-independent checks once per request;
//! [`verify`] then runs against each trusted provider's keys, and its
//! [`Refusal::UnknownKeyId`] tells the caller to try the next provider or ask
//! for a key refetch rather than fail.
//!
//! The signature is checked with the key chosen here — the verifying key the
//! key set parsed once from the JWKS ([`keyset`](super::keyset)) — never with
//! a key the token names or carries. The registered claims are checked here
//! too, against the contract's rules.
//!
//! Every [`Refusal`] detail is safe to send to the client: it never contains
//! the token, and the few header values it names (`alg`, `kid`) are quoted and
//! cut short.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::ParsedPublicKey;
use data_encoding::BASE64URL_NOPAD;
use serde_json::{Map, Value};

use super::keyset::{Key, KeySet};
use super::{accepted_algorithm_names, Alg};

/// Larger tokens are refused before any decoding; real ones are well under 2 KiB.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// 9999-12-31T23:59:59Z. Dates past it are refused, so `expires_at` always
/// converts to a calendar date.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// What a provider requires of a token's claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// When not empty, one of them must be one of the token's `aud` values
    /// (`aud` is a string or an array of strings, RFC 7519 §4.1.3).
    pub audiences: Vec<String>,
    /// When set, must equal the token's `iss` exactly.
    pub issuer: Option<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// The claim whose value names the sender: `sub` unless the provider is
    /// configured otherwise (`client_id` or `azp` for machine tokens).
    pub principal_claim: String,
}

/// The parts of a token's header that select the key, already checked by
/// [`peek_header`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
}

/// A token that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The value of the rules' principal claim, when the token has it.
    pub principal: Option<String>,
    /// The `kid` of the key that verified the signature.
    pub kid: String,
    /// `exp`, in seconds since the Unix epoch (at most year 9999).
    pub expires_at: i64,
}

/// Why a token was refused. `problem.rs` maps each to the contract's error
/// code; [`detail`](Refusal::detail) is the message for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    InvalidToken(String),
    Expired,
    NotYetValid,
    InvalidAudience,
    InvalidIssuer,
    /// The header's `alg`, verbatim.
    UnsupportedAlgorithm(String),
    /// The header's `kid`, verbatim; empty when the token has no `kid` and the
    /// key set does not hold exactly one key fitting its algorithm.
    UnknownKeyId(String),
}

impl Refusal {
    pub fn detail(&self) -> String {
        match self {
            Refusal::InvalidToken(why) => why.clone(),
            Refusal::Expired => "the token has expired (exp)".into(),
            Refusal::NotYetValid => {
                "the token is not valid yet (nbf or iat is in the future)".into()
            }
            Refusal::InvalidAudience => {
                "the token's audience (aud) does not include the one this endpoint requires".into()
            }
            Refusal::InvalidIssuer => {
                "the token's issuer (iss) is not the one this endpoint requires".into()
            }
            Refusal::UnsupportedAlgorithm(alg) if alg == "none" => {
                "unsigned tokens (alg \"none\") are never accepted".into()
            }
            Refusal::UnsupportedAlgorithm(alg) if matches!(&**alg, "HS256" | "HS384" | "HS512") => {
                format!(
                    "shared-secret algorithms such as {} are never accepted; \
                     tokens must be signed with one of {}",
                    quoted(alg),
                    accepted_algorithm_names()
                )
            }
            Refusal::UnsupportedAlgorithm(alg) => format!(
                "the algorithm {} is not accepted; \
                 tokens must be signed with one of {}",
                quoted(alg),
                accepted_algorithm_names()
            ),
            Refusal::UnknownKeyId(kid) if kid.is_empty() => {
                "the token has no kid, and the provider does not have exactly one key \
                 for its algorithm"
                    .into()
            }
            Refusal::UnknownKeyId(kid) => {
                format!("the provider has no key with kid {}", quoted(kid))
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

impl std::error::Error for Refusal {}

fn invalid(why: impl Into<String>) -> Refusal {
    Refusal::InvalidToken(why.into())
}

/// A header value for a message: escaped, quoted, and cut to 64 characters.
fn quoted(value: &str) -> String {
    let cut: String = value.chars().take(64).collect();
    if cut.len() < value.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// The three segments of a compact JWS, after the size and shape checks.
fn segments(token: &str) -> Result<[&str; 3], Refusal> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(invalid("the token is larger than 8 KiB"));
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.count()) {
        (Some(header), Some(payload), Some(signature), 0) => Ok([header, payload, signature]),
        (_, _, _, 2) => Err(invalid("encrypted tokens (JWE) are not accepted")),
        _ => Err(invalid(format!(
            "a signed JWT has 3 dot-separated segments; this token has {}",
            token.split('.').count()
        ))),
    }
}

fn decode_segment(segment: &str, name: &str) -> Result<Vec<u8>, Refusal> {
    BASE64URL_NOPAD
        .decode(segment.as_bytes())
        .map_err(|_| invalid(format!("the {name} is not valid base64url")))
}

/// Maps a header `alg` to one the contract accepts.
fn accepted_algorithm(alg: &str) -> Result<Alg, Refusal> {
    super::accepted_algorithm(alg).ok_or_else(|| Refusal::UnsupportedAlgorithm(alg.to_owned()))
}

/// The checks that need no key: size, shape, algorithm, `crit`, nesting.
/// `jku`, `x5u`, `jwk` and `x5c` are deliberately not read: keys come only
/// from the provider's key set, and nothing is ever fetched for a token.
pub fn peek_header(token: &str) -> Result<Header, Refusal> {
    let [header, _, _] = segments(token)?;
    let header = decode_segment(header, "header")?;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&header) else {
        return Err(invalid("the header is not a JSON object"));
    };
    let alg = match fields.get("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(invalid("the header's alg is not a string")),
        None => return Err(invalid("the header has no alg")),
    };
    accepted_algorithm(alg)?;
    // No JWS extension is implemented, so every critical one is unknown, and
    // RFC 7515 §4.1.11 requires refusing the token.
    if fields.contains_key("crit") {
        return Err(invalid(
            "the token marks header extensions as critical (crit), \
             and this server understands none",
        ));
    }
    if is_nested(&fields) {
        return Err(invalid("nested tokens (cty: JWT) are not accepted"));
    }
    check_typ(&fields)?;
    let kid = match fields.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(invalid("the header's kid is not a string")),
    };
    Ok(Header {
        alg: alg.clone(),
        kid,
    })
}

/// `cty: JWT` (or `application/jwt`, RFC 7515 §4.1.10) means the payload is
/// another token rather than claims.
fn is_nested(fields: &Map<String, Value>) -> bool {
    let Some(cty) = fields.get("cty").and_then(Value::as_str) else {
        return false;
    };
    let cty = cty.to_ascii_lowercase();
    cty.strip_prefix("application/").unwrap_or(&cty) == "jwt"
}

/// Verifies `token`'s signature with a key from `keys` and checks its claims
/// against `rules` at time `now`. `header` must be [`peek_header`]'s result
/// for the same token.
pub fn verify(
    token: &str,
    header: &Header,
    keys: &KeySet,
    rules: &Rules,
    now: SystemTime,
) -> Result<Verified, Refusal> {
    let [signed_header, payload, signature] = segments(token)?;
    let alg = accepted_algorithm(&header.alg)?;
    let (key, verifier) = select_key(header, alg, keys)?;
    let signature = decode_segment(signature, "signature")?;
    let claims = decode_segment(payload, "payload")?;
    // The JWS signing input: the first two segments as sent, with their dot.
    let signing_input = &token[..signed_header.len() + 1 + payload.len()];
    verifier
        .verify_sig(signing_input.as_bytes(), &signature)
        .map_err(|_| invalid("the signature does not match the provider's key"))?;
    // Only after the signature checks is the header read again, from the
    // token itself, to confirm its alg is the one the key was chosen for.
    check_signed_header(signed_header, alg)?;
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&claims) else {
        return Err(invalid("the payload is not a JSON object"));
    };
    let expires_at = check_claims(&claims, rules, now)?;
    let principal = principal(&claims, rules)?;
    Ok(Verified {
        principal,
        kid: key.kid.clone(),
        expires_at,
    })
}

/// The key named by `kid`, or the only key fitting `alg` when there is no
/// `kid`, with its verifying key for `alg`. Returning only keys that fit `alg`
/// is the key-confusion defence: the verifying key is the one parsed for
/// `alg`, so an RSA key is never asked to check ES256 nor an EC key EdDSA.
fn select_key<'k>(
    header: &Header,
    alg: Alg,
    keys: &'k KeySet,
) -> Result<(&'k Key, &'k ParsedPublicKey), Refusal> {
    match &header.kid {
        Some(kid) => {
            let key = keys
                .find(kid)
                .ok_or_else(|| Refusal::UnknownKeyId(kid.clone()))?;
            match key.verifier(alg) {
                Some(verifier) => Ok((key, verifier)),
                None => Err(invalid(format!(
                    "the key {} is {}; it cannot verify {alg:?}",
                    quoted(kid),
                    key.describe()
                ))),
            }
        }
        None => {
            let mut fitting = keys.fitting(alg);
            match (fitting.next(), fitting.next()) {
                (Some(only), None) => only
                    .verifier(alg)
                    .map(|verifier| (only, verifier))
                    .ok_or_else(|| Refusal::UnknownKeyId(String::new())),
                _ => Err(Refusal::UnknownKeyId(String::new())),
            }
        }
    }
}

/// The header as signed: its `alg` must be the one the key was chosen for
/// (the caller's [`Header`] might not come from this token), and each
/// registered parameter of RFC 7515 §4.1 present must have its type, even
/// those never acted on, so that a token no strict JOSE library would read is
/// not read here either.
fn check_signed_header(segment: &str, alg: Alg) -> Result<(), Refusal> {
    let header = decode_segment(segment, "header")?;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&header) else {
        return Err(invalid("the header is not a JSON object"));
    };
    if fields.get("alg").and_then(Value::as_str) != Some(alg.name()) {
        return Err(invalid(
            "the header's alg does not match the algorithm the key was chosen for",
        ));
    }
    let strings_only = |value: &Value| {
        value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string))
    };
    let well_typed = fields.iter().all(|(name, value)| match name.as_str() {
        "jku" | "x5u" | "kid" | "typ" | "cty" | "x5t" | "x5t#S256" => value.is_string(),
        "x5c" | "crit" => strings_only(value),
        "jwk" => value.is_object(),
        _ => true,
    });
    if well_typed {
        Ok(())
    } else {
        Err(invalid(
            "the header has a registered parameter of the wrong type",
        ))
    }
}

/// Checks `exp` (required), `nbf`, `iat`, `iss` and `aud`; returns `exp`.
fn check_claims(
    claims: &Map<String, Value>,
    rules: &Rules,
    now: SystemTime,
) -> Result<i64, Refusal> {
    let exp = numeric_date(claims, "exp")?.ok_or_else(|| invalid("token has no exp claim"))?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let leeway = i64::try_from(rules.leeway.as_secs()).unwrap_or(i64::MAX);
    // RFC 7519: valid before `exp`, from `nbf` on; the leeway widens both ends.
    if now >= exp.saturating_add(leeway) {
        return Err(Refusal::Expired);
    }
    let latest_start = now.saturating_add(leeway);
    if nbf.is_some_and(|nbf| nbf > latest_start) || iat.is_some_and(|iat| iat > latest_start) {
        return Err(Refusal::NotYetValid);
    }
    if let Some(issuer) = &rules.issuer {
        if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(Refusal::InvalidIssuer);
        }
    }
    if !rules.audiences.is_empty() {
        let accepted = |aud: &Value| {
            aud.as_str()
                .is_some_and(|aud| rules.audiences.iter().any(|a| a == aud))
        };
        let listed = match claims.get("aud") {
            Some(aud @ Value::String(_)) => accepted(aud),
            Some(Value::Array(auds)) => auds.iter().any(accepted),
            _ => false,
        };
        if !listed {
            return Err(Refusal::InvalidAudience);
        }
    }
    Ok(exp)
}

/// The value of the principal claim, when present; a present claim that is
/// not a string is a malformed token. The caller decides what a missing one
/// means.
fn principal(claims: &Map<String, Value>, rules: &Rules) -> Result<Option<String>, Refusal> {
    let name = &rules.principal_claim;
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(invalid(format!(
            "the {} claim is not a string",
            quoted_claim(name)
        ))),
    }
}

/// A claim name for a message: as it is when it is short and plain (the
/// operator chose it), else quoted and cut.
fn quoted_claim(name: &str) -> String {
    if name.len() <= 64 && name.bytes().all(|b| b.is_ascii_graphic()) {
        name.to_string()
    } else {
        quoted(name)
    }
}

/// The header's `typ`, when present, must say the token is a JWT: `JWT`,
/// or `at+jwt` for OAuth 2.0 access tokens (RFC 9068); media types are
/// compared without case and with `application/` optional (RFC 7515
/// §4.1.9). Other explicit types (`logout+jwt`, `secevent+jwt`, `dpop+jwt`,
/// …) mark tokens made for another purpose, which are refused so that one
/// kind of token cannot be replayed as another (RFC 8725 §3.11).
fn check_typ(fields: &Map<String, Value>) -> Result<(), Refusal> {
    let typ = match fields.get("typ") {
        None => return Ok(()),
        Some(Value::String(typ)) => typ.to_ascii_lowercase(),
        Some(_) => return Err(invalid("the header's typ is not a string")),
    };
    match typ.strip_prefix("application/").unwrap_or(&typ) {
        "jwt" | "at+jwt" => Ok(()),
        _ => Err(invalid(format!(
            "the header's typ {} is not a token type accepted here (JWT or at+jwt)",
            quoted(fields["typ"].as_str().unwrap_or_default())
        ))),
    }
}

/// A NumericDate claim: seconds since the epoch, possibly fractional
/// (RFC 7519 §2), rounded down.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Refusal> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    match value.as_f64() {
        Some(secs) if (0.0..=MAX_NUMERIC_DATE).contains(&secs) => Ok(Some(secs.floor() as i64)),
        Some(_) => Err(invalid(format!("the {name} claim is out of range"))),
        None => Err(invalid(format!("the {name} claim is not a number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::testkit::{self, attacker_rsa, provider_rsa, token, Ec, Ed};
    use serde_json::json;

    /// The contract code `problem.rs` gives a refusal.
    fn code(r: &Refusal) -> &'static str {
        crate::problem::Problem::from(r.clone()).code.as_str()
    }

    const NOW: i64 = 1_800_000_000;

    fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    fn rules() -> Rules {
        Rules {
            audiences: Vec::new(),
            issuer: None,
            leeway: Duration::from_secs(60),
            principal_claim: "sub".into(),
        }
    }

    fn claims() -> Value {
        json!({"sub": "user-1", "iss": "https://issuer.example", "aud": "eventward", "iat": NOW - 10, "exp": NOW + 300})
    }

    /// A provider publishing RSA keys for RS256 (`rsa-1`) and any RSA
    /// algorithm (`rsa-any`), EC keys for ES256, ES384 and ES512, and an
    /// Ed25519 key for EdDSA.
    struct Provider {
        keys: KeySet,
        p256: Ec,
        p384: Ec,
        p521: Ec,
        ed: Ed,
    }

    fn provider() -> Provider {
        let p256 = Ec::p256();
        let p384 = Ec::p384();
        let p521 = Ec::p521();
        let ed = Ed::generate();
        let doc = json!({"keys": [
            provider_rsa().jwk("rsa-1", Some("RS256")),
            provider_rsa().jwk("rsa-any", None),
            p256.jwk("ec-256", Some("ES256")),
            p384.jwk("ec-384", None),
            p521.jwk("ec-521", Some("ES512")),
            ed.jwk("ed", Some("EdDSA")),
        ]});
        let (keys, rejected) = KeySet::parse(doc.to_string().as_bytes()).unwrap();
        assert!(rejected.is_empty());
        Provider {
            keys,
            p256,
            p384,
            p521,
            ed,
        }
    }

    fn es512(p: &Provider, kid: &str) -> String {
        token(&json!({"alg": "ES512", "kid": kid}), &claims(), |i| {
            p.p521.sign(i)
        })
    }

    fn eddsa(p: &Provider, kid: &str) -> String {
        token(&json!({"alg": "EdDSA", "kid": kid}), &claims(), |i| {
            p.ed.sign(i)
        })
    }

    fn rs(alg: &str, kid: &str, claims: &Value) -> String {
        token(
            &json!({"alg": alg, "kid": kid, "typ": "JWT"}),
            claims,
            |input| provider_rsa().sign(alg, input),
        )
    }

    fn check(token: &str, keys: &KeySet, rules: &Rules, now: i64) -> Result<Verified, Refusal> {
        let header = peek_header(token)?;
        verify(token, &header, keys, rules, at(now))
    }

    fn refusal(token: &str, keys: &KeySet) -> Refusal {
        check(token, keys, &rules(), NOW).unwrap_err()
    }

    fn invalid_detail(token: &str, keys: &KeySet) -> String {
        match refusal(token, keys) {
            Refusal::InvalidToken(detail) => detail,
            other => panic!("expected invalid_token, got {other:?}"),
        }
    }

    #[test]
    fn accepts_rs256() {
        let p = provider();
        let verified = check(&rs("RS256", "rsa-1", &claims()), &p.keys, &rules(), NOW).unwrap();
        assert_eq!(
            verified,
            Verified {
                principal: Some("user-1".into()),
                kid: "rsa-1".into(),
                expires_at: NOW + 300
            }
        );
    }

    #[test]
    fn accepts_every_rsa_algorithm_with_a_key_without_alg() {
        let p = provider();
        for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
            let verified = check(&rs(alg, "rsa-any", &claims()), &p.keys, &rules(), NOW);
            assert_eq!(verified.map(|v| v.kid), Ok("rsa-any".into()), "{alg}");
        }
    }

    #[test]
    fn accepts_ps256() {
        let p = provider();
        assert!(check(&rs("PS256", "rsa-any", &claims()), &p.keys, &rules(), NOW).is_ok());
    }

    #[test]
    fn accepts_es256_and_es384() {
        let p = provider();
        let es256 = token(&json!({"alg": "ES256", "kid": "ec-256"}), &claims(), |i| {
            p.p256.sign(i)
        });
        let es384 = token(&json!({"alg": "ES384", "kid": "ec-384"}), &claims(), |i| {
            p.p384.sign(i)
        });
        assert_eq!(check(&es256, &p.keys, &rules(), NOW).unwrap().kid, "ec-256");
        assert_eq!(check(&es384, &p.keys, &rules(), NOW).unwrap().kid, "ec-384");
    }

    #[test]
    fn accepts_es512_and_eddsa() {
        let p = provider();
        let verified = check(&es512(&p, "ec-521"), &p.keys, &rules(), NOW).unwrap();
        assert_eq!(verified.kid, "ec-521");
        assert_eq!(verified.principal.as_deref(), Some("user-1"));
        assert_eq!(
            check(&eddsa(&p, "ed"), &p.keys, &rules(), NOW).unwrap().kid,
            "ed"
        );
        // Without a kid, each is the only key fitting its algorithm.
        let no_kid = token(&json!({"alg": "EdDSA"}), &claims(), |i| p.ed.sign(i));
        assert_eq!(check(&no_kid, &p.keys, &rules(), NOW).unwrap().kid, "ed");
        let no_kid = token(&json!({"alg": "ES512"}), &claims(), |i| p.p521.sign(i));
        assert_eq!(
            check(&no_kid, &p.keys, &rules(), NOW).unwrap().kid,
            "ec-521"
        );
    }

    /// RFC 8037 appendix A.4: the example EdDSA JWS verifies with the
    /// example public key (a signature made elsewhere, not by our test kit).
    #[test]
    fn the_rfc_8037_example_signature_verifies() {
        let doc = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "rfc", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]});
        let (keys, _) = KeySet::parse(doc.to_string().as_bytes()).unwrap();
        let jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
                   hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        let jws: String = jws.split_whitespace().collect();
        let header = peek_header(&jws).unwrap();
        // The example's payload is not JSON claims: the signature is what is
        // checked here, and it passes, so the refusal is about the payload.
        assert_eq!(
            verify(&jws, &header, &keys, &rules(), at(NOW)),
            Err(invalid("the payload is not a JSON object"))
        );
        let mut tampered = jws.clone();
        assert_eq!(&tampered[30..31], "S");
        tampered.replace_range(30..31, "T");
        assert_eq!(
            verify(&tampered, &header, &keys, &rules(), at(NOW)),
            Err(invalid("the signature does not match the provider's key"))
        );
    }

    /// EdDSA and ES512 tokens may only be checked with a key of their own
    /// type and curve, and never pass on another key type's say-so.
    #[test]
    fn eddsa_and_es512_key_confusion_is_refused() {
        let p = provider();
        let cases = [
            (
                token(&json!({"alg": "EdDSA", "kid": "ec-521"}), &claims(), |i| {
                    p.ed.sign(i)
                }),
                "the key \"ec-521\" is an EC P-521 key for ES512; it cannot verify EdDSA",
            ),
            (
                token(&json!({"alg": "EdDSA", "kid": "rsa-any"}), &claims(), |i| {
                    p.ed.sign(i)
                }),
                "the key \"rsa-any\" is an RSA key; it cannot verify EdDSA",
            ),
            (
                token(&json!({"alg": "ES512", "kid": "ed"}), &claims(), |i| {
                    p.p521.sign(i)
                }),
                "the key \"ed\" is an Ed25519 (OKP) key for EdDSA; it cannot verify ES512",
            ),
            (
                token(&json!({"alg": "ES512", "kid": "ec-384"}), &claims(), |i| {
                    p.p521.sign(i)
                }),
                "the key \"ec-384\" is an EC P-384 key; it cannot verify ES512",
            ),
            (
                token(&json!({"alg": "ES256", "kid": "ec-521"}), &claims(), |i| {
                    p.p256.sign(i)
                }),
                "the key \"ec-521\" is an EC P-521 key for ES512; it cannot verify ES256",
            ),
            (
                token(&json!({"alg": "ES256", "kid": "ed"}), &claims(), |i| {
                    p.p256.sign(i)
                }),
                "the key \"ed\" is an Ed25519 (OKP) key for EdDSA; it cannot verify ES256",
            ),
            (
                rs("RS256", "ed", &claims()),
                "the key \"ed\" is an Ed25519 (OKP) key for EdDSA; it cannot verify RS256",
            ),
        ];
        for (t, detail) in cases {
            assert_eq!(invalid_detail(&t, &p.keys), detail);
        }
        // A header that lies about the algorithm does not change which
        // verifying key is used: an EdDSA token presented as ES512 fails.
        let ed = eddsa(&p, "ec-521");
        let lying = Header {
            alg: "ES512".into(),
            kid: Some("ec-521".into()),
        };
        assert!(matches!(
            verify(&ed, &lying, &p.keys, &rules(), at(NOW)),
            Err(Refusal::InvalidToken(_))
        ));
        // An ES512 token signed by the provider, presented with an EdDSA
        // header to the same key, fails the algorithm check after the
        // signature... and before it, the key does not fit.
        let genuine = es512(&p, "ec-521");
        let lying = Header {
            alg: "EdDSA".into(),
            kid: Some("ec-521".into()),
        };
        assert!(matches!(
            verify(&genuine, &lying, &p.keys, &rules(), at(NOW)),
            Err(Refusal::InvalidToken(_))
        ));
        // A genuine signature under a header whose alg was swapped after
        // signing: the signature covers the header, so it no longer matches.
        let [_, c, s]: [&str; 3] = genuine.split('.').collect::<Vec<_>>().try_into().unwrap();
        let swapped = format!(
            "{}.{c}.{s}",
            testkit::b64(br#"{"alg":"ES512","kid":"ec-521","typ":"JWT"}"#)
        );
        assert_eq!(
            invalid_detail(&swapped, &p.keys),
            "the signature does not match the provider's key"
        );
    }

    /// Wrong-length and all-zero signatures, for every algorithm.
    #[test]
    fn wrong_length_and_all_zero_signatures_are_refused() {
        let p = provider();
        for (alg, kid, size) in [
            ("EdDSA", "ed", 64),
            ("ES512", "ec-521", 132),
            ("ES384", "ec-384", 96),
            ("ES256", "ec-256", 64),
            ("RS256", "rsa-1", 256),
            ("PS256", "rsa-any", 256),
        ] {
            for len in [0, 1, size - 1, size, size + 1, 2 * size] {
                let zero = token(&json!({"alg": alg, "kid": kid}), &claims(), |_| {
                    vec![0; len]
                });
                assert_eq!(
                    invalid_detail(&zero, &p.keys),
                    "the signature does not match the provider's key",
                    "{alg}, {len} zero bytes"
                );
            }
        }
        // A genuine signature, cut short or extended by one byte.
        for genuine in [eddsa(&p, "ed"), es512(&p, "ec-521")] {
            let (input, s) = genuine.rsplit_once('.').unwrap();
            let mut sig = BASE64URL_NOPAD.decode(s.as_bytes()).unwrap();
            let mut longer = sig.clone();
            longer.push(0);
            sig.pop();
            for bad in [sig, longer] {
                assert_eq!(
                    invalid_detail(&format!("{input}.{}", testkit::b64(&bad)), &p.keys),
                    "the signature does not match the provider's key"
                );
            }
        }
        // Another Ed25519 key's or P-521 key's signature.
        let other_ed = Ed::generate();
        let forged = token(&json!({"alg": "EdDSA", "kid": "ed"}), &claims(), |i| {
            other_ed.sign(i)
        });
        assert_eq!(
            invalid_detail(&forged, &p.keys),
            "the signature does not match the provider's key"
        );
        let other_p521 = Ec::p521();
        let forged = token(&json!({"alg": "ES512", "kid": "ec-521"}), &claims(), |i| {
            other_p521.sign(i)
        });
        assert_eq!(
            invalid_detail(&forged, &p.keys),
            "the signature does not match the provider's key"
        );
    }

    #[test]
    fn jwk_alg_must_equal_token_alg() {
        let p = provider();
        let detail = invalid_detail(&rs("PS256", "rsa-1", &claims()), &p.keys);
        assert_eq!(
            detail,
            "the key \"rsa-1\" is an RSA key for RS256; it cannot verify PS256"
        );
    }

    #[test]
    fn alg_must_fit_key_type_and_curve() {
        let p = provider();
        let es256_on_rsa = token(&json!({"alg": "ES256", "kid": "rsa-any"}), &claims(), |i| {
            p.p256.sign(i)
        });
        assert_eq!(
            invalid_detail(&es256_on_rsa, &p.keys),
            "the key \"rsa-any\" is an RSA key; it cannot verify ES256"
        );
        let es256_on_p384 = token(&json!({"alg": "ES256", "kid": "ec-384"}), &claims(), |i| {
            p.p256.sign(i)
        });
        assert_eq!(
            invalid_detail(&es256_on_p384, &p.keys),
            "the key \"ec-384\" is an EC P-384 key; it cannot verify ES256"
        );
        let rs256_on_ec = rs("RS256", "ec-256", &claims());
        assert!(matches!(
            refusal(&rs256_on_ec, &p.keys),
            Refusal::InvalidToken(_)
        ));
    }

    #[test]
    fn alg_none_is_refused() {
        let p = provider();
        let unsigned = token(&json!({"alg": "none", "kid": "rsa-1"}), &claims(), |_| {
            Vec::new()
        });
        let refused = refusal(&unsigned, &p.keys);
        assert_eq!(refused, Refusal::UnsupportedAlgorithm("none".into()));
        assert_eq!(code(&refused), "unsupported_algorithm");
        assert_eq!(
            refused.detail(),
            "unsigned tokens (alg \"none\") are never accepted"
        );
        for variant in ["None", "NONE", "nOnE"] {
            let unsigned = token(&json!({"alg": variant}), &claims(), |_| Vec::new());
            assert_eq!(
                refusal(&unsigned, &p.keys),
                Refusal::UnsupportedAlgorithm(variant.into())
            );
        }
    }

    /// The classic key confusion: HMAC keyed with the provider's public key,
    /// which anyone can download, in both encodings a library might use.
    #[test]
    fn hs256_keyed_with_the_public_key_is_refused() {
        let p = provider();
        for public in [testkit::PROVIDER_PUBLIC_PEM, testkit::PROVIDER_PUBLIC_DER] {
            for alg in ["HS256", "HS384", "HS512"] {
                let forged = token(&json!({"alg": alg, "kid": "rsa-any"}), &claims(), |i| {
                    testkit::hmac(alg, public, i)
                });
                let refused = refusal(&forged, &p.keys);
                assert_eq!(refused, Refusal::UnsupportedAlgorithm(alg.into()));
                assert!(
                    refused.detail().contains("shared-secret"),
                    "{}",
                    refused.detail()
                );
                // Even a header that skipped peek_header cannot get HMAC through.
                let header = Header {
                    alg: alg.into(),
                    kid: Some("rsa-any".into()),
                };
                assert_eq!(
                    verify(&forged, &header, &p.keys, &rules(), at(NOW)),
                    Err(Refusal::UnsupportedAlgorithm(alg.into()))
                );
            }
        }
    }

    #[test]
    fn a_forged_header_alg_does_not_change_the_checked_algorithm() {
        let p = provider();
        let ps = rs("PS256", "rsa-any", &claims());
        let lying = Header {
            alg: "RS256".into(),
            kid: Some("rsa-any".into()),
        };
        assert!(matches!(
            verify(&ps, &lying, &p.keys, &rules(), at(NOW)),
            Err(Refusal::InvalidToken(_))
        ));
    }

    #[test]
    fn embedded_jwk_is_ignored() {
        let p = provider();
        let attacker_jwk = attacker_rsa().jwk("rsa-1", Some("RS256"));
        for header in [
            json!({"alg": "RS256", "kid": "rsa-1", "jwk": attacker_jwk}),
            json!({"alg": "RS256", "jwk": attacker_jwk}),
        ] {
            let forged = token(&header, &claims(), |i| attacker_rsa().sign("RS256", i));
            let refused = refusal(&forged, &p.keys);
            assert!(
                matches!(
                    &refused,
                    Refusal::InvalidToken(_) | Refusal::UnknownKeyId(_)
                ),
                "{refused:?}"
            );
        }
        // With a kid and one RS256-only key, the provider's key is the one used.
        let forged = token(
            &json!({"alg": "RS256", "kid": "rsa-1", "jwk": attacker_jwk}),
            &claims(),
            |i| attacker_rsa().sign("RS256", i),
        );
        assert_eq!(
            invalid_detail(&forged, &p.keys),
            "the signature does not match the provider's key"
        );
    }

    #[test]
    fn jku_x5u_and_x5c_are_ignored() {
        let p = provider();
        let header = json!({
            "alg": "RS256",
            "kid": "rsa-1",
            "jku": "https://attacker.example/jwks.json",
            "x5u": "https://attacker.example/cert.pem",
            "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
        });
        let forged = token(&header, &claims(), |i| attacker_rsa().sign("RS256", i));
        assert_eq!(
            invalid_detail(&forged, &p.keys),
            "the signature does not match the provider's key"
        );
        // Signed by the provider, the same headers do not stand in the way.
        let genuine = token(&header, &claims(), |i| provider_rsa().sign("RS256", i));
        assert_eq!(
            check(&genuine, &p.keys, &rules(), NOW).unwrap().kid,
            "rsa-1"
        );
    }

    /// CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify.
    #[test]
    fn es256_all_zero_signature_is_refused() {
        let p = provider();
        for size in [64, 0, 1, 65] {
            let zero = token(&json!({"alg": "ES256", "kid": "ec-256"}), &claims(), |_| {
                vec![0; size]
            });
            assert_eq!(
                invalid_detail(&zero, &p.keys),
                "the signature does not match the provider's key",
                "{size}"
            );
        }
    }

    #[test]
    fn unknown_crit_is_refused() {
        let p = provider();
        for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
            let t = token(
                &json!({"alg": "RS256", "kid": "rsa-1", "crit": crit, "exp": 1}),
                &claims(),
                |i| provider_rsa().sign("RS256", i),
            );
            assert!(invalid_detail(&t, &p.keys).contains("crit"));
        }
    }

    #[test]
    fn nested_jwt_is_refused() {
        let p = provider();
        for cty in ["JWT", "jwt", "application/jwt"] {
            let inner = rs("RS256", "rsa-1", &claims());
            let outer = token(
                &json!({"alg": "RS256", "kid": "rsa-1", "cty": cty}),
                &json!(inner),
                |i| provider_rsa().sign("RS256", i),
            );
            assert_eq!(
                invalid_detail(&outer, &p.keys),
                "nested tokens (cty: JWT) are not accepted"
            );
        }
        let json_cty = token(
            &json!({"alg": "RS256", "kid": "rsa-1", "cty": "json"}),
            &claims(),
            |i| provider_rsa().sign("RS256", i),
        );
        assert!(check(&json_cty, &p.keys, &rules(), NOW).is_ok());
    }

    #[test]
    fn oversize_token_is_refused_before_decoding() {
        let p = provider();
        let mut big = claims();
        big["padding"] = "x".repeat(7 * 1024).into();
        let t = rs("RS256", "rsa-1", &big);
        assert!(t.len() > 9 * 1024);
        assert_eq!(
            invalid_detail(&t, &p.keys),
            "the token is larger than 8 KiB"
        );
        let mut fits = claims();
        fits["padding"] = "x".repeat(5 * 1024).into();
        assert!(check(&rs("RS256", "rsa-1", &fits), &p.keys, &rules(), NOW).is_ok());
    }

    #[test]
    fn jwe_and_other_segment_counts_are_refused() {
        let p = provider();
        let jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn";
        assert_eq!(
            invalid_detail(jwe, &p.keys),
            "encrypted tokens (JWE) are not accepted"
        );
        for (t, n) in [
            ("", 1),
            ("abc", 1),
            ("a.b", 2),
            ("a.b.c.d", 4),
            ("a.b.c.d.e.f", 6),
            ("......", 7),
        ] {
            assert_eq!(
                invalid_detail(t, &p.keys),
                format!("a signed JWT has 3 dot-separated segments; this token has {n}")
            );
        }
    }

    #[test]
    fn garbage_in_each_segment() {
        let p = provider();
        let good = rs("RS256", "rsa-1", &claims());
        let [h, c, s]: [&str; 3] = good.split('.').collect::<Vec<_>>().try_into().unwrap();
        let b64 = testkit::b64;
        let cases = [
            (format!("!!!.{c}.{s}"), "the header is not valid base64url"),
            (format!(".{c}.{s}"), "the header is not a JSON object"),
            (
                format!("{}.{c}.{s}", b64(b"not json")),
                "the header is not a JSON object",
            ),
            (
                format!("{}.{c}.{s}", b64(b"[\"RS256\"]")),
                "the header is not a JSON object",
            ),
            (
                format!("{}.{c}.{s}", b64(&[0xff, 0xfe, b'{'])),
                "the header is not a JSON object",
            ),
            (
                format!("{}.{c}.{s}", b64(b"{\"kid\":\"rsa-1\"}")),
                "the header has no alg",
            ),
            (
                format!("{}.{c}.{s}", b64(b"{\"alg\":256}")),
                "the header's alg is not a string",
            ),
            (
                format!("{}.{c}.{s}", b64(b"{\"alg\":\"RS256\",\"kid\":7}")),
                "the header's kid is not a string",
            ),
            (
                format!("{h}.{c}=.{s}"),
                "the payload is not valid base64url",
            ),
            (
                format!("{h}.{c}.{s}!"),
                "the signature is not valid base64url",
            ),
            (
                format!("{h}.{c}.*{s}"),
                "the signature is not valid base64url",
            ),
            (
                format!("{h}.{c}."),
                "the signature does not match the provider's key",
            ),
            (
                format!("{h}.{c}.{}", b64(b"short")),
                "the signature does not match the provider's key",
            ),
            (
                format!("{h}.{}.{s}", b64(b"{}")),
                "the signature does not match the provider's key",
            ),
            (
                format!("{h}..{s}"),
                "the signature does not match the provider's key",
            ),
        ];
        for (t, expected) in cases {
            assert_eq!(invalid_detail(&t, &p.keys), expected, "{t}");
        }
    }

    #[test]
    fn garbage_signed_by_the_provider_is_still_refused() {
        let p = provider();
        let signed = |header: &[u8], payload: &[u8]| {
            let input = format!("{}.{}", testkit::b64(header), testkit::b64(payload));
            let signature = provider_rsa().sign("RS256", input.as_bytes());
            format!("{input}.{}", testkit::b64(&signature))
        };
        let header = br#"{"alg":"RS256","kid":"rsa-1"}"#;
        assert_eq!(
            invalid_detail(&signed(header, b"not json"), &p.keys),
            "the payload is not a JSON object"
        );
        assert_eq!(
            invalid_detail(&signed(header, b"[1]"), &p.keys),
            "the payload is not a JSON object"
        );
        assert_eq!(
            invalid_detail(
                &signed(br#"{"alg":"RS256","kid":"rsa-1","x5c":5}"#, b"{}"),
                &p.keys
            ),
            "the header has a registered parameter of the wrong type"
        );
    }

    #[test]
    fn unknown_kid() {
        let p = provider();
        let t = rs("RS256", "rotated-away", &claims());
        let refused = refusal(&t, &p.keys);
        assert_eq!(refused, Refusal::UnknownKeyId("rotated-away".into()));
        assert_eq!(code(&refused), "unknown_key_id");
        assert_eq!(
            refused.detail(),
            "the provider has no key with kid \"rotated-away\""
        );
    }

    #[test]
    fn kid_is_quoted_and_cut_short_in_details() {
        let p = provider();
        let kid = format!("\"\n<script>{}", "k".repeat(200));
        let refused = refusal(&rs("RS256", &kid, &claims()), &p.keys);
        assert_eq!(refused, Refusal::UnknownKeyId(kid.clone()));
        let detail = refused.detail();
        assert!(detail.contains("\\\"\\n<script>"), "{detail}");
        assert!(detail.ends_with('…') && detail.len() < 120, "{detail}");
    }

    #[test]
    fn token_without_kid_uses_the_only_fitting_key() {
        let p = provider();
        let es384 = token(&json!({"alg": "ES384"}), &claims(), |i| p.p384.sign(i));
        assert_eq!(check(&es384, &p.keys, &rules(), NOW).unwrap().kid, "ec-384");
        let ps256 = token(&json!({"alg": "PS256"}), &claims(), |i| {
            provider_rsa().sign("PS256", i)
        });
        assert_eq!(
            check(&ps256, &p.keys, &rules(), NOW).unwrap().kid,
            "rsa-any"
        );
        // RS256 fits both rsa-1 and rsa-any: ambiguous.
        let rs256 = token(&json!({"alg": "RS256"}), &claims(), |i| {
            provider_rsa().sign("RS256", i)
        });
        let refused = refusal(&rs256, &p.keys);
        assert_eq!(refused, Refusal::UnknownKeyId(String::new()));
        assert!(refused.detail().starts_with("the token has no kid"));
    }

    #[test]
    fn exp_is_required() {
        let p = provider();
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            invalid_detail(&rs("RS256", "rsa-1", &no_exp), &p.keys),
            "token has no exp claim"
        );
        for (exp, detail) in [
            (json!("tomorrow"), "the exp claim is not a number"),
            (json!(null), "the exp claim is not a number"),
            (json!(-1), "the exp claim is out of range"),
            (json!(1e300), "the exp claim is out of range"),
        ] {
            let mut c = claims();
            c["exp"] = exp;
            assert_eq!(invalid_detail(&rs("RS256", "rsa-1", &c), &p.keys), detail);
        }
    }

    #[test]
    fn expired_with_leeway_edges() {
        let p = provider();
        let t = rs("RS256", "rsa-1", &claims());
        let exp = NOW + 300;
        let r = rules();
        assert!(check(&t, &p.keys, &r, exp + 59).is_ok());
        assert_eq!(check(&t, &p.keys, &r, exp + 60), Err(Refusal::Expired));
        let strict = Rules {
            leeway: Duration::ZERO,
            ..rules()
        };
        assert!(check(&t, &p.keys, &strict, exp - 1).is_ok());
        assert_eq!(check(&t, &p.keys, &strict, exp), Err(Refusal::Expired));
        assert_eq!(code(&Refusal::Expired), "expired_token");
    }

    #[test]
    fn fractional_exp_rounds_down() {
        let p = provider();
        let mut c = claims();
        c["exp"] = json!(NOW as f64 + 0.9);
        let strict = Rules {
            leeway: Duration::ZERO,
            ..rules()
        };
        assert_eq!(
            check(&rs("RS256", "rsa-1", &c), &p.keys, &strict, NOW),
            Err(Refusal::Expired)
        );
        assert_eq!(
            check(&rs("RS256", "rsa-1", &c), &p.keys, &strict, NOW - 1).map(|v| v.expires_at),
            Ok(NOW)
        );
    }

    #[test]
    fn nbf_and_iat_in_the_future_with_leeway_edges() {
        let p = provider();
        for claim in ["nbf", "iat"] {
            let mut c = claims();
            c[claim] = json!(NOW + 100);
            let t = rs("RS256", "rsa-1", &c);
            assert_eq!(
                check(&t, &p.keys, &rules(), NOW + 39),
                Err(Refusal::NotYetValid),
                "{claim}"
            );
            assert!(check(&t, &p.keys, &rules(), NOW + 40).is_ok(), "{claim}");
            let strict = Rules {
                leeway: Duration::ZERO,
                ..rules()
            };
            assert_eq!(
                check(&t, &p.keys, &strict, NOW + 99),
                Err(Refusal::NotYetValid),
                "{claim}"
            );
            assert!(check(&t, &p.keys, &strict, NOW + 100).is_ok(), "{claim}");
            c[claim] = json!("soon");
            assert_eq!(
                invalid_detail(&rs("RS256", "rsa-1", &c), &p.keys),
                format!("the {claim} claim is not a number")
            );
        }
        assert_eq!(code(&Refusal::NotYetValid), "token_not_yet_valid");
    }

    #[test]
    fn audience_string_or_array() {
        let p = provider();
        let wants = Rules {
            audiences: vec!["eventward".into()],
            ..rules()
        };
        let with_aud = |aud: Value| {
            let mut c = claims();
            c["aud"] = aud;
            rs("RS256", "rsa-1", &c)
        };
        assert!(check(&with_aud(json!("eventward")), &p.keys, &wants, NOW).is_ok());
        assert!(check(
            &with_aud(json!(["other", "eventward"])),
            &p.keys,
            &wants,
            NOW
        )
        .is_ok());
        for aud in [
            json!("other"),
            json!(["other", "EventWard"]),
            json!([]),
            json!(null),
            json!(7),
        ] {
            assert_eq!(
                check(&with_aud(aud.clone()), &p.keys, &wants, NOW),
                Err(Refusal::InvalidAudience),
                "{aud}"
            );
        }
        let mut no_aud = claims();
        no_aud.as_object_mut().unwrap().remove("aud");
        assert_eq!(
            check(&rs("RS256", "rsa-1", &no_aud), &p.keys, &wants, NOW),
            Err(Refusal::InvalidAudience)
        );
        // Without an audience rule, aud is not looked at.
        assert!(check(&with_aud(json!("other")), &p.keys, &rules(), NOW).is_ok());
        assert_eq!(code(&Refusal::InvalidAudience), "invalid_audience");
    }

    #[test]
    fn issuer_must_match_exactly() {
        let p = provider();
        let wants = Rules {
            issuer: Some("https://issuer.example".into()),
            ..rules()
        };
        assert!(check(&rs("RS256", "rsa-1", &claims()), &p.keys, &wants, NOW).is_ok());
        for iss in [
            json!("https://issuer.example/"),
            json!("https://ISSUER.example"),
            json!(null),
            json!(1),
        ] {
            let mut c = claims();
            c["iss"] = iss.clone();
            assert_eq!(
                check(&rs("RS256", "rsa-1", &c), &p.keys, &wants, NOW),
                Err(Refusal::InvalidIssuer),
                "{iss}"
            );
        }
        assert_eq!(code(&Refusal::InvalidIssuer), "invalid_issuer");
    }

    #[test]
    fn sub_is_optional_but_must_be_a_string() {
        let p = provider();
        let mut c = claims();
        c.as_object_mut().unwrap().remove("sub");
        assert_eq!(
            check(&rs("RS256", "rsa-1", &c), &p.keys, &rules(), NOW)
                .unwrap()
                .principal,
            None
        );
        c["sub"] = json!(42);
        assert_eq!(
            invalid_detail(&rs("RS256", "rsa-1", &c), &p.keys),
            "the sub claim is not a string"
        );
    }

    #[test]
    fn several_audiences_any_one_is_enough() {
        let p = provider();
        let wants = Rules {
            audiences: vec!["https://api.acme.test".into(), "eventward".into()],
            ..rules()
        };
        let with_aud = |aud: Value| {
            let mut c = claims();
            c["aud"] = aud;
            rs("RS256", "rsa-1", &c)
        };
        for aud in [
            json!("eventward"),
            json!("https://api.acme.test"),
            json!(["https://api.acme.test"]),
            json!(["other", "eventward"]),
            json!([7, "eventward"]),
        ] {
            assert!(
                check(&with_aud(aud.clone()), &p.keys, &wants, NOW).is_ok(),
                "{aud}"
            );
        }
        for aud in [
            json!("other"),
            json!(["other", "https://api.acme.test/"]),
            json!("eventward https://api.acme.test"),
            json!([["eventward"]]),
            json!({"aud": "eventward"}),
        ] {
            assert_eq!(
                check(&with_aud(aud.clone()), &p.keys, &wants, NOW),
                Err(Refusal::InvalidAudience),
                "{aud}"
            );
        }
    }

    #[test]
    fn principal_from_a_configured_claim() {
        let p = provider();
        // A machine token from the client credentials grant: no sub.
        let machine = json!({"client_id": "billing", "azp": "billing-azp", "iss": "https://issuer.example", "aud": "eventward", "iat": NOW - 10, "exp": NOW + 300});
        let by = |claim: &str| Rules {
            principal_claim: claim.into(),
            ..rules()
        };
        let principal_by = |claim: &str, c: &Value| {
            check(&rs("RS256", "rsa-1", c), &p.keys, &by(claim), NOW).map(|v| v.principal)
        };
        assert_eq!(
            principal_by("client_id", &machine),
            Ok(Some("billing".into()))
        );
        assert_eq!(
            principal_by("azp", &machine),
            Ok(Some("billing-azp".into()))
        );
        assert_eq!(principal_by("sub", &machine), Ok(None));
        // With the claim configured, sub is not the principal even when present.
        assert_eq!(principal_by("client_id", &claims()), Ok(None));
        let mut both = machine.clone();
        both["sub"] = json!("user-1");
        assert_eq!(principal_by("client_id", &both), Ok(Some("billing".into())));
        assert_eq!(principal_by("sub", &both), Ok(Some("user-1".into())));
        let mut numeric = machine.clone();
        numeric["client_id"] = json!(12);
        assert_eq!(
            principal_by("client_id", &numeric),
            Err(invalid("the client_id claim is not a string"))
        );
    }

    #[test]
    fn typ_jwt_at_jwt_or_none() {
        let p = provider();
        let typed = |typ: Option<Value>| {
            let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
            if let Some(typ) = typ {
                header["typ"] = typ;
            }
            token(&header, &claims(), |i| provider_rsa().sign("RS256", i))
        };
        for typ in [
            None,
            Some(json!("JWT")),
            Some(json!("jwt")),
            Some(json!("application/jwt")),
            Some(json!("at+jwt")),
            Some(json!("application/at+jwt")),
            Some(json!("AT+JWT")),
        ] {
            assert!(
                check(&typed(typ.clone()), &p.keys, &rules(), NOW).is_ok(),
                "{typ:?}"
            );
        }
        for (typ, why) in [
            (json!("logout+jwt"), "the header's typ \"logout+jwt\" is not a token type accepted here (JWT or at+jwt)"),
            (json!("secevent+jwt"), "the header's typ \"secevent+jwt\" is not a token type accepted here (JWT or at+jwt)"),
            (json!("dpop+jwt"), "the header's typ \"dpop+jwt\" is not a token type accepted here (JWT or at+jwt)"),
            (json!("JOSE+JSON"), "the header's typ \"JOSE+JSON\" is not a token type accepted here (JWT or at+jwt)"),
            (json!(""), "the header's typ \"\" is not a token type accepted here (JWT or at+jwt)"),
            (json!(1), "the header's typ is not a string"),
        ] {
            assert_eq!(invalid_detail(&typed(Some(typ.clone())), &p.keys), why, "{typ}");
        }
    }

    #[test]
    fn keys_beside_unsupported_ones_still_verify() {
        let doc = json!({"keys": [
            {"kty": "EC", "crv": "secp256k1", "alg": "ES256K", "kid": "k1", "x": "AA", "y": "AA"},
            {"kty": "oct", "alg": "HS256", "kid": "hmac", "k": "c2VjcmV0"},
            provider_rsa().jwk("rsa-1", Some("RS256")),
        ]});
        let (keys, rejected) = KeySet::parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(rejected.len(), 2);
        assert!(check(&rs("RS256", "rsa-1", &claims()), &keys, &rules(), NOW).is_ok());
        // A token naming the rejected HMAC key gets nowhere near it.
        let hs = token(&json!({"alg": "HS256", "kid": "hmac"}), &claims(), |i| {
            testkit::hmac("HS256", b"secret", i)
        });
        assert_eq!(
            refusal(&hs, &keys),
            Refusal::UnsupportedAlgorithm("HS256".into())
        );
        let k1 = token(&json!({"alg": "ES256K", "kid": "k1"}), &claims(), |_| {
            vec![0; 64]
        });
        assert_eq!(
            refusal(&k1, &keys),
            Refusal::UnsupportedAlgorithm("ES256K".into())
        );
        assert!(refusal(&k1, &keys)
            .detail()
            .contains("\"ES256K\" is not accepted"));
        // An EdDSA token when the provider has no Ed25519 key.
        let ed = Ed::generate();
        let t = token(&json!({"alg": "EdDSA"}), &claims(), |i| ed.sign(i));
        assert_eq!(refusal(&t, &keys), Refusal::UnknownKeyId(String::new()));
    }

    #[test]
    fn every_refusal_has_its_contract_code() {
        let codes: Vec<&str> = [
            Refusal::InvalidToken("x".into()),
            Refusal::Expired,
            Refusal::NotYetValid,
            Refusal::InvalidAudience,
            Refusal::InvalidIssuer,
            Refusal::UnsupportedAlgorithm("HS256".into()),
            Refusal::UnknownKeyId("k".into()),
        ]
        .iter()
        .map(code)
        .collect();
        assert_eq!(
            codes,
            [
                "invalid_token",
                "expired_token",
                "token_not_yet_valid",
                "invalid_audience",
                "invalid_issuer",
                "unsupported_algorithm",
                "unknown_key_id"
            ]
        );
    }

    #[test]
    fn details_never_echo_the_token() {
        let p = provider();
        let genuine = rs("RS256", "rsa-1", &claims());
        let [h, c, s]: [&str; 3] = genuine.split('.').collect::<Vec<_>>().try_into().unwrap();
        let tampered = [
            format!("{h}.{c}.{}", &s[..s.len() - 4]),
            format!("{h}.{}.{s}", testkit::b64(b"{\"exp\": \"secret-value\"}")),
            format!("{h}.{c}.{s}.{s}"),
            rs("RS256", "rsa-1", &json!({"exp": "secret-value"})),
        ];
        for t in tampered {
            let detail = refusal(&t, &p.keys).detail();
            for segment in t.split('.').filter(|s| s.len() > 8) {
                assert!(!detail.contains(segment), "{detail}");
            }
            assert!(!detail.contains("secret-value"), "{detail}");
        }
    }
}
