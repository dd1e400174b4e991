//! API keys: `fg_live_…` / `fg_test_…` for servers, `fg_live_pub_…` /
//! `fg_test_pub_…` for browsers (see [`KeyScope`]): the scope is in the key
//! itself, so a server key pasted into front-end code can be found by grep.
//!
//! A minted key carries 32 base62 characters (≈190 bits) of randomness. Only
//! its SHA-256 is stored, and a key is looked up by that hash (indexed,
//! unique); the found hash is compared again in constant time. A fast hash is
//! the right tool here: with that much entropy there is nothing to
//! brute-force, and a slow KDF would put a deliberate delay on every API
//! call. The prefix kept for display shows a few secret characters only of
//! keys long enough to spare them.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::{KeyEnvironment, KeyScope};

const LIVE_PREFIX: &str = "fg_live_";
const TEST_PREFIX: &str = "fg_test_";
/// After the environment prefix, what marks a browser (client) key.
const CLIENT_MARK: &str = "pub_";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const MINTED_SECRET_LEN: usize = 32;
/// Shortest secret part accepted (for keys supplied by an operator, such as the bootstrap key).
pub const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 128;
/// Secret characters the display prefix shows, of secrets at least
/// [`MINTED_SECRET_LEN`] long (none of shorter ones).
const DISPLAY_CHARS: usize = 4;

/// A key as presented by a client, checked for shape but not yet for existence.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: String,
    environment: KeyEnvironment,
    scope: KeyScope,
}

impl std::fmt::Debug for ApiKey {
    // Never print the secret, even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}…)", self.display_prefix())
    }
}

impl ApiKey {
    /// A fresh random key for `environment` and `scope`.
    pub fn generate(environment: KeyEnvironment, scope: KeyScope) -> Self {
        let mut rng = rand::rng();
        let secret: String = (0..MINTED_SECRET_LEN)
            .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
            .collect();
        Self {
            key: format!("{}{secret}", Self::scheme(environment, scope)),
            environment,
            scope,
        }
    }

    /// What a key of this environment and scope starts with.
    fn scheme(environment: KeyEnvironment, scope: KeyScope) -> &'static str {
        match (environment, scope) {
            (KeyEnvironment::Live, KeyScope::Server) => LIVE_PREFIX,
            (KeyEnvironment::Test, KeyScope::Server) => TEST_PREFIX,
            (KeyEnvironment::Live, KeyScope::Client) => "fg_live_pub_",
            (KeyEnvironment::Test, KeyScope::Client) => "fg_test_pub_",
        }
    }

    /// Parses a key: `fg_live_` or `fg_test_`, then `pub_` for a client
    /// key, then 16–128 base62 characters.
    pub fn parse(key: &str) -> Option<Self> {
        let (environment, rest) = if let Some(rest) = key.strip_prefix(LIVE_PREFIX) {
            (KeyEnvironment::Live, rest)
        } else if let Some(rest) = key.strip_prefix(TEST_PREFIX) {
            (KeyEnvironment::Test, rest)
        } else {
            return None;
        };
        let (scope, secret) = match rest.strip_prefix(CLIENT_MARK) {
            Some(secret) => (KeyScope::Client, secret),
            None => (KeyScope::Server, rest),
        };
        let well_formed = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        well_formed.then(|| Self {
            key: key.to_owned(),
            environment,
            scope,
        })
    }

    pub fn environment(&self) -> KeyEnvironment {
        self.environment
    }

    pub fn scope(&self) -> KeyScope {
        self.scope
    }

    /// The full secret, to hand to its owner exactly once.
    pub fn expose_secret(&self) -> &str {
        &self.key
    }

    /// `fg_test_` (or `fg_test_pub_`…) plus, for a long secret, its first
    /// few characters: stored to tell keys apart in dashboards and logs,
    /// never used to find one.
    pub fn display_prefix(&self) -> &str {
        let scheme = Self::scheme(self.environment, self.scope).len();
        let shown = if self.key.len() - scheme >= MINTED_SECRET_LEN {
            DISPLAY_CHARS
        } else {
            0
        };
        &self.key[..scheme + shown]
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
        let a = ApiKey::generate(KeyEnvironment::Live, KeyScope::Server);
        let b = ApiKey::generate(KeyEnvironment::Live, KeyScope::Server);
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
        assert_eq!(ok.scope(), KeyScope::Server);
        assert_eq!(
            ok.display_prefix(),
            "fg_test_",
            "a short secret shows nothing"
        );
        assert!(ApiKey::parse("fg_test_pub_short").is_none());
    }

    #[test]
    fn client_keys_say_so() {
        let key = ApiKey::generate(KeyEnvironment::Test, KeyScope::Client);
        assert!(key.expose_secret().starts_with("fg_test_pub_"));
        assert_eq!(key.expose_secret().len(), "fg_test_pub_".len() + 32);
        let parsed = ApiKey::parse(key.expose_secret()).unwrap();
        assert_eq!(parsed.scope(), KeyScope::Client);
        assert_eq!(parsed.display_prefix().len(), "fg_test_pub_".len() + 4);
        assert!(key.expose_secret().starts_with(parsed.display_prefix()));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let key = ApiKey::generate(KeyEnvironment::Test, KeyScope::Server);
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.expose_secret()));
    }
}
