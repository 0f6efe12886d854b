//! The Redis the bench seeds, loads and watches: one server, or a Redis Cluster.
//!
//! Two kinds of connection to it:
//! - [`Conn`], the domain's own connection (`chirp_domain::redis_pool::Connection`): on one
//!   server a multiplexed connection, on a cluster redis-rs's cluster client, routing each
//!   command by its key's slot and splitting each pipeline into one per slot, exactly as the API
//!   and the workers do. Everything that stands for the API's Redis work (the ceilings) and every
//!   look at single keys goes through it.
//! - [`Masters`]: a plain multiplexed connection to each master (the one server on standalone)
//!   and which master serves each slot. For the bulk work the API never does (seeding, the raw
//!   insert ceiling, the untimed checks of a million homes) and for what only a node can answer
//!   (`INFO`, `MEMORY USAGE`, `SCAN`): keys are grouped by master and each master gets one big
//!   pipeline, instead of the cluster client's pipeline per slot.
//!
//! The cluster's topology is read once (`CLUSTER SLOTS`); the bench's clusters do not fail over
//! or reshard while it runs.
//!
//! A [`Backend`] also fixes the fan-out shards Chirp uses on it, which the bench passes to the
//! API and the workers it starts (`CHIRP_FANOUT_SHARDS`) and uses itself where it stands in for
//! the API (the post ceiling's event), so that all of them agree on the streams.

use std::sync::Arc;
use std::time::Duration;

use chirp_domain::keys::FanoutShards;
use chirp_domain::redis_pool::cluster::{key_of, key_slot, slot_owners};
use chirp_domain::redis_pool::{self, Mode, Target};
use chirp_domain::store::shards_for;
use redis::Value;
use redis::aio::MultiplexedConnection;

use crate::{Result, seed};

/// A routed connection: one server's multiplexed connection, or a cluster connection.
pub type Conn = redis_pool::Connection;

/// How long a reply to the bench may take (a big pipeline takes long).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

/// Slots of a Redis Cluster.
const SLOTS: usize = chirp_domain::redis_pool::cluster::SLOTS as usize;

/// The variable the API and the workers read their fan-out shard count from.
pub const SHARDS_VAR: &str = "CHIRP_FANOUT_SHARDS";

/// One Redis server, or a cluster: its masters and which of them serves each slot.
#[derive(Debug, Clone)]
pub struct Backend {
    target: Target,
    /// Each master's URL (the one server's on standalone).
    masters: Vec<String>,
    /// The index in `masters` of each slot's master (empty on standalone).
    slots: Arc<Vec<u8>>,
    /// The fan-out streams Chirp uses here.
    shards: FanoutShards,
}

impl Backend {
    pub fn standalone(url: &str) -> Result<Self> {
        Ok(Self {
            target: Target::Standalone(url.to_owned()),
            masters: vec![url.to_owned()],
            slots: Arc::new(Vec::new()),
            shards: FanoutShards::new(shard_count(false)?),
        })
    }

