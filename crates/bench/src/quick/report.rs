//! What `quick` writes: the figures of summary.json (rounded), the table it prints and the
//! latency plot.

use std::path::Path;

use hdrhistogram::Histogram;
use serde_json::{Value as Json, json};

use super::{streams, visible};
use crate::load::{self, Outcome};
use crate::{Result, plot};

pub(crate) fn round(x: f64) -> f64 {
    if x >= 100.0 {
        x.round()
    } else {
        (x * 100.0).round() / 100.0
    }
}

pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(super) fn window_json(o: &Outcome) -> Json {
    json!({
        "rps": round(o.rps()),
        "p50_ms": round(o.p50_ms()),
        "p99_ms": round(o.p99_ms()),
        "p999_ms": round(o.p999_ms()),
        "errors": o.errors,
    })
}

/// An API window beside its Redis ceiling (and the HTTP ceiling, when measured).
pub(super) fn pair_json(api: &Outcome, red: &Outcome, http: Option<f64>) -> Json {
    let lower = http.map_or(red.rps(), |h| h.min(red.rps()));
    json!({
        "api_rps": round(api.rps()),
        "redis_ceiling_rps": round(red.rps()),
        "p50_ms": round(api.p50_ms()),
        "p99_ms": round(api.p99_ms()),
        "p999_ms": round(api.p999_ms()),
        "errors": api.errors,
        "redis_ceiling_p99_ms": round(red.p99_ms()),
        "redis_ceiling_errors": red.errors,
        "share_of_lower_ceiling": round(api.rps() / lower),
    })
}

/// The lower of a Redis ceiling and the HTTP ceiling (when measured).
fn lower_ceiling(redis: f64, http: Option<f64>) -> f64 {
    http.map_or(redis, |h| h.min(redis))
}

/// A fixed ceiling ([`crate::ceiling::home_fixed`], [`crate::ceiling::post_fixed`]) added to
/// a figure's `j`: its rate, p99 and errors, and `rate`'s share of the lower of it and the HTTP
/// ceiling.
pub(super) fn add_fixed(j: &mut Json, rate: f64, fixed: &Outcome, http: Option<f64>) {
    j["fixed_ceiling_rps"] = json!(round(fixed.rps()));
    j["fixed_ceiling_p99_ms"] = json!(round(fixed.p99_ms()));
    j["fixed_ceiling_errors"] = json!(fixed.errors);
    j["share_of_fixed_ceiling"] = json!(round(rate / lower_ceiling(fixed.rps(), http)));
}

/// The same fixed ceiling from redis-benchmark ([`crate::rbench`]), added to `j`: its rate and
/// `rate`'s share of the lower of it and the HTTP ceiling.
pub(super) fn add_redis_benchmark(j: &mut Json, rate: f64, ceiling: f64, http: Option<f64>) {
    j["redis_benchmark_ceiling_rps"] = json!(round(ceiling));
    j["share_of_redis_benchmark_ceiling"] = json!(round(rate / lower_ceiling(ceiling, http)));
}

/// Posts per second over the window and the time its backlog took to work off after it: what
/// the system sustains, every post fanned out.
pub(super) fn drained_rps(posts: u64, window_s: f64, drain_s: f64) -> f64 {
    posts as f64 / (window_s + drain_s).max(1e-9)
}

/// Posts measured whole (the worker running): answered per second of the window, and per
/// second of the window and the drain after it.
pub(super) fn whole_json(o: &Outcome, drain_s: f64) -> Json {
    json!({
        "answered_rps": round(o.rps()),
        "drained_rps": round(drained_rps(o.ok, o.seconds, drain_s)),
        "drain_seconds": round(drain_s),
        "window_seconds": round(o.seconds),
        "posts": o.ok,
        "errors": o.errors,
        "p50_ms": round(o.p50_ms()),
        "p99_ms": round(o.p99_ms()),
        "p999_ms": round(o.p999_ms()),
    })
}

/// The home share of its fixed ceiling `quick` aims at.
pub(super) const HOME_FIXED_TARGET: f64 = 0.5;
/// The drained posts' share of their fixed ceiling `quick` aims at.
pub(super) const POST_FIXED_TARGET: f64 = 0.7;
/// The mix's p99 `quick` aims at, ms.
pub(super) const MIX_P99_TARGET_MS: f64 = 20.0;
/// The fan-out to 1M followers' share of its raw insert ceiling `quick` aims at.
pub(super) const FANOUT_SHARE_TARGET: f64 = 0.8;
/// The fan-out size the fan-out target is for.
pub(super) const FANOUT_TARGET_FOLLOWERS: u64 = 1_000_000;
/// The Redis memory per user `quick` aims at, bytes, at [`MEMORY_TARGET_USERS`].
pub(super) const MEMORY_TARGET_BYTES: f64 = 5_900.0;
/// The number of users the memory target is for (fewer share the fixed costs among fewer).
pub(super) const MEMORY_TARGET_USERS: u64 = 100_000;

