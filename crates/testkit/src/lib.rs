//! What Chirp's test crates and its bench share, so that each is written once: a throwaway
//! `redis-server` of a test's own, free ports, polling with a deadline instead of sleeps, and the
//! fan-out checks every suite makes ("the fan-out is drained", "no dead letters").
//!
//! Before this crate there were three copies of this plumbing (the worker tests, the end-to-end
//! and chaos suites, the bench), each with its own way to find `redis-server`, wait for it and
//! decide when the workers are done; they drifted. Everything here is an ordinary library item
//! (no `#[cfg(test)]`), usable from a test and from a binary alike.
//!
//! Test-only code is allowed to panic: the functions that fail a test when something is wrong
//! say so, and each has a non-panicking form (`try_*`, `poll_*`, a `Result`) for the bench.
//!
//! # Layout
//! - [`server`]: [`RedisServer`], a `redis-server` found on `PATH`, on a free port, killed on
//!   drop; and [`connect`], a connection whose every call is bounded in time.
//! - [`cluster`]: [`RedisCluster`], three masters and three replicas of those servers joined
//!   into a Redis Cluster, and [`slot_of`], a key's cluster slot.
//! - [`os`]: [`free_port`], [`find_program`] (a `PATH` lookup), [`send_signal`] (kill(1)).
//! - [`poll`]: [`eventually`] and [`eventually_within`] (fail at a deadline), [`poll_until`] and
//!   [`poll_every`] (give up at one), all taking a check that answers `bool` or `Option<T>`.
//! - [`topology`]: [`TestRedis`], a single server or a cluster as `CHIRP_TEST_REDIS` says, and
//!   [`TestConn`], a connection to either that routes by key.
//! - [`fanout`]: where each fan-out stream stands with the `fanout` consumer group
//!   ([`fanout_backlog`], [`drained`], [`wait_drained`]), its consumers, and the dead letters.

pub mod cluster;
pub mod fanout;
pub mod os;
pub mod poll;
pub mod server;
pub mod topology;

pub use cluster::{RedisCluster, slot_of};
pub use fanout::{
    Consumer, DeadLetter, NotDrained, StreamBacklog, consumers, dead_letters, dead_letters_at,
    dead_letters_of, drained, fanout_backlog, fanout_backlog_at, fanout_streams,
    master_connections, pending, stream_len, wait_drained,
};
pub use os::{find_program, free_cluster_port, free_port, send_signal, try_send_signal};
pub use poll::{
    DEADLINE, POLL_INTERVAL, Ready, eventually, eventually_within, poll_every, poll_until,
};
pub use server::{NO_PERSISTENCE, RedisServer, RedisServerBuilder, connect};
pub use topology::{TOPOLOGY_VAR, TestConn, TestRedis, Topology, connect_any};
