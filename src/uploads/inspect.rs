//! Checking what arrived, and making thumbnails.
//!
//! Content is judged by its first bytes, not by its name or declared type.
//! Images are decoded under limits (width, height, pixel count and total
//! allocation are checked from the header, before pixels are allocated), so
//! a small file that declares 50,000 × 50,000 pixels fails at once. EXIF
//! orientation is applied; re-encoding drops all metadata (EXIF, GPS).
//! Decoding: `image` (zune-jpeg for JPEG); resizing: fast_image_resize
//! (SIMD: a box average down to twice the target, then Lanczos3, as libvips
//! shrinks then reduces; each smaller size from the previous one); encoding:
//! jpeg-encoder (SIMD), JPEG at quality 80; libwebp (through the `webp`
//! crate) for the site's WebP copies, lossy at quality 75: `image` encodes
//! WebP only losslessly, which makes a photo larger than its JPEG.

use std::io::Cursor;

pub use crate::objects::content_matches;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

/// The long sides thumbnails are made for.
pub const THUMBNAIL_SIZES: [u32; 2] = [256, 1024];
/// Decoding limits against decompression bombs.
pub const MAX_SIDE: u32 = 12_000;
pub const MAX_PIXELS: u64 = 50_000_000;
pub const MAX_ALLOC: u64 = 512 * 1024 * 1024;

pub fn is_image(content_type: &str) -> bool {
    content_type.starts_with("image/")
}

/// One encoded thumbnail.
pub struct Encoded {
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// An image's thumbnails, and the size of the image itself (as shown:
/// after its EXIF orientation).
pub struct Thumbnails {
    pub width: u32,
    pub height: u32,
    pub encoded: Vec<Encoded>,
}

/// Decodes `bytes` (within the limits), orients it, and encodes one JPEG per
/// size of [`sizes_for`] the image, each smaller one resized from the
/// previous, larger one (cheaper than from the
/// original, and indistinguishable at these ratios). CPU-bound: run it on a
/// large-work thread (`crate::large_work`), which keeps the memory the
/// decoded photo took for the next image, and lets go once none comes.
pub fn thumbnails(bytes: &[u8]) -> Result<Thumbnails, String> {
    decode(bytes).and_then(|image| {
        let (width, height) = (image.width(), image.height());
        let sizes = sizes_for(width.max(height));
        let targets: Vec<(u32, u32)> = sizes.iter().map(|&s| fit(width, height, s)).collect();
        let mut encoded = Vec::with_capacity(sizes.len());
        for (image, &size) in resized(image.into_rgb8(), &targets)?.iter().zip(&sizes) {
            encoded.push(Encoded {
                size,
                width: image.width(),
                height: image.height(),
                jpeg: encode_jpeg(image)?,
            });
        }
        Ok(Thumbnails {
            width,
            height,
            encoded,
        })
    })
}

/// One copy of an image for the site, in both formats.
pub struct Derivative {
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
    pub webp: Vec<u8>,
}

/// The image in `bytes` at each of `sizes` (width × height, smallest
/// first, never larger than the oriented image), as JPEG and WebP.
/// CPU-bound large work, like [`thumbnails`].
pub fn derivatives(bytes: &[u8], sizes: &[(u32, u32)]) -> Result<Vec<Derivative>, String> {
    decode(bytes).and_then(|image| {
        resized(image.into_rgb8(), sizes)?
            .iter()
            .map(|image| {
                Ok(Derivative {
                    width: image.width(),
                    height: image.height(),
                    jpeg: encode_jpeg(image)?,
                    webp: encode_webp(image)?,
                })
            })
            .collect()
    })
}

/// `image` at each of `targets` (smallest first), each smaller one resized
/// from the next larger; the full-size image is dropped after the first.
fn resized(image: RgbImage, targets: &[(u32, u32)]) -> Result<Vec<DynamicImage>, String> {
    let mut resizer = Resizer::new();
    let mut made: Vec<DynamicImage> = Vec::with_capacity(targets.len());
    let mut original = Some(DynamicImage::ImageRgb8(image));
    for &target in targets.iter().rev() {
        let next = match (original.take(), made.last()) {
            (Some(image), _) => shrink(&mut resizer, &image, target)?,
            (None, Some(larger)) => shrink(&mut resizer, larger, target)?,
            (None, None) => unreachable!("the original is taken once"),
        };
        made.push(next);
    }
    made.reverse();
    Ok(made)
}

/// `image` at `target`. Far above it, boxes are averaged down to twice the
/// target first (cheap, alias-free), as libvips' shrink-then-reduce does.
fn shrink(
    resizer: &mut Resizer,
    image: &DynamicImage,
    (width, height): (u32, u32),
) -> Result<DynamicImage, String> {
    if image.width() > 3 * width && image.height() > 3 * height {
        let halfway = resize(resizer, image, (2 * width, 2 * height), FilterType::Box)?;
        return resize(resizer, &halfway, (width, height), FilterType::Lanczos3);
    }
    resize(resizer, image, (width, height), FilterType::Lanczos3)
}

/// The sizes of [`THUMBNAIL_SIZES`] below an image's long side `long`: a
/// thumbnail is never enlarged nor a copy of another. An image no larger
/// than the smallest size still gets that one, at its own size (re-encoded,
/// without its metadata).
fn sizes_for(long: u32) -> Vec<u32> {
    let smaller: Vec<u32> = THUMBNAIL_SIZES.into_iter().filter(|&s| s < long).collect();
    match smaller.is_empty() {
        true => vec![THUMBNAIL_SIZES[0]],
        false => smaller,
    }
}

/// `image` resized to `width` × `height`.
fn resize(
    resizer: &mut Resizer,
    image: &DynamicImage,
    (width, height): (u32, u32),
    filter: FilterType,
) -> Result<DynamicImage, String> {
    let mut resized = DynamicImage::new_rgb8(width, height);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter));
    resizer
        .resize(image, &mut resized, &options)
        .map_err(|e| format!("resize: {e}"))?;
    Ok(resized)
}

