//! The report's SVG charts, drawn with plotters' SVG backend (text is written as SVG `<text>`,
//! so no system fonts or C libraries are needed): per workload a bar chart of its main quantity
//! with 95 % interval whiskers, plus line charts against the parameter where it is a scale
//! (wall vs N; wall ÷ ideal and peak RSS vs C).
//!
//! Every chart has an opaque white background and dark text, so it reads the same on GitHub's
//! light and dark themes; each backend keeps one colour across all charts. `charts.json` beside
//! them lists what this collation wrote, so the next one removes what it no longer writes.

mod axis;
mod bars;
mod files;
mod lines;
mod marks;

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

pub(crate) use files::{previous_charts, remove_stale, write_list};

use super::{
    view::{Status, View, WorkloadView},
    workloads::Quantity,
};

/// One chart file written beside `REPORT.md`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChartFile {
    pub(crate) workload: String,
    /// File name, relative to the output directory.
    pub(crate) file: String,
    pub(crate) title: String,
}

/// Colour-blind-safe colours (Okabe–Ito, with grey for its black and without its yellow, then
/// Tol's muted, then Tol's bright and vibrant for campaigns of twenty-odd backends), all dark
/// enough for a white background.
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
    RGBColor(68, 119, 170),
    RGBColor(238, 102, 119),
    RGBColor(34, 136, 51),
    RGBColor(170, 51, 119),
    RGBColor(0, 153, 136),
    RGBColor(238, 119, 51),
    RGBColor(204, 51, 17),
    RGBColor(102, 204, 238),
    RGBColor(187, 187, 0),
    RGBColor(0, 68, 136),
    RGBColor(153, 68, 85),
    RGBColor(17, 119, 51),
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

fn draw_error<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("cannot draw {}: {e:?}", path.display())
}

/// Draws every chart into `out` and returns what was written.
pub(crate) fn draw_all(view: &View<'_>, out: &Path) -> Result<Vec<ChartFile>> {
    let colour = |label: &str| {
        let i = view
            .backends
            .iter()
            .position(|b| b.label == label)
            .unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    };
    let profile = &view.report.profile;
    let mut charts = Vec::new();
    for wv in &view.workloads {
        let stem = file_stem(wv.name);
        let main = view.main_quantity(wv);
        let symbol = wv.presentation.parameter;
        if let Some(p) = wv.largest() {
            let bars = bars_at(view, wv, p.parameter, main);
            if bars.iter().any(|b| b.value.is_some()) {
                let title = format!(
                    "{}: {} at {symbol} = {} ({profile} profile)",
                    wv.name,
                    main.heading(),
                    p.parameter
                );
                let file = format!("{stem}.svg");
                bars::bar_chart(&out.join(&file), &title, main.axis(), &bars, &colour)?;
                charts.push(ChartFile {
                    workload: wv.name.to_owned(),
                    file,
                    title,
                });
            }
        }
        let xs: Vec<f64> = {
            let mut xs: Vec<f64> = wv
                .parameters
                .iter()
                .filter_map(|p| p.parameter.parse().ok())
                .collect();
            xs.sort_by(f64::total_cmp);
            xs
        };
        for chart in wv.presentation.lines {
            let q = Quantity::Metric(chart.metric);
            let series = series_of(view, wv, q, &colour);
            if xs.is_empty() || series.iter().all(|s| s.points.is_empty()) {
                continue;
            }
            let title = format!(
                "{}: {} vs {symbol} ({profile} profile)",
                wv.name,
                q.heading()
            );
            let file = format!("{stem}-{}.svg", chart.suffix);
            let axes = lines::Axes {
                x_desc: wv.presentation.parameter_axis,
                y_desc: q.axis(),
                xs: &xs,
                log_x: chart.log_x,
            };
            lines::line_chart(&out.join(&file), &title, &axes, &series)?;
            charts.push(ChartFile {
                workload: wv.name.to_owned(),
                file,
                title,
            });
        }
    }
    Ok(charts)
}

fn bars_at(view: &View<'_>, wv: &WorkloadView<'_>, p: &str, q: Quantity) -> Vec<bars::Bar> {
    view.rows(wv.name, p, q.metric())
        .into_iter()
        .map(|(b, status)| {
            let estimate = view.estimate(wv.name, p, b.label, q);
            let value = estimate.map(|e| {
                (
                    q.display(e.median),
                    Some((q.display(e.ci.lo), q.display(e.ci.hi))),
                )
            });
            let (label, faded, note) = match &status {
                Status::Verified => match view.rank(wv.name, p, q.metric(), b.label) {
                    Some(rank) => (format!("{rank}. {}", b.label), false, None),
                    None => (b.label.to_owned(), false, None),
                },
                Status::Unverified(_) => (format!("{} (unverified)", b.label), true, None),
                Status::Failed(reasons) => (
                    format!("{} (failed)", b.label),
                    false,
                    Some(format!("failed: {}", reasons.join("; "))),
                ),
                Status::Absent => (b.label.to_owned(), false, None),
            };
            bars::Bar {
                backend: b.label.to_owned(),
                label,
                text: estimate.map(|e| q.show(e.median)).unwrap_or_default(),
                value: if matches!(status, Status::Failed(_)) {
                    None
                } else {
                    value
                },
                faded,
                note,
            }
        })
        .collect()
}

fn series_of(
    view: &View<'_>,
    wv: &WorkloadView<'_>,
    q: Quantity,
    colour: &dyn Fn(&str) -> RGBColor,
) -> Vec<lines::Series> {
    view.backends
        .iter()
        .filter_map(|b| {
            let mut points = Vec::new();
            let (mut failed, mut unverified) = (Vec::new(), Vec::new());
            for p in &wv.parameters {
                let Ok(x) = p.parameter.parse::<f64>() else {
                    continue;
                };
                match view.status(wv.name, p.parameter, b.label) {
                    Status::Absent => continue,
                    Status::Failed(_) => {
                        failed.push(p.parameter);
                        continue;
                    }
                    Status::Unverified(_) => unverified.push(p.parameter),
                    Status::Verified => {}
                }
                if let Some(e) = view.estimate(wv.name, p.parameter, b.label, q) {
                    points.push(lines::Point {
                        x,
                        y: q.display(e.median),
                        ci: Some((q.display(e.ci.lo), q.display(e.ci.hi))),
                    });
                }
            }
            if points.is_empty() && failed.is_empty() {
                return None;
            }
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            let symbol = wv.presentation.parameter;
            let mut label = b.label.to_owned();
            if !unverified.is_empty() {
                label += &format!(" (unverified at {symbol} = {})", unverified.join(", "));
            }
            if !failed.is_empty() {
                label += &format!(" (failed at {symbol} = {})", failed.join(", "));
            }
            Some(lines::Series {
                label,
                colour: colour(b.label),
                points,
            })
        })
        .collect()
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
