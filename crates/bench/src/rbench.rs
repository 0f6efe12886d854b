//! The fixed ceilings again, from `redis-benchmark` (`-P 64 -c 50`): the rate of each command of
//! a home page or a post on its own, combined into pages (posts) per second as
//! `1 / Σ count_i / rate_i`. Its client is C and costs Redis's machine far less CPU than the
//! bench's own (redis-rs parsing every reply), which on 2 cores binds `home_fixed` before Redis
//! does (see the profile); so the targets are judged against the higher of the two.
//!
//! One server only: `redis-benchmark --cluster` sends a fixed key to one master, which says
//! nothing about three. The post's writes go to scratch keys under `chirp:{bench}:`, deleted
//! afterwards. Its home inserts go to [`SCRATCH_HOMES`] copies of the real homes the bench's own
//! fixed ceiling writes: a home is a listpack of up to 800 entries, where an insert scans it
//! (docs/capacity.md), so inserts into one scratch zset (which outgrows the listpack limit and
//! becomes a skip list) would measure cheaper work than a fan-out does.

use std::process::Command;

use crate::Result;

/// Requests per command: about half a second each here.
const REQUESTS: usize = 200_000;

/// `-r` of a part: how many values its `__rand_int__`s take.
const FRESH: usize = 1_000_000;

/// A command of the unit measured, how many times one unit sends it, and the range of its
/// `__rand_int__`s (`-r`).
pub struct Part {
    pub args: Vec<String>,
    pub count: usize,
    pub random: usize,
}

impl Part {
    /// A part whose `__rand_int__`s are (nearly always) fresh values.
    pub fn new(count: usize, args: &[&str]) -> Self {
        Self::over(count, args, FRESH)
    }

    pub fn over(count: usize, args: &[&str], random: usize) -> Self {
        Self {
            args: args.iter().map(|a| a.to_string()).collect(),
            count,
            random,
        }
    }
}

/// Scratch keys of the post's parts (one slot), deleted after; and the home copies
/// ([`scratch`] `home`).
pub const SCRATCH: [&str; 4] = [
    "chirp:{bench}:seq",
    "chirp:{bench}:tweet",
    "chirp:{bench}:tweets",
    "chirp:{bench}:global",
];

/// How many home copies the post's inserts cycle through: enough that 200,000 inserts add
/// about ten entries to each, so they stay the size of the homes copied.
pub const SCRATCH_HOMES: usize = 20_000;

/// The scratch copy `i` of a kind of key (`home`, `page`, `record`), named as redis-benchmark
/// spells `__rand_int__` (12 digits), so that a part over `-r n` spreads over copies `0..n`.
pub fn scratch(kind: &str, i: usize) -> String {
    format!("chirp:{{bench}}:{kind}:{i:012}")
}

/// The name redis-benchmark turns into one of the copies of `kind`.
fn any_copy(kind: &str) -> String {
    format!("chirp:{{bench}}:{kind}:__rand_int__")
}

/// Fills `copies` scratch copies of `kind`, copy `i` from `sources[i % len]` (an absent
/// source leaves its copy absent, as the API finds it).
pub async fn copy_keys(
    conn: &mut crate::backend::Conn,
    kind: &str,
    sources: &[String],
    copies: usize,
) -> Result<()> {
    if sources.is_empty() {
        return Ok(());
    }
    for start in (0..copies).step_by(1000) {
        let mut pipe = redis::pipe();
        for i in start..(start + 1000).min(copies) {
            pipe.cmd("COPY")
                .arg(&sources[i % sources.len()])
                .arg(scratch(kind, i))
                .arg("REPLACE")
                .ignore();
        }
        pipe.query_async::<()>(conn).await?;
    }
    Ok(())
}

/// Deletes `copies` scratch copies of `kind`.
pub async fn delete_copies(
    conn: &mut crate::backend::Conn,
    kind: &str,
    copies: usize,
) -> Result<()> {
    for start in (0..copies).step_by(1000) {
        let names: Vec<String> = (start..(start + 1000).min(copies))
            .map(|i| scratch(kind, i))
            .collect();
        redis::cmd("UNLINK")
            .arg(names)
            .query_async::<()>(conn)
            .await?;
    }
    Ok(())
}

/// Deletes the post's scratch keys and its home copies.
pub async fn delete_post_scratch(conn: &mut crate::backend::Conn) -> Result<()> {
    redis::cmd("DEL")
        .arg(&SCRATCH[..])
        .query_async::<()>(conn)
        .await?;
    delete_copies(conn, "home", SCRATCH_HOMES).await
}

