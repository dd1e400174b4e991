//! Liveness ceremonies: `POST /v1/liveness/session` (start),
//! `POST /v1/liveness/session/:id/frames` (finish: our local addition, the
//! client uploads what its camera captured while the user performed the
//! challenge), `GET /v1/liveness/result/:id`.
//!
//! A session is judged once and consumed once (by verify or enroll), and
//! lives three minutes. Failed checks count against the device that started
//! the session and the enrolled user the frames showed; five within three
//! minutes lock both out for the tenant's lockout time.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{LivenessChallenge, LivenessCompletion, LivenessMode, LivenessSession, Tenant};
use crate::error::{ApiError, FieldIssue};
use crate::events::{Event, EventKind};
use crate::ids::{LivenessSessionId, TenantId};
use crate::liveness::{self, Failure, JudgedFrame, Verdict};
use crate::policy::RiskRules;
use crate::providers::face::{
    FaceProbe, FrameObservation, ImageInput, ProviderLivenessResult, TemporaryCredentials,
};
use crate::sealed::Biometric;
use crate::store::FailureSubject;
use crate::threat::ThreatKind;

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct StartResponse {
    session_id: LivenessSessionId,
    /// Temporary credentials for the provider's browser component
    /// (Rekognition Face Liveness); `null` with the local engine.
    credentials: Option<TemporaryCredentials>,
    region: Option<String>,
    /// What the user is to do, for the local engine's frames ceremony;
    /// absent when the provider runs the check.
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge: Option<ChallengeView>,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ChallengeView {
    mode: LivenessMode,
    #[serde(flatten)]
    challenge: LivenessChallenge,
    min_frames: usize,
    max_frames: usize,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct FramesRequest {
    nonce: String,
    frames: Vec<Frame>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Frame {
    /// Base64 JPEG or PNG, as the camera saw it (not mirrored).
    image: String,
    /// Client clock, milliseconds.
    timestamp_ms: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct OutcomeResponse {
    session_id: LivenessSessionId,
    is_live: bool,
    confidence: f32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ResultResponse {
    is_live: bool,
    confidence: f32,
}

/// What a live session's face is wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LiveFace {
    /// A search (verify): the face as the liveness check analysed it will
    /// do, when the engine kept it.
    ForSearch,
    /// An enrollment: analysed again from the reference image, for what
    /// only enrollment needs (the age the minors rule reads, the gender in
    /// its details).
    ForEnrollment,
}

/// The device behind a request, from `x-device-id` and `x-device-fingerprint`.
pub(super) struct Device {
    pub id: String,
    /// Lower-case hex SHA-256 sent by the client, bound into tokens.
    pub fingerprint: Option<String>,
    /// Whether the client identified the device at all; an unidentified
    /// device gets a fresh id each time, so it cannot be locked out (its
    /// users still can).
    pub identified: bool,
}

impl Device {
    pub(super) fn from_headers(headers: &HeaderMap, tenant: &TenantId) -> Result<Self, ApiError> {
        let header = |name: &str| -> Result<Option<String>, ApiError> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str().map(|s| s.trim().to_owned()).map_err(|_| {
                        ApiError::Validation(vec![FieldIssue::new(name, "must be ASCII")])
                    })
                })
                .transpose()
        };
        let fingerprint = crate::device::fingerprint(headers).map_err(|_| {
            ApiError::Validation(vec![FieldIssue::new(
                crate::device::HEADER,
                "must be a hex SHA-256 (64 characters)",
            )])
        })?;
        let explicit = header("x-device-id")?;
        if let Some(id) = &explicit
            && (id.is_empty()
                || id.len() > 128
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b)))
        {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "x-device-id",
                "must be 1–128 characters of letters, digits, `_`, `-`, `.` or `:`",
            )]));
        }
        let identified = explicit.is_some() || fingerprint.is_some();
        let id = match (explicit, &fingerprint) {
            (Some(id), _) => id,
            (None, Some(fp)) => {
                let digest = Sha256::digest(format!("{tenant}:{fp}"));
                format!("dev_{}", &hex::encode(digest)[..32])
            }
            (None, None) => format!("dev_{}", uuid::Uuid::new_v4().simple()),
        };
        Ok(Device {
            id,
            fingerprint,
            identified,
        })
    }
}

/// `POST /v1/liveness/session`'s optional body (our addition).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StartRequest {
    mode: Option<LivenessMode>,
}

