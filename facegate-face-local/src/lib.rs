//! FaceGate's default face engine: everything on the host's CPU, in pure Rust
//! (ONNX models run by `tract`), no cloud and no native toolchain.
//!
//! ```text
//! decode (JPEG/PNG, limits) → detect → 68 landmarks → similarity alignment to
//! 112×112 → 512-d embedding (L2-normalised) → per-tenant 1:N index
//! ```
//!
//! Inference runs on a bounded pool off the async executor: `workers`
//! inferences at once, `queue` more waiting, and beyond that the engine answers
//! [`FaceError::Busy`] (503 with `Retry-After`) instead of queueing without end.
//!
//! ```no_run
//! # fn demo() -> Result<(), facegate_face_local::ModelError> {
//! let engine = facegate_face_local::LocalFaceEngine::load(Default::default())?;
//! # Ok(()) }
//! ```
// Unsafe only where measured: the AVX2 dispatch of the index scan.
#![deny(unsafe_code)]

pub mod align;
pub mod calibration;
pub mod config;
pub mod image_input;
pub mod index;
pub mod models;
pub mod preprocess;
pub mod track;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use facegate_core::domain::FaceEnrollment;
use facegate_core::domain::LivenessMode;
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::liveness;
use facegate_core::providers::face::{
    BoundingBox, DetectedFace, FaceError, FaceMatch, FaceProbe, FaceProvider, FrameObservation,
    FramePixels, ImageInput, IndexedFace, LivenessObservation, ObservedFace, ReferenceFace,
    SameFace,
};
use image::RgbImage;
use serde_json::json;
use tokio::sync::Semaphore;

pub use config::{EngineConfig, ModelSet, default_model_dir, default_testdata_dir};
pub use models::ModelError;

use index::{Entry, FaceIndex};
use models::{Detection, EMBEDDING_DIMS, Models};
use preprocess::Rect;

/// The local engine. Cheap to clone; clones share models, index and pool.
#[derive(Clone)]
pub struct LocalFaceEngine {
    inner: Arc<Engine>,
    /// Requests admitted (running or waiting).
    admission: Arc<Semaphore>,
    /// Requests running.
    running: Arc<Semaphore>,
    /// Inferences finished, and their time in nanoseconds (for metrics).
    finished: Arc<std::sync::atomic::AtomicU64>,
    busy_nanos: Arc<std::sync::atomic::AtomicU64>,
}

struct Engine {
    models: Arc<Models>,
    config: EngineConfig,
    indexes: RwLock<HashMap<TenantId, FaceIndex>>,
}

/// The probe's engine data: the face's embedding.
struct Embedding(Vec<f32>);

/// A liveness frame's face, measured, waiting for the reference to be chosen.
struct SeenFrame {
    detection: Detection,
    aligned: RgbImage,
    track: track::Track,
    yaw: f32,
    angle: &'static str,
    pitch: Option<f32>,
    eyes_open: Option<f32>,
    live_score: f32,
    pixels: FramePixels,
}

/// Stored templates start with this tag so a future model's embeddings are
/// never compared with this one's.
const TEMPLATE_TAG: &[u8; 4] = b"fgl1";

/// Probes kept with a live session ([`FaceProvider::encode_probe`]) start
/// with this tag and the embedder's hash (so a probe made by another model
/// is never searched), then the embedding, then the detected face as JSON.
const PROBE_TAG: &[u8; 4] = b"fgp1";

/// The name stored with this engine's enrollments.
const ENGINE_NAME: &str = "local";

impl LocalFaceEngine {
    /// Loads and optimises every model (checking their pinned hashes).
    pub fn load(config: EngineConfig) -> Result<Self, ModelError> {
        Ok(Self::with_models(Arc::new(Models::load(&config)?), config))
    }

    /// A second engine on the same loaded models with an empty index, as
    /// after a restart (loading models takes seconds; tests restart often).
    pub fn restarted(&self) -> Self {
        Self::with_models(self.inner.models.clone(), self.inner.config.clone())
    }

