//! Crops to tensors: bilinear resampling (half-pixel centres, no antialias,
//! as the models were trained with OpenCV's INTER_LINEAR), channel order and
//! normalisation, straight into a planar NCHW buffer.

use image::RgbImage;

use crate::config::{Channels, InputSpec};

/// An axis-aligned rectangle in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn from_corners(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self {
            x: x1,
            y: y1,
            w: x2 - x1,
            h: y2 - y1,
        }
    }

    pub fn whole(image: &RgbImage) -> Self {
        Self {
            x: 0.0,
            y: 0.0,
            w: image.width() as f32,
            h: image.height() as f32,
        }
    }

    pub fn center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    pub fn iou(&self, other: &Rect) -> f32 {
        let x1 = self.x.max(other.x);
        let y1 = self.y.max(other.y);
        let x2 = (self.x + self.w).min(other.x + other.w);
        let y2 = (self.y + self.h).min(other.y + other.h);
        let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// This box grown by `scale` about its centre, capped to the image size and
    /// shifted (not clipped) to lie inside it, as the reference code crops
    /// for the landmark, anti-spoof and age models.
    pub fn scaled_within(&self, scale: f32, width: u32, height: u32) -> Rect {
        let (max_x, max_y) = (width as f32 - 1.0, height as f32 - 1.0);
        let s = scale.min(max_y / self.h).min(max_x / self.w);
        let (w, h) = (self.w * s, self.h * s);
        let (cx, cy) = self.center();
        let (mut l, mut t, mut r, mut b) = (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0);
        if l < 0.0 {
            r -= l;
            l = 0.0;
        }
        if t < 0.0 {
            b -= t;
            t = 0.0;
        }
        if r > max_x {
            l -= r - max_x;
            r = max_x;
        }
        if b > max_y {
            t -= b - max_y;
            b = max_y;
        }
        Rect::from_corners(l.max(0.0), t.max(0.0), r, b)
    }

    /// This box grown by `scale` about its centre; whatever falls outside
    /// the image is padded black, keeping the face centred.
    pub fn scaled(&self, scale: f32) -> Rect {
        let (cx, cy) = self.center();
        let (w, h) = (self.w * scale, self.h * scale);
        Rect {
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            w,
            h,
        }
    }
}

/// Resamples `crop` of `image` to the model's input size and normalises it.
/// Outside the image is black (so a crop larger than the image letterboxes it).
pub fn tensor_data(image: &RgbImage, crop: Rect, spec: &InputSpec) -> Vec<f32> {
    let (out_w, out_h) = (spec.width, spec.height);
    let plane = spec.plane_len();
    let mut data = vec![0.0f32; plane * spec.channel_count()];
    let (sx, sy) = (crop.w / out_w as f32, crop.h / out_h as f32);
    let (width, height) = (image.width() as i64, image.height() as i64);
    let raw = image.as_raw();
    let stride = image.width() as usize * 3;
    let texel = |x: i64, y: i64| {
        if x < 0 || y < 0 || x >= width || y >= height {
            return [0.0; 3];
        }
        let i = y as usize * stride + x as usize * 3;
        [raw[i] as f32, raw[i + 1] as f32, raw[i + 2] as f32]
    };
    for oy in 0..out_h {
        let fy = crop.y + (oy as f32 + 0.5) * sy - 0.5;
        let y0 = fy.floor();
        let wy = fy - y0;
        for ox in 0..out_w {
            let fx = crop.x + (ox as f32 + 0.5) * sx - 0.5;
            let x0 = fx.floor();
            let wx = fx - x0;
            let (x0, y0) = (x0 as i64, y0 as i64);
            let (a, b, c, d) = (
                texel(x0, y0),
                texel(x0 + 1, y0),
                texel(x0, y0 + 1),
                texel(x0 + 1, y0 + 1),
            );
            let mut rgb = [0.0f32; 3];
            for k in 0..3 {
                let top = a[k] + (b[k] - a[k]) * wx;
                let bottom = c[k] + (d[k] - c[k]) * wx;
                rgb[k] = top + (bottom - top) * wy;
            }
            let at = oy * out_w + ox;
            match spec.channels {
                Channels::Rgb => {
                    for k in 0..3 {
                        data[k * plane + at] = (rgb[k] - spec.mean[k]) * spec.scale[k];
                    }
                }
                Channels::Bgr => {
                    for k in 0..3 {
                        data[k * plane + at] = (rgb[2 - k] - spec.mean[k]) * spec.scale[k];
                    }
                }
                Channels::Gray => {
                    let gray = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
                    data[at] = (gray - spec.mean[0]) * spec.scale[0];
                }
            }
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_resample_keeps_pixels_and_orders_channels() {
        let image = RgbImage::from_fn(4, 2, |x, y| image::Rgb([x as u8, y as u8, 200]));
        let spec = InputSpec {
            width: 4,
            height: 2,
            channels: Channels::Bgr,
            mean: [0.0; 3],
            scale: [1.0; 3],
        };
        let data = tensor_data(&image, Rect::whole(&image), &spec);
        // Plane 0 is blue, plane 2 is red (= x).
        assert_eq!(&data[0..8], &[200.0; 8]);
        assert_eq!(&data[16..20], &[0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn scaled_crops_stay_inside_the_image() {
        let face = Rect::from_corners(5.0, 5.0, 45.0, 45.0);
        let crop = face.scaled_within(2.7, 100, 80);
        assert!(crop.x >= 0.0 && crop.y >= 0.0);
        assert!(crop.x + crop.w <= 99.0 && crop.y + crop.h <= 79.0);
        let padded = face.scaled(1.5);
        assert_eq!((padded.x, padded.w), (-5.0, 60.0));
        assert!((face.iou(&face) - 1.0).abs() < 1e-6);
    }
}
