//! Rank groups: backends in order of their median, grouped where the data cannot tell them
//! apart.
//!
//! Ties are not transitive (A ≈ B and B ≈ C while A < C), so groups are built greedily: walk the
//! backends from the best median; each group's first member is its *leader*, and a backend joins
//! the current group while its paired ratio to the leader has an interval that includes 1. The
//! first backend significantly worse than the leader opens the next group. So "1–2: a ≈ b" means
//! b could not be told apart from a, the best of its group.

use crate::bootstrap::{median, paired_ratio};

/// One backend's per-round values for a metric (`None` where a round's run failed).
#[derive(Clone, Debug)]
pub struct Series<'a> {
    /// Backend label.
    pub backend: &'a str,
    /// Values by round.
    pub values: &'a [Option<f64>],
}

/// Groups `series` (lower is better) into rank groups; `seed` seeds the bootstraps.
pub fn rank_groups(series: &[Series<'_>], seed: u64) -> Vec<Vec<String>> {
    let med = |s: &Series<'_>| {
        let v: Vec<f64> = s.values.iter().flatten().copied().collect();
        median(&v)
    };
    let mut sorted: Vec<(&Series<'_>, f64)> = series.iter().map(|s| (s, med(s))).collect();
    sorted.sort_by(|a, b| {
        a.1.total_cmp(&b.1)
            .then_with(|| a.0.backend.cmp(b.0.backend))
    });
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut leader: Option<&Series<'_>> = None;
    for (s, _) in sorted {
        let tied = leader.is_some_and(|l| {
            paired_ratio(l.values, s.values, seed).is_none_or(|r| r.significant().is_none())
        });
        if tied {
            groups
                .last_mut()
                .expect("a leader has a group")
                .push(s.backend.to_owned());
        } else {
            groups.push(vec![s.backend.to_owned()]);
            leader = Some(s);
        }
    }
    groups
}

/// `1`, or `1–3` for a group spanning ranks 1 to 3.
pub fn rank_label(groups: &[Vec<String>], index: usize) -> String {
    let first = groups[..index].iter().map(Vec::len).sum::<usize>() + 1;
    let last = first + groups[index].len() - 1;
    if first == last {
        first.to_string()
    } else {
        format!("{first}–{last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(base: f64, noise: &[f64]) -> Vec<Option<f64>> {
        noise.iter().map(|n| Some(base * n)).collect()
    }

    #[test]
    fn a_twenty_percent_gap_ranks_apart_and_equals_tie() {
        let drift = [1.0, 1.3, 0.9, 1.1, 1.5, 0.8, 1.0, 1.2, 0.95, 1.05, 1.4];
        let jitter = |k: usize| -> Vec<f64> {
            drift
                .iter()
                .enumerate()
                .map(|(i, d)| d * (1.0 + 0.02 * (((i * 7 + k * 3) % 5) as f64 - 2.0) / 2.0))
                .collect()
        };
        let a = series(1.0, &jitter(0));
        let a2 = series(1.0, &jitter(1));
        let slow = series(1.2, &jitter(2));
        let groups = rank_groups(
            &[
                Series {
                    backend: "slow",
                    values: &slow,
                },
                Series {
                    backend: "a",
                    values: &a,
                },
                Series {
                    backend: "a2",
                    values: &a2,
                },
            ],
            1,
        );
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[1], vec!["slow".to_owned()]);
        let mut first = groups[0].clone();
        first.sort();
        assert_eq!(first, ["a", "a2"]);
        assert_eq!(rank_label(&groups, 0), "1–2");
        assert_eq!(rank_label(&groups, 1), "3");
    }
}