/// Which way a target goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    AtLeast,
    AtMost,
}

/// One target: `value` against `target`; `met` null when the figure was measured in a setting
/// the target is not for (`judged` false). `met` is decided on `value` unrounded.
fn target(name: String, value: f64, rule: Rule, target: f64, judged: bool) -> Json {
    let (met, rule) = match rule {
        Rule::AtLeast => (value >= target, ">="),
        Rule::AtMost => (value <= target, "<="),
    };
    json!({
        "name": name,
        "value": round(value),
        "rule": rule,
        "target": target,
        "met": if judged { json!(met) } else { Json::Null },
    })
}

/// A figure set beside a fixed ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixed {
    /// Home reads through the API.
    Home,
    /// Posts measured whole, their drained rate.
    Post,
}

impl Fixed {
    /// Its name in the cluster comparison.
    fn key(self) -> &'static str {
        match self {
            Fixed::Home => "home_timeline_fixed",
            Fixed::Post => "post_tweet_whole_fixed",
        }
    }

    /// Its rate in `s` and the lower of its fixed ceiling and the HTTP ceiling (when
    /// measured), if `s` holds them: the higher of the bench's own and redis-benchmark's
    /// fixed ceilings when `stricter`, else the bench's own (the one a cluster run has too).
    fn pair(self, s: &Json, stricter: bool) -> Option<(f64, f64)> {
        let (figure, rate) = match self {
            Fixed::Home => (&s["home_timeline"], &s["home_timeline"]["api_rps"]),
            Fixed::Post => (&s["post_tweet"], &s["post_tweet"]["whole"]["drained_rps"]),
        };
        let positive = |j: &Json| j.as_f64().filter(|x| *x > 0.0);
        let own = positive(&figure["fixed_ceiling_rps"])?;
        let fixed = match positive(&figure["redis_benchmark_ceiling_rps"]) {
            Some(rb) if stricter => own.max(rb),
            _ => own,
        };
        Some((
            rate.as_f64()?,
            lower_ceiling(fixed, positive(&s["http_ceiling_rps"])),
        ))
    }
}

