//! Which consent texts a tenant may record consent for.

use sha2::{Digest, Sha256};

/// A consent text the host has published, with the hash clients must send back
/// to prove they showed exactly this text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ConsentVersion {
    pub consent_version: String,
    pub text: String,
    /// Lower-case hex SHA-256 of `text` as UTF-8.
    pub consent_text_hash: String,
}

impl ConsentVersion {
    pub fn new(version: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            consent_version: version.into(),
            consent_text_hash: hex::encode(Sha256::digest(text.as_bytes())),
            text,
        }
    }
}

/// The host's registry of consent versions. Consent can only be recorded for a
/// version listed here, with that version's exact text hash.
pub trait ConsentRegistry: Send + Sync + 'static {
    /// Every version a client may show, in the order to offer them.
    fn versions(&self) -> Vec<ConsentVersion>;

    fn version(&self, version: &str) -> Option<ConsentVersion> {
        self.versions()
            .into_iter()
            .find(|v| v.consent_version == version)
    }
}

/// A registry fixed at start-up, enough for most hosts.
#[derive(Debug, Clone, Default)]
pub struct StaticConsentRegistry {
    versions: Vec<ConsentVersion>,
}

impl StaticConsentRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a version with its canonical text; the hash is computed here.
    pub fn with_version(mut self, version: impl Into<String>, text: impl Into<String>) -> Self {
        self.versions.push(ConsentVersion::new(version, text));
        self
    }
}

impl ConsentRegistry for StaticConsentRegistry {
    fn versions(&self) -> Vec<ConsentVersion> {
        self.versions.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex_of_the_text() {
        let registry = StaticConsentRegistry::new().with_version("v1", "abc");
        let v1 = registry.version("v1").unwrap();
        assert_eq!(
            v1.consent_text_hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(registry.version("v2").is_none());
    }
}
