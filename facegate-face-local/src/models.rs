//! The models, loaded once (hash-checked, optimised by tract) and shared by
//! every worker thread, each with its own pre- and post-processing.

use std::collections::HashMap;
use std::sync::Arc;

use image::RgbImage;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::align::{Similarity, warp};
use crate::config::{ARCFACE_TEMPLATE, EngineConfig, InputSpec, ModelSet, ModelSpec};
use crate::preprocess::{Rect, tensor_data};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "face model {path} is missing: run scripts/fetch-models (or point FACEGATE_MODEL_DIR at the models)"
    )]
    Missing { path: String },
    #[error(
        "face model {path} has SHA-256 {found}, expected {expected}: the file is damaged or not the pinned model; delete it and run scripts/fetch-models"
    )]
    HashMismatch {
        path: String,
        expected: String,
        found: String,
    },
    #[error("face model {path} could not be loaded: {reason}")]
    Load { path: String, reason: String },
    #[error("inference failed: {0}")]
    Inference(String),
}

impl From<TractError> for ModelError {
    fn from(err: TractError) -> Self {
        ModelError::Inference(format!("{err:#}"))
    }
}

/// One loaded model and its input.
struct Net {
    /// The model file (for reports).
    file: String,
    plan: Arc<TypedRunnableModel>,
    input: InputSpec,
    /// The crop around the face box this model is fed (see [`ModelSpec::crop_scale`]).
    crop_scale: f32,
    /// Output index by name, for models with several outputs.
    outputs: HashMap<String, usize>,
}

impl Net {
    fn load(spec: &ModelSpec) -> Result<Self, ModelError> {
        let path = spec.path.display().to_string();
        let bytes =
            std::fs::read(&spec.path).map_err(|_| ModelError::Missing { path: path.clone() })?;
        let found = hex::encode(Sha256::digest(&bytes));
        if !found.eq_ignore_ascii_case(&spec.sha256) {
            return Err(ModelError::HashMismatch {
                path,
                expected: spec.sha256.clone(),
                found,
            });
        }
        let input = spec.input;
        let load = || -> TractResult<Arc<TypedRunnableModel>> {
            let shape = [1, input.channel_count(), input.height, input.width];
            tract_onnx::onnx()
                .model_for_read(&mut std::io::Cursor::new(&bytes))?
                .with_input_fact(0, f32::fact(shape).into())?
                .into_optimized()?
                .into_runnable()
        };
        let plan = load().map_err(|err| ModelError::Load {
            path: path.clone(),
            reason: format!("{err:#}"),
        })?;
        let model = plan.model();
        let outputs = model
            .output_outlets()
            .map_err(|err| ModelError::Load {
                path,
                reason: err.to_string(),
            })?
            .iter()
            .enumerate()
            .map(|(i, outlet)| {
                let name = model
                    .outlet_label(*outlet)
                    .unwrap_or(&model.node(outlet.node).name);
                (name.to_owned(), i)
            })
            .collect();
        Ok(Self {
            file: spec.path.file_name().map_or_else(
                || spec.path.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            ),
            plan,
            input,
            crop_scale: spec.crop_scale,
            outputs,
        })
    }

    /// Runs the model on `crop` of `image`; returns every output flattened.
    fn run(&self, image: &RgbImage, crop: Rect) -> Result<Vec<Vec<f32>>, ModelError> {
        let shape = [
            1,
            self.input.channel_count(),
            self.input.height,
            self.input.width,
        ];
        let tensor = Tensor::from_shape(&shape, &tensor_data(image, crop, &self.input))?;
        let outputs = self.plan.run(tvec!(tensor.into()))?;
        outputs
            .iter()
            .map(|t| Ok(t.to_plain_array_view::<f32>()?.iter().copied().collect()))
            .collect()
    }

    fn output(&self, outputs: &[Vec<f32>], name: &str) -> Result<usize, ModelError> {
        self.outputs
            .get(name)
            .copied()
            .filter(|&i| i < outputs.len())
            .ok_or_else(|| ModelError::Inference(format!("model has no output {name}")))
    }
}

/// A detected face: its square box (pixels) and score (0–1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub rect: Rect,
    pub score: f32,
}

/// Head pose in degrees: yaw (+ towards image right), pitch (+ up), roll.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

pub struct Models {
    detector: Net,
    landmarks: Net,
    embedder: Net,
    anti_spoof: Net,
    age: Net,
    gender: Net,
    eye: Net,
    pose: Net,
    detection_threshold: f32,
    nms_iou: f32,
}

/// Embedding width.
pub const EMBEDDING_DIMS: usize = 512;

