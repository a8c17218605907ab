//! What a file's first bytes say it is.

/// Whether `bytes` are what `content_type` says.
pub fn content_matches(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "text/plain" => std::str::from_utf8(bytes).is_ok_and(|text| !text.contains('\0')),
        // A type allowed by configuration that we have no signature for.
        _ => true,
    }
}

/// Whether the first bytes of a body still being received can be
/// `content_type` (for text, only that no NUL has appeared yet: UTF-8 is
/// checked once the whole body is there).
pub fn head_matches(content_type: &str, head: &[u8]) -> bool {
    match content_type {
        "text/plain" => !head.contains(&0),
        other => content_matches(other, head),
    }
}
