//! From raw model outputs to the numbers the API reports.
//!
//! Match confidence: cosine similarity `s` of two L2-normalised embeddings is
//! mapped piecewise-linearly so that the measured decision point
//! [`DECISION_COSINE`] lands on confidence 90 (the default tenant threshold):
//!
//! ```text
//! s ≤ 0              →  0
//! 0 < s < DECISION   →  90 · s / DECISION
//! s ≥ DECISION       →  90 + 10 · (s − DECISION) / (1 − DECISION)
//! ```
//!
//! The mapping is monotone, so a tenant threshold in confidence is a
//! threshold in cosine. How DECISION was chosen is in docs/local-engine.md.

/// Cosine similarity at which two faces are taken to be the same person.
pub const DECISION_COSINE: f32 = 0.40;
/// Confidence given to [`DECISION_COSINE`].
pub const DECISION_CONFIDENCE: f32 = 90.0;
/// ± years around the age estimate reported as `age_range`.
pub const AGE_MARGIN: f32 = 5.0;
/// Laplacian variance that maps to sharpness ≈ 63.
pub const SHARPNESS_SCALE: f32 = 300.0;

/// Match confidence (0–100) for a cosine similarity.
pub fn confidence(similarity: f32) -> f32 {
    let c = if similarity <= 0.0 {
        0.0
    } else if similarity < DECISION_COSINE {
        DECISION_CONFIDENCE * similarity / DECISION_COSINE
    } else {
        DECISION_CONFIDENCE
            + (100.0 - DECISION_CONFIDENCE) * (similarity - DECISION_COSINE)
                / (1.0 - DECISION_COSINE)
    };
    (c.clamp(0.0, 100.0) * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_monotone_and_anchored() {
        assert_eq!(confidence(-0.3), 0.0);
        assert_eq!(confidence(DECISION_COSINE), DECISION_CONFIDENCE);
        assert_eq!(confidence(1.0), 100.0);
        let mut last = -1.0;
        for i in -10..=10 {
            let c = confidence(i as f32 / 10.0);
            assert!(c >= last);
            last = c;
        }
    }
}
