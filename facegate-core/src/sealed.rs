//! Secrets at rest: the signing keys FaceGate generates, webhook secrets,
//! and the biometric data (face templates, the reference images and probes
//! of live sessions) are stored sealed with AES-256-GCM under a
//! host-supplied master key ([`crate::FaceGateBuilder::master_key`],
//! `FACEGATE_MASTER_KEY` in the examples), so a copy of the database alone
//! cannot forge tokens or give up anyone's face. Each value's row is its
//! associated data (a key's kid and public key; a template's tenant and
//! face id; an image's tenant and session id): a sealed value moved to
//! another row does not open. Without a master key they are stored as they
//! are, and FaceGate says so in its log on start.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use rand::RngCore;

/// What a sealed value starts with (version 1: AES-256-GCM, 96-bit nonce).
const MAGIC: &[u8] = b"fgsealed1:";
const NONCE_LEN: usize = 12;

/// 32 bytes, given as 64 hex characters or as base64; with the keys it
/// replaced, if it was rotated ([`MasterKey::with_previous`]): values are
/// sealed under this key, and open under it or under a previous one until
/// the re-seal pass ([`crate::FaceGate::run_maintenance`]) moves them over.
#[derive(Clone)]
pub struct MasterKey {
    current: [u8; 32],
    previous: Vec<[u8; 32]>,
}

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

/// A stored value, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub value: Vec<u8>,
    /// Stored as it is, or sealed under a previous key, while a master key
    /// is configured: the re-seal pass should seal it under the current one.
    pub stale: bool,
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            current: bytes,
            previous: Vec::new(),
        }
    }

    pub fn parse(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .ok_or(SealError::MalformedKey)?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Self::from_bytes)
            .map_err(|_| SealError::MalformedKey)
    }

    /// This key, rotated in to replace `old` (and the keys `old` replaced):
    /// what they sealed still opens, and the re-seal pass seals it again
    /// under this key. Drop `old` once a pass reports nothing left.
    pub fn with_previous(mut self, old: MasterKey) -> Self {
        for key in std::iter::once(old.current).chain(old.previous) {
            if key != self.current && !self.previous.contains(&key) {
                self.previous.push(key);
            }
        }
        self
    }

    /// A key for another purpose (`label`), derived with HMAC-SHA256: what
    /// it keys reveals nothing of the master key. From the current key
    /// only: what a derived key protects starts afresh after a rotation.
    pub(crate) fn derive(&self, label: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.current)
            .expect("HMAC takes a key of any length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> Aes256Gcm {
        cipher(&self.current)
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

/// A biometric value at rest, and the row it belongs to: what its seal is
/// bound to.
#[derive(Debug, Clone, Copy)]
pub enum Biometric<'a> {
    /// A face's template (the engine's embedding), bound to its user too:
    /// a sealed template re-pointed at another user does not open.
    Template {
        tenant: &'a crate::ids::TenantId,
        user: &'a crate::ids::UserId,
        face: &'a crate::ids::FaceId,
    },
    /// The reference frame a live session keeps for verify and enroll.
    ReferenceImage {
        tenant: &'a crate::ids::TenantId,
        session: &'a crate::ids::LivenessSessionId,
    },
    /// The engine's analysis of that frame.
    ReferenceProbe {
        tenant: &'a crate::ids::TenantId,
        session: &'a crate::ids::LivenessSessionId,
    },
}

impl Biometric<'_> {
    fn label(self) -> String {
        match self {
            Self::Template { tenant, user, face } => {
                format!("face-template:{tenant}:{user}:{face}")
            }
            Self::ReferenceImage { tenant, session } => {
                format!("reference-image:{tenant}:{session}")
            }
            Self::ReferenceProbe { tenant, session } => {
                format!("reference-probe:{tenant}:{session}")
            }
        }
    }

    /// `value` as the store keeps it: sealed under `key`, or as it is
    /// without one.
    pub fn seal(self, key: Option<&MasterKey>, value: Vec<u8>) -> Vec<u8> {
        match key {
            Some(key) => key.seal(&self.label(), &value),
            None => value,
        }
    }

    /// [`Self::seal`] for a text column (a base64 JPEG): the marker, then
    /// base64. A base64 image never starts with the marker (`:` is not a
    /// base64 character).
    pub fn seal_text(self, key: Option<&MasterKey>, value: String) -> String {
        match key {
            Some(key) => {
                let sealed = key.seal(&self.label(), value.as_bytes());
                let body = base64::engine::general_purpose::STANDARD.encode(&sealed[MAGIC.len()..]);
                format!("{}{body}", std::str::from_utf8(MAGIC).expect("ASCII"))
            }
            None => value,
        }
    }

    /// The value in what the store keeps: opened if sealed, as it is if
    /// stored before a master key was configured.
    pub fn open(self, key: Option<&MasterKey>, stored: &[u8]) -> Result<Vec<u8>, SealError> {
        open(key, &self.label(), stored)
    }

    /// [`Self::open`], and whether it should be sealed again.
    pub fn open_reporting(
        self,
        key: Option<&MasterKey>,
        stored: &[u8],
    ) -> Result<Opened, SealError> {
        open_reporting(key, &self.label(), stored)
    }

    /// [`Self::open`] for [`Self::seal_text`]'s values.
    pub fn open_text(self, key: Option<&MasterKey>, stored: &str) -> Result<String, SealError> {
        let Some(body) = stored.as_bytes().strip_prefix(MAGIC) else {
            return Ok(stored.to_owned());
        };
        let label = self.label();
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| SealError::WrongKey(label.clone()))?;
        let opened = open(key, &label, &[MAGIC, &sealed].concat())?;
        String::from_utf8(opened).map_err(|_| SealError::WrongKey(label))
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC)
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
}

