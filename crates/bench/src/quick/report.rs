//! What `quick` writes: the figures of summary.json (rounded), the table it prints and the
//! latency plot.

use std::path::Path;

use hdrhistogram::Histogram;
use serde_json::{Value as Json, json};

use super::visible;
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
        }
    }
    println!("memory: {}", summary["memory"]);
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
