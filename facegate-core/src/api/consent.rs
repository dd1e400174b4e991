//! Biometric consent: `GET /v1/consent/versions`, `POST /v1/consent`,
//! `DELETE /v1/consent/:id`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::deletions::ReceiptView;
use super::{FaceGate, wire};
use crate::clock;
use crate::deletion::DeletionReason;
use crate::domain::{ConsentRecord, KeyScope, Tenant};
use crate::error::ApiError;
use crate::events::{Event, EventKind};
use crate::ids::{ConsentId, UserId};
use crate::providers::consent::ConsentVersion;

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ConsentVersionsResponse {
    versions: Vec<ConsentVersion>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct RecordConsentRequest {
    consent_version: String,
    consent_text_hash: String,
    user_id: Option<UserId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct RecordConsentResponse {
    consent_id: ConsentId,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    consented_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct RevokeConsentResponse {
    revoked: bool,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    revoked_at: DateTime<Utc>,
    user_deleted: bool,
    /// The deletion's receipt, when a linked user was deleted (its fields
    /// beside these, as `DELETE /v1/users/:id` answers them).
    #[serde(flatten)]
    #[schema(ignore)]
    deletion: Option<ReceiptView>,
}

impl FaceGate {
    pub(super) fn consent_versions(&self) -> Response<Bytes> {
        wire::json_response(
            StatusCode::OK,
            &ConsentVersionsResponse {
                versions: self.inner.consent.versions(),
            },
        )
    }

    /// A client key records new consent only: linking consent to an
    /// existing user is the host's (server key) business.
    pub(super) async fn record_consent(
        &self,
        tenant: &Tenant,
        scope: KeyScope,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: RecordConsentRequest = wire::parse_json(body)?;
        if scope == KeyScope::Client && request.user_id.is_some() {
            return Err(ApiError::InsufficientScope {
                required: KeyScope::Server.as_str(),
            });
        }
        let version = self
            .inner
            .consent
            .version(&request.consent_version)
            .ok_or(ApiError::UnknownConsentVersion)?;
        if !request
            .consent_text_hash
            .eq_ignore_ascii_case(&version.consent_text_hash)
        {
            return Err(ApiError::ConsentHashMismatch);
        }
        if let Some(user_id) = &request.user_id {
            self.inner
                .store
                .user(&tenant.id, user_id)
                .await?
                .ok_or(ApiError::UserNotFound)?;
        }
        let record = ConsentRecord {
            id: ConsentId::generate(),
            tenant_id: tenant.id.clone(),
            user_id: request.user_id,
            consent_version: version.consent_version,
            consent_text_hash: version.consent_text_hash,
            consented_at: clock::now(),
            revoked_at: None,
        };
        self.inner.store.insert_consent(&record).await?;
        Ok(wire::json_response(
            StatusCode::CREATED,
            &RecordConsentResponse {
                consent_id: record.id,
                consented_at: record.consented_at,
            },
        ))
    }

    /// Revokes the consent and deletes the linked user with all face data.
    /// Repeating the call is harmless: it reports the first revocation.
    pub(super) async fn revoke_consent(
        &self,
        tenant: &Tenant,
        id: &ConsentId,
    ) -> Result<Response<Bytes>, ApiError> {
        let now = clock::now();
        let sealer = self
            .sealer(&tenant.id, DeletionReason::ConsentRevoked)
            .await?;
        let events = |user: Option<&UserId>| {
            let revoked = Event::new(
                &tenant.id,
                EventKind::ConsentRevoked,
                json!({ "consent_id": id, "user_id": user, "user_deleted": user.is_some() }),
                now,
            );
            let deleted = user.map(|user| {
                Event::new(
                    &tenant.id,
                    EventKind::UserDeleted,
                    json!({ "user_id": user, "reason": "consent_revoked", "receipt_id": sealer.receipt_id() }),
                    now,
                )
            });
            std::iter::once(revoked).chain(deleted).collect()
        };
        let revocation = self
            .inner
            .store
            .revoke_consent(&tenant.id, id, now, &events, &|user, erased| {
                sealer.seal(user, erased)
            })
            .await?
            .ok_or(ApiError::ConsentNotFound)?;
        self.events_written();
        let user_deleted = revocation.deletion.is_some();
        if user_deleted {
            self.faces_removed(&tenant.id).await;
        }
        tracing::info!(tenant = %tenant.id, consent = %id, user_deleted, "consent revoked");
        Ok(wire::json_response(
            StatusCode::OK,
            &RevokeConsentResponse {
                revoked: true,
                revoked_at: revocation.record.revoked_at.unwrap_or(now),
                user_deleted,
                deletion: revocation.deletion.map(ReceiptView::from),
            },
        ))
    }
}
