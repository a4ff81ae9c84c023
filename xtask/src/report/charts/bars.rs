//! The per-workload bar chart: median wall time of each backend at one parameter, with its
//! confidence interval, best first; unverified cells faded, failed ones named with the reason.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::{
    FONT, Metric, TEXT,
    axis::TickedAxis,
    chart_builder, dark_on_white, draw_error,
    marks::{Orientation, draw_whisker},
};
use crate::report::{
    format,
    results::{CellResult, WorkloadResult},
};

/// Horizontal bars of median wall at one parameter: ranked cells top down, then unverified
/// (faded), then failed (no bar, the word "failed").
pub(super) fn bar_chart(
    path: &Path,
    title: &str,
    w: &WorkloadResult,
    parameter: &str,
    colour: &dyn Fn(&str) -> RGBColor,
) -> Result<()> {
    let cells: Vec<&CellResult> = w
        .cells
        .iter()
        .filter(|c| c.parameter == parameter)
        .collect();
    let labels: Vec<String> = cells
        .iter()
        .map(|c| match (c.rank, &c.failure) {
            (Some(r), _) => format!("{r}. {}", c.backend.name),
            (None, Some(_)) => format!("{} (failed)", c.backend.name),
            (None, None) => format!("{} (unverified)", c.backend.name),
        })
        .collect();
    let n = cells.len().max(1);
    let top = cells
        .iter()
        .filter_map(|c| Metric::Wall.of(c))
        .map(|(v, ci)| ci.map_or(v, |ci| ci.1.max(v)))
        .fold(0.0, f64::max);
    let x_max = if top > 0.0 { top * 1.2 } else { 1.0 };
    let label_width = labels.iter().map(|l| l.len()).max().unwrap_or(10) as u32 * 8 + 24;
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
        labels.get(row as usize).cloned().unwrap_or_default()
    };
    dark_on_white(&mut chart.configure_mesh())
        .disable_y_mesh()
        .x_desc("median wall time of one run (s); error bars: confidence interval")
        .y_label_formatter(&label_of)
        .x_label_formatter(&|v| format::num(*v))
        .draw()
        .map_err(draw_error(path))?;
    for (row, c) in cells.iter().enumerate() {
        let y = y_of(row);
        let base = colour(&c.backend.name);
        let Some((v, ci)) = Metric::Wall.of(c) else {
            let reason = c.failure.as_deref().unwrap_or("no wall time");
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("failed: {}", shorten(reason, 90)),
                    (x_max * 0.01, y + 0.12),
                    (FONT, 13).into_font().color(&TEXT),
                )))
                .map_err(draw_error(path))?;
            continue;
        };
        let fill = if c.rank.is_some() {
            base.filled()
        } else {
            base.mix(0.35).filled()
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.32), (v, y + 0.32)],
                fill,
            )))
            .map_err(draw_error(path))?;
        if let Some((lo, hi)) = ci {
            draw_whisker(&mut chart, (lo, y), (hi, y), TEXT, Orientation::Horizontal)
                .map_err(draw_error(path))?;
        }
        let end = ci.map_or(v, |ci| ci.1.max(v));
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{} s", format::secs(v)),
                (end + x_max * 0.01, y + 0.12),
                (FONT, 13).into_font().color(&TEXT),
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
