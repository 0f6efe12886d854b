//! The fan-out streams' commands and their replies.
//!
//! Replies are parsed from raw [`redis::Value`]s rather than with `redis::streams`' typed
//! replies: those need every field name to be UTF-8, so one malformed entry would make the whole
//! read fail, over and over, and wedge the worker. Here an entry's fields stay bytes, and a bad
//! entry is the poison of that entry alone. Both RESP2 and RESP3 reply shapes are accepted.
//!
//! # Layout
//! - `group`: what a consumer of the `fanout` group does: create the group, read, claim,
//!   look up delivery counts, acknowledge.
//! - `dead`: the dead-letter stream: setting an entry aside, reading entries back.
//! - `upkeep`: the backlog, trimming, and pruning the consumers of dead workers.
//! - `reply`: parsing the raw replies.

mod dead;
mod group;
mod reply;
mod upkeep;

pub(crate) use dead::{dead_letter, range};
pub(crate) use group::{ack, auto_claim, create_group, deliveries, read_group};
pub(crate) use upkeep::{Backlog, backlog, prune_consumers, trim};

/// One stream entry as delivered to this consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub id: String,
    /// `None` when the entry was deleted from the stream (XDEL, trimming) while pending: only
    /// its id is left in the pending list.
    pub fields: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// One row of the extended `XPENDING` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub consumer: String,
    pub deliveries: u64,
}
