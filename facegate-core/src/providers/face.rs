//! Face engines. The trait sits at the level of enroll / search / delete /
//! detect / liveness, not raw embeddings, so that it fits both an engine that
//! searches its own index (the local CPU engine) and one that keeps faces in a
//! server-side collection (AWS Rekognition's IndexFaces / SearchFacesByImage /
//! DeleteFaces, with liveness sessions run by the browser against AWS).

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{FaceEnrollment, LivenessMode};
use crate::ids::{FaceId, TenantId, UserId};

/// An image as sent by a client: base64 JPEG or PNG, possibly with a `data:` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInput(pub String);

impl ImageInput {
    /// Most image bytes any engine takes (Rekognition's limit too).
    pub const MAX_BYTES: usize = 5 * 1024 * 1024;

    /// The image's bytes: a `data:` prefix stripped, whitespace ignored,
    /// and the length checked before anything is decoded.
    pub fn bytes(&self) -> Result<Vec<u8>, FaceError> {
        use base64::Engine as _;
        let data = self.0.trim();
        let payload = match data.strip_prefix("data:") {
            Some(rest) => {
                rest.split_once(";base64,")
                    .ok_or_else(|| FaceError::InvalidImage("data: URL is not base64".into()))?
                    .1
            }
            None => data,
        };
        if payload.len() > Self::MAX_BYTES / 3 * 4 + 4 {
            return Err(FaceError::InvalidImage(format!(
                "image is larger than {} bytes",
                Self::MAX_BYTES
            )));
        }
        let compact: String = payload
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|err| FaceError::InvalidImage(format!("invalid base64: {err}")))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// Decoding would take more memory than the engine allows (413).
    #[error("images too large: {0}")]
    TooLarge(String),
    #[error("no face detected in image")]
    NoFace,
    #[error("more than one face in image")]
    ManyFaces,
    #[error("this face engine does not support {0}")]
    Unsupported(&'static str),
    /// Too much work queued; the caller should retry after a moment.
    #[error("face engine busy")]
    Busy,
    #[error("face engine failed: {0}")]
    Engine(String),
}

/// A face found in an image, with whatever attributes the engine estimates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DetectedFace {
    pub bounding_box: BoundingBox,
    /// Detection confidence, 0–100.
    pub confidence: f32,
    /// Estimated age in years, when the engine estimates it (used by the minors rule).
    pub estimated_age: Option<f32>,
    /// Everything else the engine estimates (landmarks, pose, eyes open,
    /// sharpness, brightness, gender, anti-spoof score…), as returned by
    /// `POST /v1/detect-attributes`.
    pub attributes: Value,
}

/// In pixels of the submitted image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoundingBox {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

/// The single face of a client image, analysed once and then used for both
/// the duplicate search and indexing, so an enrollment costs one inference.
#[derive(Clone)]
pub struct FaceProbe {
    pub face: DetectedFace,
    /// `front`, `left`, `right`, `up` or `down`: how the face is turned.
    pub angle: String,
    /// The engine's own data for this face (an embedding, or the image bytes
    /// for a server-side collection), opaque to the core.
    pub data: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for FaceProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceProbe")
            .field("face", &self.face)
            .field("angle", &self.angle)
            .finish_non_exhaustive()
    }
}

/// What an engine hands back for a newly indexed face; the caller stores it
/// as a [`FaceEnrollment`].
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFace {
    pub provider_face_id: String,
    /// The embedding, for engines that search their own index.
    pub template: Option<Vec<u8>>,
}

/// The best match of a search, above the threshold the caller asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceMatch {
    pub user_id: UserId,
    pub provider_face_id: String,
    /// Calibrated similarity, 0–100.
    pub confidence: f32,
}

/// What an engine sees in one liveness frame. The core judges the challenge
/// from these measurements (see `facegate_core::liveness`).
#[derive(Debug, Clone)]
pub enum FrameObservation {
    /// Exactly one face, measured.
    Face(ObservedFace),
    /// No face, or more than one.
    NotOneFace,
}

impl FrameObservation {
    /// The passive live score of the frame's one face.
    pub fn live_score(&self) -> Option<f32> {
        match self {
            FrameObservation::Face(face) => Some(face.live_score),
            FrameObservation::NotOneFace => None,
        }
    }
}

