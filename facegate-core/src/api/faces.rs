//! Face routes: `POST /v1/enroll`, `POST /v1/match`, `POST /v1/detect-attributes`,
//! `POST /v1/users/:id/re-enroll`, and `GET /v1/face-index` (our addition:
//! how far this instance's index has followed the store).
//!
//! Each image is analysed once (a [`FaceProbe`]); the duplicate check, the
//! minors rule and indexing all use that one analysis. The engine's index and
//! the store change together: a face is indexed first and removed again if the
//! store write fails, and old faces leave the engine only once the new ones
//! are stored.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::liveness::LiveFace;
use super::users::EnrollmentView;
use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{
    FaceEnrollment, KeyScope, PinMode, PinSettings, Tenant, TenantSettings, User, UserStatus,
};
use crate::error::{ApiError, FieldIssue};
use crate::events::{Event, EventKind};
use crate::ids::{ConsentId, FaceId, LivenessSessionId, TenantId, UserId};
use crate::pin::Pin;
use crate::providers::face::{DetectedFace, FaceMatch, FaceProbe, FaceProvider, ImageInput};
use crate::sealed::Biometric;
use crate::store::{EngineFaceDeletion, FaceChangeKind, PinLimits, PinTry};

/// Largest `metadata` object accepted on a user, serialised.
const MAX_METADATA_BYTES: usize = 16 * 1024;

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct EnrollRequest {
    name: String,
    /// Required with a server key; a client key's users get the tenant's
    /// `client_role`.
    role: Option<String>,
    consent_id: Option<ConsentId>,
    liveness_session_id: Option<LivenessSessionId>,
    face_image: Option<String>,
    external_id: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    #[serde(default)]
    enrolled_with_glasses: bool,
    metadata: Option<Map<String, Value>>,
    /// FACEIO's enrollment payload.
    payload: Option<Value>,
    /// FACEIO's PIN, 4–16 digits (see `TenantSettings::pin`).
    pin: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ImageRequest {
    image: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ReEnrollRequest {
    /// A photo (an administrator's migration), or…
    face_image: Option<String>,
    /// …the user's own live ceremony.
    liveness_session_id: Option<LivenessSessionId>,
    /// Re-enroll from a live session whose face is not the user's current
    /// one (audited). Without it, 409 `FACE_MISMATCH`.
    #[serde(default)]
    force: bool,
    #[serde(default)]
    enrolled_with_glasses: bool,
    /// With a client key: a valid verification token of this user.
    verification_token: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct EnrollResponse {
    user_id: UserId,
    enrollments: Vec<EnrollmentView>,
    /// FACEIO's `details`: the engine's age and gender estimates (our addition).
    details: EnrollmentDetails,
}

#[derive(Serialize, utoipa::ToSchema)]
struct EnrollmentDetails {
    age: Option<f32>,
    gender: Option<String>,
}

impl EnrollmentDetails {
    fn of(face: &DetectedFace) -> Self {
        Self {
            age: face.estimated_age.map(f32::round),
            gender: face
                .attributes
                .pointer("/gender/value")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// The user as shown in match and verify responses.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct MatchedUser {
    id: UserId,
    name: String,
    role: String,
    metadata: Value,
}

/// The user as a client key's match sees them: who, not what.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)] // For the schema: no other field, so not a `MatchedUser`.
struct MatchedUserId {
    id: UserId,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum MatchedView {
    Full(MatchedUser),
    IdOnly(MatchedUserId),
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct MatchResponse {
    matched: bool,
    confidence: f32,
    user: Option<MatchedView>,
}

/// `GET /v1/face-index`: this instance's index of the tenant, brought up to
/// date as a search would be.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct FaceIndexStatus {
    engine: &'static str,
    /// The number of the tenant's last face change the index reflects.
    log_seq: u64,
    /// Faces in this instance's index, for engines that keep one in memory.
    indexed_faces: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct DetectResponse {
    faces: Vec<DetectedFace>,
}

/// Where an enrolled face comes from: exactly one of `face_image` and
/// `liveness_session_id`.
enum FaceSource<'a> {
    Photo(String),
    Live(&'a LivenessSessionId),
}

impl<'a> FaceSource<'a> {
    fn of(image: Option<String>, session: &'a Option<LivenessSessionId>) -> Result<Self, ApiError> {
        match (image, session) {
            (Some(image), None) => Ok(FaceSource::Photo(image)),
            (None, Some(session)) => Ok(FaceSource::Live(session)),
            (Some(_), Some(_)) => Err(ApiError::Validation(vec![FieldIssue::new(
                "liveness_session_id",
                "send either liveness_session_id or face_image, not both",
            )])),
            (None, None) => Err(ApiError::Validation(vec![FieldIssue::new(
                "face_image",
                "one of face_image or liveness_session_id is required",
            )])),
        }
    }
}

/// How far the engine's index has followed each tenant's face log: the
/// number of the last change applied, `None` until the tenant's faces are
/// loaded. Another instance's writes reach this one's index through the log
/// (see [`crate::store::UserStore::face_log_head`]).
#[derive(Default)]
pub(super) struct IndexFollowers(
    std::sync::Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<Option<u64>>>>>,
);

/// Changes read from the log per query while catching up.
const FACE_CHANGES_PAGE: u32 = 1000;

impl FaceGate {
    pub(super) fn face_engine(&self) -> Result<&Arc<dyn FaceProvider>, ApiError> {
        self.inner
            .face
            .as_ref()
            .ok_or(ApiError::FaceEngineUnavailable)
    }

    /// The face engine, its index holding the tenant's faces as of now: the
    /// first call loads them; later ones apply the face log's new entries,
    /// whichever instance wrote them. One indexed query when nothing changed.
    pub(super) async fn warm_face_engine(
        &self,
        tenant: &TenantId,
    ) -> Result<&Arc<dyn FaceProvider>, ApiError> {
        Ok(self.follow_face_log_of(tenant).await?.0)
    }

    /// [`Self::warm_face_engine`], with the number of the last change applied.
    async fn follow_face_log_of(
        &self,
        tenant: &TenantId,
    ) -> Result<(&Arc<dyn FaceProvider>, u64), ApiError> {
        let face = self.face_engine()?;
        let follower = {
            let mut followers = self
                .inner
                .followers
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            followers.entry(tenant.clone()).or_default().clone()
        };
        // Read before the faces: whatever is loaded or applied below is at
        // least as new as `head`.
        let head = self.inner.store.face_log_head(tenant).await?;
        let mut applied = follower.lock().await;
        match *applied {
            Some(at) if at >= head => {}
            Some(at) if self.follow_face_log(face, tenant, at, head).await? => {}
            _ => {
                let faces = self.inner.store.faces_of_tenant(tenant).await?;
                face.restore(tenant, &self.opened_templates(faces)?).await?;
            }
        }
        // A request that read an older head may finish after one that
        // applied a newer: keep the newer.
        let head = applied.map_or(head, |at| at.max(head));
        *applied = Some(head);
        Ok((face, head))
    }

    /// Applies the tenant's face changes after `at` up to `head`; false when
    /// some were pruned already (the caller reloads every face instead).
    async fn follow_face_log(
        &self,
        face: &Arc<dyn FaceProvider>,
        tenant: &TenantId,
        mut at: u64,
        head: u64,
    ) -> Result<bool, ApiError> {
        while at < head {
            let changes = self
                .inner
                .store
                .face_changes(tenant, at, FACE_CHANGES_PAGE)
                .await?;
            let Some(last) = changes.last() else {
                return Ok(false);
            };
            if changes[0].seq != at + 1 || last.seq != at + changes.len() as u64 {
                return Ok(false);
            }
            at = last.seq;
            let mut added = Vec::new();
            let mut removed = Vec::new();
            for change in changes {
                match change.kind {
                    FaceChangeKind::Added(enrollment) => added.push(enrollment),
                    FaceChangeKind::Removed { provider_face_id } => removed.push(provider_face_id),
                }
            }
            face.apply_changes(tenant, &self.opened_templates(added)?, &removed)
                .await?;
        }
        Ok(true)
    }

    /// Faces as the engine takes them: templates opened (they are stored
    /// sealed under the master key, if one is configured). A template that
    /// does not open fails the load rather than leave its face out: a
    /// face missing from the index would let the same person enroll again.
    fn opened_templates(
        &self,
        faces: Vec<FaceEnrollment>,
    ) -> Result<Vec<FaceEnrollment>, ApiError> {
        let key = self.inner.master_key.as_ref();
        faces
            .into_iter()
            .map(|mut face| {
                if let Some(stored) = &face.template {
                    let template = Biometric::Template {
                        tenant: &face.tenant_id,
                        user: &face.user_id,
                        face: &face.id,
                    };
                    let opened = template
                        .open_reporting(key, stored)
                        .map_err(|err| ApiError::Internal(err.to_string()))?;
                    if opened.stale {
                        self.inner
                            .reseal_wanted
                            .store(true, std::sync::atomic::Ordering::Release);
                    }
                    face.template = Some(opened.value);
                }
                Ok(face)
            })
            .collect()
    }

    pub(super) async fn face_index_status(
        &self,
        tenant: &Tenant,
    ) -> Result<Response<Bytes>, ApiError> {
        let (face, log_seq) = self.follow_face_log_of(&tenant.id).await?;
        Ok(wire::json_response(
            StatusCode::OK,
            &FaceIndexStatus {
                engine: face.name(),
                log_seq,
                indexed_faces: face.indexed_faces(&tenant.id),
            },
        ))
    }

    /// The best search hit whose face the store still has. The index may
    /// trail the store by a change another instance is committing, so a
    /// hit only counts once the store agrees: a stale index can miss, never
    /// admit. A stale best hit (an engine that keeps faces itself, whose
    /// deletion is still queued) must not hide a stored face behind it, so
    /// then the candidates are searched.
    pub(super) async fn stored_match(
        &self,
        face: &Arc<dyn FaceProvider>,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
    ) -> Result<Option<FaceMatch>, ApiError> {
        match face.search(tenant, probe, threshold).await? {
            None => Ok(None),
            Some(hit) if self.still_stored(tenant, &hit).await? => Ok(Some(hit)),
            Some(_) => Ok(self
                .stored_candidates(face, tenant, probe, threshold)
                .await?
                .into_iter()
                .next()),
        }
    }

    /// [`FaceProvider::search_candidates`], keeping the hits the store still
    /// has: the best and the runner-up of two different users. Stale faces
    /// are dropped before a user is counted, so neither hides a stored one.
    pub(super) async fn stored_candidates(
        &self,
        face: &Arc<dyn FaceProvider>,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
    ) -> Result<Vec<FaceMatch>, ApiError> {
        let mut stored: Vec<FaceMatch> = Vec::new();
        for hit in face.search_candidates(tenant, probe, threshold).await? {
            if stored.iter().any(|s| s.user_id == hit.user_id) {
                continue;
            }
            if self.still_stored(tenant, &hit).await? {
                stored.push(hit);
                if stored.len() == 2 {
                    break;
                }
            }
        }
        Ok(stored)
    }

    async fn still_stored(&self, tenant: &TenantId, hit: &FaceMatch) -> Result<bool, ApiError> {
        let faces = self.inner.store.faces_of_user(tenant, &hit.user_id).await?;
        Ok(faces
            .iter()
            .any(|face| face.provider_face_id == hit.provider_face_id))
    }

    /// Enrolls a new user. A client key enrolls from a liveness session
    /// only (never an uploaded photo) and sets no `external_id`: the link to
    /// the host's own accounts is the host's to make.
    pub(super) async fn enroll(
        &self,
        tenant: &Tenant,
        scope: KeyScope,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let mut request: EnrollRequest = wire::parse_json(body)?;
        let role = enrollment_role(tenant, scope, &request)?;
        request.external_id = request.external_id.filter(|id| !id.trim().is_empty());
        validate_profile(&request, &role)?;
        if request.payload.as_ref().is_some_and(|p| {
            serde_json::to_vec(p).map_or(usize::MAX, |b| b.len()) > User::MAX_PAYLOAD_BYTES
        }) {
            return Err(ApiError::EnrollmentPayloadTooLarge {
                limit: User::MAX_PAYLOAD_BYTES,
            });
        }
        let consent_id = request
            .consent_id
            .clone()
            .ok_or(ApiError::ConsentRequired)?;
        // Before any image is read: a new user past the plan's hard limit
        // could not sign in this month.
        self.check_enroll_quota(&tenant.id).await?;
        let source = FaceSource::of(request.face_image.take(), &request.liveness_session_id)?;
        let consent = self
            .inner
            .store
            .consent(&tenant.id, &consent_id)
            .await?
            .filter(|c| c.revoked_at.is_none() && c.user_id.is_none())
            .ok_or(ApiError::ConsentInvalid)?;
        // The slow PIN hash only once the live session is known to be usable,
        // and before it is spent: a missing or taken PIN is asked again, and
        // the same ceremony then enrolls.
        let live_session = match source {
            FaceSource::Live(session) => {
                self.usable_live_session(tenant, session).await?;
                Some(session)
            }
            FaceSource::Photo(_) => None,
        };
        let pin_hash = self
            .enrollment_pin(tenant, request.pin.as_deref(), live_session)
            .await?;
        let face = self.warm_face_engine(&tenant.id).await?;
        let (probe, live_device) = match source {
            FaceSource::Photo(image) => (face.probe(&ImageInput(image)).await?, None),
            // The live session's reference frame, spent by this enrollment.
            FaceSource::Live(session) => {
                let (live, probe) = self.take_live_session(tenant, session).await?;
                (probe, Some(live.device_id))
            }
        };
        check_minimum_age(&tenant.settings, &probe)?;
        if tenant.settings.prevent_duplicates
            && self
                .stored_match(face, &tenant.id, &probe, tenant.settings.match_threshold)
                .await?
                .is_some()
        {
            return Err(ApiError::UserAlreadyEnrolled);
        }

        let user = User {
            id: UserId::generate(),
            tenant_id: tenant.id.clone(),
            name: request.name,
            role,
            email: request.email,
            phone: request.phone,
            external_id: request.external_id,
            metadata: Value::Object(request.metadata.unwrap_or_default()),
            payload: request.payload,
            pin_hash,
            status: UserStatus::Active,
            created_at: clock::now(),
        };
        let indexed = self
            .index_face(
                face,
                tenant,
                &user.id,
                &probe,
                request.enrolled_with_glasses,
            )
            .await?;
        let enrollment = indexed.enrollment.clone();
        let enrolled = Event::new(
            &tenant.id,
            EventKind::UserEnrolled,
            json!({
                "user_id": user.id,
                "external_id": user.external_id,
                "face_id": enrollment.id,
                "consent_id": consent.id,
            }),
            user.created_at,
        );
        let stored = self
            .inner
            .store
            .insert_user(
                &user,
                std::slice::from_ref(&enrollment),
                Some(&consent.id),
                std::slice::from_ref(&enrolled),
            )
            .await;
        if let Err(err) = stored {
            indexed.take_back().await;
            return Err(match err {
                crate::StoreError::Conflict(_) => ApiError::ConsentInvalid,
                crate::StoreError::Duplicate("external_id") => ApiError::ExternalIdTaken,
                other => other.into(),
            });
        }
        indexed.kept();
        self.events_written();
        // The enrolling device is a known one at the user's first login.
        if let Some(device) = &live_device {
            let user_agent = parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok());
            let client = parts.extensions.get::<super::ClientAddr>().copied();
            self.remember_sign_in(&user, device, client, user_agent, user.created_at)
                .await;
        }
        tracing::info!(tenant = %tenant.id, user = %user.id, "user enrolled");
        Ok(wire::json_response(
            StatusCode::CREATED,
            &EnrollResponse {
                user_id: user.id,
                enrollments: vec![EnrollmentView::from(enrollment)],
                details: EnrollmentDetails::of(&probe.face),
            },
        ))
    }

    /// 1:N search. A client key (where the tenant allows it at all) learns
    /// the matched user's id only.
    pub(super) async fn match_face(
        &self,
        tenant: &Tenant,
        scope: KeyScope,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: ImageRequest = wire::parse_json(body)?;
        let face = self.warm_face_engine(&tenant.id).await?;
        let probe = face.probe(&ImageInput(request.image)).await?;
        let found = self
            .stored_match(face, &tenant.id, &probe, tenant.settings.match_threshold)
            .await?;
        // Only an active user is a match; a suspended or locked one is not
        // handed out, and nobody else is offered in their place.
        let matched = match found {
            Some(hit) => self
                .inner
                .store
                .user(&tenant.id, &hit.user_id)
                .await?
                .filter(|user| user.status == UserStatus::Active)
                .map(|user| (user, hit.confidence)),
            None => None,
        };
        let response = match matched {
            Some((user, confidence)) => MatchResponse {
                matched: true,
                confidence,
                user: Some(match scope {
                    KeyScope::Server => MatchedView::Full(MatchedUser::from(user)),
                    KeyScope::Client => MatchedView::IdOnly(MatchedUserId { id: user.id }),
                }),
            },
            None => MatchResponse {
                matched: false,
                confidence: 0.0,
                user: None,
            },
        };
        Ok(wire::json_response(StatusCode::OK, &response))
    }

    pub(super) async fn detect_attributes(&self, body: &[u8]) -> Result<Response<Bytes>, ApiError> {
        let request: ImageRequest = wire::parse_json(body)?;
        let faces = self
            .face_engine()?
            .detect(&ImageInput(request.image))
            .await?;
        if faces.is_empty() {
            return Err(ApiError::NoFaceInImage);
        }
        Ok(wire::json_response(
            StatusCode::OK,
            &DetectResponse { faces },
        ))
    }

    /// Replaces a user's faces (server keys only): from a photo (an
    /// administrator's migration) or from a live session. A live face that
    /// is not the user's current one needs `force: true`, and is logged as
    /// a forced re-enrollment. The new face is indexed and stored first; the
    /// old ones leave the engine only after the store has swapped them.
    pub(super) async fn re_enroll(
        &self,
        tenant: &Tenant,
        scope: KeyScope,
        headers: &http::HeaderMap,
        user_id: &UserId,
        body: &[u8],
        audit: &mut super::AuditDraft,
    ) -> Result<Response<Bytes>, ApiError> {
        let request: ReEnrollRequest = wire::parse_json(body)?;
        let user = self
            .inner
            .store
            .user(&tenant.id, user_id)
            .await?
            .ok_or(ApiError::UserNotFound)?;
        if scope == KeyScope::Client {
            self.check_client_re_enroll(tenant, headers, &user, &request)
                .await?;
        }
        let face = self.warm_face_engine(&tenant.id).await?;
        let (probe, live) = match FaceSource::of(request.face_image, &request.liveness_session_id)?
        {
            FaceSource::Photo(image) => (face.probe(&ImageInput(image)).await?, false),
            FaceSource::Live(session) => (
                self.live_probe(tenant, session, LiveFace::ForEnrollment)
                    .await?
                    .1,
                true,
            ),
        };
        check_minimum_age(&tenant.settings, &probe)?;
        let found = self
            .stored_match(face, &tenant.id, &probe, tenant.settings.match_threshold)
            .await?;
        if let Some(hit) = &found
            && hit.user_id != *user_id
        {
            return Err(ApiError::UserAlreadyEnrolled);
        }
        if live && found.is_none() {
            if !request.force {
                return Err(ApiError::FaceMismatch);
            }
            audit.note = Some("forced_re_enroll");
            tracing::warn!(tenant = %tenant.id, user = %user_id, "forced re-enrollment with a face that does not match the user's");
        }
        if let Some(session) = &request.liveness_session_id {
            self.consume(tenant, session, clock::now()).await?;
        }
        let indexed = self
            .index_face(face, tenant, user_id, &probe, request.enrolled_with_glasses)
            .await?;
        let enrollment = indexed.enrollment.clone();
        let re_enrolled = Event::new(
            &tenant.id,
            EventKind::UserReEnrolled,
            json!({
                "user_id": user_id,
                "face_id": enrollment.id,
                "forced": audit.note == Some("forced_re_enroll"),
            }),
            enrollment.created_at,
        );
        let replaced = self
            .inner
            .store
            .replace_faces(
                &tenant.id,
                user_id,
                std::slice::from_ref(&enrollment),
                std::slice::from_ref(&re_enrolled),
            )
            .await;
        // The old faces are out of the store now; out of the engine below.
        match replaced {
            Ok(Some(_old)) => self.events_written(),
            Ok(None) => {
                indexed.take_back().await;
                return Err(ApiError::UserNotFound);
            }
            Err(err) => {
                indexed.take_back().await;
                return Err(err.into());
            }
        }
        indexed.kept();
        self.faces_removed(&tenant.id).await;
        tracing::info!(tenant = %tenant.id, user = %user_id, "user re-enrolled");
        Ok(wire::json_response(
            StatusCode::OK,
            &EnrollResponse {
                user_id: user_id.clone(),
                enrollments: vec![EnrollmentView::from(enrollment)],
                details: EnrollmentDetails::of(&probe.face),
            },
        ))
    }

    /// A browser may re-enroll only its own user: with a verification
    /// token of that user (from the device the token is bound to, within
    /// the session's re-verification deadline) and a live session of the
    /// same face (no photo, no `force`). Past the rotation's hard stop no
    /// token can be had: the host re-enrolls the user with a server key
    /// after its own recovery.
    async fn check_client_re_enroll(
        &self,
        tenant: &Tenant,
        headers: &http::HeaderMap,
        user: &User,
        request: &ReEnrollRequest,
    ) -> Result<(), ApiError> {
        if request.face_image.is_some() || request.liveness_session_id.is_none() {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "liveness_session_id",
                "a client key re-enrolls from a live session only",
            )]));
        }
        if request.force {
            return Err(ApiError::InsufficientScope {
                required: KeyScope::Server.as_str(),
            });
        }
        let token = request
            .verification_token
            .as_deref()
            .ok_or(ApiError::InvalidVerificationToken)?;
        let (claims, session, holder) = self.verified_token(tenant, token).await?;
        if holder.id != user.id || !crate::device::matches_binding(claims.dfp.as_deref(), headers) {
            return Err(ApiError::InvalidVerificationToken);
        }
        let now = clock::now();
        let policies = self.policies(tenant).await?;
        if let Some(continuous) = policies.continuous
            && continuous.deadline(session.last_verified_at, session.confidence) <= now
        {
            return Err(ApiError::ReverifyRequired);
        }
        self.ensure_not_locked(
            tenant,
            &policies.risk,
            crate::store::FailureSubject::User(&user.id),
            now,
        )
        .await?;
        Ok(())
    }

    async fn index_face(
        &self,
        face: &Arc<dyn FaceProvider>,
        tenant: &Tenant,
        user: &UserId,
        probe: &FaceProbe,
        enrolled_with_glasses: bool,
    ) -> Result<IndexedFace, ApiError> {
        let id = FaceId::generate();
        let indexed = face.index(&tenant.id, user, &id, probe).await?;
        // Sealed at rest, bound to this tenant and face.
        let template = indexed.template.map(|template| {
            Biometric::Template {
                tenant: &tenant.id,
                user,
                face: &id,
            }
            .seal(self.inner.master_key.as_ref(), template)
        });
        Ok(IndexedFace {
            facegate: self.clone(),
            pending: true,
            enrollment: FaceEnrollment {
                id,
                tenant_id: tenant.id.clone(),
                user_id: user.clone(),
                provider: face.name().to_owned(),
                provider_face_id: indexed.provider_face_id,
                angle: probe.angle.clone(),
                confidence: probe.face.confidence,
                enrolled_with_glasses,
                template,
                created_at: clock::now(),
            },
        })
    }

    /// Takes back a face indexed for a write that did not happen: out of
    /// the engine, or queued for the next maintenance pass when the engine
    /// keeps faces itself and cannot delete it now. A face the store does
    /// hold (a write cut off after its commit) is left alone.
    async fn take_back_face(&self, enrollment: &FaceEnrollment) {
        let tenant = &enrollment.tenant_id;
        let Some(face) = &self.inner.face else { return };
        match self
            .inner
            .store
            .faces_of_user(tenant, &enrollment.user_id)
            .await
        {
            Ok(faces)
                if faces
                    .iter()
                    .any(|f| f.provider_face_id == enrollment.provider_face_id) =>
            {
                return;
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(%tenant, face = %enrollment.id, %err, "could not tell whether the face was stored; taking it back")
            }
        }
        let Err(err) = face
            .delete(tenant, std::slice::from_ref(&enrollment.provider_face_id))
            .await
        else {
            return;
        };
        if enrollment.template.is_some() {
            tracing::error!(%tenant, face = %enrollment.id, %err, "could not undo indexing");
            return;
        }
        let queued = EngineFaceDeletion {
            tenant_id: tenant.clone(),
            provider: enrollment.provider.clone(),
            provider_face_id: enrollment.provider_face_id.clone(),
            queued_at: clock::now(),
        };
        match self
            .inner
            .store
            .queue_engine_face_deletions(&[queued])
            .await
        {
            Ok(()) => {
                tracing::warn!(%tenant, face = %enrollment.id, %err, "the engine could not take back a face; queued for maintenance")
            }
            Err(store_err) => {
                tracing::error!(%tenant, face = %enrollment.id, %err, %store_err, "a face indexed for a failed write is left in the engine")
            }
        }
    }
}

/// A face the engine indexed whose store write has not committed yet.
/// [`IndexedFace::kept`] once it has; otherwise it is taken back: by
/// [`IndexedFace::take_back`] after a failed write, or, when the request
/// is dropped mid-way (the client went away), by a task of its own.
struct IndexedFace {
    facegate: FaceGate,
    enrollment: FaceEnrollment,
    /// Still to be kept or taken back.
    pending: bool,
}

impl IndexedFace {
    fn kept(mut self) {
        self.pending = false;
    }

    async fn take_back(mut self) {
        self.pending = false;
        self.facegate.take_back_face(&self.enrollment).await;
    }
}

impl Drop for IndexedFace {
    fn drop(&mut self) {
        if !self.pending {
            return;
        }
        let (facegate, enrollment) = (self.facegate.clone(), self.enrollment.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { facegate.take_back_face(&enrollment).await });
            }
            Err(_) => {
                tracing::error!(face = %enrollment.id, "request dropped with no runtime: a face may be left in the engine")
            }
        }
    }
}

