//! Number formatting shared by the report, the charts and `compare`, so a value reads the same
//! wherever it appears.

/// Seconds with enough digits to compare runs: `12.3`, `1.234`, `0.0456`.
pub(crate) fn secs(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else if a >= 0.01 {
        format!("{v:.4}")
    } else {
        format!("{v:.6}")
    }
}

/// A general quantity with about three significant digits: `18600`, `123`, `12.3`, `1.23`.
pub(crate) fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A signed percentage change: `+3.1%`, `-12.0%`, `+0.0%`.
pub(crate) fn change(pct: f64) -> String {
    let sign = if pct < 0.0 { '-' } else { '+' };
    format!("{sign}{:.1}%", pct.abs())
}

/// `(new - old) / old` in percent; `None` when `old` is not a positive number.
pub(crate) fn change_pct(old: f64, new: f64) -> Option<f64> {
    (old > 0.0 && old.is_finite() && new.is_finite()).then(|| (new - old) / old * 100.0)
}

/// A numeric parameter for display: integers without a fraction (`10000`), others as they are.
pub(crate) fn param_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Bytes as MiB.
pub(crate) fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_is_signed_and_relative_to_the_old_value() {
        let pct = change_pct(2.0, 2.062).unwrap();
        assert!((pct - 3.1).abs() < 1e-9, "{pct}");
        assert_eq!(change(change_pct(2.0, 2.062).unwrap()), "+3.1%");
        assert_eq!(change(change_pct(4.0, 3.0).unwrap()), "-25.0%");
        assert_eq!(change(change_pct(1.5, 1.5).unwrap()), "+0.0%");
        assert_eq!(change_pct(0.0, 1.0), None);
        assert_eq!(change_pct(f64::NAN, 1.0), None);
    }

    #[test]
    fn numbers_keep_about_three_significant_digits() {
        assert_eq!(secs(1.23456), "1.235");
        assert_eq!(secs(0.04567), "0.0457");
        assert_eq!(secs(123.45), "123.5");
        assert_eq!(num(18_612.4), "18612");
        assert_eq!(num(0.9523), "0.952");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(param_value(10000.0), "10000");
        assert_eq!(param_value(0.5), "0.5");
    }
}
