//! `POST /v1/verify`: a live session's face, searched in the tenant's
//! collection; on a match, a session with a signed token and a refresh token.

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::faces::MatchedUser;
use super::liveness::Device;
use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{Tenant, UserStatus};
use crate::error::ApiError;
use crate::ids::{LivenessSessionId, SessionId};
use crate::liveness;
use crate::providers::risk::{RiskAssessment, RiskContext};
use crate::store::FailureSubject;

/// A match this close to the threshold suggests the enrolled face has drifted
/// (age, new glasses): verify asks for a re-enrollment.
const RE_ENROLL_MARGIN: f32 = 5.0;

#[derive(Deserialize)]
struct VerifyRequest {
    liveness_session_id: LivenessSessionId,
}

#[derive(Serialize)]
struct VerifyResponse {
    matched: bool,
    confidence: f32,
    verification_token: Option<String>,
    refresh_token: Option<String>,
    session_id: Option<SessionId>,
    device_id: String,
    user: Option<MatchedUser>,
    risk: Option<RiskAssessment>,
    re_enrollment_required: bool,
    /// FACEIO's enrollment payload of the matched user (our addition).
    payload: Option<serde_json::Value>,
}

impl FaceGate {
    pub(super) async fn verify(
        &self,
        tenant: &Tenant,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: VerifyRequest = wire::parse_json(body)?;
        let device = Device::from_headers(headers, &tenant.id)?;
        let now = clock::now();
        let mut device_failures = self
            .ensure_not_locked(tenant, FailureSubject::Device(&device.id), now)
            .await?;
        let (liveness, probe) = self
            .take_live_session(tenant, &request.liveness_session_id)
            .await?;
        // Without an id from the client, the device that ran the ceremony.
        let device_id = if device.identified {
            device.id.clone()
        } else {
            liveness.device_id.clone()
        };

        let face = self.warm_face_engine(&tenant.id).await?;
        let threshold = tenant.settings.match_threshold;
        let Some(hit) = face.search(&tenant.id, &probe, threshold).await? else {
            return Ok(no_match(device_id));
        };
        let Some(user) = self.inner.store.user(&tenant.id, &hit.user_id).await? else {
            // The index knew a face the store has since deleted.
            return Ok(no_match(device_id));
        };
        match user.status {
            UserStatus::Active => {}
            UserStatus::Suspended => return Err(ApiError::UserSuspended),
            UserStatus::Locked => return Err(ApiError::UserLocked),
        }
        let user_failures = self
            .ensure_not_locked(tenant, FailureSubject::User(&user.id), now)
            .await?;
        if device_id != device.id {
            // The ceremony's device, not the one (made up) for this request.
            device_failures = self
                .failure_history(tenant, FailureSubject::Device(&device_id), now)
                .await?;
        }
        let recent_failures = liveness::recent_failures(&device_failures, now)
            + liveness::recent_failures(&user_failures, now);
        let risk = self
            .inner
            .risk
            .assess(&RiskContext {
                tenant_id: tenant.id.clone(),
                user_id: Some(user.id.clone()),
                device_id: device_id.clone(),
                device_identified: device.identified,
                user_agent: headers
                    .get(http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                confidence: hit.confidence,
                match_threshold: threshold,
                recent_failures,
            })
            .await;

        let opened = self
            .open_session(
                &user,
                &device_id,
                device.fingerprint.as_deref(),
                hit.confidence,
                risk.score,
            )
            .await?;
        let session = opened.session;
        tracing::info!(tenant = %tenant.id, user = %user.id, session = %session.id, risk = risk.score, "verified");
        Ok(wire::json_response(
            StatusCode::OK,
            &VerifyResponse {
                matched: true,
                confidence: hit.confidence,
                verification_token: Some(opened.verification_token),
                refresh_token: Some(opened.refresh_token),
                session_id: Some(session.id),
                device_id,
                payload: user.payload.clone(),
                user: Some(MatchedUser::from(user)),
                risk: Some(risk),
                re_enrollment_required: hit.confidence < threshold + RE_ENROLL_MARGIN,
            },
        ))
    }
}

/// 200 `matched: false`: a live person nobody enrolled.
fn no_match(device_id: String) -> Response<Bytes> {
    wire::json_response(
        StatusCode::OK,
        &VerifyResponse {
            matched: false,
            confidence: 0.0,
            verification_token: None,
            refresh_token: None,
            session_id: None,
            device_id,
            user: None,
            risk: None,
            re_enrollment_required: false,
            payload: None,
        },
    )
}
