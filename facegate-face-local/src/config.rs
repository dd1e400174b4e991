//! What the engine runs: each model's file, pinned hash and input
//! preprocessing in one place, so a model can be swapped without touching
//! the pipeline. [`ModelSet::faceplugin`] is the default set, fetched by
//! `scripts/fetch-models` from the npm package `faceplugin-face-recognition-js@0.0.1`.

use std::path::{Path, PathBuf};

/// Pixel order a model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Rgb,
    Bgr,
    /// One channel, `0.299 R + 0.587 G + 0.114 B`.
    Gray,
}

/// How a crop becomes the model's input tensor (NCHW, f32):
/// `value = (pixel − mean[c]) × scale[c]`, after a bilinear resize to `width`×`height`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputSpec {
    pub width: usize,
    pub height: usize,
    pub channels: Channels,
    pub mean: [f32; 3],
    pub scale: [f32; 3],
}

impl InputSpec {
    const fn new(width: usize, height: usize, channels: Channels, mean: f32, scale: f32) -> Self {
        Self {
            width,
            height,
            channels,
            mean: [mean; 3],
            scale: [scale; 3],
        }
    }

    /// ImageNet mean and standard deviation, on 0–255 pixels.
    const fn imagenet(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            channels: Channels::Rgb,
            mean: [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
            scale: [
                1.0 / (0.229 * 255.0),
                1.0 / (0.224 * 255.0),
                1.0 / (0.225 * 255.0),
            ],
        }
    }

    pub fn plane_len(&self) -> usize {
        self.width * self.height
    }

    pub fn channel_count(&self) -> usize {
        match self.channels {
            Channels::Gray => 1,
            Channels::Rgb | Channels::Bgr => 3,
        }
    }
}

/// One model: its file, the SHA-256 it must have, and its input.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub path: PathBuf,
    /// Lower-case hex. The engine refuses a file with another hash.
    pub sha256: String,
    pub input: InputSpec,
    /// For models fed a crop around the detected face: the crop's size
    /// relative to the face box (the box grown about its centre).
    pub crop_scale: f32,
}

/// Every model the engine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSet {
    /// Face boxes on the whole image.
    pub detector: ModelSpec,
    /// 68 landmarks inside a face box.
    pub landmarks: ModelSpec,
    /// 512-d identity embedding of a face aligned to [`ARCFACE_TEMPLATE`].
    pub embedder: ModelSpec,
    /// Passive anti-spoofing (live vs photo / screen).
    pub anti_spoof: ModelSpec,
    pub age: ModelSpec,
    pub gender: ModelSpec,
    /// Open/closed, one eye at a time.
    pub eye: ModelSpec,
    /// Yaw, pitch, roll.
    pub pose: ModelSpec,
}

/// The canonical positions (in a 112×112 crop) of the eyes, nose tip and mouth
/// corners that ArcFace-style embedders are trained on.
pub const ARCFACE_TEMPLATE: [[f32; 2]; 5] = [
    [38.294_6, 51.696_3],
    [73.531_8, 51.501_4],
    [56.025_2, 71.736_6],
    [41.549_3, 92.365_5],
    [70.729_9, 92.204_1],
];

impl ModelSet {
    /// The `faceplugin-face-recognition-js@0.0.1` models in `dir`, with the
    /// preprocessing their reference code uses (see docs/local-engine.md for
    /// where and why we depart from it).
    pub fn faceplugin(dir: &Path) -> Self {
        let spec = |file: &str, sha256: &str, input: InputSpec, crop_scale: f32| ModelSpec {
            path: dir.join(file),
            sha256: sha256.to_owned(),
            input,
            crop_scale,
        };
        Self {
            detector: spec(
                "fr_detect.onnx",
                "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854",
                InputSpec::new(320, 240, Channels::Rgb, 127.0, 1.0 / 128.0),
                1.0,
            ),
            landmarks: spec(
                "fr_landmark.onnx",
                "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
                InputSpec::new(64, 64, Channels::Gray, 0.0, 1.0 / 256.0),
                1.0,
            ),
            embedder: spec(
                "fr_feature.onnx",
                "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
                InputSpec::new(112, 112, Channels::Bgr, 127.0, 1.0 / 128.0),
                1.0,
            ),
            anti_spoof: spec(
                "fr_liveness.onnx",
                "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d",
                InputSpec::new(128, 128, Channels::Rgb, 0.0, 1.0),
                2.7,
            ),
            age: spec(
                "fr_age.onnx",
                "74c9b01700cb9ef96f7190a2230218414ff99d231415c4b091a755780cad5e8a",
                InputSpec::imagenet(64, 64),
                1.4,
            ),
            gender: spec(
                "fr_gender.onnx",
                "a003e8392a617ca834c7ca2c01e0895f5c354217fb56cd0373935e6e9b9c396e",
                InputSpec::imagenet(64, 64),
                1.4,
            ),
            eye: spec(
                "fr_eye.onnx",
                "1afcea006abc1ccac3c517022abde0aa092bed74ff3c9fe6878483ef9e6e38de",
                InputSpec::new(24, 24, Channels::Gray, 0.0, 1.0 / 255.0),
                1.6,
            ),
            pose: spec(
                "fr_pose.onnx",
                "72d032ec941b7153bf8d3f2c03a4c165453cc7e63d479041ec7c6ef087e5839d",
                // The reference code feeds B,G,R here (an RGBA→"BGR2RGB"
                // swap); yaw only flips sign on mirrored faces this way.
                InputSpec {
                    channels: Channels::Bgr,
                    ..InputSpec::imagenet(224, 224)
                },
                1.5,
            ),
        }
    }

    pub fn all(&self) -> [&ModelSpec; 8] {
        [
            &self.detector,
            &self.landmarks,
            &self.embedder,
            &self.anti_spoof,
            &self.age,
            &self.gender,
            &self.eye,
            &self.pose,
        ]
    }
}

/// The model cache directory: `$FACEGATE_MODEL_DIR`, else
/// `$XDG_CACHE_HOME/facegate/models`, else `~/.cache/facegate/models` (the
/// same rule as `scripts/fetch-models`).
pub fn default_model_dir() -> PathBuf {
    cache_dir("FACEGATE_MODEL_DIR", "models")
}

/// Where `scripts/fetch-testdata` puts the test photos:
/// `$FACEGATE_TESTDATA_DIR`, else `$XDG_CACHE_HOME/facegate/testdata`, else
/// `~/.cache/facegate/testdata`. For tests and benchmarks.
pub fn default_testdata_dir() -> PathBuf {
    cache_dir("FACEGATE_TESTDATA_DIR", "testdata")
}

fn cache_dir(override_var: &str, leaf: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(override_var).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("facegate").join(leaf)
}

/// Everything about the engine a host may tune.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    pub models: ModelSet,
    /// Detections below this score (0–1) are dropped.
    pub detection_threshold: f32,
    /// Overlap (IoU) above which the weaker of two detections is dropped.
    pub nms_iou: f32,
    /// Faces smaller than this (box side, pixels) do not count for enroll and match.
    pub min_face_px: f32,
    /// Inferences running at once (default: one per core).
    pub workers: usize,
    /// Requests allowed to wait for a worker; beyond that the engine answers busy.
    pub queue: usize,
}

impl EngineConfig {
    pub fn new(models: ModelSet) -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            models,
            detection_threshold: 0.65,
            nms_iou: 0.4,
            min_face_px: 80.0,
            workers,
            queue: workers * 8,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self::new(ModelSet::faceplugin(&default_model_dir()))
    }
}
