//! The cheap same-face check between liveness frames: a face that stayed in
//! place and looks the same, pixel for pixel, as the reference frame's is
//! the same moment of the same person, known without a second embedding
//! (27 ms each). Anything less falls back to comparing embeddings, so the
//! check only ever saves work: it never decides that two faces differ, and
//! it says "same" only where two people's faces do not reach (measured in
//! docs/local-engine.md and by the engine tests).
//!
//! Likeness is the normalised cross-correlation of the aligned face crops
//! (the embedder's 112×112 input, so pose and scale are already factored
//! out) at 32×32 in grey: fine enough to tell faces apart, coarse enough
//! that sensor noise and a pixel of landmark jitter do not matter.

use image::RgbImage;

use crate::preprocess::Rect;

/// Side of the grey thumbnail compared.
const SIDE: u32 = 32;
/// Likeness two frames need to count as the same moment. Different people
/// in the test photos reach 0.80 at most; the same face moved across the
/// frame, re-lit and re-encoded stays at 0.94 or above.
pub const MIN_LIKENESS: f32 = 0.95;
/// Overlap (IoU) the face boxes need: the face stayed in place.
pub const MIN_OVERLAP: f32 = 0.5;

/// A frame's face as the check sees it.
#[derive(Debug, Clone)]
pub struct Track {
    rect: Rect,
    /// Zero-mean, unit-norm grey values of the aligned crop.
    thumb: Vec<f32>,
}

impl Track {
    /// `rect`: the face's box in the frame; `aligned`: its aligned crop.
    pub fn of(rect: Rect, aligned: &RgbImage) -> Self {
        let thumb = image::imageops::thumbnail(aligned, SIDE, SIDE);
        let grey: Vec<f32> = thumb
            .pixels()
            .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
            .collect();
        let mean = grey.iter().sum::<f32>() / grey.len() as f32;
        let norm = grey.iter().map(|g| (g - mean).powi(2)).sum::<f32>().sqrt();
        // A flat crop has no likeness to anything (and is never tracked).
        let scale = if norm > 1e-3 { 1.0 / norm } else { 0.0 };
        Self {
            rect,
            thumb: grey.iter().map(|g| (g - mean) * scale).collect(),
        }
    }

    /// Normalised cross-correlation of the two crops, −1 to 1.
    pub fn likeness(&self, other: &Track) -> f32 {
        self.thumb
            .iter()
            .zip(&other.thumb)
            .map(|(a, b)| a * b)
            .sum()
    }

    /// The same face at the same moment: in place, and alike far beyond
    /// what two people reach.
    pub fn same_moment(&self, other: &Track) -> bool {
        self.rect.iou(&other.rect) >= MIN_OVERLAP && self.likeness(other) >= MIN_LIKENESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crop(f: impl Fn(u32, u32) -> u8) -> RgbImage {
        RgbImage::from_fn(112, 112, |x, y| {
            let v = f(x, y);
            image::Rgb([v, v, v])
        })
    }

    #[test]
    fn needs_both_the_place_and_the_likeness() {
        let face = crop(|x, y| ((x * 7 + y * 3) % 251) as u8);
        let other = crop(|x, y| ((x * 3 + y * 11) % 241) as u8);
        let at = |x: f32| Rect {
            x,
            y: 10.0,
            w: 100.0,
            h: 100.0,
        };
        let reference = Track::of(at(10.0), &face);
        assert!(reference.same_moment(&Track::of(at(20.0), &face)));
        assert!(
            !reference.same_moment(&Track::of(at(200.0), &face)),
            "moved away"
        );
        assert!(
            !reference.same_moment(&Track::of(at(10.0), &other)),
            "another face"
        );
        let flat = Track::of(at(10.0), &crop(|_, _| 128));
        assert_eq!(flat.likeness(&flat), 0.0);
        assert!(!flat.same_moment(&flat));
    }
}