/// JPEG at quality 80 (jpeg-encoder: AVX2 where the CPU has it).
fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let rgb = image.as_rgb8().ok_or("not an RGB image")?;
    let (width, height) = (
        u16::try_from(rgb.width()).map_err(|_| "too wide to encode")?,
        u16::try_from(rgb.height()).map_err(|_| "too tall to encode")?,
    );
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 80)
        .encode(rgb.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| format!("encode: {e}"))?;
    Ok(jpeg)
}

/// Lossy WebP at quality 75 (libwebp's default).
fn encode_webp(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let rgb = image.as_rgb8().ok_or("not an RGB image")?;
    let encoder = webp::Encoder::from_rgb(rgb.as_raw(), rgb.width(), rgb.height());
    let encoded = encoder
        .encode_simple(false, 75.0)
        .map_err(|e| format!("encode: {e:?}"))?;
    Ok(encoded.to_vec())
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("unreadable image: {e}"))?;
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(),
        other => format!("unreadable image: {other}"),
    })?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(too_large());
    }
    let orientation = decoder
        .orientation()
        .map_err(|e| format!("unreadable image: {e}"))?;
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| format!("undecodable image: {e}"))?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn too_large() -> String {
    format!("the image is too large to process (at most {MAX_SIDE} px a side, {MAX_PIXELS} pixels)")
}

/// `width`×`height` scaled so the long side is at most `size`.
pub fn fit(width: u32, height: u32, size: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= size {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| {
        ((u64::from(side) * u64::from(size) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    (scale(width), scale(height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fit_the_long_side_and_never_grow() {
        assert_eq!(fit(4000, 3000, 256), (256, 192));
        assert_eq!(fit(3000, 4000, 1024), (768, 1024));
        assert_eq!(fit(100, 50, 256), (100, 50));
        assert_eq!(fit(10_000, 1, 256), (256, 1));
    }

    #[test]
    fn thumbnails_are_smaller_than_the_image_and_never_repeat() {
        assert_eq!(sizes_for(4000), vec![256, 1024]);
        assert_eq!(sizes_for(1024), vec![256]);
        assert_eq!(sizes_for(300), vec![256]);
        assert_eq!(sizes_for(256), vec![256]);
        assert_eq!(sizes_for(120), vec![256]);
    }

    #[test]
    fn signatures_are_checked() {
        assert!(content_matches("image/png", b"\x89PNG\r\n\x1a\nrest"));
        assert!(!content_matches(
            "application/pdf",
            b"\x89PNG\r\n\x1a\nrest"
        ));
        assert!(!content_matches("image/jpeg", b"\x7fELF\x02\x01\x01"));
        assert!(!content_matches("text/plain", b"a\0b"));
        assert!(content_matches("text/plain", "héllo".as_bytes()));
    }
}
