//! The local store's URL signatures: an HMAC-SHA256, under a secret kept in
//! the data directory, of the method, the key, the expiry and, for uploads,
//! the content type and length; checked in constant time against what the
//! request actually carries.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::LocalObjects;
use crate::clock::now_epoch;

/// Why a presented URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("the URL is not signed")]
    Unsigned,
    #[error("the URL has expired")]
    Expired,
    #[error("the signature does not match this request")]
    Mismatch,
}

impl LocalObjects {
    /// Refuses a missing, expired or non-matching signature for a request
    /// with this method and key (and, for uploads, content type and length).
    pub fn check_signature(
        &self,
        method: &str,
        key: &str,
        expires: Option<u64>,
        signature: Option<&str>,
        content: Option<(&str, u64)>,
    ) -> Result<(), SignatureError> {
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(SignatureError::Unsigned);
        };
        if expires <= now_epoch() {
            return Err(SignatureError::Expired);
        }
        let text = Self::signed_text(method, key, expires, content);
        match self.verify(&text, signature) {
            true => Ok(()),
            false => Err(SignatureError::Mismatch),
        }
    }

    /// What a URL's signature covers.
    pub(super) fn signed_text(
        method: &str,
        key: &str,
        expires: u64,
        content: Option<(&str, u64)>,
    ) -> String {
        let (content_type, length) = content.unwrap_or(("", 0));
        format!("{method}\n{key}\n{expires}\n{content_type}\n{length}")
    }

    pub(super) fn sign(&self, text: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.secret, text.as_bytes()))
    }

    /// Checks a presented URL's signature in constant time.
    fn verify(&self, text: &str, signature: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(signature)
            .is_ok_and(|tag| hmac::verify(&self.secret, text.as_bytes(), &tag).is_ok())
    }
}