/// The secret in a stored value: opened with `key` if sealed, as it is if
/// not (stored before a master key was configured).
pub fn open(key: Option<&MasterKey>, label: &str, stored: &[u8]) -> Result<Vec<u8>, SealError> {
    open_reporting(key, label, stored).map(|opened| opened.value)
}

/// [`open`], and whether the value should be sealed again under the
/// current key.
pub fn open_reporting(
    key: Option<&MasterKey>,
    label: &str,
    stored: &[u8],
) -> Result<Opened, SealError> {
    let Some(body) = stored.strip_prefix(MAGIC) else {
        return Ok(Opened {
            value: stored.to_vec(),
            stale: key.is_some(),
        });
    };
    let key = key.ok_or_else(|| SealError::NoKey(label.to_owned()))?;
    if body.len() < NONCE_LEN {
        return Err(SealError::WrongKey(label.to_owned()));
    }
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    std::iter::once(&key.current)
        .chain(&key.previous)
        .enumerate()
        .find_map(|(at, candidate)| {
            let payload = Payload {
                msg: sealed,
                aad: label.as_bytes(),
            };
            cipher(candidate)
                .decrypt(Nonce::from_slice(nonce), payload)
                .ok()
                .map(|value| Opened {
                    value,
                    stale: at > 0,
                })
        })
        .ok_or_else(|| SealError::WrongKey(label.to_owned()))
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

    #[test]
    fn a_rotated_key_opens_what_its_predecessors_sealed() {
        let (one, two, three) = (
            MasterKey::from_bytes([1; 32]),
            MasterKey::from_bytes([2; 32]),
            MasterKey::from_bytes([3; 32]),
        );
        let by_one = one.seal("row", b"secret");
        let second = two.clone().with_previous(one.clone());
        let third = three.with_previous(second.clone());
        for key in [&second, &third] {
            let opened = open_reporting(Some(key), "row", &by_one).unwrap();
            assert_eq!(
                opened,
                Opened {
                    value: b"secret".to_vec(),
                    stale: true
                }
            );
        }
        let by_third = third.seal("row", b"secret");
        assert!(
            !open_reporting(Some(&third), "row", &by_third)
                .unwrap()
                .stale
        );
        // Sealed under the newest key: the old ones cannot open it.
        assert!(open(Some(&second), "row", &by_third).is_err());
        assert!(open(Some(&one), "row", &by_third).is_err());
        // Plain values are stale once a key is configured, not before.
        assert!(open_reporting(Some(&one), "row", b"plain").unwrap().stale);
        assert!(!open_reporting(None, "row", b"plain").unwrap().stale);
        // The derived keys follow the current key.
        assert_eq!(
            third.derive("x"),
            MasterKey::from_bytes([3; 32]).derive("x")
        );
    }

    #[test]
    fn biometrics_are_bound_to_their_tenant_and_row() {
        use crate::ids::{FaceId, LivenessSessionId, TenantId, UserId};
        let key = MasterKey::from_bytes([9; 32]);
        let (tenant, other_tenant) = (TenantId::generate(), TenantId::generate());
        let (face, other_face) = (FaceId::generate(), FaceId::generate());
        let (user, other_user) = (UserId::generate(), UserId::generate());
        let template = Biometric::Template {
            tenant: &tenant,
            user: &user,
            face: &face,
        };
        let sealed = template.seal(Some(&key), vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(is_sealed(&sealed));
        assert_eq!(
            template.open(Some(&key), &sealed).unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        for moved in [
            Biometric::Template {
                tenant: &tenant,
                user: &user,
                face: &other_face,
            },
            Biometric::Template {
                tenant: &other_tenant,
                user: &user,
                face: &face,
            },
            Biometric::Template {
                tenant: &tenant,
                user: &other_user,
                face: &face,
            },
        ] {
            assert!(matches!(
                moved.open(Some(&key), &sealed),
                Err(SealError::WrongKey(_))
            ));
        }
        assert!(matches!(
            template.open(None, &sealed),
            Err(SealError::NoKey(_))
        ));
        // Stored before the key was configured: read as it is.
        assert_eq!(template.open(Some(&key), &[1, 2]).unwrap(), [1, 2]);
        assert_eq!(template.seal(None, vec![1, 2]), [1, 2]);

        let session = LivenessSessionId::generate();
        let image = Biometric::ReferenceImage {
            tenant: &tenant,
            session: &session,
        };
        let jpeg = "/9j/4AAQSkZJRgABAQ==".to_owned();
        let sealed = image.seal_text(Some(&key), jpeg.clone());
        assert!(sealed.starts_with("fgsealed1:") && !sealed.contains(&jpeg));
        assert_eq!(image.open_text(Some(&key), &sealed).unwrap(), jpeg);
        let probe = Biometric::ReferenceProbe {
            tenant: &tenant,
            session: &session,
        };
        assert!(probe.open_text(Some(&key), &sealed).is_err());
        assert_eq!(image.open_text(Some(&key), &jpeg).unwrap(), jpeg);
        assert!(
            image
                .open_text(Some(&key), "fgsealed1:not base64!")
                .is_err()
        );
    }
}
