//! The latency plot: latency by percentile (HdrHistogram's usual view) for each measured
//! window, as a PNG.
//!
//! Text needs a TrueType font. plotters renders it with ab_glyph from a font file found at
//! run time (DejaVu or Liberation, as Debian and most images ship, or `--font`), so the crate
//! builds with no system libraries.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::Result;

const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// The first font file that exists, `explicit` first.
pub fn find_font(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .into_iter()
        .chain(FONTS.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// Line colours, distinct on white.
const COLORS: [RGBColor; 6] = [
    RGBColor(200, 30, 30),
    RGBColor(20, 90, 200),
    RGBColor(20, 140, 40),
    RGBColor(230, 130, 0),
    RGBColor(130, 40, 170),
    RGBColor(60, 60, 60),
];

/// The percentile axis runs from p0 to p99.99 on a log scale of 1 / (1 - q).
const X_MAX: f64 = 10_000.0;

fn percentile_label(x: &f64) -> String {
    let q = 100.0 * (1.0 - 1.0 / x);
    match q {
        q if q < 1.0 => "0%".to_owned(),
        q if q < 99.0 => format!("{q:.0}%"),
        q if q < 99.95 => format!("{q:.1}%"),
        q => format!("{q:.2}%"),
    }
}

/// Draws one line per `(name, histogram of µs)` into `path` (1200 x 700 PNG).
pub fn latency_by_percentile(
    path: &Path,
    font: &Path,
    title: &str,
    series: &[(&str, &Histogram<u64>)],
) -> Result<()> {
    let bytes: &'static [u8] = Box::leak(std::fs::read(font)?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{} is not a usable TrueType font", font.display()))?;

    let max_ms = series
        .iter()
        .map(|(_, h)| h.value_at_quantile(0.9999) as f64 / 1e3)
        .fold(1.0, f64::max);
    let root = BitMapBackend::new(path, (1200, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..X_MAX).log_scale(), 0.0..max_ms * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&percentile_label)
        .x_labels(5)
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .draw()?;
    for (i, (name, hist)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()].to_rgba();
        let points: Vec<(f64, f64)> = (0..=400)
            .map(|k| {
                // 400 points evenly spaced on the log axis.
                let x = X_MAX.powf(k as f64 / 400.0);
                let q = (1.0 - 1.0 / x).clamp(0.0, 0.9999);
                (x, hist.value_at_quantile(q) as f64 / 1e3)
            })
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;
    root.present()?;
    Ok(())
}
