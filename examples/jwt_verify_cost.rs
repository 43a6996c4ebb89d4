//! What one JWT signature check costs, old way against new, in one run.
//!
//! For each algorithm, N distinct tokens (distinct claims, so distinct
//! signatures) are verified on one thread, and the time per token printed:
//!
//! - `ring, key per request`: what eventward did with biscuit 0.8 — the public
//!   key handed to *ring* as the JWK's numbers (RSA `n`/`e`, the EC point) on
//!   every verification. biscuit had no EdDSA or ES512, so those rows show
//!   `-` there.
//! - `aws-lc, key per request`: the same, with *aws-lc-rs*'s unparsed key.
//! - `aws-lc, parsed key`: the signature check alone with the verifying key
//!   the key set parsed once when it loaded the JWKS.
//! - `eventward verify()`: the whole check as a request makes it — header
//!   rules, key selection, signature with the parsed key, claims.
//!
//! cargo run --release --example jwt_verify_cost -- [N] [ROUNDS]
//!
//! Each figure is the best of ROUNDS rounds (default 5) over N tokens
//! (default 2,000), after one warm-up round.

#[allow(dead_code)]
#[path = "../tests/common/jwt_kit.rs"]
mod jwt_kit;

use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::signature as lc;
use eventward::jwt::{peek_header, verify, KeySet, Rules};
use jwt_kit::{provider_rsa, token, Ec, Ed};
use ring::signature as ring_sig;
use serde_json::{json, Value};

/// The public key a JWKS entry holds, as the old path used it.
enum Public {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Point(Vec<u8>),
}

fn unb64(value: &Value) -> Vec<u8> {
    data_encoding::BASE64URL_NOPAD
        .decode(value.as_str().unwrap().as_bytes())
        .unwrap()
}

fn public_of(jwk: &Value) -> Public {
    match jwk["kty"].as_str().unwrap() {
        "RSA" => Public::Rsa {
            n: unb64(&jwk["n"]),
            e: unb64(&jwk["e"]),
        },
        "EC" => Public::Point([&[4u8][..], &unb64(&jwk["x"]), &unb64(&jwk["y"])].concat()),
        _ => Public::Point(unb64(&jwk["x"])),
    }
}

/// Signing input and signature of a compact JWS.
fn split(token: &str) -> (&[u8], Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    (
        input.as_bytes(),
        data_encoding::BASE64URL_NOPAD
            .decode(sig.as_bytes())
            .unwrap(),
    )
}

