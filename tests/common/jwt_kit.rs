//! Real keys and real signatures for the JWT tests — the `src/jwt` unit tests
//! (which include this file) and the end-to-end tests alike: RSA keys are the
//! fixtures in `tests/keys/` (signed with *ring*), EC and Ed25519 keys are
//! generated per test with *aws-lc-rs*, the library eventward verifies with
//! (*ring* cannot make P-521 keys).

use std::sync::LazyLock;

use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{json, Value};

pub const RSA_1024_JWK: &[u8] = include_bytes!("../keys/rsa1024.jwk.json");
pub const PROVIDER_PUBLIC_PEM: &[u8] = include_bytes!("../keys/rsa2048-provider.pub.pem");
pub const PROVIDER_PUBLIC_DER: &[u8] = include_bytes!("../keys/rsa2048-provider.pub.der");

static PROVIDER: LazyLock<Rsa> =
    LazyLock::new(|| Rsa::load(include_bytes!("../keys/rsa2048-provider.pk8.der")));
static ATTACKER: LazyLock<Rsa> =
    LazyLock::new(|| Rsa::load(include_bytes!("../keys/rsa2048-attacker.pk8.der")));

/// The provider's signing key; its public half is what the JWKS publishes.
pub fn provider_rsa() -> &'static Rsa {
    &PROVIDER
}

/// A key the provider never published.
pub fn attacker_rsa() -> &'static Rsa {
    &ATTACKER
}

pub fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// A compact JWS of `header` and `claims`, signed over "header.payload" by `sign`.
pub fn token(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

pub fn hmac(alg: &str, secret: &[u8], input: &[u8]) -> Vec<u8> {
    let algorithm = match alg {
        "HS256" => hmac::HMAC_SHA256,
        "HS384" => hmac::HMAC_SHA384,
        "HS512" => hmac::HMAC_SHA512,
        other => panic!("not an HMAC algorithm: {other}"),
    };
    hmac::sign(&hmac::Key::new(algorithm, secret), input)
        .as_ref()
        .to_vec()
}

pub struct Rsa(RsaKeyPair);

impl Rsa {
    fn load(pkcs8: &[u8]) -> Rsa {
        Rsa(RsaKeyPair::from_pkcs8(pkcs8).unwrap())
    }

    pub fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(self.0.public());
        with_alg(
            json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&public.n), "e": b64(&public.e)}),
            alg,
        )
    }

    pub fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        let padding: &'static dyn signature::RsaEncoding = match alg {
            "RS256" => &signature::RSA_PKCS1_SHA256,
            "RS384" => &signature::RSA_PKCS1_SHA384,
            "RS512" => &signature::RSA_PKCS1_SHA512,
            "PS256" => &signature::RSA_PSS_SHA256,
            "PS384" => &signature::RSA_PSS_SHA384,
            "PS512" => &signature::RSA_PSS_SHA512,
            other => panic!("not an RSA algorithm: {other}"),
        };
        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(padding, &SystemRandom::new(), input, &mut signature)
            .unwrap();
        signature
    }
}

pub struct Ec {
    key: EcdsaKeyPair,
    crv: &'static str,
}

impl Ec {
    pub fn p256() -> Ec {
        Ec::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            "P-256",
        )
    }

    pub fn p384() -> Ec {
        Ec::generate(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            "P-384",
        )
    }

    pub fn p521() -> Ec {
        Ec::generate(
            &aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            "P-521",
        )
    }

    fn generate(
        alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm,
        crv: &'static str,
    ) -> Ec {
        Ec {
            key: EcdsaKeyPair::generate(alg).unwrap(),
            crv,
        }
    }

    pub fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        use aws_lc_rs::signature::KeyPair as _;
        // An uncompressed SEC1 point: 0x04, then x and y of equal length.
        let point = &self.key.public_key().as_ref()[1..];
        let (x, y) = point.split_at(point.len() / 2);
        with_alg(
            json!({"kty": "EC", "kid": kid, "crv": self.crv, "x": b64(x), "y": b64(y)}),
            alg,
        )
    }

    /// A JWS signature: r ‖ s, each as wide as the curve's order.
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key.sign(&rng, input).unwrap().as_ref().to_vec()
    }
}

/// An Ed25519 key (RFC 8037 OKP), for EdDSA.
pub struct Ed(Ed25519KeyPair);

impl Ed {
    pub fn generate() -> Ed {
        Ed(Ed25519KeyPair::generate().unwrap())
    }

    pub fn public(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        self.0.public_key().as_ref().to_vec()
    }

    pub fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        with_alg(
            json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(&self.public())}),
            alg,
        )
    }

    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        self.0.sign(input).as_ref().to_vec()
    }
}

fn with_alg(mut jwk: Value, alg: Option<&str>) -> Value {
    if let Some(alg) = alg {
        jwk["alg"] = alg.into();
    }
    jwk
}
