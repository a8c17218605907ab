//! Write counters, for checking a memo ([`super::memo`]) with a few atomic
//! loads instead of a cache lookup per entry it was made from.
//!
//! Every item key and partition name counts in one of a fixed set of
//! counters (by its hash). A write through this instance moves the counters
//! of what it touches, before it is sent and again once its outcome is in
//! the cache; a memo notes the counters of what it read, loaded *before*
//! each read, and is current while they have not moved. So a memo made
//! from anything a later write changed is retired, whether or not the
//! entry it read is still in the cache (an evicted entry cannot vouch for
//! itself, but its counter is never evicted). Keys sharing a counter only
//! retire each other's memos early, which costs a re-render, never a stale
//! answer; counters only grow, so a moved counter never comes back.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::RandomState;

/// Counters: 256 KiB, resident. With 50,000 todos cached on one instance,
/// a key shares its counter with one or two others.
const COUNTERS: usize = 1 << 15;

pub(super) struct Versions {
    counters: Box<[AtomicU64]>,
    hasher: RandomState,
}

/// Which counter a key counts in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Counter(u32);

/// A counter as a read found it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seen {
    counter: Counter,
    version: u64,
}

impl Versions {
    pub(super) fn new() -> Self {
        Self {
            counters: (0..COUNTERS).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::default(),
        }
    }

    /// The counter `key` counts in.
    pub(super) fn counter<K: Hash + ?Sized>(&self, key: &K) -> Counter {
        // Truncation intended: the low bits pick the counter.
        Counter((self.hasher.hash_one(key) as u32) & (COUNTERS as u32 - 1))
    }

    fn at(&self, counter: Counter) -> &AtomicU64 {
        &self.counters[counter.0 as usize]
    }

    /// `key`'s counter now; load it before reading what it guards.
    pub(super) fn see<K: Hash + ?Sized>(&self, key: &K) -> Seen {
        let counter = self.counter(key);
        Seen {
            counter,
            version: self.at(counter).load(Ordering::SeqCst),
        }
    }

    /// Moves `counter`; call after changing what it guards.
    pub(super) fn bump(&self, counter: Counter) {
        self.at(counter).fetch_add(1, Ordering::SeqCst);
    }

    /// True when none of the counters moved since they were seen.
    pub(super) fn unchanged(&self, seen: &[Seen]) -> bool {
        seen.iter()
            .all(|s| self.at(s.counter).load(Ordering::SeqCst) == s.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_moves_only_what_shares_the_counter() {
        let versions = Versions::new();
        let item = versions.see("P:u1/T:a");
        let other = versions.see("P:u2/T:b");
        versions.bump(versions.counter("P:u1/T:a"));
        assert!(!versions.unchanged(&[item]));
        let shares = other.counter == item.counter;
        assert_eq!(versions.unchanged(&[other]), !shares);
        assert!(versions.unchanged(&[versions.see("P:u1/T:a")]));
    }
}
