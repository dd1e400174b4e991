//! `POST /v1/verify`: a live session's face, searched in the tenant's
//! collection; on a match that the tenant's rules allow, a session with a
//! signed token and a refresh token. The same route finishes the two
//! follow-ups of a login (our additions to the body):
//! - `step_up_for`: a login that scored for an active-liveness step-up,
//!   completed by a second, active-mode check of the same person;
//! - `session_id`: an open session re-verified (continuous
//!   re-verification): same session, new tokens.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::faces::MatchedUser;
use super::liveness::{Device, LiveFace};
use super::risk::{Decision, LoginFacts, RiskView, StepUpType, recent};
use super::sessions::session_revoked;
use super::threat_intel::Sighting;
use super::usage::LoginOutcome;
use super::{ClientAddr, FaceGate, wire};
use crate::clock;
use crate::domain::{
    Handoff, LivenessMode, LivenessSession, PinMode, PinSettings, StepUp, Tenant, User, UserStatus,
};
use crate::error::{ApiError, FieldIssue};
use crate::events::{Event, EventKind};
use crate::ids::{LivenessSessionId, SessionId, StepUpId};
use crate::pin::{self, Pin};
use crate::policy::{RiskRules, RotationStatus, TenantPolicies};
use crate::providers::face::FaceProbe;
use crate::providers::risk::RiskScore;
use crate::store::{FailureSubject, PinLimits, PinTry};
use crate::threat::ThreatKind;

/// A match this close to the threshold suggests the enrolled face has drifted
/// (age, new glasses): verify asks for a re-enrollment.
const RE_ENROLL_MARGIN: f32 = 5.0;

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct VerifyRequest {
    pub(super) liveness_session_id: LivenessSessionId,
    /// The matched user's PIN, when an earlier attempt answered
    /// `PIN_REQUIRED` or a step-up of type `pin`.
    pub(super) pin: Option<String>,
    /// Completes the login that answered this `step_up_id`.
    pub(super) step_up_for: Option<StepUpId>,
    /// Re-verifies this open session, with its current refresh token as
    /// proof that the caller holds it.
    pub(super) session_id: Option<SessionId>,
    pub(super) refresh_token: Option<String>,
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub(super) struct VerifyResponse {
    matched: bool,
    confidence: f32,
    verification_token: Option<String>,
    refresh_token: Option<String>,
    session_id: Option<SessionId>,
    device_id: String,
    user: Option<MatchedUser>,
    risk: Option<RiskView>,
    re_enrollment_required: bool,
    /// FACEIO's enrollment payload of the matched user (our addition).
    payload: Option<serde_json::Value>,
    /// For a step-up of type `liveness_active`: send it back as `step_up_for`.
    step_up_id: Option<StepUpId>,
}

/// The request as the three flows need it.
struct Attempt<'a> {
    tenant: &'a Tenant,
    headers: &'a HeaderMap,
    client: Option<ClientAddr>,
    device: Device,
    policies: TenantPolicies,
    now: DateTime<Utc>,
    /// A login finished on a phone for this desktop: it gets the session.
    handoff: Option<&'a Handoff>,
}

impl Attempt<'_> {
    fn user_agent(&self) -> Option<&str> {
        self.headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
    }

    fn rules(&self) -> &RiskRules {
        &self.policies.risk
    }
}