/// Fingerprints of a frame's decoded pixels (not of its encoding: the same
/// image sent as another JPEG, a PNG or with other base64 padding is the same
/// frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePixels {
    /// SHA-256 of the decoded RGB pixels (after the engine's downscale).
    pub digest: [u8; 32],
    /// 64-bit difference hash (dHash, 9×8 grey): a re-encoded copy of a
    /// frame has the same or a very close one.
    pub perceptual: u64,
}

#[derive(Debug, Clone)]
pub struct ObservedFace {
    /// Head yaw in degrees; positive when the nose points to the image's left
    /// (the user turning to their right on an unmirrored frame).
    pub yaw: f32,
    /// Head pitch in degrees; positive looking up. Measured for active
    /// challenges only (no passive rule looks at it).
    pub pitch: Option<f32>,
    /// Probability that the eyes are open, 0–1 (the more closed eye of the
    /// two). Measured for active challenges only.
    pub eyes_open: Option<f32>,
    /// Probability that the face is a live person rather than a photo or
    /// screen, 0–1, from a single-frame (passive) model.
    pub live_score: f32,
    /// How the face is known to be the reference frame's person.
    pub same_face: SameFace,
    /// What the frame's decoded pixels are, for the replay checks.
    pub pixels: FramePixels,
}

/// How an engine established that a frame shows the reference frame's face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SameFace {
    /// It is the reference frame.
    Reference,
    /// The face stayed in place and looks the same, pixel for pixel, as in
    /// the reference frame: the same moment of the same person, shown
    /// without comparing embeddings. An engine answers this only when the
    /// likeness is far beyond what two people's faces reach; anything less
    /// is [`SameFace::Compared`].
    Tracked,
    /// Compared by identity: calibrated similarity (0–100) to the reference face.
    Compared(f32),
}

/// What an engine saw in one liveness upload.
#[derive(Debug, Clone)]
pub struct LivenessObservation {
    /// Each frame, in order.
    pub frames: Vec<FrameObservation>,
    /// The reference frame and its face, ready for [`FaceProvider::search`]:
    /// the frame [`crate::liveness::reference_frame`] picks, `None` when no
    /// frame shows one face.
    pub reference: Option<ReferenceFace>,
}

#[derive(Debug, Clone)]
pub struct ReferenceFace {
    /// Index into [`LivenessObservation::frames`].
    pub frame: usize,
    pub probe: FaceProbe,
}

/// The start of a liveness check the provider runs with the browser
/// (Rekognition Face Liveness): what the browser needs to run it.
#[derive(Debug, Clone)]
pub struct ProviderLivenessStart {
    /// The provider's session id; FaceGate's session takes the same id.
    pub session_id: String,
    /// Temporary credentials the browser streams to the provider with,
    /// allowed to do nothing else.
    pub credentials: Option<TemporaryCredentials>,
    pub region: Option<String>,
}

/// AWS-style temporary credentials, as the spec's liveness session
/// answer carries them.
#[derive(Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Where a provider-run liveness check stands.
#[derive(Debug, Clone)]
pub enum ProviderLivenessResult {
    /// Not run yet, or still running.
    Pending,
    /// The provider's session expired unused.
    Expired,
    /// Checked: whether the provider found a live person, its confidence
    /// (0–100) and the frame it keeps as the reference.
    Finished {
        live: bool,
        confidence: f32,
        reference_image: Option<ImageInput>,
    },
}

