//! Small marks shared by the charts: per-series point markers and confidence-interval whiskers.

use plotters::{coord::ranged1d::Ranged, prelude::*};

/// Marker shapes (circle, triangle, square, diamond) cycle with the series, so lines stay
/// apart where they overlap and without colour.
pub(super) const MARKERS: usize = 4;

pub(super) const DIAMOND: [(i32, i32); 4] = [(0, -5), (5, 0), (0, 5), (-5, 0)];

/// The series' markers at `points` (the legend draws the same shape).
pub(super) fn draw_markers<
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    series: usize,
    points: impl Iterator<Item = (f64, f64)>,
    colour: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let fill = colour.filled();
    match series % MARKERS {
        0 => chart.draw_series(points.map(|c| EmptyElement::at(c) + Circle::new((0, 0), 4, fill))),
        1 => chart.draw_series(
            points.map(|c| EmptyElement::at(c) + TriangleMarker::new((0, 0), 6, fill)),
        ),
        2 => chart.draw_series(
            points.map(|c| EmptyElement::at(c) + Rectangle::new([(-4, -4), (4, 4)], fill)),
        ),
        _ => chart.draw_series(
            points.map(|c| EmptyElement::at(c) + Polygon::new(DIAMOND.to_vec(), fill)),
        ),
    }?;
    Ok(())
}

/// Which way a confidence interval runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Orientation {
    Horizontal,
    Vertical,
}

/// A confidence interval from `lo` to `hi` with end caps (caps in pixels, so they keep their
/// size on any axis).
pub(super) fn draw_whisker<
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    lo: (f64, f64),
    hi: (f64, f64),
    colour: RGBColor,
    orientation: Orientation,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = colour.stroke_width(2);
    let cap = match orientation {
        Orientation::Horizontal => [(0, -7), (0, 7)],
        Orientation::Vertical => [(-6, 0), (6, 0)],
    };
    chart.draw_series(std::iter::once(PathElement::new(vec![lo, hi], style)))?;
    chart.draw_series(
        [lo, hi].map(|c| EmptyElement::at(c) + PathElement::new(cap.to_vec(), style)),
    )?;
    Ok(())
}
