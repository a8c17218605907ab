//! The cache's budget is in bytes: what an entry is estimated to hold.

use crate::store::{Item, Key};

/// What a key costs in the byte budget, with a cache entry's overhead.
pub(super) fn key_len(key: &Key) -> usize {
    key.pk.len() + key.sk.len() + 32
}

/// The length of an item's JSON encoding, without building it.
pub(super) fn json_len(item: &Item) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, item);
    count.0
}
