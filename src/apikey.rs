//! API key format (contract, "API keys"): `evw_` + 40 random characters from
//! `0-9A-Za-z` + a 6-character CRC-32 checksum of those 40 characters in the
//! same alphabet. The checksum lets us refuse a mistyped or made-up key
//! without touching the registry; only the SHA-256 of a key is ever stored.
//!
//! Admin tokens (contract, "Admin listener") have the same shape with the
//! prefix `evwa_`: the functions ending in `_with` take the prefix.

use rand::Rng;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "evw_";
/// The admin tokens' prefix.
pub const ADMIN_PREFIX: &str = "evwa_";
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 40;
const CHECKSUM_LEN: usize = 6;
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;

/// SHA-256 of the whole key: what the database and the registry hold.
pub type KeyHash = [u8; 32];

/// A freshly generated key. `secret` is shown once and then dropped.
pub struct NewKey {
    pub secret: String,
    pub hash: KeyHash,
    /// `evw_` + the first 6 random characters: enough to recognise a key in a list.
    pub prefix: String,
}

pub fn generate() -> NewKey {
    generate_with(PREFIX)
}

/// A key or token with `prefix` (`evw_` or `evwa_`).
pub fn generate_with(prefix: &str) -> NewKey {
    let mut rng = rand::rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let secret = format!("{prefix}{random}{}", checksum(random.as_bytes()));
    NewKey {
        hash: hash(&secret),
        prefix: format!("{prefix}{}", &random[..6]),
        secret,
    }
}

pub fn hash(key: &str) -> KeyHash {
    Sha256::digest(key.as_bytes()).into()
}

/// Does this look like one of our keys at all? (Used to route a bearer
/// credential to API-key or JWT verification.)
pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// Format and checksum check: no lookup, no hashing.
pub fn well_formed(key: &str) -> bool {
    well_formed_with(PREFIX, key)
}

/// [`well_formed`] for keys or tokens with `prefix`.
pub fn well_formed_with(prefix: &str, key: &str) -> bool {
    let Some(body) = key.strip_prefix(prefix) else {
        return false;
    };
    if body.len() != RANDOM_LEN + CHECKSUM_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    checksum(random.as_bytes()) == sum
}

fn checksum(random: &[u8]) -> String {
    let mut n = crc32fast::hash(random);
    let mut digits = [b'0'; CHECKSUM_LEN];
    for d in digits.iter_mut().rev() {
        *d = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    // 62^6 > 2^32, so nothing is left over.
    String::from_utf8(digits.to_vec()).expect("alphabet is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_contract_shape() {
        for _ in 0..100 {
            let k = generate();
            assert_eq!(k.secret.len(), KEY_LEN);
            assert_eq!(KEY_LEN, 50);
            assert!(k.secret.starts_with("evw_"));
            assert!(k.secret[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(well_formed(&k.secret));
            assert_eq!(k.prefix, &k.secret[..10]);
            assert_eq!(k.hash, hash(&k.secret));
        }
    }

    #[test]
    fn checksum_matches_zlib_crc32_in_base62() {
        // Expected values computed with Python's zlib.crc32 and the contract's alphabet.
        assert_eq!(checksum("a".repeat(40).as_bytes()), "3gcfED");
        assert_eq!(
            checksum(b"0123456789ABCDEFGHIJabcdefghij0123456789"),
            "3BTHtv"
        );
        // CRC-32 of nothing is 0: left-padded with '0'.
        assert_eq!(checksum(b""), "000000");
        assert!(well_formed(&format!("evw_{}3gcfED", "a".repeat(40))));
    }

    #[test]
    fn any_single_change_breaks_the_checksum() {
        let k = generate().secret;
        for i in 4..k.len() {
            let mut bytes = k.clone().into_bytes();
            bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(!well_formed(&changed), "{changed}");
        }
        assert!(!well_formed(&k[..49]));
        assert!(!well_formed(&format!("{k}0")));
        assert!(!well_formed(&k.replacen("evw_", "evx_", 1)));
    }

    #[test]
    fn admin_tokens_have_their_own_prefix() {
        let t = generate_with(ADMIN_PREFIX);
        // The contract says "50 characters", but evwa_ + 40 + 6 is 51: the format wins.
        assert_eq!(t.secret.len(), 51);
        assert!(t.secret.starts_with("evwa_"));
        assert_eq!(t.prefix, &t.secret[..11]);
        assert!(well_formed_with(ADMIN_PREFIX, &t.secret));
        assert!(!well_formed(&t.secret), "an admin token is not an API key");
        assert!(!well_formed_with(ADMIN_PREFIX, &generate().secret));
    }
}