impl Models {
    pub fn load(config: &EngineConfig) -> Result<Self, ModelError> {
        let set: &ModelSet = &config.models;
        Ok(Self {
            detector: Net::load(&set.detector)?,
            landmarks: Net::load(&set.landmarks)?,
            embedder: Net::load(&set.embedder)?,
            anti_spoof: Net::load(&set.anti_spoof)?,
            age: Net::load(&set.age)?,
            gender: Net::load(&set.gender)?,
            eye: Net::load(&set.eye)?,
            pose: Net::load(&set.pose)?,
            detection_threshold: config.detection_threshold,
            nms_iou: config.nms_iou,
        })
    }

    /// Faces in the image, strongest first, boxes squared on their height.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<Detection>, ModelError> {
        // Pad (never stretch) the image to the detector's aspect ratio: a
        // squeezed face is a face the detector may miss.
        let input = self.detector.input;
        let (w, h) = (image.width() as f32, image.height() as f32);
        let aspect = input.width as f32 / input.height as f32;
        let canvas = Rect {
            x: 0.0,
            y: 0.0,
            w: w.max(h * aspect),
            h: h.max(w / aspect),
        };
        let outputs = self.detector.run(image, canvas)?;
        let (scores, boxes) = (&outputs[0], &outputs[1]);
        let mut candidates: Vec<Detection> = scores
            .chunks_exact(2)
            .zip(boxes.chunks_exact(4))
            .filter(|(s, _)| s[1] >= self.detection_threshold)
            .map(|(s, b)| Detection {
                rect: Rect::from_corners(
                    b[0] * canvas.w,
                    b[1] * canvas.h,
                    (b[2] * canvas.w).min(w),
                    (b[3] * canvas.h).min(h),
                ),
                score: s[1],
            })
            .filter(|d| d.rect.w > 0.0 && d.rect.h > 0.0)
            .collect();
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut kept: Vec<Detection> = Vec::new();
        for candidate in candidates {
            if kept
                .iter()
                .all(|k| k.rect.iou(&candidate.rect) < self.nms_iou)
            {
                kept.push(candidate);
            }
        }
        Ok(kept
            .into_iter()
            .map(|d| Detection {
                rect: square_on_height(d.rect, w, h),
                score: d.score,
            })
            .collect())
    }

    /// The 68 landmarks (iBUG layout) of a detected face, in image pixels.
    pub fn landmarks(&self, image: &RgbImage, face: Rect) -> Result<Vec<[f32; 2]>, ModelError> {
        let crop = face.scaled_within(1.0, image.width(), image.height());
        let out = &self.landmarks.run(image, crop)?[0];
        Ok(out
            .chunks_exact(2)
            .map(|p| [p[0] * face.w + face.x, p[1] * face.h + face.y])
            .collect())
    }

    /// The face aligned to the embedder's template: a 112×112 crop.
    pub fn aligned(&self, image: &RgbImage, landmarks: &[[f32; 2]]) -> Option<RgbImage> {
        let points = five_points(landmarks)?;
        let to_template = Similarity::estimate(&points, &ARCFACE_TEMPLATE)?;
        let (w, h) = (self.embedder.input.width, self.embedder.input.height);
        Some(warp(image, &to_template, w as u32, h as u32))
    }

    /// L2-normalised identity embedding of an aligned face.
    pub fn embed(&self, aligned: &RgbImage) -> Result<Vec<f32>, ModelError> {
        let mut embedding = self
            .embedder
            .run(aligned, Rect::whole(aligned))?
            .swap_remove(0);
        let norm = embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm <= f32::EPSILON || embedding.len() != EMBEDDING_DIMS {
            return Err(ModelError::Inference("degenerate embedding".into()));
        }
        embedding.iter_mut().for_each(|x| *x /= norm);
        Ok(embedding)
    }

    /// Probability (0–1) that the face is a live person rather than a photo or screen.
    pub fn anti_spoof(&self, image: &RgbImage, face: Rect) -> Result<f32, ModelError> {
        let crop = face.scaled_within(self.anti_spoof.crop_scale, image.width(), image.height());
        Ok(softmax(&self.anti_spoof.run(image, crop)?[0])[0])
    }

    /// Estimated age in years.
    pub fn age(&self, image: &RgbImage, face: Rect) -> Result<f32, ModelError> {
        let crop = face.scaled_within(self.age.crop_scale, image.width(), image.height());
        Ok(ssr_decode(&self.age, &self.age.run(image, crop)?)? * 101.0)
    }

    /// SSR-Net gender score, ~1 male and ~0 female.
    pub fn gender(&self, image: &RgbImage, face: Rect) -> Result<f32, ModelError> {
        let crop = face.scaled_within(self.gender.crop_scale, image.width(), image.height());
        ssr_decode(&self.gender, &self.gender.run(image, crop)?)
    }

    /// Probability (0–1) that each eye (image-left, image-right) is open.
    pub fn eyes_open(
        &self,
        image: &RgbImage,
        landmarks: &[[f32; 2]],
    ) -> Result<[f32; 2], ModelError> {
        let mut open = [0.0; 2];
        for (side, (corners, lids)) in [((36, 39), [37, 38, 40, 41]), ((42, 45), [43, 44, 46, 47])]
            .into_iter()
            .enumerate()
        {
            let (cx, cy) = lids.iter().fold((0.0, 0.0), |(x, y), &i| {
                (x + landmarks[i][0] / 4.0, y + landmarks[i][1] / 4.0)
            });
            let size =
                (landmarks[corners.1][0] - landmarks[corners.0][0]).abs() * self.eye.crop_scale;
            let crop = Rect {
                x: cx - size / 2.0,
                y: cy - size / 2.0,
                w: size.max(1.0),
                h: size.max(1.0),
            }
            .scaled_within(1.0, image.width(), image.height());
            open[side] = softmax(&self.eye.run(image, crop)?[0])[1];
        }
        Ok(open)
    }

    pub fn pose(&self, image: &RgbImage, face: Rect) -> Result<Pose, ModelError> {
        let crop = face.scaled(self.pose.crop_scale);
        let outputs = self.pose.run(image, crop)?;
        let angle = |name: &str| -> Result<f32, ModelError> {
            let bins = softmax(&outputs[self.pose.output(&outputs, name)?]);
            Ok(bins
                .iter()
                .enumerate()
                .map(|(i, p)| p * i as f32 * 3.0)
                .sum::<f32>()
                - 99.0)
        };
        Ok(Pose {
            yaw: angle("output")?,
            pitch: angle("617")?,
            roll: angle("618")?,
        })
    }
}

