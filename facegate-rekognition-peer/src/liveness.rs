//! Face Liveness sessions: `CreateFaceLivenessSession`,
//! `GetFaceLivenessSessionResults`, and the stand-in for the browser's
//! streaming step (`POST /_peer/liveness-sessions/{id}/complete`).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use facegate_core::domain::LivenessMode;
use facegate_core::liveness;
use facegate_core::providers::face::{
    FaceProvider, FrameObservation, ImageInput, ObservedFace, SameFace,
};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ops::{Image, engine_error, ratio_box};
use crate::{AwsError, Caller, Peer, lock};

/// How long a session may wait for its check, as AWS has it.
const SESSION_LIFETIME: Duration = Duration::minutes(3);

pub(crate) struct Session {
    owner: Caller,
    created_at: DateTime<Utc>,
    audit_images_limit: usize,
    outcome: Option<Outcome>,
}

#[derive(Clone)]
struct Outcome {
    succeeded: bool,
    confidence: f32,
    /// Base64 bytes and the face's box (ratios) of the reference frame.
    reference: Option<(String, Value)>,
    /// Base64 bytes of up to `AuditImagesLimit` frames (the peer reports no
    /// box for them: its engine measures the reference frame's only).
    audit: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateRequest {
    settings: Option<CreateSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateSettings {
    audit_images_limit: Option<u32>,
}

pub(crate) fn create_session(
    peer: &Peer,
    caller: &Caller,
    request: CreateRequest,
) -> Result<Value, AwsError> {
    let limit = request
        .settings
        .and_then(|s| s.audit_images_limit)
        .unwrap_or(0);
    if limit > 4 {
        return Err(AwsError::validation("AuditImagesLimit must be 0 to 4"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    lock(&peer.state.data).sessions.insert(
        id.clone(),
        Session {
            owner: caller.clone(),
            created_at: peer.now(),
            audit_images_limit: limit as usize,
            outcome: None,
        },
    );
    Ok(json!({ "SessionId": id }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResultsRequest {
    session_id: String,
}

pub(crate) fn results(
    peer: &Peer,
    caller: &Caller,
    request: ResultsRequest,
) -> Result<Value, AwsError> {
    let data = lock(&peer.state.data);
    let session = data
        .sessions
        .get(&request.session_id)
        .filter(|s| &s.owner == caller)
        .ok_or_else(|| {
            AwsError::new(
                400,
                "SessionNotFoundException",
                format!("Session {} not found", request.session_id),
            )
        })?;
    let image = |(bytes, bounding_box): &(String, Value)| json!({ "Bytes": bytes, "BoundingBox": bounding_box });
    Ok(match &session.outcome {
        Some(outcome) => json!({
            "SessionId": request.session_id,
            "Status": if outcome.succeeded { "SUCCEEDED" } else { "FAILED" },
            "Confidence": outcome.confidence,
            "ReferenceImage": outcome.reference.as_ref().map(image),
            "AuditImages": outcome
                .audit
                .iter()
                .map(|bytes| json!({ "Bytes": bytes }))
                .collect::<Vec<_>>(),
        }),
        None if peer.now() >= session.created_at + SESSION_LIFETIME => json!({
            "SessionId": request.session_id,
            "Status": "EXPIRED",
        }),
        None => json!({ "SessionId": request.session_id, "Status": "CREATED" }),
    })
}

#[derive(Deserialize)]
pub(crate) struct CompleteRequest {
    /// Base64 JPEG or PNG frames, as a camera would have streamed them.
    frames: Vec<String>,
}

/// Stands in for the browser's streaming step: judges the frames with the
/// local engine's passive model. SUCCEEDED when every frame shows one face,
/// the same person throughout and none a likely spoof (as AWS fails a
/// session whose face changes); the confidence is the mean live score
/// (0–100), the reference image the frame the model trusts most.
pub(crate) async fn complete(
    State(peer): State<Peer>,
    Path(id): Path<String>,
    Json(request): Json<CompleteRequest>,
) -> Response {
    match peer.complete_liveness(&id, request.frames).await {
        Ok(answer) => Json(answer).into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// Why the peer refused a completion: HTTP status and message.
#[derive(Debug)]
pub struct Refused(pub StatusCode, pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0, self.1)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

impl Peer {
    /// The browser's streaming step for session `id`, with these base64
    /// frames (see the `complete` route): `{ Status, Confidence }`.
    pub async fn complete_liveness(&self, id: &str, frames: Vec<String>) -> Result<Value, Refused> {
        let peer = self;
        let conflict = |message: &str| Refused(StatusCode::CONFLICT, message.to_owned());
        let limit = {
            let data = lock(&peer.state.data);
            match data.sessions.get(id) {
                None => return Err(Refused(StatusCode::NOT_FOUND, "no such session".into())),
                Some(s) if s.outcome.is_some() => {
                    return Err(conflict("the session is already complete"));
                }
                Some(s) if peer.now() >= s.created_at + SESSION_LIFETIME => {
                    return Err(conflict("the session has expired"));
                }
                Some(s) => s.audit_images_limit,
            }
        };
        if frames.is_empty() || frames.len() > 30 {
            return Err(Refused(StatusCode::BAD_REQUEST, "frames: 1 to 30".into()));
        }
        let mut checked = Vec::with_capacity(frames.len());
        for frame in frames {
            match (Image {
                bytes: Some(frame),
                s3_object: None,
            })
            .check()
            {
                Ok(image) => checked.push(image),
                Err(err) => return Err(Refused(StatusCode::BAD_REQUEST, err.message)),
            }
        }
        let inputs: Vec<ImageInput> = checked.iter().map(|c| c.input.clone()).collect();
        let observed = match peer
            .state
            .engine
            .observe_liveness(LivenessMode::Passive, &inputs)
            .await
        {
            Ok(observed) => observed,
            Err(err) => {
                let err = engine_error(err);
                return Err(Refused(
                    StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST),
                    err.message,
                ));
            }
        };
        let faces: Option<Vec<&ObservedFace>> = observed
            .frames
            .iter()
            .map(|frame| match frame {
                FrameObservation::Face(face) => Some(face),
                FrameObservation::NotOneFace => None,
            })
            .collect();
        let outcome = match (&observed.reference, faces) {
            (Some(reference), Some(faces)) if faces.iter().all(|f| looks_live_and_same(f)) => {
                let scores: Vec<f32> = faces.iter().map(|f| f.live_score).collect();
                let frame = reference.frame;
                Outcome {
                    succeeded: true,
                    confidence: 100.0 * scores.iter().sum::<f32>() / scores.len() as f32,
                    reference: Some((
                        inputs[frame].0.clone(),
                        ratio_box(&reference.probe.face.bounding_box, &checked[frame]),
                    )),
                    audit: inputs.iter().take(limit).map(|i| i.0.clone()).collect(),
                }
            }
            _ => Outcome {
                succeeded: false,
                confidence: 0.0,
                reference: None,
                audit: Vec::new(),
            },
        };
        let answer = json!({
            "Status": if outcome.succeeded { "SUCCEEDED" } else { "FAILED" },
            "Confidence": outcome.confidence,
        });
        let mut data = lock(&peer.state.data);
        match data.sessions.get_mut(id) {
            Some(session) if session.outcome.is_none() => {
                session.outcome = Some(outcome);
                Ok(answer)
            }
            _ => Err(conflict("the session is already complete")),
        }
    }
}

/// The core judge's rules for one frame: the reference's person (by the
/// tenant's default threshold) and not below the spoof floor.
fn looks_live_and_same(face: &ObservedFace) -> bool {
    let same = match face.same_face {
        SameFace::Reference | SameFace::Tracked => true,
        SameFace::Compared(similarity) => liveness::reaches(
            similarity,
            facegate_core::domain::TenantSettings::DEFAULT_MATCH_THRESHOLD,
        ),
    };
    same && liveness::reaches(face.live_score, liveness::SPOOF_FRAME_BELOW)
}