/// summary.json's `targets`: each target whose figure `s` holds (a skipped section's are left
/// out), in a fixed order.
pub(super) fn targets(s: &Json) -> Json {
    let mut out = Vec::new();
    if let Some((rate, lower)) = Fixed::Home.pair(s, true) {
        out.push(target(
            "home timeline: API req/s over the lower of its fixed Redis ceiling and the HTTP \
             ceiling"
                .into(),
            rate / lower,
            Rule::AtLeast,
            HOME_FIXED_TARGET,
            true,
        ));
    }
    if let Some((rate, lower)) = Fixed::Post.pair(s, true) {
        out.push(target(
            "posts whole: drained posts/s over the lower of their fixed Redis ceiling and the \
             HTTP ceiling"
                .into(),
            rate / lower,
            Rule::AtLeast,
            POST_FIXED_TARGET,
            true,
        ));
    }
    if let Some(p99) = s["mixed"]["p99_ms"].as_f64() {
        out.push(target(
            "mix 60/30/10: p99 ms".into(),
            p99,
            Rule::AtMost,
            MIX_P99_TARGET_MS,
            true,
        ));
    }
    let sizes: Vec<&Json> = s["fanout"]["sizes"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let size = sizes
        .iter()
        .find(|z| z["followers"].as_u64() == Some(FANOUT_TARGET_FOLLOWERS))
        .or_else(|| sizes.iter().max_by_key(|z| z["followers"].as_u64()));
    if let Some(z) = size
        && let (Some(rate), Some(ceiling)) = (
            z["one_worker"]["inserts_per_s"].as_f64(),
            z["ceiling"]["inserts_per_s"].as_f64().filter(|c| *c > 0.0),
        )
    {
        let followers = z["followers"].as_u64().unwrap_or(0);
        let measured = if followers == FANOUT_TARGET_FOLLOWERS {
            String::new()
        } else {
            format!(" (the target is for {FANOUT_TARGET_FOLLOWERS})")
        };
        out.push(target(
            format!(
                "fan-out to {followers} followers{measured}, one worker: inserts/s over its raw \
                 insert ceiling"
            ),
            rate / ceiling,
            Rule::AtLeast,
            FANOUT_SHARE_TARGET,
            true,
        ));
    }
    if let Some(bytes) = s["memory"]["bytes_per_user"].as_f64() {
        let users = s["memory"]["users"].as_u64().unwrap_or(0);
        out.push(target(
            format!(
                "Redis memory per user, bytes (judged at {MEMORY_TARGET_USERS} users or more; \
                 {users} here)"
            ),
            bytes,
            Rule::AtMost,
            MEMORY_TARGET_BYTES,
            users >= MEMORY_TARGET_USERS,
        ));
    }
    Json::from(out)
}

/// A target's line: ✅, ❌, or – (not judged here), the name, the value and the target.
fn target_line(t: &Json) -> String {
    let sign = match t["met"].as_bool() {
        Some(met) => mark(met),
        None => "– ",
    };
    let rule = if t["rule"] == ">=" { "≥" } else { "≤" };
    let judged = if t["met"].is_null() {
        ", not judged"
    } else {
        ""
    };
    format!(
        "{sign} {}: {} (target {rule} {}{judged})",
        t["name"].as_str().unwrap_or("?"),
        t["value"],
        t["target"],
    )
}

pub(super) fn delivery_json(samples: &[visible::Timing], followers: usize) -> Json {
    let mut visible = load::histogram();
    let mut answered = load::histogram();
    for t in samples {
        let _ = visible.record(((t.visible_s * 1e6) as u64).max(1));
        let _ = answered.record(((t.answered_s * 1e6) as u64).max(1));
    }
    let ms = |h: &Histogram<u64>, q: f64| round(h.value_at_quantile(q) as f64 / 1e3);
    json!({
        "followers": followers,
        "samples": samples.len(),
        "p50": ms(&visible, 0.5),
        "p99": ms(&visible, 0.99),
        "post_answered_p50": ms(&answered, 0.5),
    })
}

pub(super) fn print_table(summary: &Json) {
    println!();
    println!(
        "{:<34} {:>10} {:>14} {:>9} {:>9} {:>9} {:>13} {:>9}",
        "operation",
        "API req/s",
        "Redis ceiling",
        "p50 ms",
        "p99 ms",
        "API/lower",
        "fixed ceiling",
        "API/fixed"
    );
    let num = |j: &Json| j.as_f64().unwrap_or(f64::NAN);
    // The fixed ceiling's columns of a figure: its rate and the share, or dashes.
    let fixed_columns = |j: &Json| match j["fixed_ceiling_rps"].as_f64() {
        Some(f) => format!(
            "{f:>13.0} {:>8.0}%",
            num(&j["share_of_fixed_ceiling"]) * 100.0
        ),
        None => format!("{:>13} {:>9}", "-", "-"),
    };
    if let Some(h) = summary.get("http_ceiling") {
        println!(
            "{:<34} {:>10.0} {:>14} {:>9.2} {:>9.2} {:>9} {:>13} {:>9}",
            "GET /healthz (HTTP ceiling)",
            num(&h["rps"]),
            "-",
            num(&h["p50_ms"]),
            num(&h["p99_ms"]),
            "-",
            "-",
            "-"
        );
    }
    for (key, name) in [
        ("home_timeline", "GET /v1/timelines/home"),
        ("user_timeline", "GET /v1/users/{name}/tweets"),
        ("post_tweet", "POST /v1/tweets, fan-out paused"),
        ("mixed", "mix 60/30/10"),
        ("social_mix", "social mix 55/25/8/7/3/2"),
    ] {
        let Some(j) = summary.get(key) else { continue };
        // The posts' fixed ceiling is set beside the posts measured whole, below.
        let fixed = if key == "post_tweet" {
            fixed_columns(&Json::Null)
        } else {
            fixed_columns(j)
        };
        println!(
            "{:<34} {:>10.0} {:>14.0} {:>9.2} {:>9.2} {:>8.0}% {fixed}",
            name,
            num(&j["api_rps"]),
            num(&j["redis_ceiling_rps"]),
            num(&j["p50_ms"]),
            num(&j["p99_ms"]),
            num(&j["share_of_lower_ceiling"]) * 100.0
        );
        if key == "post_tweet"
            && let Some(w) = j.get("whole")
        {
            println!(
                "{:<34} {:>10.0} {:>14} {:>9.2} {:>9.2} {:>9} {}",
                "POST /v1/tweets, whole (drained)",
                num(&w["drained_rps"]),
                "-",
                num(&w["p50_ms"]),
                num(&w["p99_ms"]),
                "-",
                fixed_columns(j)
            );
            println!(
                "  posts whole: {} answered in {} s with the fan-out running ({:.0}/s), the \
                 backlog worked off {} s after: {:.0} posts/s drained; the fixed ceiling writes \
                 {} followers' homes a post",
                w["posts"],
                w["window_seconds"],
                num(&w["answered_rps"]),
                w["drain_seconds"],
                num(&w["drained_rps"]),
                j["followers_per_post"],
            );
        }
    }
    for (key, what, rate) in [
        ("home_timeline", "home pages/s", "API req/s"),
        ("post_tweet", "posts/s", "drained posts/s"),
    ] {
        if let Some(rb) = summary[key]["redis_benchmark_ceiling_rps"].as_f64() {
            println!(
                "  redis-benchmark -P 64 fixed ceiling: {rb:.0} {what}; {rate} over it (or the \
                 HTTP ceiling): {:.0}%",
                num(&summary[key]["share_of_redis_benchmark_ceiling"]) * 100.0
            );
        }
    }
    if let Some(d) = summary.get("delivery_ms") {
        println!("delivery (post to visible to all followers): {d}");
    }
    if let Some(f) = summary.get("fanout") {
        for s in f["sizes"].as_array().into_iter().flatten() {
            println!(
                "fan-out to {} followers: one worker {} s ({} inserts/s), two workers {} s ({} inserts/s), raw ceiling {} inserts/s",
                s["followers"],
                s["one_worker"]["seconds_to_last"],
                s["one_worker"]["inserts_per_s"],
                s["two_workers"]["seconds_to_last"],
                s["two_workers"]["inserts_per_s"],
                s["ceiling"]["inserts_per_s"]
            );
            let per = &s["redis_us_per_follower"];
            println!(
                "  repost fan-out to {}: one worker {} s; Redis µs per follower: post {}, repost {} ({}×)",
                s["followers"],
                s["repost_one_worker"]["seconds_to_last"],
                per["post"],
                per["repost"],
                per["repost_over_post"]
            );
        }
    }
    print_issue_14(summary);
    print_streams(summary);
    println!("memory: {}", summary["memory"]);
    print_targets("targets:", &summary["targets"]);
}

/// A `targets` array, one line each, under `title` (nothing when there are none).
fn print_targets(title: &str, targets: &Json) {
    let Some(list) = targets.as_array().filter(|l| !l.is_empty()) else {
        return;
    };
    println!("{title}");
    for t in list {
        println!("  {}", target_line(t));
    }
}

fn mark(met: bool) -> &'static str {
    if met { "✅" } else { "❌" }
}

