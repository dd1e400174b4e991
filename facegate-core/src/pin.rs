//! PINs (FACEIO's second factor): 4–16 digits, stored as Argon2id hashes.
//!
//! The salt is the tenant's, not the user's: the uniqueness option then
//! needs one hash and one equality lookup instead of a slow hash per user,
//! and verify hashes once. A PIN has so little entropy that a per-user salt
//! would not stop an offline guess anyway; the slow hash and the three tries
//! a liveness session allows are what protect it.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, FieldIssue};
use crate::ids::TenantId;

/// A PIN as the user typed it, checked to be 4–16 ASCII digits.
#[derive(Clone)]
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

impl Pin {
    pub const MIN_DIGITS: usize = 4;
    pub const MAX_DIGITS: usize = 16;

    pub fn parse(field: &str, value: &str) -> Result<Pin, ApiError> {
        let digits = (Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_digit());
        if digits {
            Ok(Pin(value.to_owned()))
        } else {
            Err(ApiError::Validation(vec![FieldIssue::new(
                field,
                "a PIN is 4 to 16 digits",
            )]))
        }
    }

    /// The PIN's hash under `tenant`'s salt, computed off the async threads
    /// (Argon2 takes tens of milliseconds and 19 MiB by design), at most one
    /// per core at a time: a flood of PINs queues instead of taking the
    /// machine's memory and every blocking thread.
    pub async fn hash(&self, tenant: &TenantId) -> Result<String, ApiError> {
        let pin = self.0.clone();
        let salt = tenant_salt(tenant);
        // The permit goes with the work: a request dropped while hashing
        // keeps its slot until the hash is done.
        let permit = hashing_slots()
            .clone()
            .acquire_owned()
            .await
            .map_err(|err| ApiError::Internal(format!("PIN hash slots: {err}")))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hasher()
                .hash_password(pin.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|err| ApiError::Internal(format!("PIN hash: {err}")))
        })
        .await
        .map_err(|err| ApiError::Internal(format!("PIN hash task: {err}")))?
    }
}

/// Whether two PIN hashes (from [`Pin::hash`]) are the same, in constant time.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// One Argon2 computation per core.
fn hashing_slots() -> &'static std::sync::Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        std::sync::Arc::new(tokio::sync::Semaphore::new(cores))
    })
}

/// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn tenant_salt(tenant: &TenantId) -> SaltString {
    let digest = Sha256::new()
        .chain_update(b"facegate-pin\0")
        .chain_update(tenant.as_str().as_bytes())
        .finalize();
    SaltString::encode_b64(&digest[..16]).expect("16 bytes make a valid salt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_4_to_16_digits_only() {
        for good in ["0000", "1234", "0123456789012345"] {
            assert!(Pin::parse("pin", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "123",
            "01234567890123456",
            "12a4",
            "１２３４",
            " 1234",
            "12 34",
        ] {
            assert!(Pin::parse("pin", bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn hashes_are_per_tenant_and_never_the_pin() {
        let pin = Pin::parse("pin", "4711").unwrap();
        let a = pin.hash(&TenantId::from_string("tenant_a")).await.unwrap();
        let again = pin.hash(&TenantId::from_string("tenant_a")).await.unwrap();
        let b = pin.hash(&TenantId::from_string("tenant_b")).await.unwrap();
        let other = Pin::parse("pin", "4712")
            .unwrap()
            .hash(&TenantId::from_string("tenant_a"))
            .await
            .unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert!(!a.contains("4711"));
        assert!(same_hash(&a, &again));
        assert!(!same_hash(&a, &b));
        assert!(!same_hash(&a, &other));
    }
}
