//! Rekognition's `FaceDetail` in the attribute shape the local engine
//! reports (`POST /v1/detect-attributes`), so hosts read one shape
//! whichever engine runs:
//!
//! | FaceGate | Rekognition |
//! |---|---|
//! | `bounding_box` (pixels) | `BoundingBox` (ratios of the image) × width / height |
//! | `confidence` | `Confidence` |
//! | `estimated_age` | middle of `AgeRange` |
//! | `age_range.low` / `.high` | `AgeRange.Low` / `.High` |
//! | `gender.value` / `.confidence` | `Gender.Value` (lower case) / `.Confidence` |
//! | `eyes_open.left` / `.right` | `EyesOpen.Value` (one answer for both eyes) |
//! | `eyes_open.left_confidence` / `.right_confidence` | the probability of open, 0–100: `EyesOpen.Confidence`, or 100 − it when the answer is closed |
//! | `pose.yaw` / `.pitch` / `.roll` | `Pose.Yaw` / `.Pitch` / `.Roll` |
//! | `sharpness`, `brightness` | `Quality.Sharpness`, `Quality.Brightness` |
//!
//! Not mapped: the local engine's 68 `landmarks` (Rekognition names about
//! thirty points of its own) and `anti_spoof_score` (Rekognition scores
//! liveness per session, not per image); Rekognition's smile, emotions,
//! beard and the rest have no local counterpart and are left out.

use aws_sdk_rekognition::types::{FaceDetail, GenderType};
use facegate_core::providers::face::{BoundingBox, DetectedFace};
use serde_json::{Map, Value, json};

/// One face of an image `width` × `height` pixels.
pub fn detected_face(detail: &FaceDetail, width: f32, height: f32) -> DetectedFace {
    let bounding_box = detail.bounding_box().map_or(
        BoundingBox {
            left: 0.0,
            top: 0.0,
            width: 0.0,
            height: 0.0,
        },
        |b| BoundingBox {
            left: round1(b.left().unwrap_or(0.0) * width),
            top: round1(b.top().unwrap_or(0.0) * height),
            width: round1(b.width().unwrap_or(0.0) * width),
            height: round1(b.height().unwrap_or(0.0) * height),
        },
    );
    let mut attributes = Map::new();
    let age = detail.age_range().map(|range| {
        let (low, high) = (range.low().unwrap_or(0), range.high().unwrap_or(0));
        attributes.insert("age_range".into(), json!({ "low": low, "high": high }));
        (low + high) as f32 / 2.0
    });
    if let Some(gender) = detail.gender() {
        let value = match gender.value() {
            Some(GenderType::Male) => "male",
            Some(GenderType::Female) => "female",
            _ => "unknown",
        };
        attributes.insert(
            "gender".into(),
            json!({ "value": value, "confidence": round1(gender.confidence().unwrap_or(0.0)) }),
        );
    }
    if let Some(eyes) = detail.eyes_open() {
        let open = eyes.value();
        let confidence = eyes.confidence().unwrap_or(0.0);
        let open_probability = round1(if open { confidence } else { 100.0 - confidence });
        attributes.insert(
            "eyes_open".into(),
            json!({
                "left": open, "right": open,
                "left_confidence": open_probability, "right_confidence": open_probability,
            }),
        );
    }
    if let Some(pose) = detail.pose() {
        attributes.insert(
            "pose".into(),
            json!({
                "yaw": round1(pose.yaw().unwrap_or(0.0)),
                "pitch": round1(pose.pitch().unwrap_or(0.0)),
                "roll": round1(pose.roll().unwrap_or(0.0)),
            }),
        );
    }
    if let Some(quality) = detail.quality() {
        attributes.insert(
            "sharpness".into(),
            json!(round1(quality.sharpness().unwrap_or(0.0))),
        );
        attributes.insert(
            "brightness".into(),
            json!(round1(quality.brightness().unwrap_or(0.0))),
        );
    }
    DetectedFace {
        bounding_box,
        confidence: round1(detail.confidence().unwrap_or(0.0)),
        estimated_age: age,
        attributes: Value::Object(attributes),
    }
}

/// How the face is turned, as the local engine labels enrollments: from
/// the pose's yaw (positive: the nose towards the image's left).
pub fn angle(face: &DetectedFace) -> &'static str {
    match face.attributes["pose"]["yaw"].as_f64() {
        Some(yaw) if yaw > 15.0 => "left",
        Some(yaw) if yaw < -15.0 => "right",
        _ => "front",
    }
}

fn round1(x: f32) -> f32 {
    (x * 10.0).round() / 10.0
}
