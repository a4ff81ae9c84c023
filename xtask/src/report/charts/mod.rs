//! The report's SVG charts, drawn with plotters' SVG backend (no system fonts or C libraries):
//! per workload a bar chart of median wall time with its confidence interval, plus line charts
//! for the workloads whose parameter is a scale (wall vs N; throughput and memory vs C).
//!
//! Every chart has an opaque white background and dark text, so it reads the same on GitHub's
//! light and dark themes; each backend keeps one colour across all charts.

mod axis;
mod bars;
mod lines;
mod marks;

use std::{collections::BTreeSet, path::Path};

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;

use super::{
    results::{CellResult, ChartFile, Results},
    tables::parameters,
    workloads::{LineCharts, kind},
};

/// Colour-blind-safe colours (Okabe–Ito, with grey for its black and without its yellow, then
/// Tol's muted), all dark enough for a white background.
const PALETTE: &[RGBColor] = &[
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(110, 110, 110),
    RGBColor(136, 34, 85),
    RGBColor(68, 170, 153),
    RGBColor(153, 153, 51),
    RGBColor(51, 34, 136),
    RGBColor(102, 17, 0),
];
const TEXT: RGBColor = RGBColor(34, 34, 34);
const GRID: RGBColor = RGBColor(200, 200, 200);
const FONT: &str = "sans-serif";

/// The frame every chart shares: title, margins and the x label area.
fn chart_builder<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_label_area: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, (FONT, 20).into_font().color(&TEXT))
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(y_label_area);
    builder
}

/// Dark text and light grid lines on the white background, readable in GitHub's light and dark
/// themes alike.
fn dark_on_white<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: plotters::coord::ranged1d::Ranged,
    DB: DrawingBackend,
{
    mesh.label_style((FONT, 14).into_font().color(&TEXT))
        .axis_desc_style((FONT, 15).into_font().color(&TEXT))
        .axis_style(TEXT)
        .bold_line_style(GRID)
        .light_line_style(WHITE)
}

/// Draws every chart into `out` and returns what was written.
pub(crate) fn draw_all(results: &Results, out: &Path) -> Result<Vec<ChartFile>> {
    let backends: Vec<String> = results
        .workloads
        .iter()
        .flat_map(|w| &w.cells)
        .map(|c| c.backend.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let colour = |name: &str| {
        let i = backends.iter().position(|b| b == name).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    };
    let mut charts = Vec::new();
    for w in &results.workloads {
        let k = kind(&w.name);
        let stem = file_stem(&w.name);
        if let Some(largest) = parameters(w).last() {
            let title = format!(
                "{}: median wall time at {} = {largest} ({} profile)",
                w.name, k.parameter, results.profile
            );
            let file = format!("{stem}.svg");
            bars::bar_chart(&out.join(&file), &title, w, largest, &colour)?;
            charts.push(ChartFile {
                workload: w.name.clone(),
                file,
                title,
            });
        }
        let lines: Vec<(String, String, Metric)> = match k.lines {
            LineCharts::None => Vec::new(),
            LineCharts::WallVsParameter => vec![(
                format!("{stem}-wall.svg"),
                format!(
                    "{}: wall time vs {} ({} profile)",
                    w.name, k.parameter, results.profile
                ),
                Metric::Wall,
            )],
            LineCharts::ThroughputAndMemory => vec![
                (
                    format!("{stem}-throughput.svg"),
                    format!(
                        "{}: throughput vs {} ({} profile)",
                        w.name, k.parameter, results.profile
                    ),
                    Metric::UrlsPerSec,
                ),
                (
                    format!("{stem}-rss.svg"),
                    format!(
                        "{}: client peak RSS vs {} ({} profile)",
                        w.name, k.parameter, results.profile
                    ),
                    Metric::PeakRss,
                ),
            ],
        };
        for (file, title, metric) in lines {
            let log_x = k.lines == LineCharts::ThroughputAndMemory;
            lines::line_chart(&out.join(&file), &title, w, &k, metric, log_x, &colour)?;
            charts.push(ChartFile {
                workload: w.name.clone(),
                file,
                title,
            });
        }
    }
    Ok(charts)
}

/// The quantity a line chart plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metric {
    Wall,
    UrlsPerSec,
    PeakRss,
}

impl Metric {
    fn axis(self) -> &'static str {
        match self {
            Self::Wall => "median wall time (s), bars: confidence interval",
            Self::UrlsPerSec => "throughput (URLs/s)",
            Self::PeakRss => "client peak RSS (MiB)",
        }
    }

    /// `(value, optional interval)` for a cell that ran.
    fn of(self, c: &CellResult) -> Option<(f64, Option<(f64, f64)>)> {
        match self {
            Self::Wall => {
                let t = c.wall.as_ref()?;
                Some((
                    t.median_secs,
                    t.ci.as_ref().map(|ci| (ci.lower_secs, ci.upper_secs)),
                ))
            }
            Self::UrlsPerSec => Some((c.metrics.urls_per_sec?, None)),
            Self::PeakRss => Some((c.metrics.peak_rss_mib?, None)),
        }
    }
}

fn draw_error<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("cannot draw {}: {e:?}", path.display())
}

/// A file name stem for a workload (its name, with anything unusual replaced).
fn file_stem(workload: &str) -> String {
    workload
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Removes chart files a previous report listed that this one did not write again.
pub(crate) fn remove_stale(
    out: &Path,
    previous: &[ChartFile],
    current: &[ChartFile],
) -> Result<()> {
    for old in previous {
        let stale = !current.iter().any(|c| c.file == old.file);
        let path = out.join(&old.file);
        // Only plain file names the report itself writes.
        if stale && !old.file.contains(['/', '\\']) && old.file.ends_with(".svg") && path.is_file()
        {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove stale chart {}", path.display()))?;
        }
    }
    Ok(())
}