/// summary.json's `large_accounts`: the headline figures flat (those the smoke run checks and
/// the table prints), the posts' and the reads' details beside.
pub(super) fn large_json(posts: Json, reads: Json) -> Json {
    let commands = &posts["redis_commands_per_post"];
    json!({
        "followers": posts["followers"],
        "post_answered_p50_ms": posts["post_answered_ms"]["p50"],
        "post_answered_p99_ms": posts["post_answered_ms"]["p99"],
        "visible_p50_ms": posts["visible_to_follower_ms"]["p50"],
        "visible_p99_ms": posts["visible_to_follower_ms"]["p99"],
        "visible_max_ms": posts["visible_to_follower_ms"]["max"],
        "visible_target_ms": posts["visible_target_ms"],
        "visible_target_met": posts["visible_target_met"],
        "commands_large": commands["large"],
        "commands_small": commands["small"],
        "commands_same": commands["same"],
        "celebs_0_rps": reads["celebs_0"]["rps"],
        "celebs_5_rps": reads["celebs_5"]["rps"],
        "celebs_50_rps": reads["celebs_50"]["rps"],
        "celebs_0_p99_ms": reads["celebs_0"]["p99_ms"],
        "celebs_5_p99_ms": reads["celebs_5"]["p99_ms"],
        "celebs_50_p99_ms": reads["celebs_50"]["p99_ms"],
        "ratio_5_over_0": reads["ratio_5_over_0"],
        "ratio_50_over_0": reads["ratio_50_over_0"],
        "ratio_target": reads["target_ratio_5_over_0"],
        "ratio_target_met": reads["target_met"],
        "post": posts,
        "home_reads": reads,
    })
}