/// The reference crop: a square of the box's height about its centre, clamped to the image.
fn square_on_height(rect: Rect, width: f32, height: f32) -> Rect {
    let (cx, cy) = rect.center();
    let side = rect.h;
    Rect::from_corners(
        (cx - side / 2.0).max(0.0),
        (cy - side / 2.0).max(0.0),
        (cx + side / 2.0).min(width - 1.0),
        (cy + side / 2.0).min(height - 1.0),
    )
}

/// Eye centres, nose tip and mouth corners from the 68 iBUG landmarks.
fn five_points(landmarks: &[[f32; 2]]) -> Option<[[f32; 2]; 5]> {
    if landmarks.len() < 68 {
        return None;
    }
    let mean = |idx: &[usize]| {
        let n = idx.len() as f32;
        let (x, y) = idx.iter().fold((0.0, 0.0), |(x, y), &i| {
            (x + landmarks[i][0], y + landmarks[i][1])
        });
        [x / n, y / n]
    };
    Some([
        mean(&[37, 38, 40, 41]),
        mean(&[43, 44, 46, 47]),
        landmarks[30],
        mean(&[48, 60]),
        mean(&[54, 64]),
    ])
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// SSR-Net's three-stage soft regression, on a 0–1 scale.
fn ssr_decode(net: &Net, outputs: &[Vec<f32>]) -> Result<f32, ModelError> {
    let get =
        |name: &str| -> Result<&Vec<f32>, ModelError> { Ok(&outputs[net.output(outputs, name)?]) };
    let mut value = 0.0;
    let mut divisor = 1.0;
    for stage in 1..=3 {
        let probs = get(&format!("prob_stage_{stage}"))?;
        let delta = get(&format!("stage{stage}_delta_k"))?[0];
        let offsets = get(&format!("index_offset_stage{stage}"))?;
        divisor *= 3.0 * (1.0 + delta);
        let stage_sum: f32 = (0..3).map(|i| (i as f32 + offsets[i]) * probs[i]).sum();
        value += stage_sum / divisor;
    }
    Ok(value)
}

/// One model's input and what tract makes of it, for holding the engine to
/// another runtime (issue 19: `examples/model_parity.rs` writes these and
/// `scripts/model-parity` runs them through ONNX Runtime).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ParityCase {
    /// The engine's name for the model (`detector`, `embedder`, …).
    pub model: &'static str,
    /// Its file in the model directory.
    pub file: String,
    /// `seeded`, or the photo the input was built from.
    pub source: String,
    /// NCHW.
    pub shape: [usize; 4],
    pub input: Vec<f32>,
    /// Every output, flattened, in the model's order.
    pub outputs: Vec<Vec<f32>>,
    /// tract's median over the runs, in milliseconds.
    pub tract_ms: f64,
}

