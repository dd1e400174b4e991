//! `POST /v1/verify`: a live session's face, searched in the tenant's
//! collection; on a match, a session with a signed token and a refresh token.

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::faces::MatchedUser;
use super::liveness::{Device, LiveFace};
use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{PinMode, PinSettings, Tenant, User, UserStatus};
use crate::error::ApiError;
use crate::ids::{LivenessSessionId, SessionId};
use crate::liveness;
use crate::pin::{self, Pin};
use crate::providers::risk::{RiskAssessment, RiskContext};
use crate::store::{FailureSubject, PinLimits, PinTry};

/// A match this close to the threshold suggests the enrolled face has drifted
/// (age, new glasses): verify asks for a re-enrollment.
const RE_ENROLL_MARGIN: f32 = 5.0;

#[derive(Deserialize)]
struct VerifyRequest {
    liveness_session_id: LivenessSessionId,
    /// The matched user's PIN, when an earlier attempt answered `PIN_REQUIRED`.
    pin: Option<String>,
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
        let session_id = &request.liveness_session_id;
        // Spent below once the outcome is final; a PIN prompt keeps it.
        let (liveness, probe) = self
            .live_probe(tenant, session_id, LiveFace::ForSearch)
            .await?;
        // Without an id from the client, the device that ran the ceremony.
        let device_id = if device.identified {
            device.id.clone()
        } else {
            liveness.device_id.clone()
        };

        let face = self.warm_face_engine(&tenant.id).await?;
        let threshold = tenant.settings.match_threshold;
        let candidates = self
            .stored_candidates(face, &tenant.id, &probe, threshold)
            .await?;
        let Some(hit) = candidates.first() else {
            self.consume(tenant, session_id, now).await?;
            return Ok(no_match(device_id));
        };
        let Some(user) = self.inner.store.user(&tenant.id, &hit.user_id).await? else {
            // The index knew a face the store has since deleted.
            self.consume(tenant, session_id, now).await?;
            return Ok(no_match(device_id));
        };
        let refused = match user.status {
            UserStatus::Active => None,
            UserStatus::Suspended => Some(ApiError::UserSuspended),
            UserStatus::Locked => Some(ApiError::UserLocked),
        };
        if let Some(refused) = refused {
            self.consume(tenant, session_id, now).await?;
            return Err(refused);
        }
        let mut user_failures = self
            .ensure_not_locked(tenant, FailureSubject::User(&user.id), now)
            .await?;
        // Another enrolled person matching too: the PIN says which one it is.
        let rival = match candidates.get(1) {
            Some(second) => self
                .inner
                .store
                .user(&tenant.id, &second.user_id)
                .await?
                .filter(|rival| rival.status == UserStatus::Active)
                .map(|rival| (rival, second.confidence)),
            None => None,
        };
        let (user, confidence) = if pin_needed(tenant, (&user, hit.confidence), rival.as_ref()) {
            let chosen = self
                .check_pin(
                    tenant,
                    session_id,
                    (user, hit.confidence),
                    rival,
                    request.pin.as_deref(),
                )
                .await?;
            if chosen.0.id != hit.user_id {
                user_failures = self
                    .ensure_not_locked(tenant, FailureSubject::User(&chosen.0.id), now)
                    .await?;
            }
            chosen
        } else {
            (user, hit.confidence)
        };
        self.consume(tenant, session_id, now).await?;
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
                confidence,
                match_threshold: threshold,
                recent_failures,
            })
            .await;

        let opened = self
            .open_session(
                &user,
                &device_id,
                device.fingerprint.as_deref(),
                confidence,
                risk.score,
            )
            .await?;
        let session = opened.session;
        tracing::info!(tenant = %tenant.id, user = %user.id, session = %session.id, risk = risk.score, "verified");
        Ok(wire::json_response(
            StatusCode::OK,
            &VerifyResponse {
                matched: true,
                confidence,
                verification_token: Some(opened.verification_token),
                refresh_token: Some(opened.refresh_token),
                session_id: Some(session.id),
                device_id,
                payload: user.payload.clone(),
                user: Some(MatchedUser::from(user)),
                risk: Some(risk),
                re_enrollment_required: confidence < threshold + RE_ENROLL_MARGIN,
            },
        ))
    }
}