impl FaceGate {
    pub(super) async fn start_liveness(
        &self,
        tenant: &Tenant,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let face = self.face_engine()?;
        let device = Device::from_headers(headers, &tenant.id)?;
        let mut settings = tenant.settings.liveness.clone();
        // A client may ask for a stricter check than the tenant's (an
        // active one for a step-up), never a weaker one.
        if !body.iter().all(u8::is_ascii_whitespace) {
            let request: StartRequest = wire::parse_json(body)?;
            match (request.mode, settings.mode) {
                (Some(LivenessMode::Passive), LivenessMode::Active) => {
                    return Err(ApiError::Validation(vec![FieldIssue::new(
                        "mode",
                        "this application requires active liveness",
                    )]));
                }
                (Some(mode), _) => settings.mode = mode,
                (None, _) => {}
            }
        }
        let settings = &settings;
        let now = clock::now();
        let rules = self.policies(tenant).await?.risk;
        self.ensure_not_locked(tenant, &rules, FailureSubject::Device(&device.id), now)
            .await?;
        // A provider-run check: the provider's session, under its id.
        let provider = match face.runs_liveness() {
            true => Some(face.start_liveness(&tenant.id).await?),
            false => None,
        };
        let session = LivenessSession {
            id: provider
                .as_ref()
                .map_or_else(LivenessSessionId::generate, |p| {
                    LivenessSessionId::from_string(p.session_id.clone())
                }),
            tenant_id: tenant.id.clone(),
            device_id: device.id,
            mode: match provider {
                Some(_) => LivenessMode::Passive,
                None => settings.mode,
            },
            challenge: liveness::new_challenge(settings),
            created_at: now,
            expires_at: now + Duration::seconds(LivenessSession::LIFETIME_SECS),
            completion: None,
            consumed_at: None,
            pin_failures: 0,
        };
        self.inner.store.insert_liveness_session(&session).await?;
        let limits = liveness::frame_limits(session.mode);
        let (credentials, region, challenge) = match provider {
            Some(started) => (started.credentials, started.region, None),
            None => (
                None,
                None,
                Some(ChallengeView {
                    mode: session.mode,
                    challenge: session.challenge,
                    min_frames: *limits.start(),
                    max_frames: *limits.end(),
                }),
            ),
        };
        let mut response = wire::json_response(
            StatusCode::OK,
            &StartResponse {
                session_id: session.id,
                credentials,
                region,
                challenge,
                expires_at: session.expires_at,
            },
        );
        // It may carry AWS credentials: no cache keeps a copy.
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        Ok(response)
    }

    /// A provider-run check's outcome, fetched from the provider once it
    /// is there and stored like a judged upload: a failure counts as one,
    /// and a live session keeps the provider's reference frame.
    async fn settle_provider_session(
        &self,
        tenant: &Tenant,
        session: LivenessSession,
    ) -> Result<LivenessSession, ApiError> {
        let face = self.face_engine()?;
        if session.completion.is_some()
            || !face.runs_liveness()
            || session.expires_at <= clock::now()
        {
            return Ok(session);
        }
        let (live, confidence, reference_image) = match face
            .finish_liveness(&tenant.id, session.id.as_str())
            .await?
        {
            ProviderLivenessResult::Pending => return Ok(session),
            ProviderLivenessResult::Expired => return Err(ApiError::LivenessSessionExpired),
            ProviderLivenessResult::Finished {
                live,
                confidence,
                reference_image,
            } => (live, confidence, reference_image),
        };
        let settings = &tenant.settings;
        let is_live = live
            && reference_image.is_some()
            && liveness::reaches(confidence, settings.liveness.min_confidence);
        // Whoever the provider saw: a failure counts against them too, and
        // deleting them drops this session's image.
        let user_id = match &reference_image {
            Some(image) => match face.probe(image).await {
                Ok(probe) => self
                    .stored_match(face, &tenant.id, &probe, settings.match_threshold)
                    .await?
                    .map(|hit| hit.user_id),
                Err(err) => {
                    tracing::info!(tenant = %tenant.id, session = %session.id, %err, "the provider's reference frame has no usable face");
                    None
                }
            },
            None => None,
        };
        if !is_live {
            tracing::info!(tenant = %tenant.id, session = %session.id, live, confidence, user = ?user_id, "liveness check failed");
        }
        let completion = LivenessCompletion {
            outcome: crate::domain::LivenessOutcome {
                is_live,
                confidence: if is_live { round1(confidence) } else { 0.0 },
            },
            reference_image: reference_image.filter(|_| is_live).map(|image| {
                Biometric::ReferenceImage {
                    tenant: &tenant.id,
                    session: &session.id,
                }
                .seal_text(self.inner.master_key.as_ref(), image.0)
            }),
            reference_probe: None,
            user_id,
            completed_at: clock::now(),
        };
        // Another request may have settled it first: theirs stands.
        let settled = self
            .inner
            .store
            .complete_liveness_session(&tenant.id, &session.id, &completion)
            .await?;
        if settled && !is_live {
            let failed = Event::new(
                &tenant.id,
                EventKind::LivenessFailed,
                serde_json::json!({
                    "liveness_session_id": session.id,
                    "device_id": session.device_id,
                    "reason": "provider_check_failed",
                    "user_id": completion.user_id,
                }),
                completion.completed_at,
            );
            self.record_events(&[failed]).await;
        }
        self.liveness_session(tenant, &session.id).await
    }

