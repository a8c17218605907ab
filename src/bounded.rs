//! A concurrent cache bounded in bytes, for what a request looks up on its
//! way in and that is weighed by its own size: verified tokens, kept
//! answers. `quick_cache`: a lookup is a hash and a read lock, and its
//! bookkeeping is tens of bytes an entry (moka's, for the read cache's
//! entries, is about a kilobyte). It starts empty and grows as entries
//! come, so an idle process holds no table.

use foldhash::fast::RandomState;
use quick_cache::OptionsBuilder;
use quick_cache::sync::Cache;

pub use quick_cache::sync::DefaultLifecycle;
pub use quick_cache::{Equivalent, Lifecycle, Weighter};

/// Entries `K` → `V` weighed by `W`, told of evictions by `L`.
pub type Bounded<K, V, W, L = DefaultLifecycle<K, V>> = Cache<K, V, W, RandomState, L>;

/// An empty cache of at most `bytes`, as `weigher` counts them.
pub fn bounded<K, V, W, L>(bytes: u64, weigher: W, lifecycle: L) -> Bounded<K, V, W, L>
where
    K: Eq + std::hash::Hash,
    V: Clone,
    W: Weighter<K, V> + Clone,
    L: Lifecycle<K, V> + Clone,
{
    let options = OptionsBuilder::new()
        .estimated_items_capacity(0)
        .weight_capacity(bytes)
        .build()
        .expect("both sizes are set");
    Bounded::with_options(options, weigher, RandomState::default(), lifecycle)
}
