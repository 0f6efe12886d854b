//! The Lua scripts of `migrations-redis-lua/runtime-scripts`, compiled into the binary.
//!
//! `redis::Script` sends EVALSHA and loads the script on NOSCRIPT by itself when invoked alone;
//! inside a pipeline it does not, so [`run_pipeline`] loads every script and retries once when
//! Redis answers NOSCRIPT (after a restart, say). That retry is safe only because every pipeline
//! we send is idempotent.

use std::sync::LazyLock;

use redis::{Pipeline, Script, aio::ConnectionLike};

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../migrations-redis-lua/runtime-scripts/",
                $file
            )))
        });
    };
}

script!(POST_TWEET, "post_tweet.lua");
script!(TIMELINE_INSERT, "timeline_insert.lua");
script!(TIMELINE_PURGE, "timeline_purge.lua");
script!(CAPPED_INSERT, "capped_insert.lua");
script!(ADD_EDGE, "add_edge.lua");
script!(DELETE_TWEET, "delete_tweet.lua");
script!(SESSION_CREATE, "session_create.lua");
script!(SESSION_ROTATE, "session_rotate.lua");
script!(SESSION_CHECK, "session_check.lua");
script!(LOCK_RELEASE, "lock_release.lua");
script!(RATE_LIMIT_HIT, "rate_limit_hit.lua");
script!(RATE_LIMIT_RESERVE, "rate_limit_reserve.lua");
script!(RATE_LIMIT_REFUND, "rate_limit_refund.lua");
script!(FOLLOWER_CHUNK, "follower_chunk.lua");
script!(LIKE, "like.lua");
script!(REPOST, "repost.lua");
script!(ADD_REPLY, "add_reply.lua");
script!(NOTIFY, "notify.lua");
script!(NOTIFICATIONS_READ, "notifications_read.lua");
script!(NOTIFICATIONS_PURGE, "notifications_purge.lua");
script!(REPOST_INSERT, "repost_insert.lua");
script!(COUNTED_REMOVE, "counted_remove.lua");
script!(ACTIVITY_TOUCH, "activity_touch.lua");
script!(HOME_BUILT, "home_built.lua");
script!(CELEBRITY_PAGE, "celebrity_page.lua");
script!(CELEBRITY_STATE, "celebrity_state.lua");
script!(CELEBS_ADD, "celebs_add.lua");
script!(CELEBS_DRAIN, "celebs_drain.lua");
script!(STREAM_RECORD, "stream_record.lua");
script!(STREAM_OPEN, "stream_open.lua");
script!(STREAM_WAKE, "stream_wake.lua");

fn all() -> [&'static Script; 31] {
    [
        &POST_TWEET,
        &TIMELINE_INSERT,
        &TIMELINE_PURGE,
        &CAPPED_INSERT,
        &ADD_EDGE,
        &DELETE_TWEET,
        &SESSION_CREATE,
        &SESSION_ROTATE,
        &SESSION_CHECK,
        &LOCK_RELEASE,
        &RATE_LIMIT_HIT,
        &RATE_LIMIT_RESERVE,
        &RATE_LIMIT_REFUND,
        &FOLLOWER_CHUNK,
        &LIKE,
        &REPOST,
        &ADD_REPLY,
        &NOTIFY,
        &NOTIFICATIONS_READ,
        &NOTIFICATIONS_PURGE,
        &REPOST_INSERT,
        &COUNTED_REMOVE,
        &ACTIVITY_TOUCH,
        &HOME_BUILT,
        &CELEBRITY_PAGE,
        &CELEBRITY_STATE,
        &CELEBS_ADD,
        &CELEBS_DRAIN,
        &STREAM_RECORD,
        &STREAM_OPEN,
        &STREAM_WAKE,
    ]
}

/// The scripts that leave the state they found after a first run when run again right after it
/// with the same arguments (only their reply may differ, a count of what changed): each checks
/// what it is about to write, or writes what a repeat writes again. Such a script may go in a
/// pipeline sent per node on a cluster, whose failed part is sent again per slot
/// (`redis_pool::by_node`); a fan-out's per-follower inserts are such pipelines.
///
/// `stream_record.lua` is among them: what it records is checked against the state and against
/// what it recorded already, so a second run appends nothing (but an `end`, which is sent alone).
fn repeatable() -> [&'static Script; 10] {
    [
        &CELEBRITY_PAGE,
        &CELEBS_ADD,
        &CELEBS_DRAIN,
        &TIMELINE_INSERT,
        &TIMELINE_PURGE,
        &REPOST_INSERT,
        &NOTIFY,
        &ADD_REPLY,
        &COUNTED_REMOVE,
        &STREAM_RECORD,
    ]
}

/// Whether the script of this SHA1 (as `EVALSHA` names it) is one of [`repeatable`]'s.
pub fn is_repeatable(sha1_hex: &[u8]) -> bool {
    repeatable()
        .iter()
        .any(|s| s.get_hash().as_bytes().eq_ignore_ascii_case(sha1_hex))
}

/// Loads every script into Redis's script cache: on a cluster, into every node's (a `SCRIPT
/// LOAD` command alone goes to all nodes; inside a pipeline it would reach one), replicas
/// included, since Redis does not replicate the cache and a promoted replica needs them.
pub async fn load_all<C: ConnectionLike + Send>(conn: &mut C) -> redis::RedisResult<()> {
    for script in all() {
        script.load_async(conn).await?;
    }
    Ok(())
}

/// Runs an idempotent pipeline that may contain EVALSHAs, loading the scripts on NOSCRIPT.
pub async fn run_pipeline<C, T>(conn: &mut C, pipe: &Pipeline) -> redis::RedisResult<T>
where
    C: ConnectionLike + Send,
    T: redis::FromRedisValue,
{
    match pipe.query_async(conn).await {
        Err(err) if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            load_all(conn).await?;
            pipe.query_async(conn).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every runtime script opens with its header: the slot it runs in and the keys it takes,
    /// and every `chirp:` key named in the header carries a `{hash-tag}`.
    #[test]
    fn every_runtime_script_names_its_slot_and_keys() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations-redis-lua/runtime-scripts");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            let header: Vec<&str> = source
                .lines()
                .skip_while(|l| l.starts_with("#!")) // `#!lua flags=...`
                .take_while(|l| l.starts_with("--"))
                .collect();
            let name = path.display();
            assert!(
                header.iter().any(|l| l.starts_with("-- Slot: ")),
                "{name} names no slot"
            );
            assert!(
                header.iter().any(|l| l.contains("KEYS[1]")),
                "{name} lists no keys"
            );
            for word in header.iter().flat_map(|l| l.split_whitespace()) {
                if word.starts_with("chirp:") {
                    assert!(
                        word.contains('{') && word.contains('}'),
                        "{name}: {word} has no hash tag"
                    );
                }
            }
            seen += 1;
        }
        assert!(
            seen >= super::all().len(),
            "found {seen} scripts in {}",
            dir.display()
        );
    }
}
