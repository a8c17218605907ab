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
//! jpeg-encoder (SIMD), JPEG at quality 80.

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

/// Decodes `bytes` (within the limits), orients it, and encodes one JPEG per
/// size of [`sizes_for`] the image, each smaller one resized from the
/// previous, larger one (cheaper than from the
/// original, and indistinguishable at these ratios). CPU-bound: run it on a
/// blocking thread. The memory the decoded photo took goes back to the OS.
pub fn thumbnails(bytes: &[u8]) -> Result<Vec<Encoded>, String> {
    let encoded = decode(bytes).and_then(|image| resize_and_encode(image.into_rgb8()));
    crate::allocator::release_unused();
    encoded
}

fn resize_and_encode(image: RgbImage) -> Result<Vec<Encoded>, String> {
    let mut resizer = Resizer::new();
    let mut encoded = Vec::new();
    let sizes = sizes_for(image.width().max(image.height()));
    let mut source = DynamicImage::ImageRgb8(image);
    for &size in sizes.iter().rev() {
        // Far above the target, average boxes down to twice the target first
        // (cheap, alias-free), as libvips' shrink-then-reduce does.
        if source.width().max(source.height()) > 3 * size {
            source = resize(&mut resizer, &source, 2 * size, FilterType::Box)?;
        }
        let resized = resize(&mut resizer, &source, size, FilterType::Lanczos3)?;
        let (width, height) = (resized.width(), resized.height());
        encoded.push(Encoded {
            size,
            width,
            height,
            jpeg: encode_jpeg(&resized)?,
        });
        source = resized;
    }
    encoded.reverse();
    Ok(encoded)
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

/// `image` resized so its long side is `size` (never enlarged).
fn resize(
    resizer: &mut Resizer,
    image: &DynamicImage,
    size: u32,
    filter: FilterType,
) -> Result<DynamicImage, String> {
    let (width, height) = fit(image.width(), image.height(), size);
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
fn fit(width: u32, height: u32, size: u32) -> (u32, u32) {
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
