//! JWT authentication against the key sets (JWKS) of configured providers.
//!
//! The contract ("JWT providers") fixes a narrow, fail-closed policy, and this
//! module is where it is enforced, so that the HTTP layer only maps a
//! [`Refusal`] to a problem response:
//!
//! - keys come *only* from the provider's JWKS, fetched ([`fetch`]) from a URL
//!   an operator configured and read entry by entry ([`keyset`]). Headers that
//!   name a key or a key location (`jwk`, `jku`, `x5u`, `x5c`) are ignored,
//!   because honouring them lets whoever writes the token choose the key that
//!   checks it;
//! - only asymmetric algorithms are accepted (RS*, PS*, ES256/384/512,
//!   EdDSA with Ed25519), and the
//!   algorithm must fit the selected key, so a public RSA key can never be
//!   turned into an HMAC secret (key confusion) and `none` never passes;
//! - the cheap checks ([`peek_header`]: size, shape, algorithm, `crit`) run
//!   before any key lookup or signature work, so junk costs little and an
//!   unknown `kid` can be told apart from a bad token before a refetch.
//!
//! Nothing here panics on untrusted input; `fuzz/` exercises that claim.

pub mod discovery;
pub mod fetch;
pub mod keyset;
mod verify;

#[cfg(test)]
#[path = "../../tests/common/jwt_kit.rs"]
mod testkit;

pub use keyset::KeySet;
pub use verify::{peek_header, verify, Header, Refusal, Rules, Verified};

/// A signature algorithm of the contract's list. Its `Debug` form is the
/// JOSE name (`RS256`, …, `EdDSA`), which messages quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

/// The algorithms the contract accepts, and nothing else: the one list both
/// the JWKS check (a key's `alg`) and token verification (a header's `alg`)
/// use, and that refusals and `provider check` quote.
const ACCEPTED_ALGORITHMS: [(&str, Alg); 10] = {
    use Alg::*;
    [
        ("RS256", RS256),
        ("RS384", RS384),
        ("RS512", RS512),
        ("PS256", PS256),
        ("PS384", PS384),
        ("PS512", PS512),
        ("ES256", ES256),
        ("ES384", ES384),
        ("ES512", ES512),
        ("EdDSA", EdDSA),
    ]
};

impl Alg {
    /// The JOSE name.
    fn name(self) -> &'static str {
        ACCEPTED_ALGORITHMS
            .iter()
            .find(|&&(_, alg)| alg == self)
            .map_or("", |&(name, _)| name)
    }
}

/// `alg` (a JWK's or a token header's), when it is one the contract accepts.
fn accepted_algorithm(alg: &str) -> Option<Alg> {
    ACCEPTED_ALGORITHMS
        .iter()
        .find(|(name, _)| *name == alg)
        .map(|&(_, alg)| alg)
}

/// "RS256, RS384, …": the accepted algorithms, for messages.
fn accepted_algorithm_names() -> String {
    let names: Vec<&str> = ACCEPTED_ALGORITHMS.iter().map(|&(name, _)| name).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accepted_algorithms_are_the_contracts_and_only_those() {
        assert_eq!(
            accepted_algorithm_names(),
            "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA"
        );
        for (name, alg) in ACCEPTED_ALGORITHMS {
            assert_eq!(accepted_algorithm(name), Some(alg));
            // Messages name algorithms by their Debug form, which is the JOSE name.
            assert_eq!(format!("{alg:?}"), name);
            assert_eq!(alg.name(), name);
        }
        for refused in [
            "none", "None", "HS256", "HS384", "HS512", "ES256K", "Ed25519", "eddsa", "rs256", "",
        ] {
            assert_eq!(accepted_algorithm(refused), None, "{refused}");
        }
    }
}