    /// The cluster that `nodes` (URLs) belong to, its topology asked of the first that answers.
    pub async fn cluster(nodes: Vec<String>) -> Result<Self> {
        let mut last = None;
        for node in &nodes {
            match cluster_slots(node).await {
                Ok((masters, slots)) => {
                    return Ok(Self {
                        target: Target::Cluster(nodes),
                        masters,
                        slots: Arc::new(slots),
                        shards: FanoutShards::new(shard_count(true)?),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| "no cluster node given".into()))
    }

    /// What `urls` names (`CHIRP_REDIS_URL`'s syntax: one URL, or a cluster's nodes,
    /// comma-separated; one URL of a cluster node is a cluster too).
    pub async fn resolve(urls: &str) -> Result<Self> {
        match Target::resolve(urls, Mode::Auto).await? {
            Target::Standalone(url) => Self::standalone(&url),
            Target::Cluster(nodes) => Self::cluster(nodes).await,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn is_cluster(&self) -> bool {
        self.target.is_cluster()
    }

    /// What `CHIRP_REDIS_URL` takes for this Redis.
    pub fn url(&self) -> String {
        match &self.target {
            Target::Standalone(url) => url.clone(),
            Target::Cluster(nodes) => nodes.join(","),
        }
    }

    /// The fan-out streams Chirp uses here: [`SHARDS_VAR`] of the bench's environment if set,
    /// else what `auto` means for this kind of Redis (the domain's constants).
    pub fn shards(&self) -> &FanoutShards {
        &self.shards
    }

    /// A routed connection of its own (see [`Conn`]), its replies allowed two minutes.
    pub async fn connect(&self) -> Result<Conn> {
        match &self.target {
            Target::Standalone(url) => Ok(Conn::from(seed::connect(url).await?)),
            Target::Cluster(nodes) => Ok(Conn::from(
                redis_pool::cluster::connect(nodes, RESPONSE_TIMEOUT).await?,
            )),
        }
    }

    /// A plain connection of its own to each master.
    pub async fn connect_masters(&self) -> Result<Masters> {
        let mut conns = Vec::with_capacity(self.masters.len());
        for url in &self.masters {
            conns.push(seed::connect(url).await?);
        }
        Ok(Masters {
            urls: self.masters.clone(),
            conns,
            slots: self.slots.clone(),
        })
    }
}

/// `CHIRP_FANOUT_SHARDS` as the API and the workers read it (`auto` when unset), resolved as
/// they resolve it on one server or on a cluster.
fn shard_count(cluster: bool) -> Result<u16> {
    let raw = std::env::var(SHARDS_VAR).unwrap_or_else(|_| "auto".to_owned());
    let setting =
        FanoutShards::parse_setting(&raw).map_err(|e| format!("{SHARDS_VAR}={raw:?}: {e}"))?;
    Ok(shards_for(setting, cluster))
}

/// A plain connection to each master of a [`Backend`] (the one server on standalone), and
/// which master holds a key. Cheap to clone; clones share the sockets.
#[derive(Clone)]
pub struct Masters {
    urls: Vec<String>,
    conns: Vec<MultiplexedConnection>,
    slots: Arc<Vec<u8>>,
}

impl Masters {
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Master `index`'s connection.
    pub fn conn(&self, index: usize) -> MultiplexedConnection {
        self.conns[index].clone()
    }

    /// The index of the master that holds `key`.
    pub fn of(&self, key: &str) -> usize {
        self.of_slot(key_slot(key.as_bytes()))
    }

    /// The index of the master that `cmd` goes to (by the key the API's client routes it by;
    /// master 0 for a keyless one).
    pub fn of_command(&self, cmd: &redis::Cmd) -> usize {
        key_of(cmd).map_or(0, |key| self.of_slot(key_slot(key)))
    }

    fn of_slot(&self, slot: u16) -> usize {
        if self.slots.is_empty() {
            return 0;
        }
        usize::from(self.slots[usize::from(slot)])
    }

    /// `items` grouped by the master of `key(item)`, each group in the order of `items` (on
    /// standalone, one group: `items` as they are).
    pub fn group<T: Copy>(&self, items: &[T], key: impl Fn(T) -> String) -> Vec<Vec<T>> {
        let mut groups = vec![Vec::new(); self.len()];
        if self.len() == 1 {
            groups[0] = items.to_vec();
            return groups;
        }
        for &item in items {
            groups[self.of(&key(item))].push(item);
        }
        groups
    }
}

impl Masters {
    /// Sends `cmds` (replies ignored), each to the master of its key, in pipelines of up to
    /// 10,000 commands per master, every master's at once.
    pub async fn send(&self, cmds: impl IntoIterator<Item = redis::Cmd>) -> Result<()> {
        const CHUNK: usize = 10_000;
        let mut pipes: Vec<(redis::Pipeline, usize)> =
            (0..self.len()).map(|_| (redis::pipe(), 0)).collect();
        for cmd in cmds {
            let m = self.of_command(&cmd);
            pipes[m].0.add_command(cmd).ignore();
            pipes[m].1 += 1;
            if pipes[m].1 >= CHUNK {
                let pipe = std::mem::replace(&mut pipes[m].0, redis::pipe());
                pipes[m].1 = 0;
                pipe.query_async::<()>(&mut self.conn(m)).await?;
            }
        }
        let sends = pipes
            .into_iter()
            .enumerate()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(m, (pipe, _))| {
                let mut conn = self.conn(m);
                async move { Ok(pipe.query_async::<()>(&mut conn).await?) }
            })
            .collect();
        join_all(sends).await?;
        Ok(())
    }
}

/// Runs `work` at once, each on a task of its own; their outputs in order, or the first error.
pub async fn join_all<T, F>(work: Vec<F>) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let tasks: Vec<_> = work.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await??);
    }
    Ok(out)
}

/// The masters' URLs (in the scheme and with the credentials of `node`) and each slot's
/// master, from `CLUSTER SLOTS` as `node` sees it.
async fn cluster_slots(node: &str) -> Result<(Vec<String>, Vec<u8>)> {
    let mut conn = seed::connect(node).await?;
    let reply: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut conn)
        .await?;
    let mut masters: Vec<String> = Vec::new();
    let mut slots = vec![u8::MAX; SLOTS];
    for owner in slot_owners(&reply) {
        let url = with_address(node, &owner.host, owner.port);
        let index = match masters.iter().position(|m| *m == url) {
            Some(i) => i,
            None => {
                masters.push(url);
                masters.len() - 1
            }
        };
        let index = u8::try_from(index)?;
        let (start, end) = (
            usize::from(owner.start),
            usize::from(owner.end).min(SLOTS - 1),
        );
        if start <= end {
            slots[start..=end].fill(index);
        }
    }
    if masters.is_empty() || slots.contains(&u8::MAX) {
        return Err(format!("{node}: CLUSTER SLOTS does not cover every slot").into());
    }
    Ok((masters, slots))
}

/// `url` with its host and port replaced: `redis://user:pw@a:1/0` and `b`, `2` give
/// `redis://user:pw@b:2/0`.
fn with_address(url: &str, host: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let (userinfo, hostpart) = match rest.rsplit_once('@') {
        Some((user, hostpart)) => (format!("{user}@"), hostpart),
        None => (String::new(), rest),
    };
    let tail = hostpart
        .find(['/', '?', '#'])
        .map_or("", |i| &hostpart[i..]);
    format!("{scheme}://{userinfo}{host}:{port}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_url_keeps_the_scheme_credentials_and_database() {
        assert_eq!(
            with_address("redis://127.0.0.1:7000", "127.0.0.1", 7001),
            "redis://127.0.0.1:7001"
        );
        assert_eq!(
            with_address("rediss://u:p@h:1/0", "10.0.0.2", 6380),
            "rediss://u:p@10.0.0.2:6380/0"
        );
    }
}
