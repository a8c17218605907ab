//! Secrets generated once and kept in the data directory (the local token
//! signing key, the local file-URL signing key), and the random bytes they
//! and other secrets are made of.
//!
//! Written aside and renamed, so a crash never leaves half a secret; readable
//! by the owner only; if two processes race to create one, whichever rename
//! won is the secret both use.

use std::path::Path;

/// `len` bytes from the operating system's random source. Not aws-lc's
/// generator: its first use in a process seeds itself from CPU jitter,
/// which took 40 to 120 ms here, and that was most of a fresh start.
pub fn random_bytes(len: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes)
}

/// Reads the secret at `path`, creating it with `generate` on first use.
pub fn load_or_create(
    path: &Path,
    generate: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> std::io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let dir = path.parent().expect("a secret file has a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    write_private(&tmp, &generate()?)?;
    std::fs::rename(&tmp, path)?;
    std::fs::read(path)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
