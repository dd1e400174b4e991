//! Secrets at rest: the signing keys FaceGate generates are stored sealed
//! with AES-256-GCM under a host-supplied master key
//! ([`crate::FaceGateBuilder::master_key`], `FACEGATE_MASTER_KEY` in the
//! examples), so a copy of the database alone cannot forge tokens. The
//! row's kid and public key are the associated data: a sealed key moved to
//! another row, or paired with another public key, does not open. Without
//! a master key they are stored as they are, and FaceGate says so in its
//! log on start.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use rand::RngCore;

/// What a sealed value starts with (version 1: AES-256-GCM, 96-bit nonce).
const MAGIC: &[u8] = b"fgsealed1:";
const NONCE_LEN: usize = 12;

/// 32 bytes, given as 64 hex characters or as base64.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a master key is 32 bytes: 64 hex characters, or base64")]
    MalformedKey,
    #[error("sealed secret {0} does not open with this master key")]
    WrongKey(String),
    #[error("secret {0} is sealed, and no master key is configured")]
    NoKey(String),
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn parse(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .ok_or(SealError::MalformedKey)?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Self)
            .map_err(|_| SealError::MalformedKey)
    }

    /// A key for another purpose (`label`), derived with HMAC-SHA256: what
    /// it keys reveals nothing of the master key.
    pub(crate) fn derive(&self, label: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }

    /// `secret` sealed, bound to `label` (the row it belongs to).
    pub fn seal(&self, label: &str, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: label.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message under 64 GiB");
        [MAGIC, &nonce, &sealed].concat()
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC)
}

/// The secret in a stored value: opened with `key` if sealed, as it is if
/// not (stored before a master key was configured).
pub fn open(key: Option<&MasterKey>, label: &str, stored: &[u8]) -> Result<Vec<u8>, SealError> {
    let Some(body) = stored.strip_prefix(MAGIC) else {
        return Ok(stored.to_vec());
    };
    let key = key.ok_or_else(|| SealError::NoKey(label.to_owned()))?;
    if body.len() < NONCE_LEN {
        return Err(SealError::WrongKey(label.to_owned()));
    }
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    key.cipher()
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: label.as_bytes(),
            },
        )
        .map_err(|_| SealError::WrongKey(label.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_refuses_the_wrong_key_or_row() {
        let key = MasterKey::parse(&"ab".repeat(32)).unwrap();
        let sealed = key.seal("key-1", b"private");
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(open(Some(&key), "key-1", &sealed).unwrap(), b"private");
        let other = MasterKey::from_bytes([7; 32]);
        assert!(matches!(
            open(Some(&other), "key-1", &sealed),
            Err(SealError::WrongKey(_))
        ));
        assert!(matches!(
            open(Some(&key), "key-2", &sealed),
            Err(SealError::WrongKey(_))
        ));
        assert!(matches!(
            open(None, "key-1", &sealed),
            Err(SealError::NoKey(_))
        ));
        assert_eq!(open(Some(&key), "key-1", b"plain").unwrap(), b"plain");
        assert!(MasterKey::parse("short").is_err());
        let b64 = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert!(MasterKey::parse(&b64).is_ok());
    }
}