/// The large accounts, rebuilds and memory with most users inactive, each with its target.
fn print_issue_14(summary: &Json) {
    let num = |j: &Json| j.as_f64().unwrap_or(f64::NAN);
    let yes = |j: &Json| j.as_bool().unwrap_or(false);
    if let Some(l) = summary.get("large_accounts") {
        println!(
            "large account ({} followers, merged on read): post answered p50 {} ms; visible to a \
             follower p50 {} ms, p99 {} ms, max {} ms {} (target ≤ {} ms)",
            l["followers"],
            l["post_answered_p50_ms"],
            l["visible_p50_ms"],
            l["visible_p99_ms"],
            l["visible_max_ms"],
            mark(yes(&l["visible_target_met"])),
            l["visible_target_ms"],
        );
        let c = &l["post"]["redis_commands_per_post"];
        println!(
            "  Redis commands of one post: {} with {} followers, {} with {} {} (target: the same, \
             O(1)); the same windows without a post: {}",
            c["large"],
            l["followers"],
            c["small"],
            c["small_followers"],
            mark(yes(&c["same"])),
            c["idle_runs"],
        );
        println!(
            "  home reads following 0 / 5 / 50 large accounts: {:.0} / {:.0} / {:.0} req/s, p99 \
             {} / {} / {} ms; 5/0 = {} {} (target ≥ {}), 50/0 = {}",
            num(&l["celebs_0_rps"]),
            num(&l["celebs_5_rps"]),
            num(&l["celebs_50_rps"]),
            l["celebs_0_p99_ms"],
            l["celebs_5_p99_ms"],
            l["celebs_50_p99_ms"],
            l["ratio_5_over_0"],
            mark(yes(&l["ratio_target_met"])),
            l["ratio_target"],
            l["ratio_50_over_0"],
        );
    }
    if let Some(r) = summary.get("rebuild") {
        for s in r["sizes"].as_array().into_iter().flatten() {
            let target = match s.get("target_met") {
                Some(met) => format!("{} (target ≤ {} s)", mark(yes(met)), s["target_s"]),
                None => "(the target, ≤ 2 s, is for 1,000 followees)".to_owned(),
            };
            println!(
                "home rebuild following {}: median {} s, max {} s of {} runs {target}; entries {}",
                s["followees"], s["median_s"], s["max_s"], r["runs_per_size"], s["entries"],
            );
        }
    }
    if let Some(m) = summary.get("memory_inactive") {
        println!(
            "memory, {} users: used_memory {:.1} MB with everyone active ({} B/user), {:.1} MB \
             with {} inactive ({} B/user): ratio {} {} (target ≤ {}); homes were {} of the \
             seeded {} B/user",
            m["users"],
            num(&m["used_memory_before"]) / 1e6,
            m["bytes_per_user_before"],
            num(&m["used_memory_after"]) / 1e6,
            m["inactive_users"],
            m["bytes_per_user_after"],
            m["ratio"],
            mark(yes(&m["target_met"])),
            m["target_ratio"],
            m["seeded_home_bytes_per_user"],
            m["seeded_bytes_per_user"],
        );
    }
}

/// The streams section's figures, each with its target.
fn print_streams(summary: &Json) {
    let Some(s) = summary.get("streams") else {
        return;
    };
    let num = |j: &Json| j.as_f64().unwrap_or(f64::NAN);
    let yes = |j: &Json| j.as_bool().unwrap_or(false);
    let open = num(&s["streams_open"]);
    let count_mark = if open >= streams::STREAMS_TARGET as f64 {
        format!("{} (target ≥ {})", mark(true), streams::STREAMS_TARGET)
    } else {
        format!("(the targets are for {} streams)", streams::STREAMS_TARGET)
    };
    println!(
        "streams: {} open on one API process ({} users × {}) {count_mark}; API RSS {:.1} → {:.1} \
         MiB: {} KiB per stream {} (target ≤ {} KiB)",
        s["streams_open"],
        s["users"],
        s["streams_per_user"],
        num(&s["rss_kib_before"]) / 1024.0,
        num(&s["rss_kib_with_streams"]) / 1024.0,
        s["rss_kib_per_stream"],
        mark(yes(&s["rss_target_met"])),
        s["rss_target_kib_per_stream"],
    );
    let d = &s["delivery_beside_idle_streams"];
    println!(
        "  post → followers' streams ({} followers × {} posts, at idle): p50 {} ms, p99 {} ms, \
         max {} ms (first follower p50 {} ms); received {} of {} ({} duplicates) {} (target p99 ≤ {} ms, all received \
         once); with the {} idle streams open too: p50 {} ms, p99 {} ms, max {} ms, received {} \
         of {} {}",
        s["followers"],
        s["posts"],
        s["delivery_p50_ms"],
        s["delivery_p99_ms"],
        s["delivery_max_ms"],
        s["first_follower_p50_ms"],
        s["delivered"],
        s["expected"],
        s["duplicates"],
        mark(yes(&s["delivery_target_met"])),
        s["delivery_target_p99_ms"],
        s["streams_open"],
        d["delivery_p50_ms"],
        d["delivery_p99_ms"],
        d["delivery_max_ms"],
        d["delivered"],
        d["expected"],
        mark(yes(&d["delivery_target_met"])),
    );
    println!(
        "  home reads without / with the streams open / after they closed: {:.0} / {:.0} / {:.0} \
         req/s, with/without = {} {} (target ≥ {}), with/after = {}",
        num(&s["home_reads_without"]),
        num(&s["home_reads_with"]),
        num(&s["home_reads_after"]),
        s["ratio"],
        mark(yes(&s["ratio_target_met"])),
        s["ratio_target"],
        s["ratio_with_over_after"],
    );
}

