//! Writes what the JWT benchmark needs into a directory: `jwks.json` (an RSA
//! and a P-256 key) and files of distinct signed tokens, one per line:
//! `rs256.txt`, `es256.txt`, and `unknown-kid.txt` (RS256 tokens, each naming
//! a kid the JWKS does not have: the "unknown kid flood").
//!
//! cargo run --release --example jwt_tokens -- DIR [COUNT]
//!
//! The RSA key is the test fixture in tests/keys/ (a benchmark key, never a
//! real one); the P-256 key is generated on each run.

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::json;

fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: jwt_tokens DIR [COUNT]"));
    let count: usize = args
        .next()
        .map_or(20_000, |c| c.parse().expect("COUNT is a number"));
    std::fs::create_dir_all(&dir).unwrap();
    let rng = SystemRandom::new();

    let rsa =
        RsaKeyPair::from_pkcs8(include_bytes!("../tests/keys/rsa2048-provider.pk8.der")).unwrap();
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public());
    let ec_pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        ec_pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let point = &ec.public_key().as_ref()[1..];
    let (x, y) = point.split_at(32);
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "bench-rsa", "alg": "RS256", "use": "sig", "n": b64(&public.n), "e": b64(&public.e)},
        {"kty": "EC", "kid": "bench-ec", "alg": "ES256", "use": "sig", "crv": "P-256", "x": b64(x), "y": b64(y)},
    ]});
    std::fs::write(dir.join("jwks.json"), jwks.to_string()).unwrap();

    let exp = chrono::Utc::now().timestamp() + 3600;
    let sign_rsa = |input: &str| {
        let mut sig = vec![0; rsa.public().modulus_len()];
        rsa.sign(
            &signature::RSA_PKCS1_SHA256,
            &rng,
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        sig
    };
    let sign_ec = |input: &str| ec.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec();
    let write =
        |name: &str, alg: &str, kid: &dyn Fn(usize) -> String, sign: &dyn Fn(&str) -> Vec<u8>| {
            let mut lines = String::new();
            for i in 0..count {
                // A distinct sub (and jti) per token: no two requests carry the same token.
                let header = json!({"alg": alg, "kid": kid(i), "typ": "JWT"});
                let claims = json!({"sub": format!("user-{i}"), "jti": i, "exp": exp});
                let input = format!(
                    "{}.{}",
                    b64(header.to_string().as_bytes()),
                    b64(claims.to_string().as_bytes())
                );
                lines.push_str(&format!("{input}.{}\n", b64(&sign(&input))));
            }
            std::fs::write(dir.join(name), lines).unwrap();
        };
    write("rs256.txt", "RS256", &|_| "bench-rsa".into(), &sign_rsa);
    write("es256.txt", "ES256", &|_| "bench-ec".into(), &sign_ec);
    write(
        "unknown-kid.txt",
        "RS256",
        &|i| format!("rotated-{i}"),
        &sign_rsa,
    );
    println!("{}", json!({"dir": dir, "tokens_per_file": count}));
}
