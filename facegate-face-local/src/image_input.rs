//! Client images to pixels: base64 (with or without a `data:` prefix), JPEG or
//! PNG only, with limits on encoded size and dimensions so a hostile upload
//! cannot make us allocate gigabytes.

use base64::Engine;
use facegate_core::providers::face::{FaceError, FramePixels, ImageInput};
use image::{ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

/// Largest decoded (binary) image accepted.
pub const MAX_IMAGE_BYTES: usize = ImageInput::MAX_BYTES;
/// Largest width or height accepted.
pub const MAX_DIMENSION: u32 = 4096;

/// Pixels one liveness upload may decode in all: 30 camera frames of
/// 1280×960. Checked from the image headers before any frame is decoded.
pub const MAX_LIVENESS_PIXELS: u64 = 30 * 1280 * 960;
/// Liveness frames are scaled to fit this square as they are decoded (a
/// camera frame's size; the models work on far smaller crops).
pub const LIVENESS_FRAME_MAX_SIDE: u32 = 1280;

/// Decodes a client image into RGB pixels.
pub fn decode(input: &ImageInput) -> Result<RgbImage, FaceError> {
    let bytes = input.bytes()?;
    decode_bytes(&bytes)
}

/// The encoded bytes of each liveness frame, once their headers show that
/// decoding all of them stays within [`MAX_LIVENESS_PIXELS`].
pub fn liveness_frames(inputs: &[ImageInput]) -> Result<Vec<Vec<u8>>, FaceError> {
    let mut total: u64 = 0;
    let mut frames = Vec::with_capacity(inputs.len());
    for input in inputs {
        let bytes = input.bytes()?;
        let (width, height) = dimensions(&bytes)?;
        total = total.saturating_add(u64::from(width) * u64::from(height));
        if total > MAX_LIVENESS_PIXELS {
            return Err(FaceError::TooLarge(format!(
                "the frames would decode to more than {MAX_LIVENESS_PIXELS} pixels; send camera-sized frames (1280×960 or less)"
            )));
        }
        frames.push(bytes);
    }
    Ok(frames)
}

/// A frame decoded and scaled down to fit [`LIVENESS_FRAME_MAX_SIDE`].
pub fn decode_liveness_frame(bytes: &[u8]) -> Result<RgbImage, FaceError> {
    let image = decode_bytes_within(bytes, LIVENESS_FRAME_MAX_ALLOC)?;
    let (width, height) = image.dimensions();
    let side = width.max(height);
    if side <= LIVENESS_FRAME_MAX_SIDE {
        return Ok(image);
    }
    let scale = f64::from(LIVENESS_FRAME_MAX_SIDE) / f64::from(side);
    let fit = |n: u32| ((f64::from(n) * scale).round() as u32).max(1);
    // Area averaging in integers: no full-size float buffer on the way.
    Ok(image::imageops::thumbnail(&image, fit(width), fit(height)))
}

/// A liveness frame as the judge saw it (decoded, scaled down), encoded
/// again as a JPEG of quality 92, base64: never the client's own bytes, so
/// what a live session keeps is pixels only (no metadata such as a photo's
/// location, nothing appended) and camera-sized, whatever was uploaded.
pub fn reference_frame(input: &ImageInput) -> Result<ImageInput, FaceError> {
    let image = decode_liveness_frame(&input.bytes()?)?;
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .encode_image(&image)
        .map_err(|err| FaceError::Engine(format!("cannot encode the reference frame: {err}")))?;
    Ok(ImageInput(
        base64::engine::general_purpose::STANDARD.encode(jpeg),
    ))
}

/// The replay checks' view of decoded pixels: their SHA-256 and a 64-bit
/// difference hash (each of 8 rows of a 9×8 grey thumbnail: is each cell
/// brighter than its right neighbour).
pub fn fingerprint(image: &RgbImage) -> FramePixels {
    let digest = Sha256::digest(image.as_raw()).into();
    let thumb = image::imageops::thumbnail(image, 9, 8);
    let grey = |x: u32, y: u32| {
        let [r, g, b] = thumb.get_pixel(x, y).0;
        u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114
    };
    let mut perceptual = 0u64;
    for y in 0..8 {
        for x in 0..8 {
            perceptual = (perceptual << 1) | u64::from(grey(x, y) > grey(x + 1, y));
        }
    }
    FramePixels { digest, perceptual }
}

/// Width and height from the image's header, without decoding it.
fn dimensions(bytes: &[u8]) -> Result<(u32, u32), FaceError> {
    let format = image_format(bytes)?;
    ImageReader::with_format(std::io::Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|err| FaceError::InvalidImage(format!("cannot read image header: {err}")))
}

fn image_format(bytes: &[u8]) -> Result<ImageFormat, FaceError> {
    image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, ImageFormat::Jpeg | ImageFormat::Png))
        .ok_or_else(|| FaceError::InvalidImage("not a JPEG or PNG image".into()))
}