impl FaceGate {
    pub(super) async fn verify(
        &self,
        tenant: &Tenant,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: VerifyRequest = wire::parse_json(body)?;
        if request.step_up_for.is_some() && request.session_id.is_some() {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "session_id",
                "send either step_up_for or session_id, not both",
            )]));
        }
        self.verify_attempt(tenant, parts, &request, None).await
    }

    /// Verify as `POST /v1/handoff/:token/complete` runs it for the phone:
    /// the same rules, and the session goes to the handoff's desktop.
    pub(super) async fn verify_for_handoff(
        &self,
        tenant: &Tenant,
        parts: &http::request::Parts,
        request: &VerifyRequest,
        handoff: &Handoff,
    ) -> Result<Response<Bytes>, ApiError> {
        if request.session_id.is_some() {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "session_id",
                "a handoff signs a desktop in; it does not re-verify a session",
            )]));
        }
        self.verify_attempt(tenant, parts, request, Some(handoff))
            .await
    }

    async fn verify_attempt(
        &self,
        tenant: &Tenant,
        parts: &http::request::Parts,
        request: &VerifyRequest,
        handoff: Option<&Handoff>,
    ) -> Result<Response<Bytes>, ApiError> {
        let headers = &parts.headers;
        let attempt = Attempt {
            tenant,
            headers,
            client: parts.extensions.get::<ClientAddr>().copied(),
            device: Device::from_headers(headers, &tenant.id)?,
            policies: self.policies(tenant).await?,
            now: clock::now(),
            handoff,
        };
        self.ensure_not_locked(
            tenant,
            attempt.rules(),
            FailureSubject::Device(&attempt.device.id),
            attempt.now,
        )
        .await?;
        let result = match (&request.step_up_for, &request.session_id) {
            (Some(step_up), _) => self.finish_step_up(&attempt, request, step_up).await,
            (None, Some(session)) => self.reverify(&attempt, request, session).await,
            (None, None) => self.sign_in(&attempt, request).await,
        };
        if let Err(err) = &result
            && is_refusal(err)
        {
            self.login_failed(&attempt, request, err.code()).await;
        }
        result
    }

    /// `auth.failed`: a login refused after its liveness session was
    /// looked at (not a malformed request).
    async fn login_failed(&self, attempt: &Attempt<'_>, request: &VerifyRequest, reason: &str) {
        let failed = Event::new(
            &attempt.tenant.id,
            EventKind::AuthFailed,
            json!({
                "reason": reason,
                "device_id": attempt.device.id,
                "liveness_session_id": request.liveness_session_id,
                "handoff": attempt.handoff.is_some(),
            }),
            attempt.now,
        );
        self.record_events(&[failed]).await;
    }

    /// `risk.blocked`: a login the rules refused on its score.
    async fn risk_blocked(&self, attempt: &Attempt<'_>, user: &User, risk: &RiskView) {
        let blocked = Event::new(
            &attempt.tenant.id,
            EventKind::RiskBlocked,
            json!({
                "user_id": user.id,
                "device_id": attempt.device.id,
                "score": risk.score,
                "factors": risk.factors,
            }),
            attempt.now,
        );
        self.record_events(&[blocked]).await;
    }

    /// A login: search, PIN when ambiguous, rotation, risk; then a session,
    /// a step-up, or a refusal.
    async fn sign_in(
        &self,
        attempt: &Attempt<'_>,
        request: &VerifyRequest,
    ) -> Result<Response<Bytes>, ApiError> {
        let tenant = attempt.tenant;
        let now = attempt.now;
        let session_id = &request.liveness_session_id;
        // Spent below once the outcome is final; a PIN prompt keeps it.
        let (liveness, probe) = self
            .live_probe(tenant, session_id, LiveFace::ForSearch)
            .await?;
        // The login is charged to and remembered as the device that ran the
        // ceremony (the headers it started with), whatever this request
        // claims: headers changed in between dodge no lockout and borrow no
        // known device.
        let device_id = liveness.device_id.clone();
        let Some((user, confidence, rival)) = self.search(tenant, &probe).await? else {
            self.consume(tenant, session_id, now).await?;
            self.login_failed(attempt, request, "NO_MATCH").await;
            self.sight_on(
                &tenant.id,
                &device_id,
                attempt.client,
                ThreatKind::Enumeration,
                session_id.as_str(),
            )
            .await;
            return Ok(no_match(device_id));
        };
        // One device showing many enrolled faces (each counted by a hash).
        let whom = self.indicators().user(&tenant.id, user.id.as_str());
        let hop = Sighting {
            kind: ThreatKind::IdentityHopping,
            indicator: self.indicators().device(&device_id),
            subject: &whom,
        };
        self.sight(&tenant.id, vec![hop]).await;
        if let Err(refused) = usable(&user) {
            self.consume(tenant, session_id, now).await?;
            return Err(refused);
        }
        let mut user_failures = self
            .ensure_not_locked(tenant, attempt.rules(), FailureSubject::User(&user.id), now)
            .await?;
        // Another enrolled person matching too: the PIN says which one it is.
        let ambiguous = pin_needed(tenant, (&user, confidence), rival.as_ref());
        let (user, confidence) = if ambiguous {
            let best_id = user.id.clone();
            let chosen = self
                .check_pin(
                    attempt,
                    session_id,
                    &device_id,
                    (user, confidence),
                    rival,
                    request.pin.as_deref(),
                )
                .await?;
            if chosen.0.id != best_id {
                user_failures = self
                    .ensure_not_locked(
                        tenant,
                        attempt.rules(),
                        FailureSubject::User(&chosen.0.id),
                        now,
                    )
                    .await?;
            }
            chosen
        } else {
            (user, confidence)
        };

        let rotation = self.rotation_status(attempt, &user).await?;
        if rotation == RotationStatus::Expired {
            // The live session is kept: the user re-enrolls with it.
            tracing::info!(tenant = %tenant.id, user = %user.id, "face past rotation and grace");
            return Err(ApiError::ReEnrollmentRequired);
        }

        let score = self
            .score_login(
                attempt,
                &user,
                (&device_id, attempt.device.identified),
                &liveness,
                confidence,
                &user_failures,
            )
            .await?;
        let plain = RiskView::new(score.clone(), attempt.rules(), None);
        tracing::info!(
            tenant = %tenant.id, user = %user.id, score = plain.score, decision = ?plain.decision,
            mode = ?plain.mode, factors = ?plain.factors, "login scored"
        );
        if plain.enforces(Decision::Block) {
            self.consume(tenant, session_id, now).await?;
            self.risk_blocked(attempt, &user, &plain).await;
            tracing::warn!(tenant = %tenant.id, user = %user.id, score = plain.score, "login blocked by risk");
            return Err(ApiError::RiskBlocked);
        }
        // A PIN asked for the ambiguity has stepped the login up already.
        let mut risk = plain;
        if risk.enforces(Decision::StepUp) && !ambiguous {
            if user.pin_hash.is_some() {
                let Some(presented) = request.pin.as_deref() else {
                    // Kept for the retry with the PIN, as for `PIN_REQUIRED`.
                    let risk = RiskView::new(score, attempt.rules(), Some(StepUpType::Pin));
                    return Ok(step_up_answer(user, device_id, risk, None));
                };
                self.check_pin(
                    attempt,
                    session_id,
                    &device_id,
                    (user.clone(), confidence),
                    None,
                    Some(presented),
                )
                .await?;
                risk.step_up_type = Some(StepUpType::Pin);
            } else {
                self.consume(tenant, session_id, now).await?;
                let step_up = StepUp {
                    id: StepUpId::generate(),
                    tenant_id: tenant.id.clone(),
                    user_id: user.id.clone(),
                    device_id: device_id.clone(),
                    device_fingerprint: attempt.device.fingerprint.clone(),
                    confidence,
                    risk_score: score.score,
                    created_at: now,
                    expires_at: now + chrono::Duration::seconds(StepUp::LIFETIME_SECS),
                    completed_at: None,
                };
                self.inner.store.insert_step_up(&step_up).await?;
                // Through a handoff, only that handoff may finish it.
                if let Some(handoff) = attempt.handoff {
                    self.inner
                        .store
                        .add_handoff_ceremony(handoff, step_up.id.as_str())
                        .await?;
                }
                let risk = RiskView::new(score, attempt.rules(), Some(StepUpType::LivenessActive));
                return Ok(step_up_answer(user, device_id, risk, Some(step_up.id)));
            }
        }
        self.consume(tenant, session_id, now).await?;
        self.issue_login(attempt, user, &device_id, confidence, risk, rotation)
            .await
    }

    /// The follow-up of a `liveness_active` step-up: a fresh active check
    /// of the same person on the same device, once, in time.
    async fn finish_step_up(
        &self,
        attempt: &Attempt<'_>,
        request: &VerifyRequest,
        id: &StepUpId,
    ) -> Result<Response<Bytes>, ApiError> {
        let tenant = attempt.tenant;
        let now = attempt.now;
        let step_up = self
            .inner
            .store
            .step_up(&tenant.id, id)
            .await?
            .ok_or(ApiError::StepUpNotFound)?;
        if step_up.completed_at.is_some() {
            return Err(ApiError::StepUpConsumed);
        }
        if step_up.expires_at <= now {
            return Err(ApiError::StepUpExpired);
        }
        let session_id = &request.liveness_session_id;
        let (liveness, probe) = self
            .live_probe(tenant, session_id, LiveFace::ForSearch)
            .await?;
        // Bound to the device that was asked, as the token will be.
        if liveness.device_id != step_up.device_id
            || attempt.device.fingerprint != step_up.device_fingerprint
        {
            return Err(ApiError::StepUpNotFound);
        }
        if !self.is_active_check(&liveness) {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "liveness_session_id",
                "a step-up needs an active liveness session (POST /v1/liveness/session {\"mode\":\"active\"})",
            )]));
        }
        let user = self
            .inner
            .store
            .user(&tenant.id, &step_up.user_id)
            .await?
            .ok_or(ApiError::StepUpNotFound)?;
        usable(&user)?;
        self.ensure_not_locked(tenant, attempt.rules(), FailureSubject::User(&user.id), now)
            .await?;
        self.consume(tenant, session_id, now).await?;
        let found = self.search(tenant, &probe).await?;
        let Some((matched, confidence, _)) = found.filter(|(m, _, _)| m.id == user.id) else {
            tracing::warn!(tenant = %tenant.id, user = %user.id, "step-up showed another face");
            return Err(ApiError::StepUpFailed);
        };
        if !self
            .inner
            .store
            .complete_step_up(&tenant.id, id, now)
            .await?
        {
            return Err(ApiError::StepUpConsumed);
        }
        let rotation = self.rotation_status(attempt, &matched).await?;
        if rotation == RotationStatus::Expired {
            return Err(ApiError::ReEnrollmentRequired);
        }
        let risk = RiskView::new(
            RiskScore {
                score: step_up.risk_score,
                factors: Vec::new(),
            },
            attempt.rules(),
            Some(StepUpType::LivenessActive),
        );
        let device_id = step_up.device_id.clone();
        self.issue_login(attempt, matched, &device_id, confidence, risk, rotation)
            .await
    }

    /// Continuous re-verification: the holder of a session's refresh token,
    /// on the session's device, renews it with a fresh live check of its
    /// user (same id, new tokens), under the login's rules (ambiguity PIN,
    /// lockouts, rotation, the block threshold). Someone else's face ends it.
    async fn reverify(
        &self,
        attempt: &Attempt<'_>,
        request: &VerifyRequest,
        id: &SessionId,
    ) -> Result<Response<Bytes>, ApiError> {
        let tenant = attempt.tenant;
        let now = attempt.now;
        let presented = request.refresh_token.as_deref().ok_or_else(|| {
            ApiError::Validation(vec![FieldIssue::new(
                "refresh_token",
                "re-verifying a session needs its refresh token",
            )])
        })?;
        // Proof of holding the session comes first: nothing below, a
        // revocation included, is open to someone who merely knows its id.
        let session = self
            .session_of_refresh_token(tenant, presented)
            .await?
            .filter(|s| s.id == *id)
            .ok_or(ApiError::InvalidRefreshToken)?;
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(ApiError::SessionNotFound);
        }
        if !crate::device::matches_binding(session.device_fingerprint.as_deref(), attempt.headers) {
            return Err(ApiError::SessionNotFound);
        }
        let session_id = &request.liveness_session_id;
        let (liveness, probe) = self
            .live_probe(tenant, session_id, LiveFace::ForSearch)
            .await?;
        // Only the session's own device may re-verify it.
        if liveness.device_id != session.device_id {
            return Err(ApiError::SessionNotFound);
        }
        let user_failures = self
            .ensure_not_locked(
                tenant,
                attempt.rules(),
                FailureSubject::User(&session.user_id),
                now,
            )
            .await?;
        let found = self.search(tenant, &probe).await?;
        let Some((user, confidence, rival)) = found.filter(|(u, _, _)| u.id == session.user_id)
        else {
            return Err(self
                .end_mismatched(tenant, &session, session_id, now)
                .await?);
        };
        if let Err(refused) = usable(&user) {
            self.consume(tenant, session_id, now).await?;
            return Err(refused);
        }
        // A look-alike could be the one matched: the PIN says who it is.
        let (user, confidence) = if pin_needed(tenant, (&user, confidence), rival.as_ref()) {
            let chosen = self
                .check_pin(
                    attempt,
                    session_id,
                    &session.device_id,
                    (user, confidence),
                    rival,
                    request.pin.as_deref(),
                )
                .await?;
            if chosen.0.id != session.user_id {
                return Err(self
                    .end_mismatched(tenant, &session, session_id, now)
                    .await?);
            }
            chosen
        } else {
            (user, confidence)
        };
        if self.rotation_status(attempt, &user).await? == RotationStatus::Expired {
            return Err(ApiError::ReEnrollmentRequired);
        }
        let score = self
            .score_login(
                attempt,
                &user,
                (&session.device_id, true),
                &liveness,
                confidence,
                &user_failures,
            )
            .await?;
        // The refresh token and the fresh check are the step-up; a score at
        // the block threshold still refuses.
        let risk = RiskView::new(score, attempt.rules(), None);
        self.consume(tenant, session_id, now).await?;
        if risk.enforces(Decision::Block) {
            self.risk_blocked(attempt, &user, &risk).await;
            tracing::warn!(tenant = %tenant.id, session = %id, score = risk.score, "re-verification blocked by risk");
            return Err(ApiError::RiskBlocked);
        }
        let renewed = self
            .renew_session(&session, presented, &user, confidence, now)
            .await?;
        self.remember_sign_in(
            &user,
            &session.device_id,
            attempt.client,
            attempt.user_agent(),
            now,
        )
        .await;
        self.count_active(&tenant.id, &user.id, false).await?;
        tracing::info!(tenant = %tenant.id, user = %user.id, session = %id, "session re-verified");
        Ok(
            LoginOutcome::SignedIn { confidence }.tag(wire::json_response(
                StatusCode::OK,
                &VerifyResponse {
                    matched: true,
                    confidence,
                    verification_token: Some(renewed.verification_token),
                    refresh_token: Some(renewed.refresh_token),
                    session_id: Some(renewed.session.id),
                    device_id: session.device_id,
                    payload: user.payload.clone(),
                    user: Some(MatchedUser::from(user)),
                    risk: Some(risk),
                    ..Default::default()
                },
            )),
        )
    }

    /// The best stored match of a live face, with its confidence and the
    /// runner-up (another enrolled person matching too); `None` for nobody.
    async fn search(
        &self,
        tenant: &Tenant,
        probe: &FaceProbe,
    ) -> Result<Option<(User, f32, Option<Candidate>)>, ApiError> {
        let face = self.warm_face_engine(&tenant.id).await?;
        let candidates = self
            .stored_candidates(face, &tenant.id, probe, tenant.settings.match_threshold)
            .await?;
        let Some(hit) = candidates.first() else {
            return Ok(None);
        };
        // The index knew a face the store has since deleted: nobody.
        let Some(user) = self.inner.store.user(&tenant.id, &hit.user_id).await? else {
            return Ok(None);
        };
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
        Ok(Some((user, hit.confidence, rival)))
    }

    /// Scores a login of `user` on `device` (its id, and whether the client
    /// identified it) from a live ceremony: the device's and the user's
    /// recent failures, the margins, the request's network and user agent.
    async fn score_login(
        &self,
        attempt: &Attempt<'_>,
        user: &User,
        device: (&str, bool),
        liveness: &LivenessSession,
        confidence: f32,
        user_failures: &[DateTime<Utc>],
    ) -> Result<RiskScore, ApiError> {
        let (device_id, device_identified) = device;
        let rules = attempt.rules();
        let device_failures = self
            .failure_history(
                attempt.tenant,
                FailureSubject::Device(device_id),
                attempt.now,
            )
            .await?;
        let facts = LoginFacts {
            device_id,
            device_identified,
            user_agent: attempt.user_agent(),
            client: attempt.client,
            confidence,
            liveness_confidence: liveness_confidence(liveness),
            recent_failures: recent(&device_failures, rules, attempt.now)
                + recent(user_failures, rules, attempt.now),
            handoff_desktop_network: attempt.handoff.map(|h| h.desktop.network.clone()),
            device_fingerprint: attempt.device.fingerprint.as_deref(),
            liveness_session: &liveness.id,
            now: attempt.now,
        };
        Ok(self.assess_login(attempt.tenant, rules, user, &facts).await)
    }

    /// A re-verification that showed someone else: its live session is
    /// spent and the session ends (reported as `session.revoked`). Returns
    /// the error to answer with.
    async fn end_mismatched(
        &self,
        tenant: &Tenant,
        session: &crate::domain::Session,
        live: &LivenessSessionId,
        now: DateTime<Utc>,
    ) -> Result<ApiError, ApiError> {
        self.consume(tenant, live, now).await?;
        let reason = "reverify_face_mismatch";
        let events = session_revoked(&tenant.id, &session.id, &session.user_id, reason, now);
        self.inner
            .store
            .revoke_session(&tenant.id, &session.id, now, &events)
            .await?;
        self.events_written();
        self.forget_session(&session.id);
        tracing::warn!(tenant = %tenant.id, session = %session.id, "re-verification showed another face; session revoked");
        Ok(ApiError::ReverifyFaceMismatch)
    }

    /// `user.rotation_due`, once per enrolled face: the first login in the
    /// grace period reports it.
    async fn rotation_due(&self, attempt: &Attempt<'_>, user: &User) {
        let enrolled_at = match self.face_enrolled_at(attempt.tenant, user).await {
            Ok(Some(at)) => at,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(%err, "could not read the face's age");
                return;
            }
        };
        let due = Event::new(
            &attempt.tenant.id,
            EventKind::UserRotationDue,
            json!({
                "user_id": user.id,
                "face_enrolled_at": wire::timestamp(&enrolled_at),
            }),
            attempt.now,
        )
        .dedupe(format!(
            "rotation_due:{}:{}",
            user.id,
            enrolled_at.timestamp_millis()
        ));
        self.record_events(&[due]).await;
    }

    /// Where the user's enrolled face stands against the rotation policy.
    async fn rotation_status(
        &self,
        attempt: &Attempt<'_>,
        user: &User,
    ) -> Result<RotationStatus, ApiError> {
        let Some(rotation) = attempt.policies.rotation else {
            return Ok(RotationStatus::Current);
        };
        Ok(match self.face_enrolled_at(attempt.tenant, user).await? {
            Some(enrolled_at) => rotation.status(enrolled_at, attempt.now),
            None => RotationStatus::Current,
        })
    }

    /// A session for a login the rules allow: stored, remembered as a
    /// sign-in, answered with its tokens.
    async fn issue_login(
        &self,
        attempt: &Attempt<'_>,
        user: User,
        device_id: &str,
        confidence: f32,
        risk: RiskView,
        rotation: RotationStatus,
    ) -> Result<Response<Bytes>, ApiError> {
        let tenant = attempt.tenant;
        // Counted (and held to the plan's limit) before anything is issued.
        self.count_active(&tenant.id, &user.id, true).await?;
        let signed_in = LoginOutcome::SignedIn { confidence };
        let risk_score = risk.score;
        let mut answer = VerifyResponse {
            matched: true,
            confidence,
            device_id: device_id.to_owned(),
            payload: user.payload.clone(),
            user: Some(MatchedUser::from(user.clone())),
            risk: Some(RiskView {
                step_up_required: false,
                ..risk
            }),
            re_enrollment_required: rotation == RotationStatus::Due
                || confidence < tenant.settings.match_threshold + RE_ENROLL_MARGIN,
            ..Default::default()
        };
        // The device that showed the face is remembered as a sign-in.
        self.remember_sign_in(
            &user,
            device_id,
            attempt.client,
            attempt.user_agent(),
            attempt.now,
        )
        .await;
        // Reported once the login stands (a login that fails after this
        // must not spend the once-per-face report).
        let rotation_due = rotation == RotationStatus::Due;
        if let Some(handoff) = attempt.handoff {
            let completed = self
                .complete_handoff_login(handoff, &user, confidence, risk_score, answer)
                .await?;
            if rotation_due {
                self.rotation_due(attempt, &user).await;
            }
            return Ok(signed_in.tag(completed));
        }
        let opened = self
            .open_session(
                &user,
                device_id,
                attempt.device.fingerprint.as_deref(),
                confidence,
                risk_score,
            )
            .await?;
        let session = opened.session;
        if rotation_due {
            self.rotation_due(attempt, &user).await;
        }
        tracing::info!(tenant = %tenant.id, user = %user.id, session = %session.id, risk = risk_score, "verified");
        answer.verification_token = Some(opened.verification_token);
        answer.refresh_token = Some(opened.refresh_token);
        answer.session_id = Some(session.id);
        Ok(signed_in.tag(wire::json_response(StatusCode::OK, &answer)))
    }

    /// Whether a liveness session was an active check: a challenge of
    /// actions, or a provider's own (challenge-based) check.
    fn is_active_check(&self, liveness: &LivenessSession) -> bool {
        let provider_run = self.inner.face.as_ref().is_some_and(|f| f.runs_liveness());
        provider_run
            || (liveness.mode == LivenessMode::Active && !liveness.challenge.actions.is_empty())
    }
}