/// The API windows' latency by percentile, written to `png` when a font is found.
pub(super) fn plot(
    png: &Path,
    font: Option<&Path>,
    title: &str,
    plotted: &[(&'static str, Histogram<u64>)],
) -> Result<()> {
    match plot::find_font(font) {
        Some(font) if !plotted.is_empty() => {
            let series: Vec<(&str, &Histogram<u64>)> =
                plotted.iter().map(|(n, h)| (*n, h)).collect();
            plot::latency_by_percentile(png, &font, title, &series)?;
            println!("wrote {}", png.display());
        }
        Some(_) => {}
        None => eprintln!(
            "no TrueType font found for the plot (apt-get install fonts-dejavu-core, or --font)"
        ),
    }
    Ok(())
}

/// `--cluster`'s target for each cluster share of a ceiling over the standalone share.
const SHARE_RATIO_TARGET: f64 = 0.8;
/// `--cluster`'s target for the busiest master's commands over the idlest's during the mix.
const BALANCE_TARGET: f64 = 1.5;

/// Each throughput figure's share of its ceiling in `s`: the API over the lower of its ceilings
/// (the pairs, against the same commands' Redis ceiling; home reads and posts whole also against
/// the fixed one), or the inserts over the raw insert ceiling (each fan-out size, one worker and
/// two, and the repost with one), by name.
fn shares(s: &Json) -> Vec<(String, f64, f64)> {
    let num = |j: &Json| j.as_f64().filter(|x| *x > 0.0);
    let mut out = Vec::new();
    for key in [
        "home_timeline",
        "user_timeline",
        "post_tweet",
        "mixed",
        "social_mix",
    ] {
        let Some(j) = s.get(key) else { continue };
        let (Some(api), Some(red)) = (num(&j["api_rps"]), num(&j["redis_ceiling_rps"])) else {
            continue;
        };
        let lower = s
            .get("http_ceiling_rps")
            .and_then(num)
            .map_or(red, |h| h.min(red));
        out.push((key.to_owned(), api, lower));
    }
    // The fixed ceilings: home reads, and posts whole (drained), over the lower of each and the
    // HTTP ceiling. The bench's own on both sides: redis-benchmark measures one server only,
    // and a share of one yardstick over a share of another would compare the yardsticks.
    for fixed in [Fixed::Home, Fixed::Post] {
        if let Some((rate, lower)) = fixed.pair(s, false).filter(|(rate, _)| *rate > 0.0) {
            out.push((fixed.key().to_owned(), rate, lower));
        }
    }
    for size in s["fanout"]["sizes"].as_array().into_iter().flatten() {
        let Some(ceiling) = num(&size["ceiling"]["inserts_per_s"]) else {
            continue;
        };
        for workers in ["one_worker", "two_workers", "repost_one_worker"] {
            if let Some(rate) = num(&size[workers]["inserts_per_s"]) {
                out.push((
                    format!("fanout_{}_{workers}", size["followers"]),
                    rate,
                    ceiling,
                ));
            }
        }
    }
    out
}

/// The commands each master ran in a window of the cluster run's profile, and the busiest
/// over the idlest.
fn balance(profile: &Json) -> Option<Json> {
    let by_master = profile.get("redis_calls_by_master")?.as_object()?;
    let calls: Vec<f64> = by_master.values().filter_map(Json::as_f64).collect();
    let max = calls.iter().copied().fold(f64::NAN, f64::max);
    let min = calls.iter().copied().fold(f64::NAN, f64::min);
    Some(json!({
        "per_master": by_master,
        "max_over_min": if min > 0.0 { json!(round(max / min)) } else { Json::Null },
        "target_max_over_min": BALANCE_TARGET,
    }))
}

/// `--cluster`'s comparison: for each figure with a ceiling, in the table's order, the cluster's
/// share of it over the standalone run's (and the ratios of the rates and of the ceilings
/// themselves beside); as `targets`, that ratio of the home reads' and the whole posts' shares
/// of their fixed ceilings against [`SHARE_RATIO_TARGET`]; and the commands per master during
/// the mix (its API window and its Redis ceiling window).
pub(super) fn compare(standalone: &Json, cluster: &Json) -> Json {
    let before = shares(standalone);
    let mut figures = Vec::new();
    let mut targets = Vec::new();
    for (key, api, ceiling) in shares(cluster) {
        let Some((_, api0, ceiling0)) = before.iter().find(|(k, ..)| *k == key) else {
            continue;
        };
        let (share, share0) = (api / ceiling, api0 / ceiling0);
        figures.push(json!({
                "figure": key,
                "standalone_share": round(share0),
                "cluster_share": round(share),
                "ratio": round(share / share0),
                "rate_ratio": round(api / api0),
                "ceiling_ratio": round(ceiling / ceiling0),
        }));
        for (fixed, what) in [
            (Fixed::Home, "home timeline"),
            (Fixed::Post, "posts whole (drained)"),
        ] {
            if key == fixed.key() {
                targets.push(target(
                    format!(
                        "{what}: the cluster's share of its fixed ceiling over the standalone \
                         share"
                    ),
                    share / share0,
                    Rule::AtLeast,
                    SHARE_RATIO_TARGET,
                    true,
                ));
            }
        }
    }
    let profile = &cluster["profile"];
    json!({
        "share_of_ceiling": figures,
        "target_ratio": SHARE_RATIO_TARGET,
        "targets": targets,
        "mix_commands_per_master": {
            "api": profile.get("mix_api").and_then(balance),
            "ceiling": profile.get("mix_redis").and_then(balance),
        },
        "social_mix_commands_per_master": {
            "api": profile.get("social_mix_api").and_then(balance),
            "ceiling": profile.get("social_mix_redis").and_then(balance),
        },
    })
}

pub(super) fn print_comparison(c: &Json) {
    let num = |j: &Json| j.as_f64().unwrap_or(f64::NAN);
    println!();
    println!(
        "{:<30} {:>10} {:>10} {:>12} {:>11} {:>13}",
        "cluster vs one server", "share 1", "share C", "C/1 (≥ 0.8)", "rate C/1", "ceiling C/1"
    );
    for f in c["share_of_ceiling"].as_array().into_iter().flatten() {
        let ratio = num(&f["ratio"]);
        println!(
            "{:<30} {:>9.0}% {:>9.0}% {:>10.2} {} {:>11.2} {:>13.2}",
            f["figure"].as_str().unwrap_or("?"),
            num(&f["standalone_share"]) * 100.0,
            num(&f["cluster_share"]) * 100.0,
            ratio,
            if ratio >= SHARE_RATIO_TARGET {
                "✓"
            } else {
                "✗"
            },
            num(&f["rate_ratio"]),
            num(&f["ceiling_ratio"]),
        );
    }
    print_targets("cluster targets:", &c["targets"]);
    for (mix, window, name) in [
        ("mix_commands_per_master", "api", "the mix, API"),
        (
            "mix_commands_per_master",
            "ceiling",
            "the mix, Redis ceiling",
        ),
        (
            "social_mix_commands_per_master",
            "api",
            "the social mix, API",
        ),
        (
            "social_mix_commands_per_master",
            "ceiling",
            "the social mix, Redis ceiling",
        ),
    ] {
        let b = &c[mix][window];
        if b.is_null() {
            continue;
        }
        let counts: Vec<String> = b["per_master"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(url, calls)| format!("{} {calls}", url.trim_start_matches("redis://")))
            .collect();
        let ratio = num(&b["max_over_min"]);
        println!(
            "commands per master during {name}: {}; max/min {ratio:.2} {} (target ≤ {BALANCE_TARGET})",
            counts.join(", "),
            if ratio <= BALANCE_TARGET {
                "✓"
            } else {
                "✗"
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_name<'a>(targets: &'a Json, start: &str) -> &'a Json {
        targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"].as_str().unwrap().starts_with(start))
            .unwrap_or_else(|| panic!("no target {start:?} in {targets}"))
    }

    fn summary() -> Json {
        json!({
            "http_ceiling_rps": 40000.0,
            "home_timeline": {"api_rps": 6000.0, "fixed_ceiling_rps": 10000.0},
            "post_tweet": {"api_rps": 9000.0, "fixed_ceiling_rps": 3000.0,
                           "whole": {"drained_rps": 2000.0}},
            "mixed": {"p99_ms": 20.5},
            "fanout": {"sizes": [
                {"followers": 1000000, "one_worker": {"inserts_per_s": 400000.0},
                 "ceiling": {"inserts_per_s": 500000.0}},
                {"followers": 100000, "one_worker": {"inserts_per_s": 10.0},
                 "ceiling": {"inserts_per_s": 500000.0}},
            ]},
            "memory": {"bytes_per_user": 5800.0, "users": 100000},
        })
    }

    #[test]
    fn every_measured_target_is_judged() {
        let t = targets(&summary());
        assert_eq!(t.as_array().unwrap().len(), 5, "{t}");
        let home = by_name(&t, "home timeline");
        assert_eq!(home["value"], json!(0.6));
        assert_eq!(home["rule"], ">=");
        assert_eq!(home["met"], json!(true));
        // 2,000 drained over 3,000: 0.67 < 0.7.
        let post = by_name(&t, "posts whole");
        assert_eq!(post["value"], json!(0.67));
        assert_eq!(post["met"], json!(false));
        let mix = by_name(&t, "mix");
        assert_eq!(
            (mix["rule"].as_str(), &mix["met"]),
            (Some("<="), &json!(false))
        );
        // The 1M size, not the last one listed: 400k of 500k = 0.8.
        let fanout = by_name(&t, "fan-out to 1000000 followers, one worker");
        assert_eq!(
            (&fanout["value"], &fanout["met"]),
            (&json!(0.8), &json!(true))
        );
        let memory = by_name(&t, "Redis memory per user");
        assert_eq!(memory["met"], json!(true));
    }

    #[test]
    fn the_lower_ceiling_may_be_the_http_one() {
        let mut s = summary();
        s["http_ceiling_rps"] = json!(8000.0);
        assert_eq!(by_name(&targets(&s), "home timeline")["value"], json!(0.75));
        // Without the HTTP ceiling, the fixed one alone.
        s.as_object_mut().unwrap().remove("http_ceiling_rps");
        assert_eq!(by_name(&targets(&s), "home timeline")["value"], json!(0.6));
    }

    #[test]
    fn skipped_sections_leave_their_targets_out() {
        let s = json!({"memory": {"bytes_per_user": 9000.0, "users": 20000}});
        let t = targets(&s);
        assert_eq!(t.as_array().unwrap().len(), 1, "{t}");
        // Fewer users than the target is for: reported, not judged.
        assert_eq!(by_name(&t, "Redis memory per user")["met"], Json::Null);
        // Same-commands figures alone (no fixed ceiling) judge nothing either.
        let s = json!({"home_timeline": {"api_rps": 1.0, "redis_ceiling_rps": 2.0}});
        assert_eq!(targets(&s), json!([]));
    }

    #[test]
    fn without_the_1m_fan_out_the_largest_size_is_judged() {
        let mut s = summary();
        s["fanout"]["sizes"] = json!([
            {"followers": 100000, "one_worker": {"inserts_per_s": 90.0},
             "ceiling": {"inserts_per_s": 100.0}},
            {"followers": 10000, "one_worker": {"inserts_per_s": 10.0},
             "ceiling": {"inserts_per_s": 100.0}},
        ]);
        let t = targets(&s);
        let fanout = by_name(
            &t,
            "fan-out to 100000 followers (the target is for 1000000)",
        );
        assert_eq!(
            (&fanout["value"], &fanout["met"]),
            (&json!(0.9), &json!(true))
        );
    }

    #[test]
    fn a_target_is_decided_on_the_unrounded_value() {
        let t = target("x".into(), 0.4996, Rule::AtLeast, 0.5, true);
        assert_eq!((&t["value"], &t["met"]), (&json!(0.5), &json!(false)));
        let t = target("x".into(), 20.0, Rule::AtMost, 20.0, true);
        assert_eq!(t["met"], json!(true));
    }

    #[test]
    fn the_drained_rate_counts_the_drain() {
        assert_eq!(drained_rps(3000, 10.0, 5.0), 200.0);
        assert_eq!(drained_rps(3000, 10.0, 0.0), 300.0);
    }

    #[test]
    fn the_cluster_comparison_judges_the_fixed_shares() {
        let standalone = summary();
        let mut cluster = summary();
        // Home: 0.6 → 0.45 of the fixed ceiling (0.75×); posts: the same share.
        cluster["home_timeline"]["api_rps"] = json!(4500.0);
        let c = compare(&standalone, &cluster);
        let figures: Vec<&str> = c["share_of_ceiling"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["figure"].as_str().unwrap())
            .collect();
        assert!(figures.contains(&"home_timeline_fixed"), "{figures:?}");
        assert!(figures.contains(&"post_tweet_whole_fixed"), "{figures:?}");
        let home = by_name(&c["targets"], "home timeline");
        assert_eq!(
            (&home["value"], &home["met"]),
            (&json!(0.75), &json!(false))
        );
        let post = by_name(&c["targets"], "posts whole");
        assert_eq!((&post["value"], &post["met"]), (&json!(1.0), &json!(true)));
    }

    #[test]
    fn the_cluster_comparison_uses_the_bench_s_own_ceiling_on_both_sides() {
        // redis-benchmark runs on one server only: a standalone share of its (higher) ceiling
        // over a cluster share of the bench's own would compare the two yardsticks.
        let mut standalone = summary();
        standalone["home_timeline"]["redis_benchmark_ceiling_rps"] = json!(1_000_000.0);
        let mut cluster = summary();
        cluster["home_timeline"]["api_rps"] = json!(4500.0);
        let c = compare(&standalone, &cluster);
        let home = by_name(&c["targets"], "home timeline");
        assert_eq!(home["value"], json!(0.75));
        // The standalone target itself takes the stricter one (here capped by the HTTP
        // ceiling, 40,000): 6,000 / 40,000.
        let t = targets(&standalone);
        let home = by_name(&t, "home timeline");
        assert_eq!(home["value"], json!(0.15));
    }
}
