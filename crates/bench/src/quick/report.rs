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
        "{:<30} {:>10} {:>14} {:>9} {:>9} {:>9}",
        "operation", "API req/s", "Redis ceiling", "p50 ms", "p99 ms", "API/lower"
    );
    let num = |j: &Json| j.as_f64().unwrap_or(f64::NAN);
    if let Some(h) = summary.get("http_ceiling") {
        println!(
            "{:<30} {:>10.0} {:>14} {:>9.2} {:>9.2} {:>9}",
            "GET /healthz (HTTP ceiling)",
            num(&h["rps"]),
            "-",
            num(&h["p50_ms"]),
            num(&h["p99_ms"]),
            "-"
        );
    }
    for (key, name) in [
        ("home_timeline", "GET /v1/timelines/home"),
        ("user_timeline", "GET /v1/users/{name}/tweets"),
        ("post_tweet", "POST /v1/tweets"),
        ("mixed", "mix 60/30/10"),
        ("social_mix", "social mix 55/25/8/7/3/2"),
    ] {
        if let Some(j) = summary.get(key) {
            println!(
                "{:<30} {:>10.0} {:>14.0} {:>9.2} {:>9.2} {:>8.0}%",
                name,
                num(&j["api_rps"]),
                num(&j["redis_ceiling_rps"]),
                num(&j["p50_ms"]),
                num(&j["p99_ms"]),
                num(&j["share_of_lower_ceiling"]) * 100.0
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
/// (the pairs), or the inserts over the raw insert ceiling (each fan-out size, one worker and
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
/// themselves beside), and the commands per master during the mix (its API window and its
/// Redis ceiling window).
pub(super) fn compare(standalone: &Json, cluster: &Json) -> Json {
    let before = shares(standalone);
    let mut figures = Vec::new();
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
    }
    let profile = &cluster["profile"];
    json!({
        "share_of_ceiling": figures,
        "target_ratio": SHARE_RATIO_TARGET,
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