/// Best µs per call of `check` over `tokens`, in `rounds` rounds.
fn time(tokens: &[String], rounds: usize, mut check: impl FnMut(&str) -> bool) -> f64 {
    for t in tokens {
        assert!(check(t), "a genuine token failed");
    }
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        for t in tokens {
            assert!(check(t));
        }
        best = best.min(start.elapsed());
    }
    best.as_secs_f64() * 1e6 / tokens.len() as f64
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(2_000, |a| a.parse().expect("N"));
    let rounds: usize = args.next().map_or(5, |a| a.parse().expect("ROUNDS"));

    let p256 = Ec::p256();
    let p384 = Ec::p384();
    let p521 = Ec::p521();
    let ed = Ed::generate();
    let rsa_jwk = provider_rsa().jwk("rsa", None);
    type Signer<'a> = Box<dyn Fn(&[u8]) -> Vec<u8> + 'a>;
    let cases: Vec<(&str, Value, Signer)> = vec![
        (
            "RS256",
            rsa_jwk.clone(),
            Box::new(|i: &[u8]| provider_rsa().sign("RS256", i)),
        ),
        (
            "PS256",
            rsa_jwk.clone(),
            Box::new(|i: &[u8]| provider_rsa().sign("PS256", i)),
        ),
        (
            "ES256",
            p256.jwk("k", None),
            Box::new(|i: &[u8]| p256.sign(i)),
        ),
        (
            "ES384",
            p384.jwk("k", None),
            Box::new(|i: &[u8]| p384.sign(i)),
        ),
        ("EdDSA", ed.jwk("k", None), Box::new(|i: &[u8]| ed.sign(i))),
        (
            "ES512",
            p521.jwk("k", None),
            Box::new(|i: &[u8]| p521.sign(i)),
        ),
    ];
    let rules = Rules {
        audiences: vec!["eventward".into()],
        issuer: Some("https://issuer.example".into()),
        leeway: Duration::from_secs(60),
        principal_claim: "sub".into(),
    };
    let now = SystemTime::now();
    let exp = chrono::Utc::now().timestamp() + 3600;

    println!("{n} distinct tokens per algorithm, best of {rounds} rounds, µs per verification");
    println!(
        "{:<6} {:>22} {:>24} {:>19} {:>19}",
        "alg",
        "ring, key per request",
        "aws-lc, key per request",
        "aws-lc, parsed key",
        "eventward verify()"
    );
    for (alg, mut jwk, sign) in cases {
        jwk["kid"] = "k".into();
        let doc = json!({ "keys": [jwk] });
        let (keys, rejected) = KeySet::parse(doc.to_string().as_bytes()).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        let tokens: Vec<String> = (0..n)
            .map(|i| {
                let claims = json!({"sub": format!("user-{i}"), "aud": "eventward",
                    "iss": "https://issuer.example", "exp": exp, "jti": i});
                token(
                    &json!({"alg": alg, "kid": "k", "typ": "JWT"}),
                    &claims,
                    &sign,
                )
            })
            .collect();
        let public = public_of(&jwk);

        let ring_alg: Option<&'static dyn ring_sig::VerificationAlgorithm> = match alg {
            "RS256" => Some(&ring_sig::RSA_PKCS1_2048_8192_SHA256),
            "PS256" => Some(&ring_sig::RSA_PSS_2048_8192_SHA256),
            "ES256" => Some(&ring_sig::ECDSA_P256_SHA256_FIXED),
            "ES384" => Some(&ring_sig::ECDSA_P384_SHA384_FIXED),
            _ => None,
        };
        let lc_alg: &'static dyn lc::VerificationAlgorithm = match alg {
            "RS256" => &lc::RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &lc::RSA_PSS_2048_8192_SHA256,
            "ES256" => &lc::ECDSA_P256_SHA256_FIXED,
            "ES384" => &lc::ECDSA_P384_SHA384_FIXED,
            "ES512" => &lc::ECDSA_P521_SHA512_FIXED,
            _ => &lc::ED25519,
        };
        let ring_old = ring_alg.map(|ring_alg| {
            time(&tokens, rounds, |t| {
                let (input, sig) = split(t);
                match &public {
                    // biscuit 0.8: RsaPublicKeyComponents::verify, key built per call.
                    Public::Rsa { n, e } => {
                        let params = match alg {
                            "RS256" => &ring_sig::RSA_PKCS1_2048_8192_SHA256,
                            _ => &ring_sig::RSA_PSS_2048_8192_SHA256,
                        };
                        ring_sig::RsaPublicKeyComponents { n, e }
                            .verify(params, input, &sig)
                            .is_ok()
                    }
                    Public::Point(point) => ring_sig::UnparsedPublicKey::new(ring_alg, point)
                        .verify(input, &sig)
                        .is_ok(),
                }
            })
        });
        let der_or_point = match &public {
            Public::Rsa { n, e } => {
                let params = match alg {
                    "RS256" => &lc::RSA_PKCS1_2048_8192_SHA256,
                    _ => &lc::RSA_PSS_2048_8192_SHA256,
                };
                let parsed = lc::RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .unwrap();
                parsed.as_ref().to_vec()
            }
            Public::Point(point) => point.clone(),
        };
        let lc_unparsed = time(&tokens, rounds, |t| {
            let (input, sig) = split(t);
            lc::UnparsedPublicKey::new(lc_alg, &der_or_point)
                .verify(input, &sig)
                .is_ok()
        });
        let parsed = lc::ParsedPublicKey::new(lc_alg, &der_or_point).unwrap();
        let lc_parsed = time(&tokens, rounds, |t| {
            let (input, sig) = split(t);
            parsed.verify_sig(input, &sig).is_ok()
        });
        let full = time(&tokens, rounds, |t| {
            let header = peek_header(t).unwrap();
            verify(t, &header, &keys, &rules, now).is_ok()
        });
        println!(
            "{:<6} {:>22} {:>24.1} {:>19.1} {:>19.1}",
            alg,
            ring_old.map_or("-".to_string(), |us| format!("{us:.1}")),
            lc_unparsed,
            lc_parsed,
            full
        );
    }
}