impl From<User> for MatchedUser {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            name: user.name,
            role: user.role,
            metadata: user.metadata,
        }
    }
}

impl FaceGate {
    /// The hash of the PIN an enrollment brings, by the tenant's PIN rules.
    /// With unique PINs, "taken" tells whether someone has a PIN: each check
    /// is a try of the live session (three), so one ceremony cannot list
    /// the PINs in use.
    async fn enrollment_pin(
        &self,
        tenant: &Tenant,
        pin: Option<&str>,
        session: Option<&LivenessSessionId>,
    ) -> Result<Option<String>, ApiError> {
        let rules = &tenant.settings.pin;
        let pin = match (rules.mode, pin) {
            (PinMode::Off, Some(_)) => {
                return Err(ApiError::Validation(vec![FieldIssue::new(
                    "pin",
                    "this application does not use PINs",
                )]));
            }
            (PinMode::Always, None) => return Err(ApiError::PinRequiredAtEnroll),
            (_, None) => return Ok(None),
            (_, Some(pin)) => Pin::parse("pin", pin)?,
        };
        let now = clock::now();
        if rules.unique
            && let Some(session) = session
        {
            // No user to charge: the session's tries alone.
            let limits = PinLimits {
                session_max: PinSettings::MAX_TRIES,
                user_max: 0,
                user_window: chrono::Duration::zero(),
            };
            let reserved = self
                .inner
                .store
                .reserve_pin_try(&tenant.id, session, &[], limits, now)
                .await?;
            if !matches!(reserved, PinTry::Reserved { .. }) {
                return Err(ApiError::LivenessSessionConsumed);
            }
        }
        let hash = pin.hash(&tenant.id).await?;
        if rules.unique && self.inner.store.pin_taken(&tenant.id, &hash).await? {
            return Err(ApiError::UniquePinRequired);
        }
        if rules.unique
            && let Some(session) = session
        {
            self.inner
                .store
                .refund_pin_try(&tenant.id, session, &[], now)
                .await?;
        }
        Ok(Some(hash))
    }
}