#[async_trait]
pub trait FaceProvider: Send + Sync + 'static {
    /// Short stable name stored with each enrollment (`local`, `rekognition`).
    fn name(&self) -> &'static str;

    /// Reachability of the engine, reported by `GET /v1/health`.
    async fn health(&self) -> Result<(), FaceError>;

    /// Called with every stored face of the tenant before its first face
    /// operation (and again should the face log have been pruned past what
    /// was applied), so an engine that keeps an in-memory index can rebuild
    /// it, replacing what it held. Server-side collections ignore it.
    async fn restore(
        &self,
        _tenant: &TenantId,
        _faces: &[FaceEnrollment],
    ) -> Result<(), FaceError> {
        Ok(())
    }

    /// Brings an in-memory index up to date with faces added and removed
    /// since [`Self::restore`] (by this instance or another, as the
    /// tenant's face log tells): `added` are stored faces to index (again,
    /// if already there), `removed` provider face ids to drop. Server-side
    /// collections ignore it.
    async fn apply_changes(
        &self,
        _tenant: &TenantId,
        _added: &[FaceEnrollment],
        _removed: &[String],
    ) -> Result<(), FaceError> {
        Ok(())
    }

    /// The engine's load now, for metrics, when it runs inferences itself.
    fn load(&self) -> Option<crate::metrics::EngineLoad> {
        None
    }

    /// How many faces the engine's own index holds for the tenant, for
    /// engines that keep one in memory (`GET /v1/face-index`).
    fn indexed_faces(&self, _tenant: &TenantId) -> Option<usize> {
        None
    }

    /// Every face in the image with its attributes.
    async fn detect(&self, image: &ImageInput) -> Result<Vec<DetectedFace>, FaceError>;

    /// Analyses the one face of `image` ([`FaceError::NoFace`] or
    /// [`FaceError::ManyFaces`] otherwise) for [`Self::search`] and [`Self::index`].
    async fn probe(&self, image: &ImageInput) -> Result<FaceProbe, FaceError>;

    /// The tenant's best match for the probe, if its confidence (0–100) reaches `threshold`.
    async fn search(
        &self,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
    ) -> Result<Option<FaceMatch>, FaceError>;

    /// The hits at or above `threshold`, best first: at least the best
    /// match and, if another enrolled person also reaches it, the
    /// runner-up (two people matching makes verify ask for a PIN). An
    /// engine that may hold faces the store let go (deletions it has not
    /// done yet) returns more, several of one user included: core drops
    /// the stale ones before it picks the best two people. Engines that
    /// only report the best match keep this default.
    async fn search_candidates(
        &self,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
    ) -> Result<Vec<FaceMatch>, FaceError> {
        Ok(self
            .search(tenant, probe, threshold)
            .await?
            .into_iter()
            .collect())
    }

    /// Adds the probe's face to the tenant's collection as `face_id` of `user`.
    async fn index(
        &self,
        tenant: &TenantId,
        user: &UserId,
        face_id: &FaceId,
        probe: &FaceProbe,
    ) -> Result<IndexedFace, FaceError>;

    /// Removes faces from the engine; unknown ids are not an error.
    async fn delete(
        &self,
        tenant: &TenantId,
        provider_face_ids: &[String],
    ) -> Result<(), FaceError>;

    /// Measures a liveness upload, for engines that judge uploaded frames
    /// themselves (the local engine): each frame, and the reference frame's
    /// face. `mode` says what the judge will look at (head pose and eyes in
    /// active mode only), so an engine runs only the models it needs.
    async fn observe_liveness(
        &self,
        _mode: LivenessMode,
        _frames: &[ImageInput],
    ) -> Result<LivenessObservation, FaceError> {
        Err(FaceError::Unsupported("liveness frames"))
    }

    /// Whether this engine runs liveness with the browser itself
    /// ([`Self::start_liveness`] / [`Self::finish_liveness`]) rather than
    /// judging uploaded frames ([`Self::observe_liveness`]).
    fn runs_liveness(&self) -> bool {
        false
    }

    /// Starts a provider-run liveness check for the tenant.
    async fn start_liveness(&self, _tenant: &TenantId) -> Result<ProviderLivenessStart, FaceError> {
        Err(FaceError::Unsupported("provider-run liveness"))
    }

    /// The outcome of a check [`Self::start_liveness`] started.
    async fn finish_liveness(
        &self,
        _tenant: &TenantId,
        _session_id: &str,
    ) -> Result<ProviderLivenessResult, FaceError> {
        Err(FaceError::Unsupported("provider-run liveness"))
    }

    /// A probe as bytes to keep with a live session, so that verify
    /// searches the face the liveness check saw without analysing the frame
    /// again. `None` (the default): verify probes the reference image.
    fn encode_probe(&self, _probe: &FaceProbe) -> Option<Vec<u8>> {
        None
    }

    /// The probe [`Self::encode_probe`] made these bytes from; `None` for
    /// bytes this engine (or this version of it) did not make.
    fn decode_probe(&self, _bytes: &[u8]) -> Option<FaceProbe> {
        None
    }

    /// The frame of a live session to keep for verify or enroll, as the
    /// engine judged it: the local engine keeps the upload when it judged
    /// it at full size, and the downscaled pixels (re-encoded) when it did
    /// not, so what enroll analyses is what was judged live, camera-sized.
    async fn reference_frame(&self, frame: &ImageInput) -> Result<ImageInput, FaceError> {
        Ok(frame.clone())
    }
}
