//! What a fan-out works with: the store and how the work is cut up.

use crate::store::Store;

/// How fan-out work is cut up: tuning for throughput, not what is stored (that is
/// [`crate::store::Limits`]).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Followers read (and home timelines written) per pipeline during a fan-out, and tweets
    /// purged per script call on an unfollow.
    pub chunk: usize,
    /// Authors with more followers than this have each fan-out split into slices of this many
    /// followers, which any worker can take (the slices stream of the author's shard).
    pub slice_followers: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            chunk: 1000,
            slice_followers: 10_000,
        }
    }
}

/// Applies fan-out events to the store. Cheap to clone.
#[derive(Clone)]
pub struct Fanout {
    pub store: Store,
    pub tuning: Tuning,
}

impl Fanout {
    pub fn new(store: Store, tuning: Tuning) -> Self {
        Self { store, tuning }
    }
}