fn check_minimum_age(settings: &TenantSettings, probe: &FaceProbe) -> Result<(), ApiError> {
    match (settings.minimum_age, probe.face.estimated_age) {
        (Some(minimum), Some(age))
            if age < f32::from(minimum) + TenantSettings::MINOR_AGE_MARGIN =>
        {
            Err(ApiError::MinorsNotAllowed)
        }
        _ => Ok(()),
    }
}

/// The role a new user gets. A server key says which (`role` is required);
/// a client key enrolls from a live session only, with the tenant's
/// `client_role`, and sets nothing a host may trust: no `external_id`,
/// `email`, `phone` or `metadata` (a session provider would carry them into
/// the host's own auth). `name` and `payload` it may send; neither is
/// trusted for anything.
fn enrollment_role(
    tenant: &Tenant,
    scope: KeyScope,
    request: &EnrollRequest,
) -> Result<String, ApiError> {
    match scope {
        KeyScope::Server => request
            .role
            .clone()
            .ok_or_else(|| ApiError::Validation(vec![FieldIssue::new("role", "is required")])),
        KeyScope::Client => {
            let client_role = &tenant.settings.client_role;
            let privileged = request.face_image.is_some()
                || request.external_id.is_some()
                || request.email.is_some()
                || request.phone.is_some()
                || request.metadata.is_some()
                || request
                    .role
                    .as_ref()
                    .is_some_and(|role| role != client_role);
            if privileged {
                return Err(ApiError::InsufficientScope {
                    required: KeyScope::Server.as_str(),
                });
            }
            Ok(client_role.clone())
        }
    }
}

fn validate_profile(request: &EnrollRequest, role: &str) -> Result<(), ApiError> {
    let mut issues = Vec::new();
    let mut text = |field: &str, value: Option<&str>, max: usize, required: bool| match value {
        Some(v) if v.trim().is_empty() && required => {
            issues.push(FieldIssue::new(field, "must not be empty"))
        }
        Some(v) if v.chars().count() > max => issues.push(FieldIssue::new(
            field,
            format!("must be at most {max} characters"),
        )),
        _ => {}
    };
    text("name", Some(&request.name), 200, true);
    text("role", Some(role), 64, true);
    text("email", request.email.as_deref(), 320, false);
    text("phone", request.phone.as_deref(), 32, false);
    text("external_id", request.external_id.as_deref(), 256, false);
    if let Some(metadata) = &request.metadata {
        let size = serde_json::to_vec(metadata).map_or(usize::MAX, |b| b.len());
        if size > MAX_METADATA_BYTES {
            issues.push(FieldIssue::new(
                "metadata",
                format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
            ));
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(issues))
    }
}