impl Models {
    fn nets(&self) -> [(&'static str, &Net); 8] {
        [
            ("detector", &self.detector),
            ("landmarks", &self.landmarks),
            ("embedder", &self.embedder),
            ("anti_spoof", &self.anti_spoof),
            ("age", &self.age),
            ("gender", &self.gender),
            ("eye", &self.eye),
            ("pose", &self.pose),
        ]
    }

    /// Each model's input for `image` as the engine builds it: the padded
    /// whole image for the detector; the first face's crops for the
    /// landmarks, anti-spoofing, age, gender and pose models; the aligned
    /// face for the embedder; the left eye for the eye model. Empty when
    /// no face is found.
    pub fn parity_inputs(
        &self,
        image: &RgbImage,
    ) -> Result<Vec<(&'static str, Vec<f32>)>, ModelError> {
        let (w, h) = (image.width() as f32, image.height() as f32);
        let input = self.detector.input;
        let aspect = input.width as f32 / input.height as f32;
        let canvas = Rect {
            x: 0.0,
            y: 0.0,
            w: w.max(h * aspect),
            h: h.max(w / aspect),
        };
        let mut inputs = vec![("detector", tensor_data(image, canvas, &self.detector.input))];
        let Some(face) = self.detect(image)?.first().map(|d| d.rect) else {
            return Ok(Vec::new());
        };
        let crop = |net: &Net| face.scaled_within(net.crop_scale, image.width(), image.height());
        inputs.push((
            "landmarks",
            tensor_data(
                image,
                face.scaled_within(1.0, image.width(), image.height()),
                &self.landmarks.input,
            ),
        ));
        for (name, net) in [
            ("anti_spoof", &self.anti_spoof),
            ("age", &self.age),
            ("gender", &self.gender),
        ] {
            inputs.push((name, tensor_data(image, crop(net), &net.input)));
        }
        inputs.push((
            "pose",
            tensor_data(image, face.scaled(self.pose.crop_scale), &self.pose.input),
        ));
        let landmarks = self.landmarks(image, face)?;
        if let Some(aligned) = self.aligned(image, &landmarks) {
            inputs.push((
                "embedder",
                tensor_data(&aligned, Rect::whole(&aligned), &self.embedder.input),
            ));
        }
        let (cx, cy) = [37, 38, 40, 41].iter().fold((0.0, 0.0), |(x, y), &i| {
            (x + landmarks[i][0] / 4.0, y + landmarks[i][1] / 4.0)
        });
        let size = (landmarks[39][0] - landmarks[36][0]).abs() * self.eye.crop_scale;
        let eye = Rect {
            x: cx - size / 2.0,
            y: cy - size / 2.0,
            w: size.max(1.0),
            h: size.max(1.0),
        }
        .scaled_within(1.0, image.width(), image.height());
        inputs.push(("eye", tensor_data(image, eye, &self.eye.input)));
        Ok(inputs)
    }

    /// A seeded input for every model, uniform over the range its
    /// normalisation can produce from 8-bit pixels.
    pub fn parity_seeded(&self, seed: u64) -> Vec<(&'static str, Vec<f32>)> {
        let mut state = seed | 1;
        let mut next = move || {
            // xorshift64*: reproducible in any language.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
        };
        self.nets()
            .into_iter()
            .map(|(name, net)| {
                let (plane, spec) = (net.input.plane_len(), &net.input);
                let len = plane * spec.channel_count();
                let input = (0..len)
                    .map(|i| (next() * 255.0 - spec.mean[i / plane]) * spec.scale[i / plane])
                    .collect();
                (name, input)
            })
            .collect()
    }

    /// Runs `model` on `input` `runs` times: the outputs and tract's median.
    pub fn parity_case(
        &self,
        model: &'static str,
        source: &str,
        input: Vec<f32>,
        runs: usize,
    ) -> Result<ParityCase, ModelError> {
        let (_, net) = self
            .nets()
            .into_iter()
            .find(|(name, _)| *name == model)
            .ok_or_else(|| ModelError::Inference(format!("no model {model}")))?;
        let shape = [
            1,
            net.input.channel_count(),
            net.input.height,
            net.input.width,
        ];
        let mut times = Vec::with_capacity(runs.max(1));
        let mut outputs = Vec::new();
        for _ in 0..runs.max(1) {
            let tensor = Tensor::from_shape(&shape, &input)?;
            let started = std::time::Instant::now();
            let result = net.plan.run(tvec!(tensor.into()))?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            outputs = result
                .iter()
                .map(|t| Ok(t.to_plain_array_view::<f32>()?.iter().copied().collect()))
                .collect::<Result<_, ModelError>>()?;
        }
        times.sort_by(f64::total_cmp);
        Ok(ParityCase {
            model,
            file: net.file.clone(),
            source: source.to_owned(),
            shape,
            input,
            outputs,
            tract_ms: times[times.len() / 2],
        })
    }
}
