//! A linear chart axis whose ticks sit exactly at given values (backend rows, parameter values).
//!
//! plotters' own `f64` axis picks "nice" ticks, and its key-point decorator loses the default
//! label formatting for `f64`; this small [`Ranged`] keeps both.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// `range` mapped linearly, with bold ticks (and labels) at `ticks` and no light ones.
#[derive(Clone, Debug)]
pub(crate) struct TickedAxis {
    pub(crate) range: Range<f64>,
    pub(crate) ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let t = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// At most `max` of `values`, evenly spread, always keeping the first and the last.
pub(crate) fn thin(values: &[f64], max: usize) -> Vec<f64> {
    if values.len() <= max || max < 2 {
        return values.to_vec();
    }
    let step = (values.len() - 1) as f64 / (max - 1) as f64;
    (0..max)
        .map(|i| values[((i as f64 * step).round() as usize).min(values.len() - 1)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_linearly_and_ticks_where_told() {
        let axis = TickedAxis {
            range: 0.0..10.0,
            ticks: vec![2.0, 5.0],
        };
        assert_eq!(axis.map(&5.0, (100, 200)), 150);
        assert_eq!(axis.map(&0.0, (100, 200)), 100);
        assert_eq!(axis.key_points(usize::MAX), Vec::<f64>::new());
        assert_eq!(thin(&[1.0, 2.0, 3.0, 4.0, 5.0], 3), [1.0, 3.0, 5.0]);
        assert_eq!(thin(&[1.0, 2.0], 12), [1.0, 2.0]);
    }
}
