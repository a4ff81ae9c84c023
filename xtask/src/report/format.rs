//! Number formatting shared by the report, the charts, `compare` and `reproduce`, so a value
//! reads the same wherever it appears.

use crawlbench_stats::{Interval, Metric};

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

/// A ratio near 1, with the three decimals a few-percent difference needs: `1.023`.
pub(crate) fn ratio(v: f64) -> String {
    if v.abs() >= 10.0 {
        num(v)
    } else {
        format!("{v:.3}")
    }
}

/// A large count with an SI suffix: `812`, `45.1 k`, `1.23 M`, `4.56 G`.
pub(crate) fn count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{} G", num(v / 1e9))
    } else if a >= 1e6 {
        format!("{} M", num(v / 1e6))
    } else if a >= 1e3 {
        format!("{} k", num(v / 1e3))
    } else {
        num(v)
    }
}

/// A percentage of a fraction: `0.034` → `3.4 %`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{} %", num(fraction * 100.0))
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

/// How a metric is shown: the value in display units (MiB for bytes, ms for latencies), the
/// heading with that unit, and the digits.
pub(crate) fn display(metric: Metric, raw: f64) -> f64 {
    match metric {
        Metric::PeakRssBytes | Metric::OriginPeakRssBytes => mib(raw),
        Metric::RssBytesPerInFlight => raw / 1024.0,
        Metric::LatencyP50Us | Metric::LatencyP99Us => raw / 1e3,
        _ => raw,
    }
}

/// The column heading of a metric, with its display unit.
pub(crate) fn heading(metric: Metric) -> &'static str {
    match metric {
        Metric::WallSecs => "wall s",
        Metric::WallOverIdeal => "wall ÷ ideal",
        Metric::CpuUsPerRequest => "CPU µs/req",
        Metric::CpuUsPerRequestNoExtract => "CPU µs/req without link extraction",
        Metric::PeakRssBytes => "peak RSS MiB",
        Metric::LatencyP50Us => "p50 latency ms",
        Metric::LatencyP99Us => "p99 latency ms",
        Metric::OriginCpuUsPerRequest => "origin CPU µs/req",
        Metric::OriginTlsCpuUsPerRequest => "origin TLS handshake CPU µs/req",
        Metric::OriginPeakInFlight => "origin peak in flight",
        Metric::RssBytesPerInFlight => "client RSS KiB per in-flight request",
        Metric::OriginPeakRssBytes => "origin peak RSS MiB",
    }
}

/// A value of `metric` (raw units) as the tables show it.
pub(crate) fn value(metric: Metric, raw: f64) -> String {
    if !raw.is_finite() {
        return "—".into();
    }
    let v = display(metric, raw);
    match metric {
        Metric::WallSecs => secs(v),
        Metric::WallOverIdeal => ratio(v),
        Metric::PeakRssBytes | Metric::OriginPeakRssBytes | Metric::RssBytesPerInFlight => {
            format!("{v:.1}")
        }
        _ => num(v),
    }
}

/// `median [lo–hi]` with `show` for each number; `—` when the median is not a number.
pub(crate) fn with_ci(median: f64, ci: Interval, show: impl Fn(f64) -> String) -> String {
    if !median.is_finite() {
        return "—".into();
    }
    if ci.lo.is_finite() && ci.hi.is_finite() {
        format!("{} [{}–{}]", show(median), show(ci.lo), show(ci.hi))
    } else {
        show(median)
    }
}

/// A paired ratio as `×1.023 [0.981–1.052]`.
pub(crate) fn times(median: f64, ci: Interval) -> String {
    format!("×{}", with_ci(median, ci, ratio))
}

/// Words joined for a sentence: `a`, `a and b`, `a, b and c`.
pub(crate) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
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
        assert_eq!(count(251_400.0), "251 k");
        assert_eq!(count(1_234_000.0), "1.23 M");
        assert_eq!(percent(0.034), "3.40 %");
    }

    #[test]
    fn metrics_show_in_their_display_units_with_intervals() {
        let ci = Interval { lo: 0.98, hi: 1.05 };
        assert_eq!(times(1.0234, ci), "×1.023 [0.980–1.050]");
        assert_eq!(value(Metric::PeakRssBytes, 3.0 * 1024.0 * 1024.0), "3.0");
        assert_eq!(value(Metric::LatencyP50Us, 52_200.0), "52.2");
        assert_eq!(value(Metric::WallSecs, f64::NAN), "—");
        let wall = Interval { lo: 0.5, hi: 0.6 };
        assert_eq!(
            with_ci(0.55, wall, |v| value(Metric::WallSecs, v)),
            "0.5500 [0.5000–0.6000]"
        );
        assert_eq!(
            and_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }
}
