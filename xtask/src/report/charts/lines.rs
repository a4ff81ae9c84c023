//! Line charts of one quantity against a workload's parameter, one line per backend with 95 %
//! interval whiskers at every point (wall against N; wall ÷ ideal and memory against C on a log
//! axis).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::{
    coord::ranged1d::{Ranged, ValueFormatter},
    prelude::*,
};

use super::{
    FONT, TEXT,
    axis::{TickedAxis, thin},
    chart_builder, dark_on_white, draw_error,
    marks::{DIAMOND, MARKERS, Orientation, draw_markers, draw_whisker},
};
use crate::report::format;

/// One backend's line.
#[derive(Debug)]
pub(super) struct Series {
    /// The legend text (backend, with unverified or failed parameters named).
    pub(super) label: String,
    pub(super) colour: RGBColor,
    pub(super) points: Vec<Point>,
}

/// One point with its interval, in the chart's units.
#[derive(Clone, Copy, Debug)]
pub(super) struct Point {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) ci: Option<(f64, f64)>,
}

/// The axes of a line chart.
#[derive(Debug)]
pub(super) struct Axes<'a> {
    pub(super) x_desc: &'a str,
    pub(super) y_desc: &'a str,
    /// The parameter values (ticks), ascending.
    pub(super) xs: &'a [f64],
    pub(super) log_x: bool,
}

/// Draws `series` against the parameter.
pub(super) fn line_chart(
    path: &Path,
    title: &str,
    axes: &Axes<'_>,
    series: &[Series],
) -> Result<()> {
    let xs: Vec<f64> = axes
        .xs
        .iter()
        .copied()
        .filter(|v| v.is_finite() && (!axes.log_x || *v > 0.0))
        .collect();
    let (Some(&lo), Some(&hi)) = (xs.first(), xs.last()) else {
        return Err(anyhow!(
            "{}: no numeric parameters to plot against",
            path.display()
        ));
    };
    let top = series
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| p.ci.map_or(p.y, |ci| ci.1.max(p.y)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // Headroom above the data for the legend (upper left), which grows with the series.
    let headroom = 1.15 + 0.04 * series.len() as f64;
    let y_max = if top > 0.0 { top * headroom } else { 1.0 };
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error(path))?;
    let ticks = thin(&xs, 12);
    if axes.log_x {
        let x = (lo / 1.5..hi * 1.5).log_scale().with_key_points(ticks);
        draw_lines(&root, path, title, x, y_max, axes, series)?;
    } else {
        let pad = ((hi - lo) * 0.05).max(0.5);
        let x = TickedAxis {
            range: (lo - pad).max(0.0)..hi + pad,
            ticks,
        };
        draw_lines(&root, path, title, x, y_max, axes, series)?;
    }
    root.present().map_err(draw_error(path))?;
    Ok(())
}

fn draw_lines<X>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    path: &Path,
    title: &str,
    x: X,
    y_max: f64,
    axes: &Axes<'_>,
    series: &[Series],
) -> Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = chart_builder(root, title, 72)
        .build_cartesian_2d(x, 0.0..y_max)
        .map_err(draw_error(path))?;
    dark_on_white(&mut chart.configure_mesh())
        .x_desc(axes.x_desc)
        .y_desc(format!("{}; bars: 95 % interval", axes.y_desc))
        .x_label_formatter(&|v| format::param_value(*v))
        .y_label_formatter(&|v| format::num(*v))
        .draw()
        .map_err(draw_error(path))?;
    // Each backend's points sit slightly apart along x (multiplicatively on a log axis), so
    // the interval bars of close values do not hide each other.
    let span = axes.xs.last().copied().unwrap_or(1.0) - axes.xs.first().copied().unwrap_or(0.0);
    let dodge = |i: usize, x: f64| {
        let k = i as f64 - (series.len() as f64 - 1.0) / 2.0;
        if axes.log_x {
            x * 1.012f64.powf(k)
        } else {
            x + k * span * 0.003
        }
    };
    for (i, s) in series.iter().enumerate() {
        let colour = s.colour;
        let points: Vec<Point> = s
            .points
            .iter()
            .map(|p| Point {
                x: dodge(i, p.x),
                ..*p
            })
            .collect();
        for p in &points {
            if let Some((lo, hi)) = p.ci.filter(|(lo, hi)| lo.is_finite() && hi.is_finite()) {
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
                points.iter().map(|p| (p.x, p.y)),
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
        let xy = points.iter().map(|p| (p.x, p.y));
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
