//! A seeded, deterministic percentile bootstrap.
//!
//! Written here rather than taken from a crate: no maintained Rust crate offers a bootstrap
//! (statrs has distributions and rank tests, not resampling), and the whole method is a few dozen
//! lines. Seeded so that the same per-round values always give the same interval — a report
//! collated twice from one campaign must not change.

use serde::{Deserialize, Serialize};

/// Resamples per interval: the percentile bootstrap's 2.5 % and 97.5 % points are stable to well
/// under the rounding the report prints at this count.
pub const RESAMPLES: usize = 4000;

/// A closed interval `[lo, hi]`, serialized as a two-element array.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl From<[f64; 2]> for Interval {
    fn from([lo, hi]: [f64; 2]) -> Self {
        Self { lo, hi }
    }
}
impl From<Interval> for [f64; 2] {
    fn from(i: Interval) -> Self {
        [i.lo, i.hi]
    }
}

impl Interval {
    /// True when `x` lies inside (bounds included).
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// SplitMix64: a tiny, well-studied generator; statistical quality is ample for resampling
/// indices, and it needs no crate.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A uniform index below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // Multiply-shift: unbiased enough for n ≪ 2^64.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// The median of `values` (mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// A 95 % percentile-bootstrap interval of the median of `values`, resampled with `seed`.
///
/// With few rounds it is wide by construction — with five values it spans roughly the smallest
/// to the largest — which is the honest answer: five rounds cannot locate a median more tightly.
pub fn median_ci(values: &[f64], seed: u64) -> Interval {
    match values.len() {
        0 => Interval {
            lo: f64::NAN,
            hi: f64::NAN,
        },
        1 => Interval {
            lo: values[0],
            hi: values[0],
        },
        n => {
            let mut rng = Rng::new(seed);
            let mut sample = vec![0.0; n];
            let mut medians: Vec<f64> = (0..RESAMPLES)
                .map(|_| {
                    for s in sample.iter_mut() {
                        *s = values[rng.below(n)];
                    }
                    median(&sample)
                })
                .collect();
            medians.sort_by(f64::total_cmp);
            Interval {
                lo: quantile_sorted(&medians, 0.025),
                hi: quantile_sorted(&medians, 0.975),
            }
        }
    }
}

/// The paired ratio `b ÷ a` over rounds: its median and 95 % bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// Median of the per-round ratios.
    pub median: f64,
    /// 95 % bootstrap interval of that median.
    pub ci95: Interval,
}

impl Ratio {
    /// Which way the pair is ordered, when the interval excludes 1: `Less` when `b` is
    /// significantly below `a`, `Greater` when above, `None` for a tie.
    pub fn significant(&self) -> Option<std::cmp::Ordering> {
        if self.ci95.hi < 1.0 {
            Some(std::cmp::Ordering::Less)
        } else if self.ci95.lo > 1.0 {
            Some(std::cmp::Ordering::Greater)
        } else {
            None
        }
    }
}

/// `b[i] ÷ a[i]` for every round where both values are present and `a[i]` is non-zero.
pub fn per_round_ratios(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter_map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) if *x != 0.0 && x.is_finite() && y.is_finite() => Some(y / x),
            _ => None,
        })
        .collect()
}

/// The paired ratio of `b` to `a`, taken within each round (`a[i]` and `b[i]` come from the
/// same round). Rounds where either value is missing or `a` is zero are left out; `None` when no
/// round is left.
pub fn paired_ratio(a: &[Option<f64>], b: &[Option<f64>], seed: u64) -> Option<Ratio> {
    let ratios = per_round_ratios(a, b);
    if ratios.is_empty() {
        return None;
    }
    Some(Ratio {
        median: median(&ratios),
        ci95: median_ci(&ratios, seed),
    })
}

/// A stable 64-bit seed from text (FNV-1a), so each cell's resampling is seeded by its name and
/// not by the order cells happen to be processed in.
pub fn seed_of(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from a seeded log-normal-ish distribution with a known median of 100.
    fn sample(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                // Sum of uniforms → roughly normal, symmetric around 0: median of exp(.) is 1.
                let z: f64 = (0..12)
                    .map(|_| rng.below(1 << 20) as f64 / f64::from(1 << 20))
                    .sum::<f64>()
                    - 6.0;
                scale * (0.1 * z).exp()
            })
            .collect()
    }

    #[test]
    fn bootstrap_interval_covers_the_known_median() {
        // Of 200 seeded samples of 15, the 95 % interval must cover the true median (100) in
        // most; a broken bootstrap (too narrow, or off-centre) fails this.
        let mut rng = Rng::new(42);
        let covered = (0..200)
            .filter(|i| median_ci(&sample(&mut rng, 15, 100.0), *i).contains(100.0))
            .count();
        assert!((180..=200).contains(&covered), "covered {covered} of 200");
        // And it is an interval around the sample median, not everything.
        let v = sample(&mut rng, 15, 100.0);
        let ci = median_ci(&v, 1);
        assert!(
            ci.lo <= median(&v) && median(&v) <= ci.hi && ci.hi - ci.lo < 30.0,
            "{ci:?}"
        );
    }

    #[test]
    fn same_seed_same_interval() {
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        assert_eq!(median_ci(&v, 7), median_ci(&v, 7));
        assert_eq!(median(&v), 3.5);
    }

    #[test]
    fn a_known_twenty_percent_difference_is_significant_and_none_ties() {
        // 200 simulated campaigns of 15 rounds. Each round shares a drift factor (the machine's
        // speed that round, ±30 %) and each run adds ±3 % noise of its own.
        let mut rng = Rng::new(9);
        let rounds = 15;
        let (mut detected, mut false_alarms) = (0, 0);
        for trial in 0..200u64 {
            let drift: Vec<f64> = (0..rounds)
                .map(|_| 0.7 + 0.6 * rng.below(1000) as f64 / 1000.0)
                .collect();
            let mut noisy = |base: f64| -> Vec<Option<f64>> {
                drift
                    .iter()
                    .map(|d| Some(base * d * (1.0 + 0.03 * (rng.below(1000) as f64 / 500.0 - 1.0))))
                    .collect()
            };
            let (a, slower, same) = (noisy(1.0), noisy(1.2), noisy(1.0));
            let r = paired_ratio(&a, &slower, trial).unwrap();
            if r.significant() == Some(std::cmp::Ordering::Greater)
                && (1.15..1.25).contains(&r.median)
            {
                detected += 1;
            }
            if paired_ratio(&a, &same, trial)
                .unwrap()
                .significant()
                .is_some()
            {
                false_alarms += 1;
            }
        }
        assert_eq!(detected, 200, "a 20 % difference must always be found");
        assert!(
            false_alarms <= 20,
            "{false_alarms} of 200 identical pairs called different"
        );
        eprintln!("false alarms: {false_alarms} of 200");
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<u32> = (0..10).collect();
        Rng::new(3).shuffle(&mut a);
        let mut b: Vec<u32> = (0..10).collect();
        Rng::new(3).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..10).collect::<Vec<_>>());
        a.sort();
        assert_eq!(a, (0..10).collect::<Vec<_>>());
    }
}