/// Decodes JPEG or PNG bytes into RGB pixels.
pub fn decode_bytes(bytes: &[u8]) -> Result<RgbImage, FaceError> {
    decode_bytes_within(bytes, 256 * 1024 * 1024)
}

/// What one liveness frame's decoder may allocate: a 4096×4096 8-bit RGB
/// frame and its buffers, not a 16-bit RGBA one (134 MB) of the same size.
const LIVENESS_FRAME_MAX_ALLOC: u64 = 64 * 1024 * 1024;

fn decode_bytes_within(bytes: &[u8], max_alloc: u64) -> Result<RgbImage, FaceError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(FaceError::InvalidImage(format!(
            "image is {} bytes; the limit is {MAX_IMAGE_BYTES}",
            bytes.len()
        )));
    }
    let format = image_format(bytes)?;
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(max_alloc);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|err| FaceError::InvalidImage(format!("cannot decode image: {err}")))?;
    Ok(image.into_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_base64(width: u32, height: u32) -> String {
        let image = RgbImage::from_pixel(width, height, image::Rgb([10, 200, 30]));
        let mut bytes = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn decodes_plain_and_data_url_base64() {
        let b64 = png_base64(8, 4);
        let image = decode(&ImageInput(b64.clone())).unwrap();
        assert_eq!(image.dimensions(), (8, 4));
        let image = decode(&ImageInput(format!("data:image/png;base64,{b64}"))).unwrap();
        assert_eq!(image.get_pixel(0, 0).0, [10, 200, 30]);
    }

    #[test]
    fn rejects_what_is_not_an_image() {
        for bad in [
            "",
            "not base64 at all!",
            "aGVsbG8gd29ybGQ=",
            "data:image/png,rawbytes",
        ] {
            assert!(
                matches!(
                    decode(&ImageInput(bad.into())),
                    Err(FaceError::InvalidImage(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn liveness_frames_are_bounded_by_their_headers_and_scaled_down() {
        // 2000×2000 decodes to 4 Mpx: nine of them pass the 36.9 Mpx budget, ten do not.
        let big = ImageInput(png_base64(2000, 2000));
        assert_eq!(liveness_frames(&vec![big.clone(); 9]).unwrap().len(), 9);
        assert!(matches!(
            liveness_frames(&vec![big.clone(); 10]),
            Err(FaceError::TooLarge(_))
        ));
        let bytes = liveness_frames(std::slice::from_ref(&big)).unwrap();
        let frame = decode_liveness_frame(&bytes[0]).unwrap();
        assert_eq!(frame.dimensions(), (1280, 1280));
        // What verify gets later: the frame as judged, not the upload.
        let kept = reference_frame(&big).unwrap();
        assert_eq!(decode(&kept).unwrap().dimensions(), (1280, 1280));
    }

    #[test]
    fn a_live_session_keeps_pixels_not_the_uploaded_bytes() {
        // A small PNG with a trailer after its end: the kept frame is a
        // fresh JPEG of the same size, without the client's extra bytes.
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(png_base64(64, 48))
            .unwrap();
        bytes.extend_from_slice(b"GPS 51.5N 0.1W and anything else");
        let upload = ImageInput(base64::engine::general_purpose::STANDARD.encode(&bytes));
        let kept = reference_frame(&upload).unwrap();
        let kept_bytes = base64::engine::general_purpose::STANDARD
            .decode(&kept.0)
            .unwrap();
        assert!(kept_bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
        assert!(!kept_bytes.windows(3).any(|w| w == b"GPS"));
        assert_eq!(decode(&kept).unwrap().dimensions(), (64, 48));
    }

    #[test]
    fn pixels_not_encodings_make_the_fingerprint() {
        let image = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 9]));
        let mut png = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let as_png = decode_liveness_frame(&png).unwrap();
        assert_eq!(
            fingerprint(&as_png),
            fingerprint(&image),
            "same pixels, same frame"
        );
        let mut jpeg = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        let reencoded = fingerprint(&decode_liveness_frame(&jpeg).unwrap());
        assert_ne!(reencoded.digest, fingerprint(&image).digest);
        let distance = (reencoded.perceptual ^ fingerprint(&image).perceptual).count_ones();
        assert!(
            distance <= 4,
            "a re-encode is the same picture: {distance} bits"
        );
        let other = image::imageops::flip_horizontal(&image);
        let distance =
            (fingerprint(&other).perceptual ^ fingerprint(&image).perceptual).count_ones();
        assert!(distance > 4, "another picture: {distance} bits");
    }

    #[test]
    fn rejects_oversized_dimensions() {
        let err = decode(&ImageInput(png_base64(MAX_DIMENSION + 1, 1))).unwrap_err();
        assert!(matches!(err, FaceError::InvalidImage(_)));
    }

    /// Client bytes, whatever they are: an answer and no panic, and never
    /// more pixels than the limits allow.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// 256 cases per property (seconds in CI); more with FACEGATE_PROPTEST_CASES.
        fn config() -> ProptestConfig {
            let cases = std::env::var("FACEGATE_PROPTEST_CASES")
                .ok()
                .and_then(|cases| cases.parse().ok())
                .unwrap_or(256);
            ProptestConfig {
                cases,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        fn encoded(format: ImageFormat) -> Vec<u8> {
            let image = RgbImage::from_fn(24, 16, |x, y| {
                image::Rgb([(x * 10) as u8, (y * 15) as u8, 90])
            });
            let mut bytes = Vec::new();
            image
                .write_to(&mut std::io::Cursor::new(&mut bytes), format)
                .unwrap();
            bytes
        }

        /// The PNG CRC (over the chunk type and data), so a forged header passes the decoder's check.
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = 0xFFFF_FFFFu32;
            for &byte in bytes {
                crc ^= u32::from(byte);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0xEDB8_8320
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }

        /// A PNG whose header claims `width`×`height`, with one tiny data chunk.
        fn png_claiming(width: u32, height: u32) -> Vec<u8> {
            let mut png = encoded(ImageFormat::Png);
            // IHDR's data sits at bytes 16..29, its CRC at 29..33.
            png[16..20].copy_from_slice(&width.to_be_bytes());
            png[20..24].copy_from_slice(&height.to_be_bytes());
            let crc = crc32(&png[12..29]);
            png[29..33].copy_from_slice(&crc.to_be_bytes());
            png
        }

        fn within_limits(result: &Result<RgbImage, FaceError>) -> bool {
            result.as_ref().map_or(true, |image| {
                image.width() <= MAX_DIMENSION && image.height() <= MAX_DIMENSION
            })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_is_answered(text in ".{0,400}") {
                let _ = decode(&ImageInput(text));
            }

            #[test]
            fn any_bytes_are_answered(bytes in proptest::collection::vec(any::<u8>(), 0..2048), data_url in any::<bool>()) {
                let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                let input = if data_url { format!("data:image/jpeg;base64,{b64}") } else { b64 };
                let _ = decode(&ImageInput(input));
                let _ = liveness_frames(&[ImageInput(base64::engine::general_purpose::STANDARD.encode(&bytes))]);
            }

            #[test]
            fn damaged_images_are_answered(
                png in any::<bool>(),
                damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let mut bytes = encoded(if png { ImageFormat::Png } else { ImageFormat::Jpeg });
                for (at, value) in damage {
                    let at = at.index(bytes.len());
                    bytes[at] = value;
                }
                if truncate {
                    bytes.truncate(cut.index(bytes.len()));
                }
                let result = decode_bytes(&bytes);
                prop_assert!(within_limits(&result));
                let _ = decode_liveness_frame(&bytes);
            }

            #[test]
            fn a_claimed_size_beyond_the_limits_is_refused_before_decoding(
                width in 1u32..=u32::MAX >> 1,
                height in 1u32..=u32::MAX >> 1,
            ) {
                prop_assume!(width > MAX_DIMENSION || height > MAX_DIMENSION);
                let png = png_claiming(width, height);
                prop_assert!(decode_bytes(&png).is_err());
                prop_assert!(decode_liveness_frame(&png).is_err());
                // Thirty of them, each claiming the size: refused from the headers alone.
                let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
                let frames = vec![ImageInput(b64); 30];
                let total = (u64::from(width) * u64::from(height)).saturating_mul(30);
                prop_assert_eq!(liveness_frames(&frames).is_err(), total > MAX_LIVENESS_PIXELS);
            }
        }
    }
}
