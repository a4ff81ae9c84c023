//! Line charts of one quantity against a workload's parameter, one line per backend (wall vs N
//! with confidence intervals; throughput and memory vs C on a log axis).

use std::{collections::BTreeSet, path::Path};

use anyhow::{Result, anyhow};
use plotters::{
    coord::ranged1d::{Ranged, ValueFormatter},
    prelude::*,
};

use super::{
    FONT, Metric, TEXT,
    axis::{TickedAxis, thin},
    chart_builder, dark_on_white, draw_error,
    marks::{DIAMOND, MARKERS, Orientation, draw_markers, draw_whisker},
};
use crate::report::{
    format,
    results::{CellResult, WorkloadResult},
    tables::parameters,
    workloads::WorkloadKind,
};

/// One line per backend of `metric` against the parameter; failures noted in the legend.
pub(super) fn line_chart(
    path: &Path,
    title: &str,
    w: &WorkloadResult,
    k: &WorkloadKind,
    metric: Metric,
    log_x: bool,
    colour: &dyn Fn(&str) -> RGBColor,
) -> Result<()> {
    let params: Vec<f64> = parameters(w)
        .iter()
        .filter_map(|p| p.parse::<f64>().ok())
        .filter(|v| v.is_finite() && (!log_x || *v > 0.0))
        .collect();
    let (Some(&lo), Some(&hi)) = (params.first(), params.last()) else {
        return Err(anyhow!(
            "{}: {} has no numeric parameters to plot against",
            path.display(),
            w.name
        ));
    };
    let series = line_series(w, k, metric, colour);
    let top = series
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| p.ci.map_or(p.y, |ci| ci.1.max(p.y)))
        .fold(0.0, f64::max);
    let y_max = if top > 0.0 { top * 1.15 } else { 1.0 };
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error(path))?;
    let ticks = thin(&params, 12);
    if log_x {
        let x = (lo / 1.5..hi * 1.5).log_scale().with_key_points(ticks);
        draw_lines(&root, path, title, x, y_max, k, metric, &series)?;
    } else {
        let pad = ((hi - lo) * 0.05).max(0.5);
        let x = TickedAxis {
            range: (lo - pad).max(0.0)..hi + pad,
            ticks,
        };
        draw_lines(&root, path, title, x, y_max, k, metric, &series)?;
    }
    root.present().map_err(draw_error(path))?;
    Ok(())
}

/// One backend's points, with the legend text.
#[derive(Debug)]
struct Series {
    label: String,
    colour: RGBColor,
    points: Vec<Point>,
}

#[derive(Clone, Copy, Debug)]
struct Point {
    x: f64,
    y: f64,
    ci: Option<(f64, f64)>,
}

fn line_series(
    w: &WorkloadResult,
    k: &WorkloadKind,
    metric: Metric,
    colour: &dyn Fn(&str) -> RGBColor,
) -> Vec<Series> {
    let backends: BTreeSet<&str> = w.cells.iter().map(|c| c.backend.name.as_str()).collect();
    backends
        .into_iter()
        .map(|b| {
            let mut cells: Vec<&CellResult> =
                w.cells.iter().filter(|c| c.backend.name == b).collect();
            cells.sort_by(|a, b| {
                a.parameter_value()
                    .partial_cmp(&b.parameter_value())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let mut points = Vec::new();
            let (mut failed, mut unverified) = (Vec::new(), Vec::new());
            for c in cells {
                let Some(x) = c.parameter_value() else {
                    continue;
                };
                if c.failure.is_some() {
                    failed.push(c.parameter.clone());
                    continue;
                }
                if !c.verified {
                    unverified.push(c.parameter.clone());
                }
                if let Some((y, ci)) = metric.of(c) {
                    points.push(Point { x, y, ci });
                }
            }
            let mut label = b.to_owned();
            if !unverified.is_empty() {
                label += &format!(
                    " (unverified at {} = {})",
                    k.parameter,
                    unverified.join(", ")
                );
            }
            if !failed.is_empty() {
                label += &format!(" (failed at {} = {})", k.parameter, failed.join(", "));
            }
            Series {
                label,
                colour: colour(b),
                points,
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn draw_lines<X>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    path: &Path,
    title: &str,
    x: X,
    y_max: f64,
    k: &WorkloadKind,
    metric: Metric,
    series: &[Series],
) -> Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = chart_builder(root, title, 72)
        .build_cartesian_2d(x, 0.0..y_max)
        .map_err(draw_error(path))?;
    dark_on_white(&mut chart.configure_mesh())
        .x_desc(k.parameter_axis)
        .y_desc(metric.axis())
        .x_label_formatter(&|v| format::param_value(*v))
        .y_label_formatter(&|v| format::num(*v))
        .draw()
        .map_err(draw_error(path))?;
    for (i, s) in series.iter().enumerate() {
        let colour = s.colour;
        for p in &s.points {
            if let Some((lo, hi)) = p.ci {
                draw_whisker(
                    &mut chart,
                    (p.x, lo),
                    (p.x, hi),
                    colour,
                    Orientation::Vertical,
                )
                .map_err(draw_error(path))?;
            }
        }
        let anno = chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|p| (p.x, p.y)),
                colour.stroke_width(2),
            ))
            .map_err(draw_error(path))?
            .label(s.label.clone());
        let line = move |(x, y): (i32, i32)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (24, 0)], colour.stroke_width(2))
        };
        let fill = colour.filled();
        match i % MARKERS {
            0 => anno.legend(move |c| line(c) + Circle::new((12, 0), 4, fill)),
            1 => anno.legend(move |c| line(c) + TriangleMarker::new((12, 0), 6, fill)),
            2 => anno.legend(move |c| line(c) + Rectangle::new([(8, -4), (16, 4)], fill)),
            _ => anno.legend(move |c| {
                line(c) + Polygon::new(DIAMOND.map(|(x, y)| (x + 12, y)).to_vec(), fill)
            }),
        };
        let xy = s.points.iter().map(|p| (p.x, p.y));
        draw_markers(&mut chart, i, xy, colour).map_err(draw_error(path))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.92))
        .border_style(TEXT)
        .label_font((FONT, 14).into_font().color(&TEXT))
        .draw()
        .map_err(draw_error(path))?;
    Ok(())
}
