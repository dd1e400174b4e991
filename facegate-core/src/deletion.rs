//! Deletion receipts: what deleting a user removed, counted in the deleting
//! transaction and signed with the token key ring, so that the user or an
//! auditor can later prove the deletion happened (`GET
//! /v1/deletions/:receipt_id` checks one; the JWS also checks offline
//! against the signing key's public half).
//!
//! A receipt is a JWS whose audience is [`RECEIPT_AUDIENCE`] and whose
//! `exp` is 1970's first second: it proves a past fact and grants nothing
//! (an expiry at `iat` would still pass a verifier's leeway for a minute). FaceGate's
//! own verifier refuses it as a token (audience, `nbf`, the login claims),
//! and so does any JWT library that checks expiry, as they all do by
//! default, should a receipt reach a service that verifies FaceGate tokens
//! against the JWKS without pinning the audience. Receipts are checked by
//! [`verify`], which ignores the expiry.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::SigningKeyRecord;
use crate::ids::{ReceiptId, TenantId, UserId};
use crate::token::{KeyRing, TokenError};

/// The `aud` of every receipt, and the JWS `typ`.
pub const RECEIPT_AUDIENCE: &str = "facegate-deletion-receipt";
const RECEIPT_TYPE: &str = "facegate-deletion+jwt";
/// Every receipt's `exp` (see the module's documentation).
pub const RECEIPT_EXPIRY: i64 = 1;

/// What one deletion removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Erased {
    /// Face enrollments (templates and their stored images).
    pub faces: u32,
    /// Reference images held by the user's liveness ceremonies.
    pub liveness_images: u32,
    /// Login sessions.
    pub sessions: u32,
    /// Refresh tokens of those sessions.
    pub refresh_tokens: u32,
    /// Faces queued for deletion at the face provider (a cloud engine's
    /// collection); the local engine keeps none elsewhere.
    pub provider_faces: u32,
}

/// Why a user was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeletionReason {
    UserRequest,
    TenantRequest,
    ConsentRevoked,
    /// The tenant's biometric retention period passed without a login.
    Retention,
}

impl DeletionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRequest => "user_request",
            Self::TenantRequest => "tenant_request",
            Self::ConsentRevoked => "consent_revoked",
            Self::Retention => "retention",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::UserRequest,
            Self::TenantRequest,
            Self::ConsentRevoked,
            Self::Retention,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == text)
    }
}

/// A stored receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletionReceipt {
    pub id: ReceiptId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub reason: DeletionReason,
    pub deleted_at: DateTime<Utc>,
    pub deleted: Erased,
    /// The signed receipt (compact JWS).
    pub receipt: String,
}

/// The receipt's signed claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptClaims {
    pub iss: String,
    pub aud: String,
    /// The receipt id.
    pub jti: String,
    pub tid: String,
    /// The deleted user.
    pub sub: String,
    pub iat: i64,
    /// [`RECEIPT_EXPIRY`]: expired from the start, never usable as a token.
    pub exp: i64,
    pub reason: DeletionReason,
    pub deleted: Erased,
}

/// A receipt to be sealed once the deleting transaction has counted what
/// it removed: the id, tenant, reason and time are fixed before it starts.
#[derive(Debug, Clone)]
pub struct ReceiptDraft {
    pub id: ReceiptId,
    pub tenant_id: TenantId,
    pub reason: DeletionReason,
    pub deleted_at: DateTime<Utc>,
}

impl ReceiptDraft {
    pub fn new(tenant_id: &TenantId, reason: DeletionReason, deleted_at: DateTime<Utc>) -> Self {
        Self {
            id: ReceiptId::generate(),
            tenant_id: tenant_id.clone(),
            reason,
            deleted_at,
        }
    }

    /// Signs the receipt for `user_id` with what was removed.
    pub fn seal(
        &self,
        ring: &KeyRing,
        user_id: &UserId,
        deleted: Erased,
    ) -> Result<DeletionReceipt, TokenError> {
        let claims = ReceiptClaims {
            iss: ring.config().issuer.clone(),
            aud: RECEIPT_AUDIENCE.to_owned(),
            jti: self.id.to_string(),
            tid: self.tenant_id.to_string(),
            sub: user_id.to_string(),
            iat: self.deleted_at.timestamp(),
            exp: RECEIPT_EXPIRY,
            reason: self.reason,
            deleted,
        };
        Ok(DeletionReceipt {
            id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            user_id: user_id.clone(),
            reason: self.reason,
            deleted_at: self.deleted_at,
            deleted,
            receipt: ring.sign_jws(RECEIPT_TYPE, &claims)?,
        })
    }
}

