//! What applying one event did (for the worker's metrics and tests).

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A post (or a slice of one) reached `followers` follower timelines, `inserted` of them
    /// newly.
    Posted { followers: usize, inserted: usize },
    /// A deletion (or a slice of one) was carried to `followers` follower timelines.
    Deleted { followers: usize },
    /// A big fan-out was split into `slices` slices on `chirp:{fanout}:slices`.
    Split { slices: usize },
    /// A follow edge was reconciled (and its notification made, if new).
    FollowReconciled,
    /// A like's notification was handled: `made` is 1 if it was new.
    Notified { made: usize },
    /// A block's or mute's purge of the owner's home and notifications was done.
    Purged,
    /// Nothing to do (the tweet was deleted before its fan-out, say).
    Skipped,
}