    pub(super) async fn submit_liveness_frames(
        &self,
        tenant: &Tenant,
        id: &LivenessSessionId,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let client = parts.extensions.get::<super::ClientAddr>().copied();
        if self.face_engine()?.runs_liveness() {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "frames",
                "this face engine runs the liveness check with the browser: there are no frames to upload",
            )]));
        }
        let request: FramesRequest = wire::parse_json(body)?;
        let session = self.liveness_session(tenant, id).await?;
        let now = clock::now();
        if session.completion.is_some() {
            return Err(ApiError::LivenessAlreadyCompleted);
        }
        if session.expires_at <= now {
            return Err(ApiError::LivenessSessionExpired);
        }
        validate_frames(&session, &request)?;
        let rules = self.policies(tenant).await?.risk;
        self.ensure_not_locked(
            tenant,
            &rules,
            FailureSubject::Device(&session.device_id),
            now,
        )
        .await?;

        let face = self.warm_face_engine(&tenant.id).await?;
        let images: Vec<ImageInput> = request
            .frames
            .iter()
            .map(|f| ImageInput(f.image.clone()))
            .collect();
        let observed = face.observe_liveness(session.mode, &images).await?;
        let observations = &observed.frames;
        if observations.len() != images.len() {
            return Err(ApiError::Internal(
                "the face engine did not observe every frame".into(),
            ));
        }
        // The engine compared every face with the frame the judge keeps.
        if observed.reference.as_ref().map(|r| r.frame)
            != liveness::reference_frame(
                session.mode,
                observations.iter().map(FrameObservation::live_score),
            )
        {
            return Err(ApiError::Internal(
                "the face engine analysed another reference frame than the judge keeps".into(),
            ));
        }
        let frames: Vec<JudgedFrame<'_>> = request
            .frames
            .iter()
            .zip(observations)
            .map(|(frame, observation)| JudgedFrame {
                timestamp_ms: frame.timestamp_ms,
                observation,
            })
            .collect();
        let settings = &tenant.settings;
        let mut verdict = liveness::judge(
            session.mode,
            &session.challenge,
            &frames,
            settings.match_threshold,
            settings.liveness.min_confidence,
            (now - session.created_at).num_milliseconds(),
        );
        // A live upload's reference frame seen in another session before:
        // a captured upload replayed (the judge sees one upload only).
        if verdict.outcome.is_live
            && let FrameObservation::Face(reference) = &observations[verdict.reference_frame]
            && !self
                .inner
                .store
                .record_reference_frame(&tenant.id, id, &reference.pixels.digest, now)
                .await?
        {
            verdict = Verdict::failed(Failure::RepeatedFrame);
        }

        // Whoever the frames showed: a failure counts against them too, and
        // deleting them (or their consent) drops this session's image.
        let reference = observed.reference.as_ref().map(|r| &r.probe);
        let user_id = match reference {
            Some(probe) => self
                .stored_match(face, &tenant.id, probe, settings.match_threshold)
                .await?
                .map(|hit| hit.user_id),
            None => None,
        };
        if let Some(failure) = verdict.failure {
            tracing::info!(tenant = %tenant.id, session = %id, ?failure, user = ?user_id, "liveness check failed");
        }
        let (reference_image, reference_probe) = match (verdict.outcome.is_live, reference) {
            (true, Some(probe)) => {
                let frame = &request.frames[verdict.reference_frame];
                let image = face
                    .reference_frame(&ImageInput(frame.image.clone()))
                    .await?;
                // Sealed at rest, bound to this tenant and session.
                let key = self.inner.master_key.as_ref();
                let (tenant, session) = (&tenant.id, id);
                (
                    Some(Biometric::ReferenceImage { tenant, session }.seal_text(key, image.0)),
                    face.encode_probe(probe).map(|probe| {
                        Biometric::ReferenceProbe { tenant, session }.seal(key, probe)
                    }),
                )
            }
            _ => (None, None),
        };
        let completion = LivenessCompletion {
            outcome: verdict.outcome,
            reference_image,
            reference_probe,
            user_id,
            completed_at: clock::now(),
        };
        if !self
            .inner
            .store
            .complete_liveness_session(&tenant.id, id, &completion)
            .await?
        {
            return Err(ApiError::LivenessAlreadyCompleted);
        }
        if let FrameObservation::Face(reference) = &observations[verdict.reference_frame]
            && verdict.outcome.is_live
        {
            // A client that does not identify its device gets a new one per
            // ceremony: counted as one per network instead, so that its
            // user's every login is not another device.
            let identified = ["x-device-id", crate::device::HEADER]
                .iter()
                .any(|h| parts.headers.contains_key(*h));
            let device = match (identified, client) {
                (true, _) => session.device_id.clone(),
                (false, Some(client)) => self
                    .indicators()
                    .network(&crate::providers::risk::network_of(client.0)),
                (false, None) => "unidentified".to_owned(),
            };
            self.sight_frame(
                &tenant.id,
                id,
                &device,
                completion.user_id.as_ref(),
                reference.pixels.perceptual,
            )
            .await;
        }
        self.count_liveness(verdict.failure.map_or("live", Failure::as_str));
        if verdict.failure == Some(Failure::SpoofFrame) {
            self.sight_on(
                &tenant.id,
                &session.device_id,
                client,
                ThreatKind::PadBurst,
                id.as_str(),
            )
            .await;
        }
        if let Some(failure) = verdict.failure {
            let failed = Event::new(
                &tenant.id,
                EventKind::LivenessFailed,
                serde_json::json!({
                    "liveness_session_id": id,
                    "device_id": session.device_id,
                    "reason": failure.as_str(),
                    "user_id": completion.user_id,
                }),
                completion.completed_at,
            );
            self.record_events(&[failed]).await;
        }
        Ok(wire::json_response(
            StatusCode::OK,
            &OutcomeResponse {
                session_id: id.clone(),
                is_live: verdict.outcome.is_live,
                confidence: verdict.outcome.confidence,
            },
        ))
    }

    pub(super) async fn liveness_result(
        &self,
        tenant: &Tenant,
        id: &LivenessSessionId,
    ) -> Result<Response<Bytes>, ApiError> {
        let session = self.liveness_session(tenant, id).await?;
        let session = self.settle_provider_session(tenant, session).await?;
        match session.completion {
            Some(completion) => Ok(wire::json_response(
                StatusCode::OK,
                &ResultResponse {
                    is_live: completion.outcome.is_live,
                    confidence: completion.outcome.confidence,
                },
            )),
            None if session.expires_at <= clock::now() => Err(ApiError::LivenessSessionExpired),
            None => Err(ApiError::LivenessNotCompleted),
        }
    }

    /// Spends a live session for enroll: the probe of its reference frame,
    /// or why it cannot be used. The session is consumed only once the
    /// probe succeeded, so a busy engine does not burn it; a failed session
    /// is consumed as it is refused.
    pub(super) async fn take_live_session(
        &self,
        tenant: &Tenant,
        id: &LivenessSessionId,
    ) -> Result<(LivenessSession, FaceProbe), ApiError> {
        let live = self.live_probe(tenant, id, LiveFace::ForEnrollment).await?;
        self.consume(tenant, id, clock::now()).await?;
        Ok(live)
    }

    /// The reference face of a completed, live, unspent session, without
    /// spending it (a step such as a PIN may still decide). A session that
    /// is not live is spent here: it can never be used.
    pub(super) async fn live_probe(
        &self,
        tenant: &Tenant,
        id: &LivenessSessionId,
        wanted: LiveFace,
    ) -> Result<(LivenessSession, FaceProbe), ApiError> {
        let (session, image) = self.usable_live_session(tenant, id).await?;
        // Each probe decodes and embeds the frame: a ceremony kept open by
        // PIN prompts may not be probed without end. Used up, not spent:
        // tries already under way still finish.
        if !self
            .inner
            .store
            .count_probe(&tenant.id, id, liveness::MAX_PROBES)
            .await?
        {
            return Err(ApiError::LivenessSessionConsumed);
        }
        // Probing needs no index: the callers bring it up to date for
        // their own search (one face-log read per request, not two).
        let face = self.face_engine()?;
        let kept = match wanted {
            LiveFace::ForSearch => session
                .completion
                .as_ref()
                .and_then(|c| c.reference_probe.as_deref())
                .map(|stored| {
                    Biometric::ReferenceProbe {
                        tenant: &tenant.id,
                        session: id,
                    }
                    .open(self.inner.master_key.as_ref(), stored)
                    .map_err(|err| ApiError::Internal(err.to_string()))
                })
                .transpose()?
                .and_then(|bytes| face.decode_probe(&bytes)),
            LiveFace::ForEnrollment => None,
        };
        let probe = match kept {
            Some(probe) => probe,
            None => face.probe(&ImageInput(image)).await?,
        };
        Ok((session, probe))
    }

    /// The cheap checks of [`FaceGate::live_probe`], before any slow work:
    /// the session and its reference image.
    pub(super) async fn usable_live_session(
        &self,
        tenant: &Tenant,
        id: &LivenessSessionId,
    ) -> Result<(LivenessSession, String), ApiError> {
        let session = self.liveness_session(tenant, id).await?;
        let session = self.settle_provider_session(tenant, session).await?;
        let now = clock::now();
        if session.consumed_at.is_some() {
            return Err(ApiError::LivenessSessionConsumed);
        }
        if session.expires_at <= now {
            return Err(ApiError::LivenessSessionExpired);
        }
        let Some(completion) = &session.completion else {
            return Err(ApiError::LivenessNotCompleted);
        };
        let live = completion.outcome.is_live
            && completion.outcome.confidence >= tenant.settings.liveness.min_confidence;
        match (&completion.reference_image, live) {
            (Some(stored), true) => {
                let image = Biometric::ReferenceImage {
                    tenant: &tenant.id,
                    session: id,
                }
                .open_text(self.inner.master_key.as_ref(), stored)
                .map_err(|err| ApiError::Internal(err.to_string()))?;
                Ok((session, image))
            }
            _ => {
                self.consume(tenant, id, now).await?;
                Err(ApiError::LivenessFailed)
            }
        }
    }

    /// Spends a completed session; only one caller ever succeeds.
    pub(super) async fn consume(
        &self,
        tenant: &Tenant,
        id: &LivenessSessionId,
        at: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        if self
            .inner
            .store
            .consume_liveness_session(&tenant.id, id, at)
            .await?
        {
            Ok(())
        } else {
            Err(ApiError::LivenessSessionConsumed)
        }
    }

    async fn liveness_session(
        &self,
        tenant: &Tenant,
        id: &LivenessSessionId,
    ) -> Result<LivenessSession, ApiError> {
        self.inner
            .store
            .liveness_session(&tenant.id, id)
            .await?
            .ok_or(ApiError::LivenessSessionNotFound)
    }

    /// 429 with `Retry-After` while the subject is locked out by the
    /// tenant's risk rules; otherwise the failure history read to decide it
    /// (for risk scoring).
    pub(super) async fn ensure_not_locked(
        &self,
        tenant: &Tenant,
        rules: &RiskRules,
        subject: FailureSubject<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, ApiError> {
        let failures = self.failure_history(tenant, subject, now).await?;
        match rules.lockout_until(&failures, now) {
            Some(until) => Err(ApiError::TooManyAttempts {
                retry_after_secs: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
            }),
            None => Ok(failures),
        }
    }

    /// The subject's failed checks as far back as a lockout can reach.
    pub(super) async fn failure_history(
        &self,
        tenant: &Tenant,
        subject: FailureSubject<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, ApiError> {
        Ok(self
            .inner
            .store
            .liveness_failures(&tenant.id, subject, now - RiskRules::repeat_window())
            .await?)
    }
}

fn round1(x: f32) -> f32 {
    (x * 10.0).round() / 10.0
}

/// Shape rules: the nonce of this challenge, a frame count the mode allows,
/// client timestamps in order. (Whether the timing is plausible for a
/// camera is the judge's call, and a failed check.)
fn validate_frames(session: &LivenessSession, request: &FramesRequest) -> Result<(), ApiError> {
    let mut issues = Vec::new();
    let nonce_matches: bool =
        subtle::ConstantTimeEq::ct_eq(request.nonce.as_bytes(), session.challenge.nonce.as_bytes())
            .into();
    if !nonce_matches {
        issues.push(FieldIssue::new(
            "nonce",
            "does not match this session's challenge",
        ));
    }
    let limits = liveness::frame_limits(session.mode);
    if !limits.contains(&request.frames.len()) {
        issues.push(FieldIssue::new(
            "frames",
            format!(
                "{} mode takes {} to {} frames",
                match session.mode {
                    LivenessMode::Active => "active",
                    LivenessMode::Passive => "passive",
                },
                limits.start(),
                limits.end()
            ),
        ));
    }
    if request
        .frames
        .windows(2)
        .any(|pair| pair[1].timestamp_ms <= pair[0].timestamp_ms)
    {
        issues.push(FieldIssue::new(
            "frames",
            "timestamp_ms must increase from frame to frame",
        ));
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(issues))
    }
}