/// Whether an error refuses a login (reported as `auth.failed`), rather
/// than a request that never got as far as one. A device or user locked
/// out is not reported at each knock: the failures that locked it were.
fn is_refusal(err: &ApiError) -> bool {
    matches!(
        err,
        ApiError::LivenessFailed
            | ApiError::WrongPinCode { .. }
            | ApiError::UserSuspended
            | ApiError::UserLocked
            | ApiError::RiskBlocked
            | ApiError::ReEnrollmentRequired
            | ApiError::StepUpFailed
            | ApiError::ReverifyFaceMismatch
    )
}

/// A matched user and the match's confidence.
type Candidate = (User, f32);

/// Refused before any token: a user who is not active.
fn usable(user: &User) -> Result<(), ApiError> {
    match user.status {
        UserStatus::Active => Ok(()),
        UserStatus::Suspended => Err(ApiError::UserSuspended),
        UserStatus::Locked => Err(ApiError::UserLocked),
    }
}

fn liveness_confidence(liveness: &LivenessSession) -> f32 {
    liveness
        .completion
        .as_ref()
        .map_or(0.0, |c| c.outcome.confidence)
}

/// 200 with `step_up_required: true` and no token. Who matched, and how
/// closely, is not said until the step-up is passed.
fn step_up_answer(
    user: User,
    device_id: String,
    risk: RiskView,
    step_up_id: Option<StepUpId>,
) -> Response<Bytes> {
    tracing::info!(user = %user.id, step_up = ?risk.step_up_type, "login needs a step-up");
    LoginOutcome::StepUp.tag(wire::json_response(
        StatusCode::OK,
        &VerifyResponse {
            matched: true,
            device_id,
            risk: Some(risk),
            step_up_id,
            ..Default::default()
        },
    ))
}

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
        attempt: &Attempt<'_>,
        session_id: &LivenessSessionId,
        device_id: &str,
        best: Candidate,
        rival: Option<Candidate>,
        presented: Option<&str>,
    ) -> Result<Candidate, ApiError> {
        let tenant = attempt.tenant;
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
        let window = attempt.rules().lockout_duration();
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
        let guess = format!("{session_id}:{session_tries}");
        self.sight_on(
            &attempt.tenant.id,
            device_id,
            attempt.client,
            ThreatKind::PinGuessing,
            &guess,
        )
        .await;
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
    LoginOutcome::NoMatch.tag(wire::json_response(
        StatusCode::OK,
        &VerifyResponse {
            device_id,
            ..Default::default()
        },
    ))
}