/// A home page: the session `HGET`, `ZREVRANGE` of 20 ids, 20 `HGETALL`s of a tweet record.
/// The session is a logged-in user's; the page and the records are read from copies of the
/// logged-in users' `homes` and of the `records` on their first pages (each part over its
/// copies), so that the reads spread over the same keys the API's do rather than one hot key.
pub fn home_parts(sessions_key: &str, sid: &str, homes: usize, records: usize) -> Vec<Part> {
    vec![
        Part::new(1, &["HGET", sessions_key, sid]),
        Part::over(1, &["ZREVRANGE", &any_copy("page"), "0", "19"], homes),
        Part::over(20, &["HGETALL", &any_copy("record")], records),
    ]
}

/// A post: the session `HGET`, `INCR`, the record's `HSET`, the author's timeline, the global
/// timeline and its trim, and `followers` homes' `ZADD` + trim (800). The inserts go to the
/// home copies ([`copy_keys`] `home`), with the highest score, so each lands where a new tweet does:
/// after every entry.
pub fn post_parts(sessions_key: &str, sid: &str, followers: usize) -> Vec<Part> {
    let [seq, tweet, tweets, global] = SCRATCH;
    let text = "a post of the usual length, some sixty characters of text..";
    let home = any_copy("home");
    // 2^53 - 1: above every tweet id.
    let newest = "9007199254740991";
    vec![
        Part::new(1, &["HGET", sessions_key, sid]),
        Part::new(1, &["INCR", seq]),
        Part::new(
            1,
            &[
                "HSET",
                tweet,
                "author",
                "1",
                "text",
                text,
                "created_at",
                "2026-12-02T08:00:00.000Z",
            ],
        ),
        Part::new(1, &["ZADD", tweets, "__rand_int__", "__rand_int__"]),
        Part::new(1, &["ZADD", global, "__rand_int__", "__rand_int__"]),
        Part::new(1, &["ZREMRANGEBYRANK", global, "0", "-1001"]),
        Part::over(
            followers,
            &["ZADD", &home, newest, "__rand_int__"],
            SCRATCH_HOMES,
        ),
        Part::over(
            followers,
            &["ZREMRANGEBYRANK", &home, "1", "-801"],
            SCRATCH_HOMES,
        ),
    ]
}

/// Units per second from each part's rate: the time of one unit is the sum of its commands'.
pub fn combined(parts: &[(f64, usize)]) -> f64 {
    let seconds: f64 = parts.iter().map(|&(rate, count)| count as f64 / rate).sum();
    1.0 / seconds
}

/// Whether redis-benchmark is installed (Debian's redis-tools, beside redis-server).
pub fn available() -> bool {
    chirp_testkit::find_program("redis-benchmark").is_some()
}

/// Units per second of `parts` on the Redis at `url` (`redis://host:port`), each part's rate
/// measured on its own; and the rates, for the record.
pub fn ceiling(url: &str, parts: &[Part]) -> Result<(f64, Vec<f64>)> {
    let (host, port) = host_port(url).ok_or_else(|| format!("not a redis:// URL: {url}"))?;
    let mut rates = Vec::with_capacity(parts.len());
    for part in parts {
        let out = Command::new("redis-benchmark")
            .args(["-h", &host, "-p", &port, "-P", "64", "-c", "50"])
            .args([
                "-n",
                &REQUESTS.to_string(),
                "-r",
                &part.random.to_string(),
                "--csv",
            ])
            .args(&part.args)
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "redis-benchmark {:?}: {}",
                part.args,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let rate = csv_rate(&text)
            .ok_or_else(|| format!("redis-benchmark {:?} printed {text:?}", part.args))?;
        rates.push(rate);
    }
    let pairs: Vec<(f64, usize)> = rates
        .iter()
        .zip(parts)
        .map(|(&r, p)| (r, p.count))
        .collect();
    Ok((combined(&pairs), rates))
}

/// The requests per second of `--csv`'s data row (`"<test>","<rps>",...`).
fn csv_rate(text: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with("\"test\""))
        .find_map(|l| {
            let mut fields = l.split("\",\"");
            fields.next()?;
            fields.next()?.trim_matches('"').parse().ok()
        })
}

fn host_port(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("redis://")?;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.to_owned(), port.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_takes_the_sum_of_its_commands_times() {
        // 1 command at 100k/s and 20 at 500k/s: 10 µs + 40 µs a unit.
        let rate = combined(&[(100_000.0, 1), (500_000.0, 20)]);
        assert!((rate - 20_000.0).abs() < 1e-6, "{rate}");
    }

    #[test]
    fn the_csv_row_gives_the_rate() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\"\n\"HGETALL k\",\"512345.67\",\"0.5\"\n";
        assert_eq!(csv_rate(text), Some(512_345.67));
        assert_eq!(csv_rate("garbage"), None);
    }

    #[test]
    fn host_and_port_come_from_the_url() {
        assert_eq!(
            host_port("redis://127.0.0.1:6380"),
            Some(("127.0.0.1".into(), "6380".into()))
        );
        assert_eq!(
            host_port("redis://:pw@h:7/0"),
            Some(("h".into(), "7".into()))
        );
        assert_eq!(host_port("rediss://h:7"), None);
    }
}
