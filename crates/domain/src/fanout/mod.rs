//! The effects of fan-out events, shared by the worker (which applies every event from the
//! stream) and the API (which applies a follow change at once, for the caller's benefit).
//!
//! Every function here is idempotent and derives what to write from the current state rather
//! than from the event alone, so an event applied twice (redelivery after a crash) or two events
//! applied out of order (several workers) converge on the same, correct state:
//! - an insert into a home timeline is checked against the follow edge: by `timeline_insert.lua`
//!   in the same atomic step for the author's own home and a follow's back-fill, and right after
//!   inserting for the followers of a fan-out (see `insert_then_verify`);
//! - a follow change is reconciled against `following`, the truth, whatever the event said;
//! - notifications are one member per action (`<type>:<actor>:<tweet>`), added only if absent
//!   (`notify.lua`), so a redelivered event makes none twice.
//!
//! # Where each rule of the social layer is enforced (API.md "Timeline semantics")
//! - *Reposts* travel as `Posted` events of the repost's id. Each follower's insert is
//!   `repost_insert.lua`, in the follower's slot: it refuses a follower who does not follow the
//!   reposter, mutes the reposter or the original's author, blocks the original's author, or
//!   already shows the original or another repost of it among the newest 40 home entries
//!   (its rank, and that of the last repost of it shown, which `home_src` remembers).
//! - *Replies* (the conversation rule): before inserting, one pipeline of `ZRANK`s keeps the
//!   followers who are the replied-to author or follow them (`homes::in_conversation`).
//! - *Mutes*: a plain tweet's insert checks the mute in the same pipeline as the follow edge
//!   and takes the entry out again for a muting follower (`homes::insert_then_verify`).
//! - *Blocks* end both follows (so no fan-out reaches either side), and the reposts rule above
//!   covers others' reposts of a blocked author.
//! - *Blocking or muting* someone appends a `Hidden` event: `hide` purges the home of their
//!   tweets, reposts and reposts of their tweets, and their notifications.
//! - *Deleting an original*: `delete_tweet.lua` moves its `reposts` aside, and `reposts`
//!   removes each repost's record and entries and sends a `Deleted` event for it. A repost racing
//!   the delete is decided in the original's slot (`repost.lua`; see `store::reposts`).
//! - *Notifications*: a post's `reply`, `repost` and `mention`s are made by `apply_posted`, a
//!   like's from its `Liked` event, a follow's from its `FollowChanged` event; `notify.lua`
//!   refuses actors the recipient blocks or mutes, and the store drops one's own actions.
//!
//! - *Large accounts* are merged on read instead of fanned out, and pass between the two ways
//!   without a wrong home (`celebrity`); *inactive followers* are skipped (`homes`), and a
//!   home read while not built is rebuilt (`rebuild`).
//!
//! # Layout (each module uses only those listed after it)
//! - `apply`: [`Fanout::apply`], which dispatches an event, and what a post or a deletion does
//!   before it is spread;
//! - `rebuild`: a home timeline rebuilt from the followees' recent tweets;
//! - `hide`, `reposts`: a block's or mute's purge, and the removal of a deleted tweet's reposts;
//! - `spread`: an event for every follower, at once or split into slices;
//! - `follow`: reconciling a follow edge and purging an unfollowed author;
//! - `walk`: walking a range of followers, a few pipelines of home writes in flight;
//! - `homes`: the home-timeline writes themselves, by the rule of each `shape`;
//! - `shape`: what kind of tweet is carried (tweet, reply, repost);
//! - `celebrity`: a large account's passage to and from merge on read;
//! - `followers`: an author's followers, a chunk at a time;
//! - `config` and `applied`: [`Fanout`] (the store and its [`Tuning`]), and what applying
//!   an event did.

mod applied;
mod apply;
mod celebrity;
mod config;
mod follow;
mod followers;
mod hide;
mod homes;
mod rebuild;
mod reposts;
mod shape;
mod spread;
mod walk;

pub use applied::Applied;
pub use config::{Fanout, Tuning};