    fn with_models(models: Arc<Models>, config: EngineConfig) -> Self {
        let workers = config.workers.max(1);
        Self {
            admission: Arc::new(Semaphore::new(workers + config.queue)),
            running: Arc::new(Semaphore::new(workers)),
            finished: Arc::default(),
            busy_nanos: Arc::default(),
            inner: Arc::new(Engine {
                models,
                config,
                indexes: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Runs `job` on the blocking pool, within the engine's concurrency bounds.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Engine) -> Result<T, FaceError> + Send + 'static,
    ) -> Result<T, FaceError> {
        let _admitted = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| FaceError::Busy)?;
        let _running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| FaceError::Busy)?;
        let engine = self.inner.clone();
        let (finished, busy) = (self.finished.clone(), self.busy_nanos.clone());
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let result = job(&engine);
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            busy.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
            finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            result
        })
        .await
        .map_err(|err| FaceError::Engine(format!("inference task failed: {err}")))?
    }

    /// Faces indexed for the tenant (for tests and metrics).
    /// [`PROBE_TAG`] and the first 16 hex digits of the embedder's SHA-256.
    fn probe_header(&self) -> Vec<u8> {
        let hash = self.inner.config.models.embedder.sha256.as_bytes();
        [PROBE_TAG.as_slice(), &hash[..hash.len().min(16)]].concat()
    }

    pub fn indexed_faces(&self, tenant: &TenantId) -> usize {
        self.inner
            .read_index(|indexes| indexes.get(tenant).map_or(0, FaceIndex::len))
    }

    /// This engine's stored faces as index rows. One without a usable
    /// template fails the whole load rather than being left out: a face
    /// missing from the index would let the same person enroll again
    /// unnoticed. Deleting the face (or its user) clears the error.
    fn indexable(&self, faces: &[FaceEnrollment]) -> Result<Vec<(Entry, Vec<f32>)>, FaceError> {
        faces
            .iter()
            .filter(|face| face.provider == ENGINE_NAME)
            .map(|face| {
                let embedding = face
                    .template
                    .as_deref()
                    .and_then(decode_template)
                    .ok_or_else(|| {
                        FaceError::Engine(format!(
                            "stored face {} of user {} has no template this engine can \
                             read; delete the face or its user",
                            face.id, face.user_id
                        ))
                    })?;
                let entry = Entry {
                    face_id: face.provider_face_id.clone(),
                    user_id: face.user_id.to_string(),
                };
                Ok((entry, embedding))
            })
            .collect()
    }
}