/// Checks a receipt's signature against any key that ever signed (a
/// receipt outlives key rotations; retired keys stay in the store) and
/// returns its claims and the key's `kid`.
pub fn verify(
    receipt: &str,
    keys: &[SigningKeyRecord],
    issuer: &str,
) -> Result<(ReceiptClaims, String), TokenError> {
    let header =
        jsonwebtoken::decode_header(receipt).map_err(|err| TokenError::Invalid(err.to_string()))?;
    if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(RECEIPT_TYPE) {
        return Err(TokenError::Invalid("not a deletion receipt".into()));
    }
    let kid = header
        .kid
        .ok_or_else(|| TokenError::Invalid("no kid".into()))?;
    let record = keys
        .iter()
        .find(|key| key.kid == kid)
        .ok_or_else(|| TokenError::UnknownKid(kid.clone()))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[RECEIPT_AUDIENCE]);
    let key = DecodingKey::from_ed_der(&record.public_key);
    let claims = jsonwebtoken::decode::<ReceiptClaims>(receipt, &key, &validation)
        .map_err(|err| TokenError::Invalid(err.to_string()))?
        .claims;
    Ok((claims, kid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{TokenConfig, generate_signing_key};

    fn ring() -> (KeyRing, SigningKeyRecord) {
        let key = generate_signing_key(Utc::now());
        let ring = KeyRing::new(
            std::slice::from_ref(&key),
            TokenConfig::default(),
            Utc::now(),
        )
        .unwrap();
        (ring, key)
    }

    fn sealed(ring: &KeyRing) -> DeletionReceipt {
        let draft = ReceiptDraft::new(
            &TenantId::generate(),
            DeletionReason::UserRequest,
            Utc::now(),
        );
        let erased = Erased {
            faces: 2,
            sessions: 1,
            refresh_tokens: 1,
            ..Erased::default()
        };
        draft.seal(ring, &UserId::generate(), erased).unwrap()
    }

    #[test]
    fn a_sealed_receipt_verifies_with_its_claims() {
        let (ring, key) = ring();
        let receipt = sealed(&ring);
        let (claims, kid) =
            verify(&receipt.receipt, std::slice::from_ref(&key), "facegate").unwrap();
        assert_eq!(kid, key.kid);
        assert_eq!(claims.jti, receipt.id.as_str());
        assert_eq!(claims.sub, receipt.user_id.as_str());
        assert_eq!(claims.deleted, receipt.deleted);
        assert_eq!(claims.aud, RECEIPT_AUDIENCE);
    }

    #[test]
    fn a_receipt_is_never_a_login_token() {
        let (ring, key) = ring();
        let receipt = sealed(&ring);
        assert!(ring.verify(&receipt.receipt).is_err());
        // Nor for a verifier that pins no audience: it is expired.
        let mut lax = Validation::new(Algorithm::EdDSA);
        lax.validate_aud = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &receipt.receipt,
            &DecodingKey::from_ed_der(&key.public_key),
            &lax,
        );
        assert!(matches!(
            decoded.map_err(|err| err.into_kind()),
            Err(jsonwebtoken::errors::ErrorKind::ExpiredSignature)
        ));
    }

    #[test]
    fn changed_receipts_and_other_keys_are_refused() {
        let (ring, key) = ring();
        let receipt = sealed(&ring);
        let (_, other) = self::ring();
        let other = SigningKeyRecord {
            kid: key.kid.clone(),
            ..other
        };
        assert!(verify(&receipt.receipt, &[other], "facegate").is_err());
        assert!(verify(&receipt.receipt, std::slice::from_ref(&key), "someone-else").is_err());
        // One claim changed: the counts.
        let [header, payload, signature]: [&str; 3] = receipt
            .receipt
            .split('.')
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&engine.decode(payload).unwrap()).unwrap();
        claims["deleted"]["faces"] = 0.into();
        let forged = format!("{header}.{}.{signature}", engine.encode(claims.to_string()));
        assert!(verify(&forged, std::slice::from_ref(&key), "facegate").is_err());
        // A login token is not a receipt.
        assert!(verify("a.b.c", &[key], "facegate").is_err());
    }

    #[test]
    fn reasons_round_trip() {
        for reason in [
            "user_request",
            "tenant_request",
            "consent_revoked",
            "retention",
        ] {
            assert_eq!(DeletionReason::parse(reason).unwrap().as_str(), reason);
        }
        assert_eq!(DeletionReason::parse("whim"), None);
    }
}
