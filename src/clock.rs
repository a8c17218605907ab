//! Wall-clock time in the one unit the product stores: seconds since the
//! Unix epoch (`expires_at`, token `exp`, URL expiry). One function, so that
//! the backends need not borrow it from each other.

/// Seconds since the Unix epoch.
pub fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
