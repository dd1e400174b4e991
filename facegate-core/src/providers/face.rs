//! Face engines. The trait sits at the level of enroll / search / delete /
//! detect / liveness, not raw embeddings, so that it fits both an engine that
//! searches its own index (the local CPU engine) and one that keeps faces in a
//! server-side collection (AWS Rekognition's IndexFaces / SearchFacesByImage /
//! DeleteFaces, with liveness sessions run by the browser against AWS).

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::domain::FaceEnrollment;
use crate::ids::{TenantId, UserId};

/// An image as sent by a client: base64 JPEG or PNG, possibly with a `data:` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInput(pub String);

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("invalid image: {0}")]
    InvalidImage(String),
    #[error("no face detected in image")]
    NoFace,
    #[error("more than one face in image")]
    ManyFaces,
    #[error("liveness session not found")]
    UnknownLivenessSession,
    /// Too much work queued; the caller should retry after a moment.
    #[error("face engine busy")]
    Busy,
    #[error("face engine failed: {0}")]
    Engine(String),
}

/// A face found in an image, with whatever attributes the engine estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectedFace {
    pub bounding_box: BoundingBox,
    /// Detection confidence, 0–100.
    pub confidence: f32,
    /// Engine-specific attributes (pose, eyes open, sharpness, age range, anti-spoof score…).
    pub attributes: Value,
}

/// In pixels of the submitted image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

/// What an engine hands back for a newly indexed face; the caller stores it
/// as a [`FaceEnrollment`].
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFace {
    pub provider_face_id: String,
    pub confidence: f32,
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

/// A liveness ceremony as started by the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessStart {
    pub session_id: String,
    /// Temporary credentials for a browser-side liveness widget (Rekognition); `None` locally.
    pub credentials: Option<Value>,
    pub region: Option<String>,
    /// The challenge the client must perform, for engines that set one.
    pub challenge: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessOutcome {
    pub is_live: bool,
    /// 0–100.
    pub confidence: f32,
}

#[async_trait]
pub trait FaceProvider: Send + Sync + 'static {
    /// Short stable name stored with each enrollment (`local`, `rekognition`).
    fn name(&self) -> &'static str;

    /// Reachability of the engine, reported by `GET /v1/health`.
    async fn health(&self) -> Result<(), FaceError>;

    /// Called once per tenant on start with every stored face, so an engine that
    /// keeps an in-memory index can rebuild it. Server-side collections ignore it.
    async fn restore(
        &self,
        _tenant: &TenantId,
        _faces: &[FaceEnrollment],
    ) -> Result<(), FaceError> {
        Ok(())
    }

    /// Every face in the image with its attributes.
    async fn detect(&self, image: &ImageInput) -> Result<Vec<DetectedFace>, FaceError>;

    /// Indexes the single face in `image` for `user`.
    async fn index(
        &self,
        tenant: &TenantId,
        user: &UserId,
        image: &ImageInput,
    ) -> Result<IndexedFace, FaceError>;

    /// The best match for the single face in `image`, if above `threshold` (0–100).
    async fn search(
        &self,
        tenant: &TenantId,
        image: &ImageInput,
        threshold: f32,
    ) -> Result<Option<FaceMatch>, FaceError>;

    /// Removes faces from the engine; unknown ids are not an error.
    async fn delete(
        &self,
        tenant: &TenantId,
        provider_face_ids: &[String],
    ) -> Result<(), FaceError>;

    /// Starts a liveness ceremony.
    async fn start_liveness(&self, tenant: &TenantId) -> Result<LivenessStart, FaceError>;

    /// The outcome of a finished liveness ceremony.
    async fn finish_liveness(
        &self,
        tenant: &TenantId,
        session_id: &str,
    ) -> Result<LivenessOutcome, FaceError>;
}