impl Engine {
    fn read_index<T>(&self, f: impl FnOnce(&HashMap<TenantId, FaceIndex>) -> T) -> T {
        f(&self
            .indexes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn write_index<T>(&self, f: impl FnOnce(&mut HashMap<TenantId, FaceIndex>) -> T) -> T {
        f(&mut self
            .indexes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The one face large enough to count, or why there is not exactly one.
    fn single_face(&self, image: &RgbImage) -> Result<Detection, FaceError> {
        let detections = self.models.detect(image).map_err(engine_error)?;
        let mut large = detections
            .iter()
            .filter(|d| d.rect.w.min(d.rect.h) >= self.config.min_face_px);
        match (large.next(), large.next()) {
            (Some(face), None) => Ok(*face),
            (Some(_), Some(_)) => Err(FaceError::ManyFaces),
            (None, _) => Err(FaceError::NoFace),
        }
    }

    /// One face, analysed for search and indexing, with the age the minors
    /// rule reads and the gender estimate enrollment reports (FACEIO's
    /// `details`).
    fn probe(&self, image: &RgbImage) -> Result<FaceProbe, FaceError> {
        let face = self.single_face(image)?;
        let landmarks = self
            .models
            .landmarks(image, face.rect)
            .map_err(engine_error)?;
        let aligned = self
            .models
            .aligned(image, &landmarks)
            .ok_or(FaceError::NoFace)?;
        let embedding = self.models.embed(&aligned).map_err(engine_error)?;
        let age = self.models.age(image, face.rect).map_err(engine_error)?;
        let gender = self.models.gender(image, face.rect).map_err(engine_error)?;
        Ok(FaceProbe {
            face: DetectedFace {
                bounding_box: bounding_box(face.rect),
                confidence: round1(face.score * 100.0),
                estimated_age: Some(age),
                attributes: json!({ "age": round1(age), "gender": gender_json(gender) }),
            },
            angle: angle_from_landmarks(&landmarks).to_owned(),
            data: Arc::new(Embedding(embedding)),
        })
    }

    /// A liveness upload, decoded one frame at a time. Each frame with one
    /// face: detect, landmarks (yaw), alignment, passive live score, and in
    /// active mode pose (pitch) and eyes. Then one embedding, of the
    /// reference frame, and for each other frame the cheap same-face check
    /// ([`track`]), with an embedding only where it is not conclusive.
    fn observe(
        &self,
        mode: LivenessMode,
        frames: impl Iterator<Item = Result<RgbImage, FaceError>>,
    ) -> Result<LivenessObservation, FaceError> {
        let seen = frames
            .map(|image| self.look_at_frame(mode, &image?))
            .collect::<Result<Vec<_>, _>>()?;
        let reference =
            liveness::reference_frame(mode, seen.iter().map(|s| s.as_ref().map(|s| s.live_score)));
        let Some((index, reference_frame)) = reference.and_then(|i| Some((i, seen[i].as_ref()?)))
        else {
            return Ok(LivenessObservation {
                frames: vec![FrameObservation::NotOneFace; seen.len()],
                reference: None,
            });
        };
        let embedding = self
            .models
            .embed(&reference_frame.aligned)
            .map_err(engine_error)?;
        let mut embedded = 1;
        let frames = seen
            .iter()
            .enumerate()
            .map(|(i, frame)| {
                let Some(frame) = frame else {
                    return Ok(FrameObservation::NotOneFace);
                };
                let same_face = if i == index {
                    SameFace::Reference
                } else if frame.track.same_moment(&reference_frame.track) {
                    SameFace::Tracked
                } else {
                    embedded += 1;
                    let other = self.models.embed(&frame.aligned).map_err(engine_error)?;
                    let cosine: f32 = embedding.iter().zip(&other).map(|(a, b)| a * b).sum();
                    SameFace::Compared(calibration::confidence(cosine))
                };
                Ok(FrameObservation::Face(ObservedFace {
                    yaw: frame.yaw,
                    pitch: frame.pitch,
                    eyes_open: frame.eyes_open,
                    live_score: frame.live_score,
                    same_face,
                    pixels: frame.pixels,
                }))
            })
            .collect::<Result<Vec<_>, FaceError>>()?;
        tracing::debug!(frames = frames.len(), embedded, "liveness upload observed");
        let probe = FaceProbe {
            face: DetectedFace {
                bounding_box: bounding_box(reference_frame.detection.rect),
                confidence: round1(reference_frame.detection.score * 100.0),
                estimated_age: None,
                attributes: json!({}),
            },
            angle: reference_frame.angle.to_owned(),
            data: Arc::new(Embedding(embedding)),
        };
        Ok(LivenessObservation {
            frames,
            reference: Some(ReferenceFace {
                frame: index,
                probe,
            }),
        })
    }

    /// One liveness frame's measurements, `None` unless it shows one face.
    /// Only the aligned crop outlives the frame's pixels.
    fn look_at_frame(
        &self,
        mode: LivenessMode,
        image: &RgbImage,
    ) -> Result<Option<SeenFrame>, FaceError> {
        let models = &self.models;
        let detection = match self.single_face(image) {
            Ok(face) => face,
            Err(FaceError::NoFace | FaceError::ManyFaces) => return Ok(None),
            Err(other) => return Err(other),
        };
        let landmarks = models
            .landmarks(image, detection.rect)
            .map_err(engine_error)?;
        let Some(aligned) = models.aligned(image, &landmarks) else {
            return Ok(None);
        };
        let live_score = models
            .anti_spoof(image, detection.rect)
            .map_err(engine_error)?;
        // Only active challenges look up, down or blink.
        let (pitch, eyes_open) = match mode {
            LivenessMode::Active => {
                let pose = models.pose(image, detection.rect).map_err(engine_error)?;
                let eyes = models.eyes_open(image, &landmarks).map_err(engine_error)?;
                (Some(pose.pitch), Some(eyes[0].min(eyes[1])))
            }
            LivenessMode::Passive => (None, None),
        };
        Ok(Some(SeenFrame {
            track: track::Track::of(detection.rect, &aligned),
            aligned,
            detection,
            yaw: yaw_from_landmarks(&landmarks),
            angle: angle_from_landmarks(&landmarks),
            pitch,
            eyes_open,
            live_score,
            pixels: image_input::fingerprint(image),
        }))
    }

    fn detect_all(&self, image: &RgbImage) -> Result<Vec<DetectedFace>, FaceError> {
        let detections = self.models.detect(image).map_err(engine_error)?;
        detections
            .into_iter()
            .map(|face| self.attributes(image, face).map_err(engine_error))
            .collect()
    }

    /// Every attribute the engine estimates for one face.
    fn attributes(&self, image: &RgbImage, face: Detection) -> Result<DetectedFace, ModelError> {
        let models = &self.models;
        let landmarks = models.landmarks(image, face.rect)?;
        let pose = models.pose(image, face.rect)?;
        let eyes = models.eyes_open(image, &landmarks)?;
        let age = models.age(image, face.rect)?;
        let gender = models.gender(image, face.rect)?;
        let anti_spoof = models.anti_spoof(image, face.rect)?;
        let (sharpness, brightness) = models
            .aligned(image, &landmarks)
            .map_or((0.0, 0.0), |aligned| image_quality(&aligned));
        Ok(DetectedFace {
            bounding_box: bounding_box(face.rect),
            confidence: round1(face.score * 100.0),
            estimated_age: Some(age),
            attributes: json!({
                "landmarks": landmarks.iter().map(|p| [round1(p[0]), round1(p[1])]).collect::<Vec<_>>(),
                "pose": { "yaw": round1(pose.yaw), "pitch": round1(pose.pitch), "roll": round1(pose.roll) },
                "eyes_open": {
                    "left": eyes[0] >= 0.5, "right": eyes[1] >= 0.5,
                    "left_confidence": round1(eyes[0] * 100.0), "right_confidence": round1(eyes[1] * 100.0),
                },
                "sharpness": round1(sharpness),
                "brightness": round1(brightness),
                "age_range": {
                    "low": (age - calibration::AGE_MARGIN).max(0.0).round(),
                    "high": (age + calibration::AGE_MARGIN).round(),
                },
                "gender": gender_json(gender),
                "anti_spoof_score": round1(anti_spoof * 100.0),
            }),
        })
    }
}

#[async_trait]
impl FaceProvider for LocalFaceEngine {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    async fn health(&self) -> Result<(), FaceError> {
        // Models are loaded at construction; a running engine is a healthy one.
        Ok(())
    }

    async fn restore(&self, tenant: &TenantId, faces: &[FaceEnrollment]) -> Result<(), FaceError> {
        let mut index = FaceIndex::new(EMBEDDING_DIMS);
        for (entry, embedding) in self.indexable(faces)? {
            index.insert(entry, &embedding);
        }
        tracing::info!(%tenant, faces = index.len(), "face index restored");
        self.inner
            .write_index(|indexes| indexes.insert(tenant.clone(), index));
        Ok(())
    }

    async fn apply_changes(
        &self,
        tenant: &TenantId,
        added: &[FaceEnrollment],
        removed: &[String],
    ) -> Result<(), FaceError> {
        // Decoded outside the lock that searches wait on.
        let added = self.indexable(added)?;
        self.inner.write_index(|indexes| {
            let index = indexes
                .entry(tenant.clone())
                .or_insert_with(|| FaceIndex::new(EMBEDDING_DIMS));
            for (entry, embedding) in added {
                index.insert(entry, &embedding);
            }
            for id in removed {
                index.remove(id);
            }
        });
        Ok(())
    }

    fn indexed_faces(&self, tenant: &TenantId) -> Option<usize> {
        Some(LocalFaceEngine::indexed_faces(self, tenant))
    }

    fn load(&self) -> Option<facegate_core::metrics::EngineLoad> {
        use std::sync::atomic::Ordering::Relaxed;
        let workers = self.inner.config.workers.max(1);
        let admitted = workers + self.inner.config.queue - self.admission.available_permits();
        let running = workers - self.running.available_permits();
        Some(facegate_core::metrics::EngineLoad {
            running,
            waiting: admitted.saturating_sub(running),
            inferences: self.finished.load(Relaxed),
            inference_seconds: self.busy_nanos.load(Relaxed) as f64 / 1e9,
            indexed_faces: self
                .inner
                .read_index(|indexes| indexes.values().map(FaceIndex::len).sum()),
        })
    }

    async fn detect(&self, image: &ImageInput) -> Result<Vec<DetectedFace>, FaceError> {
        let image = image.clone();
        self.run(move |engine| engine.detect_all(&image_input::decode(&image)?))
            .await
    }

    async fn probe(&self, image: &ImageInput) -> Result<FaceProbe, FaceError> {
        let image = image.clone();
        self.run(move |engine| engine.probe(&image_input::decode(&image)?))
            .await
    }

    async fn observe_liveness(
        &self,
        mode: LivenessMode,
        frames: &[ImageInput],
    ) -> Result<LivenessObservation, FaceError> {
        let frames = frames.to_vec();
        self.run(move |engine| {
            // Every header first: an upload that would decode to too many
            // pixels costs a header parse per frame, nothing more. Then one
            // frame at a time, scaled down as it is decoded, so a worker
            // holds one full-size frame at most.
            let encoded = image_input::liveness_frames(&frames)?;
            drop(frames);
            engine.observe(
                mode,
                encoded
                    .iter()
                    .map(|bytes| image_input::decode_liveness_frame(bytes)),
            )
        })
        .await
    }

    fn encode_probe(&self, probe: &FaceProbe) -> Option<Vec<u8>> {
        let embedding = probe.data.downcast_ref::<Embedding>()?;
        let described = serde_json::to_vec(&(&probe.face, &probe.angle)).ok()?;
        let header = self.probe_header();
        let mut bytes = Vec::with_capacity(header.len() + embedding.0.len() * 4 + described.len());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&encode_template(&embedding.0)[TEMPLATE_TAG.len()..]);
        bytes.extend_from_slice(&described);
        Some(bytes)
    }

    fn decode_probe(&self, bytes: &[u8]) -> Option<FaceProbe> {
        let body = bytes.strip_prefix(self.probe_header().as_slice())?;
        let (embedding, described) = body.split_at_checked(EMBEDDING_DIMS * 4)?;
        let embedding = decode_template(&[TEMPLATE_TAG.as_slice(), embedding].concat())?;
        // What this engine makes: finite and of unit length.
        let norm = embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        ((norm - 1.0).abs() < 1e-3).then_some(())?;
        let (face, angle): (DetectedFace, String) = serde_json::from_slice(described).ok()?;
        Some(FaceProbe {
            face,
            angle,
            data: Arc::new(Embedding(embedding)),
        })
    }

    async fn reference_frame(&self, frame: &ImageInput) -> Result<ImageInput, FaceError> {
        let frame = frame.clone();
        self.run(move |_| image_input::reference_frame(&frame))
            .await
    }

    async fn search(
        &self,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
    ) -> Result<Option<FaceMatch>, FaceError> {
        let query = embedding_of(probe)?;
        let tenant = tenant.clone();
        let hit = self
            .run(move |engine| {
                Ok(engine.read_index(|indexes| indexes.get(&tenant).and_then(|i| i.best(&query))))
            })
            .await?;
        Ok(hit.and_then(|hit| face_match(hit, threshold)))
    }

    async fn search_candidates(
        &self,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
    ) -> Result<Vec<FaceMatch>, FaceError> {
        let query = embedding_of(probe)?;
        let tenant = tenant.clone();
        let hits = self
            .run(move |engine| {
                Ok(engine.read_index(|indexes| {
                    indexes
                        .get(&tenant)
                        .map_or_else(Vec::new, |i| i.best_two(&query))
                }))
            })
            .await?;
        let mut matches: Vec<FaceMatch> = hits
            .into_iter()
            .filter_map(|hit| face_match(hit, threshold))
            .collect();
        // A second face of the same person is no rival.
        matches.dedup_by(|second, first| second.user_id == first.user_id);
        Ok(matches)
    }

    async fn index(
        &self,
        tenant: &TenantId,
        user: &UserId,
        face_id: &FaceId,
        probe: &FaceProbe,
    ) -> Result<IndexedFace, FaceError> {
        let embedding = embedding_of(probe)?;
        let entry = Entry {
            face_id: face_id.to_string(),
            user_id: user.to_string(),
        };
        let template = encode_template(&embedding);
        self.inner.write_index(|indexes| {
            indexes
                .entry(tenant.clone())
                .or_insert_with(|| FaceIndex::new(EMBEDDING_DIMS))
                .insert(entry, &embedding)
        });
        Ok(IndexedFace {
            provider_face_id: face_id.to_string(),
            template: Some(template),
        })
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        provider_face_ids: &[String],
    ) -> Result<(), FaceError> {
        self.inner.write_index(|indexes| {
            if let Some(index) = indexes.get_mut(tenant) {
                for id in provider_face_ids {
                    index.remove(id);
                }
            }
        });
        Ok(())
    }
}

fn embedding_of(probe: &FaceProbe) -> Result<Vec<f32>, FaceError> {
    probe
        .data
        .downcast_ref::<Embedding>()
        .map(|e| e.0.clone())
        .ok_or_else(|| FaceError::Engine("probe was made by another face engine".into()))
}

fn engine_error(err: ModelError) -> FaceError {
    FaceError::Engine(err.to_string())
}

fn encode_template(embedding: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 + embedding.len() * 4);
    bytes.extend_from_slice(TEMPLATE_TAG);
    for x in embedding {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

fn decode_template(bytes: &[u8]) -> Option<Vec<f32>> {
    let body = bytes.strip_prefix(TEMPLATE_TAG)?;
    (body.len() == EMBEDDING_DIMS * 4).then(|| {
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

/// An index hit as a match, if it reaches `threshold` (0–100).
fn face_match(hit: index::Hit, threshold: f32) -> Option<FaceMatch> {
    let confidence = calibration::confidence(hit.similarity);
    (confidence >= threshold).then(|| FaceMatch {
        user_id: UserId::from_string(hit.entry.user_id),
        provider_face_id: hit.entry.face_id,
        confidence,
    })
}

/// The gender model's output (0 female … 1 male) as the API reports it.
fn gender_json(gender: f32) -> serde_json::Value {
    json!({
        "value": if gender >= 0.5 { "male" } else { "female" },
        "confidence": round1((gender - 0.5).abs() * 200.0),
    })
}

fn bounding_box(rect: Rect) -> BoundingBox {
    BoundingBox {
        left: round1(rect.x),
        top: round1(rect.y),
        width: round1(rect.w),
        height: round1(rect.h),
    }
}

fn round1(x: f32) -> f32 {
    (x * 10.0).round() / 10.0
}

/// Which way the face is turned, from where the nose tip sits between the
/// eyes (cheaper than the pose model, and enough to label an enrollment).
fn angle_from_landmarks(landmarks: &[[f32; 2]]) -> &'static str {
    let eye_mid_x = (landmarks[39][0] + landmarks[42][0]) / 2.0;
    let eye_span = (landmarks[45][0] - landmarks[36][0]).abs().max(1.0);
    let offset = (landmarks[30][0] - eye_mid_x) / eye_span;
    if offset > 0.15 {
        "right"
    } else if offset < -0.15 {
        "left"
    } else {
        "front"
    }
}

/// Yaw in degrees from the nose tip's offset between the eyes. Liveness
/// uses this rather than the pose model's yaw: on the test photos the pose
/// model reads frontal faces anywhere from −13° to +5° and a mirrored image
/// does not flip its sign, while the landmark geometry flips exactly (the
/// nose sits about 0.55 outer-eye spans in front of the eye line).
fn yaw_from_landmarks(landmarks: &[[f32; 2]]) -> f32 {
    let eye_mid_x = (landmarks[39][0] + landmarks[42][0]) / 2.0;
    let eye_span = (landmarks[45][0] - landmarks[36][0]).abs().max(1.0);
    let offset = (landmarks[30][0] - eye_mid_x) / eye_span;
    // Nose towards the image's left is a positive yaw, as the pose model has it.
    -(offset / 0.55).clamp(-1.0, 1.0).asin().to_degrees()
}

/// Sharpness (variance of the Laplacian, mapped to 0–100) and brightness
/// (mean luma, 0–100) of an aligned face crop.
fn image_quality(face: &RgbImage) -> (f32, f32) {
    let (w, h) = (face.width() as usize, face.height() as usize);
    let luma: Vec<f32> = face
        .pixels()
        .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
        .collect();
    let brightness = luma.iter().sum::<f32>() / luma.len() as f32 / 255.0 * 100.0;
    let mut laplacians = Vec::with_capacity(w * h);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let at = |dx: isize, dy: isize| {
                luma[(y as isize + dy) as usize * w + (x as isize + dx) as usize]
            };
            laplacians.push(at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1) - 4.0 * at(0, 0));
        }
    }
    let mean = laplacians.iter().sum::<f32>() / laplacians.len() as f32;
    let variance =
        laplacians.iter().map(|l| (l - mean).powi(2)).sum::<f32>() / laplacians.len() as f32;
    let sharpness = 100.0 * (1.0 - (-variance / calibration::SHARPNESS_SCALE).exp());
    (sharpness, brightness)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_round_trip_and_reject_foreign_bytes() {
        let embedding: Vec<f32> = (0..EMBEDDING_DIMS).map(|i| i as f32 / 1000.0).collect();
        assert_eq!(
            decode_template(&encode_template(&embedding)),
            Some(embedding)
        );
        assert_eq!(decode_template(b"fgl1short"), None);
        assert_eq!(decode_template(&[0; 2052]), None);
    }
}
