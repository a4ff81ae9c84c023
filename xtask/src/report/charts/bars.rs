//! A horizontal bar chart of one quantity per backend at one parameter, with 95 % interval
//! whiskers, best first; unverified bars faded, failed backends named with the reason instead of
//! a bar.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::{
    FONT, TEXT,
    axis::TickedAxis,
    chart_builder, dark_on_white, draw_error,
    marks::{Orientation, draw_whisker},
};
use crate::report::format;

/// One backend's bar.
#[derive(Debug)]
pub(super) struct Bar {
    /// Picks the colour.
    pub(super) backend: String,
    /// The row's label (`1–2. tokio-reqwest`, `x (unverified)`, `y (failed)`).
    pub(super) label: String,
    /// The value and its interval, in the chart's units; `None` for a failed backend.
    pub(super) value: Option<(f64, Option<(f64, f64)>)>,
    /// The value as the tables print it, written beside the bar.
    pub(super) text: String,
    /// Unverified: drawn faded.
    pub(super) faded: bool,
    /// Shown instead of a bar (a failure's reason).
    pub(super) note: Option<String>,
}

/// Draws `bars` top down.
pub(super) fn bar_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    bars: &[Bar],
    colour: &dyn Fn(&str) -> RGBColor,
) -> Result<()> {
    let n = bars.len().max(1);
    let top = bars
        .iter()
        .filter_map(|b| b.value)
        .map(|(v, ci)| ci.map_or(v, |ci| ci.1.max(v)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let x_max = if top > 0.0 { top * 1.25 } else { 1.0 };
    let label_width = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(10) as u32
        * 8
        + 24;
    let height = 130 + 46 * n as u32;
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error(path))?;
    let y_range = TickedAxis {
        range: -0.5..n as f64 - 0.5,
        ticks: (0..n).map(|i| i as f64).collect(),
    };
    let mut chart = chart_builder(&root, title, label_width)
        .build_cartesian_2d(0.0..x_max, y_range)
        .map_err(draw_error(path))?;
    // Row 0 (the best) at the top.
    let y_of = |row: usize| (n - 1 - row) as f64;
    let label_of = |y: &f64| {
        let row = n as f64 - 1.0 - y.round();
        bars.get(row as usize)
            .map(|b| b.label.clone())
            .unwrap_or_default()
    };
    dark_on_white(&mut chart.configure_mesh())
        .disable_y_mesh()
        .x_desc(format!("{x_desc}; whiskers: 95 % interval"))
        .y_label_formatter(&label_of)
        .x_label_formatter(&|v| format::num(*v))
        .draw()
        .map_err(draw_error(path))?;
    let text = |s: String, x: f64, y: f64| {
        Text::new(s, (x, y + 0.12), (FONT, 13).into_font().color(&TEXT))
    };
    for (row, bar) in bars.iter().enumerate() {
        let y = y_of(row);
        let Some((v, ci)) = bar.value.filter(|(v, _)| v.is_finite()) else {
            let note = bar.note.as_deref().unwrap_or("no value");
            chart
                .draw_series(std::iter::once(text(shorten(note, 90), x_max * 0.01, y)))
                .map_err(draw_error(path))?;
            continue;
        };
        let base = colour(&bar.backend);
        let fill = if bar.faded {
            base.mix(0.35).filled()
        } else {
            base.filled()
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.32), (v, y + 0.32)],
                fill,
            )))
            .map_err(draw_error(path))?;
        let ci = ci.filter(|(lo, hi)| lo.is_finite() && hi.is_finite());
        if let Some((lo, hi)) = ci {
            draw_whisker(&mut chart, (lo, y), (hi, y), TEXT, Orientation::Horizontal)
                .map_err(draw_error(path))?;
        }
        let end = ci.map_or(v, |ci| ci.1.max(v));
        chart
            .draw_series(std::iter::once(text(
                bar.text.clone(),
                end + x_max * 0.01,
                y,
            )))
            .map_err(draw_error(path))?;
    }
    root.present().map_err(draw_error(path))?;
    Ok(())
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}
