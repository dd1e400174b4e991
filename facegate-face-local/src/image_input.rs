//! Client images to pixels: base64 (with or without a `data:` prefix), JPEG or
//! PNG only, with limits on encoded size and dimensions so a hostile upload
//! cannot make us allocate gigabytes.

use base64::Engine;
use facegate_core::providers::face::{FaceError, ImageInput};
use image::{ImageFormat, ImageReader, Limits, RgbImage};

/// Largest decoded (binary) image accepted.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Largest width or height accepted.
pub const MAX_DIMENSION: u32 = 4096;

/// Decodes a client image into RGB pixels.
pub fn decode(input: &ImageInput) -> Result<RgbImage, FaceError> {
    let bytes = base64_payload(&input.0)?;
    decode_bytes(&bytes)
}

/// Decodes JPEG or PNG bytes into RGB pixels.
pub fn decode_bytes(bytes: &[u8]) -> Result<RgbImage, FaceError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(FaceError::InvalidImage(format!(
            "image is {} bytes; the limit is {MAX_IMAGE_BYTES}",
            bytes.len()
        )));
    }
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, ImageFormat::Jpeg | ImageFormat::Png))
        .ok_or_else(|| FaceError::InvalidImage("not a JPEG or PNG image".into()))?;
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|err| FaceError::InvalidImage(format!("cannot decode image: {err}")))?;
    Ok(image.into_rgb8())
}

fn base64_payload(data: &str) -> Result<Vec<u8>, FaceError> {
    let data = data.trim();
    let payload = match data.strip_prefix("data:") {
        Some(rest) => {
            rest.split_once(";base64,")
                .ok_or_else(|| FaceError::InvalidImage("data: URL is not base64".into()))?
                .1
        }
        None => data,
    };
    if payload.len() > MAX_IMAGE_BYTES / 3 * 4 + 4 {
        return Err(FaceError::InvalidImage(format!(
            "image is larger than {MAX_IMAGE_BYTES} bytes"
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
    fn rejects_oversized_dimensions() {
        let err = decode(&ImageInput(png_base64(MAX_DIMENSION + 1, 1))).unwrap_err();
        assert!(matches!(err, FaceError::InvalidImage(_)));
    }
}