/// A matched user and the match's confidence.
type Candidate = (User, f32);

/// Whether the match must be confirmed with a PIN: always (by the tenant's
/// rule), or when it is ambiguous: another enrolled person matches too, or
/// the match is close enough to the threshold that a look-alike could be the
/// one matched. Only people with a PIN can confirm; without one (enrolled
/// before the rule was set) a match stands on the face alone.
fn pin_needed(tenant: &Tenant, best: (&User, f32), rival: Option<&Candidate>) -> bool {
    let (user, confidence) = best;
    let anyone_has_pin =
        user.pin_hash.is_some() || rival.is_some_and(|(r, _)| r.pin_hash.is_some());
    anyone_has_pin
        && match tenant.settings.pin.mode {
            PinMode::Off => false,
            PinMode::Always => true,
            PinMode::WhenAmbiguous => {
                rival.is_some()
                    || confidence < tenant.settings.match_threshold + PinSettings::AMBIGUOUS_MARGIN
            }
        }
}

impl FaceGate {
    /// The candidate whose PIN was presented. 401 `PIN_REQUIRED` without a
    /// PIN (the session is kept for the retry), 401 `WRONG_PIN_CODE` with the
    /// tries left for a wrong one; the last wrong try spends the session and
    /// counts as a failed check of the best match. Each try is reserved in
    /// the store before the (slow) hash, against the session and the user,
    /// so parallel requests cannot test more PINs than allowed; a right PIN
    /// gives its try back.
    async fn check_pin(
        &self,
        tenant: &Tenant,
        session_id: &LivenessSessionId,
        best: Candidate,
        rival: Option<Candidate>,
        presented: Option<&str>,
    ) -> Result<Candidate, ApiError> {
        let Some(presented) = presented else {
            return Err(ApiError::PinRequired);
        };
        let pin = Pin::parse("pin", presented)?;
        let best_id = best.0.id.clone();
        // The PIN is compared with everyone who has one, and charged to each.
        let charged: Vec<_> = std::iter::once(&best)
            .chain(rival.as_ref())
            .filter(|(user, _)| user.pin_hash.is_some())
            .map(|(user, _)| user.id.clone())
            .collect();
        let now = clock::now();
        let window =
            chrono::Duration::minutes(i64::from(tenant.settings.liveness.lockout_minutes.max(1)));
        let limits = PinLimits {
            session_max: PinSettings::MAX_TRIES,
            user_max: tenant.settings.pin.max_wrong_per_user.max(1),
            user_window: window,
        };
        let session_tries = match self
            .inner
            .store
            .reserve_pin_try(&tenant.id, session_id, &charged, limits, now)
            .await?
        {
            PinTry::Reserved { session_tries } => session_tries,
            PinTry::SessionSpent => return Err(ApiError::LivenessSessionConsumed),
            PinTry::UserLocked { window_started_at } => {
                let left = (window_started_at + window - now).num_seconds().max(1);
                tracing::warn!(tenant = %tenant.id, user = %best_id, "PIN tries exhausted");
                return Err(ApiError::TooManyAttempts {
                    retry_after_secs: u64::try_from(left).unwrap_or(1),
                });
            }
        };
        let hash = pin.hash(&tenant.id).await?;
        let holds_pin = |(user, _): &Candidate| {
            user.pin_hash
                .as_deref()
                .is_some_and(|stored| pin::same_hash(stored, &hash))
        };
        if let Some(chosen) = std::iter::once(best).chain(rival).find(holds_pin) {
            self.inner
                .store
                .refund_pin_try(&tenant.id, session_id, &charged, now)
                .await?;
            return Ok(chosen);
        }
        let attempts_remaining = PinSettings::MAX_TRIES.saturating_sub(session_tries);
        if attempts_remaining == 0 {
            // Lost to a concurrent request is as good as spent here.
            let _ = self.consume(tenant, session_id, clock::now()).await;
        }
        tracing::info!(tenant = %tenant.id, user = %best_id, attempts_remaining, "wrong PIN");
        Err(ApiError::WrongPinCode { attempts_remaining })
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
