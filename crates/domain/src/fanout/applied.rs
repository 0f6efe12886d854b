//! What applying one event did (for the worker's metrics and tests).

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A post (or a slice of one) reached `followers` follower timelines, `inserted` of them
    /// newly; `inactive` followers were skipped as inactive (their homes are rebuilt on return).
    Posted {
        followers: usize,
        inserted: usize,
        inactive: usize,
    },
    /// A large account's post was not fanned out: its `followers` merge it into their home
    /// reads.
    Pulled { followers: usize },
    /// A home timeline was rebuilt from `followees` followees' recent tweets, `inserted` entries
    /// newly added (`false` for `done` when another rebuild was under way or it was built).
    Rebuilt { followees: usize, inserted: usize },
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
