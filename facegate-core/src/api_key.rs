//! API keys: `fg_live_…` / `fg_test_…`.
//!
//! A minted key carries 32 base62 characters (≈190 bits) of randomness. Only
//! its SHA-256 is stored, next to a short prefix used to find the candidate
//! row; the hashes are then compared in constant time. A fast hash is the right
//! tool here: with that much entropy there is nothing to brute-force, and a slow
//! KDF would put a deliberate delay on every API call.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::KeyEnvironment;

const LIVE_PREFIX: &str = "fg_live_";
const TEST_PREFIX: &str = "fg_test_";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const MINTED_SECRET_LEN: usize = 32;
/// Shortest secret part accepted (for keys supplied by an operator, such as the bootstrap key).
pub const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 128;
/// How many secret characters the stored lookup prefix keeps.
const LOOKUP_CHARS: usize = 8;

/// A key as presented by a client, checked for shape but not yet for existence.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: String,
    environment: KeyEnvironment,
}

impl std::fmt::Debug for ApiKey {
    // Never print the secret, even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}…)", self.lookup_prefix())
    }
}

impl ApiKey {
    /// A fresh random key for `environment`.
    pub fn generate(environment: KeyEnvironment) -> Self {
        let mut rng = rand::rng();
        let secret: String = (0..MINTED_SECRET_LEN)
            .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
            .collect();
        let prefix = match environment {
            KeyEnvironment::Live => LIVE_PREFIX,
            KeyEnvironment::Test => TEST_PREFIX,
        };
        Self {
            key: format!("{prefix}{secret}"),
            environment,
        }
    }

    /// Parses a key: `fg_live_` or `fg_test_` followed by 16–128 base62 characters.
    pub fn parse(key: &str) -> Option<Self> {
        let (environment, secret) = if let Some(secret) = key.strip_prefix(LIVE_PREFIX) {
            (KeyEnvironment::Live, secret)
        } else if let Some(secret) = key.strip_prefix(TEST_PREFIX) {
            (KeyEnvironment::Test, secret)
        } else {
            return None;
        };
        let well_formed = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        well_formed.then(|| Self {
            key: key.to_owned(),
            environment,
        })
    }

    pub fn environment(&self) -> KeyEnvironment {
        self.environment
    }

    /// The full secret, to hand to its owner exactly once.
    pub fn expose_secret(&self) -> &str {
        &self.key
    }

    /// `fg_test_` plus the first secret characters: stored and indexed for lookup.
    pub fn lookup_prefix(&self) -> &str {
        &self.key[..TEST_PREFIX.len() + LOOKUP_CHARS]
    }

    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.key.as_bytes()).into()
    }

    /// Constant-time comparison against a stored hash.
    pub fn matches(&self, stored_hash: &[u8; 32]) -> bool {
        self.hash().ct_eq(stored_hash).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_and_differ() {
        let a = ApiKey::generate(KeyEnvironment::Live);
        let b = ApiKey::generate(KeyEnvironment::Live);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().starts_with("fg_live_"));
        assert_eq!(a.expose_secret().len(), "fg_live_".len() + 32);
        assert_eq!(ApiKey::parse(a.expose_secret()), Some(a.clone()));
        assert!(a.matches(&a.hash()));
        assert!(!a.matches(&b.hash()));
    }

    #[test]
    fn rejects_malformed_keys() {
        for bad in [
            "",
            "fg_live_",
            "fg_live_short",
            "fg_prod_0123456789abcdef",
            "sk_live_0123456789abcdef",
            "fg_test_0123456789abcde!",
            "fg_test_0123456789abcdef ",
        ] {
            assert!(ApiKey::parse(bad).is_none(), "{bad:?} should be rejected");
        }
        let ok = ApiKey::parse("fg_test_0123456789abcdef").unwrap();
        assert_eq!(ok.environment(), KeyEnvironment::Test);
        assert_eq!(ok.lookup_prefix(), "fg_test_01234567");
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let key = ApiKey::generate(KeyEnvironment::Test);
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.expose_secret()));
    }
}
