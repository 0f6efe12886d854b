//! The effects of fan-out events, shared by the worker (which applies every event from the
//! stream) and the API (which applies a follow change at once, for the caller's benefit).
//!
//! Every function here is idempotent and derives what to write from the current state rather
//! than from the event alone, so an event applied twice (redelivery after a crash) or two events
//! applied out of order (several workers) converge on the same, correct state:
//! - an insert into a home timeline is checked against the follow edge: by `timeline_insert.lua`
//!   in the same atomic step for the author's own home and a follow's back-fill, and right after
//!   inserting for the followers of a fan-out (see `insert_then_verify`);
//! - a follow change is reconciled against `following`, the truth, whatever the event said.
//!
//! # Layout (each module uses only those listed after it)
//! - `apply`: [`Fanout::apply`], which dispatches an event, and what a post or a deletion does
//!   before it is spread;
//! - `spread`: an event for every follower, at once or split into slices;
//! - `follow`: reconciling a follow edge and purging an unfollowed author;
//! - `walk`: walking a range of followers, a few pipelines of home writes in flight;
//! - `homes`: the home-timeline writes themselves;
//! - `config` and `applied`: [`Fanout`] (the store and its [`Tuning`]), and what applying
//!   an event did.

mod applied;
mod apply;
mod config;
mod follow;
mod homes;
mod spread;
mod walk;

pub use applied::Applied;
pub use config::{Fanout, Tuning};
