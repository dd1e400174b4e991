//! Deletion receipts: every deletion of a user (`DELETE /v1/users/:id`,
//! `DELETE /v1/consent/:id` of a linked consent, the retention sweep)
//! answers with one, and `GET /v1/deletions/:receipt_id` checks one later.
//! See [`crate::deletion`].

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde::Serialize;

use super::{FaceGate, wire};
use crate::clock;
use crate::deletion::{DeletionReason, DeletionReceipt, Erased, ReceiptDraft};
use crate::domain::Tenant;
use crate::error::ApiError;
use crate::ids::{ReceiptId, TenantId, UserId};
use crate::store::StoreError;
use crate::token::KeyRing;

/// A receipt as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ReceiptView {
    pub(super) user_id: UserId,
    pub(super) reason: DeletionReason,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    pub(super) deleted_at: DateTime<Utc>,
    pub(super) deleted: Erased,
    pub(super) receipt_id: ReceiptId,
    /// The signed receipt (a compact JWS).
    pub(super) receipt: String,
}

impl From<DeletionReceipt> for ReceiptView {
    fn from(receipt: DeletionReceipt) -> Self {
        Self {
            user_id: receipt.user_id,
            reason: receipt.reason,
            deleted_at: receipt.deleted_at,
            deleted: receipt.deleted,
            receipt_id: receipt.id,
            receipt: receipt.receipt,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CheckedReceipt {
    #[serde(flatten)]
    receipt: ReceiptView,
    /// Whether the stored JWS verifies and says what the row says.
    verified: bool,
    /// The key that signed it.
    kid: Option<String>,
}

/// What a deletion needs to seal its receipt inside the store's transaction.
pub(super) struct Sealer {
    draft: ReceiptDraft,
    ring: Arc<KeyRing>,
}

impl Sealer {
    pub(super) fn receipt_id(&self) -> &ReceiptId {
        &self.draft.id
    }

    pub(super) fn seal(
        &self,
        user: &UserId,
        erased: Erased,
    ) -> Result<DeletionReceipt, StoreError> {
        self.draft
            .seal(&self.ring, user, erased)
            .map_err(|err| StoreError::Backend(format!("sealing a deletion receipt: {err}")))
    }
}

impl FaceGate {
    /// A sealer for one deletion, with the current key ring (loaded before
    /// the deleting transaction starts).
    pub(super) async fn sealer(
        &self,
        tenant: &TenantId,
        reason: DeletionReason,
    ) -> Result<Sealer, ApiError> {
        Ok(Sealer {
            draft: ReceiptDraft::new(tenant, reason, clock::now()),
            ring: self.key_ring().await?,
        })
    }

    /// `GET /v1/deletions/:receipt_id`: the tenant's receipt, with its
    /// signature checked against the key that made it (retired keys
    /// included: a receipt outlives rotations).
    pub(super) async fn get_deletion(
        &self,
        tenant: &Tenant,
        id: &ReceiptId,
    ) -> Result<Response<Bytes>, ApiError> {
        let stored = self
            .inner
            .store
            .deletion_receipt(&tenant.id, id)
            .await?
            .ok_or(ApiError::ReceiptNotFound)?;
        let keys = match &self.inner.configured_keys {
            Some(configured) => configured.clone(),
            None => self.inner.store.signing_keys().await?,
        };
        let ring = self.key_ring().await?;
        let issuer = &ring.config().issuer;
        let (verified, kid) = match crate::deletion::verify(&stored.receipt, &keys, issuer) {
            Ok((claims, kid)) => {
                let says_the_same = claims.jti == stored.id.as_str()
                    && claims.tid == stored.tenant_id.as_str()
                    && claims.sub == stored.user_id.as_str()
                    && claims.reason == stored.reason
                    && claims.deleted == stored.deleted
                    && claims.iat == stored.deleted_at.timestamp();
                (says_the_same, Some(kid))
            }
            Err(err) => {
                tracing::warn!(tenant = %tenant.id, receipt = %id, %err, "a stored deletion receipt does not verify");
                (false, None)
            }
        };
        Ok(wire::json_response(
            StatusCode::OK,
            &CheckedReceipt {
                receipt: stored.into(),
                verified,
                kid,
            },
        ))
    }
}
