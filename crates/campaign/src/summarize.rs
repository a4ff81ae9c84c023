//! From raw runs to claims: per cell and metric the median over rounds with its 95 % bootstrap
//! interval, the paired ratio to the reference backend, rank groups of tied backends, the A/A
//! control's verdicts and the list of failed cells.
//!
//! Only verified cells are ranked: a cell is verified when every round's run completed and
//! matched the ground truth. An unverified cell keeps its numbers (shown, marked) and its reason.

use std::collections::BTreeMap;

use crawlbench_stats::{
    CellFailure, CellStat, ControlCheck, Metric, Ranking, RatioToReference,
    bootstrap::{median, median_ci, paired_ratio, seed_of},
    rank::{Series, rank_groups},
};

use crate::runner::{Entry, RunRecord};

/// What [`summarize`] derives.
#[derive(Debug, Default)]
pub struct Summary {
    /// `cells[]`.
    pub cells: Vec<CellStat>,
    /// `rankings[]`.
    pub rankings: Vec<Ranking>,
    /// `failures[]`.
    pub failures: Vec<CellFailure>,
    /// `controls[]`.
    pub controls: Vec<ControlCheck>,
}

/// Summarises the measured (non-warm-up) runs of `records`; `rounds_of(workload)` is how many
/// rounds that workload was to run.
pub fn summarize(
    records: &[RunRecord],
    entries: &[Entry],
    reference: &str,
    rounds_of: &dyn Fn(&str) -> usize,
) -> Summary {
    let mut out = Summary::default();
    // (workload, parameter) in first-seen order.
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in records {
        let k = (r.workload.clone(), r.parameter.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (w, p) in &keys {
        let rounds = rounds_of(w);
        let runs: Vec<&RunRecord> = records
            .iter()
            .filter(|r| &r.workload == w && &r.parameter == p && r.round.is_some())
            .collect();
        // Per label: values by round for every metric; verified when every round verified.
        let mut values: BTreeMap<(&str, Metric), Vec<Option<f64>>> = BTreeMap::new();
        let mut verified: BTreeMap<&str, bool> = BTreeMap::new();
        for e in entries {
            let mine: Vec<&&RunRecord> = runs.iter().filter(|r| r.backend == e.label).collect();
            if mine.is_empty() {
                continue;
            }
            let ok = mine.len() == rounds && mine.iter().all(|r| r.verified);
            verified.insert(&e.label, ok);
            if !ok {
                out.failures.push(CellFailure {
                    workload: w.clone(),
                    parameter: p.clone(),
                    backend: e.label.clone(),
                    reason: failure_reason(&mine, rounds),
                });
            }
            for m in Metric::ALL {
                let mut by_round = vec![None; rounds];
                for r in &mine {
                    if let (Some(round), Some((_, v))) =
                        (r.round, r.metrics.iter().find(|(mm, _)| *mm == m))
                        && round < rounds
                    {
                        by_round[round] = Some(*v);
                    }
                }
                if by_round.iter().any(Option::is_some) {
                    values.insert((&e.label, m), by_round);
                }
            }
        }
        let seed = |parts: &[&str]| seed_of(&[&[w.as_str(), p.as_str()], parts].concat());
        for ((label, m), v) in &values {
            let present: Vec<f64> = v.iter().flatten().copied().collect();
            let ratio_to_reference = (*label != reference)
                .then(|| values.get(&(reference, *m)))
                .flatten()
                .and_then(|r| paired_ratio(r, v, seed(&[m.as_str(), reference, label])))
                .map(|r| RatioToReference {
                    reference: reference.to_owned(),
                    median: r.median,
                    ci95: r.ci95,
                });
            out.cells.push(CellStat {
                workload: w.clone(),
                parameter: p.clone(),
                backend: (*label).to_owned(),
                metric: *m,
                median: median(&present),
                ci95: median_ci(&present, seed(&[m.as_str(), label])),
                ratio_to_reference,
                rounds: present.len(),
                verified: verified.get(label).copied().unwrap_or(false),
                values: v.clone(),
            });
        }
        for m in Metric::RANKED {
            let series: Vec<Series<'_>> = entries
                .iter()
                .filter(|e| !e.control && verified.get(e.label.as_str()) == Some(&true))
                .filter_map(|e| {
                    values.get(&(e.label.as_str(), m)).map(|v| Series {
                        backend: &e.label,
                        values: v,
                    })
                })
                .collect();
            if series.len() >= 2 {
                out.rankings.push(Ranking {
                    workload: w.clone(),
                    parameter: p.clone(),
                    metric: m,
                    groups: rank_groups(&series, seed(&[m.as_str(), "rank"])),
                });
            }
            for control in entries.iter().filter(|e| e.control) {
                let original = entries
                    .iter()
                    .find(|e| !e.control && e.info.name == control.info.name);
                let (Some(original), Some(c)) =
                    (original, values.get(&(control.label.as_str(), m)))
                else {
                    continue;
                };
                if let Some(ratio) = values
                    .get(&(original.label.as_str(), m))
                    .and_then(|o| paired_ratio(o, c, seed(&[m.as_str(), "control"])))
                {
                    out.controls.push(ControlCheck {
                        workload: w.clone(),
                        parameter: p.clone(),
                        metric: m,
                        ratio,
                        tied: ratio.significant().is_none(),
                    });
                }
            }
        }
    }
    out
}

fn failure_reason(runs: &[&&RunRecord], rounds: usize) -> String {
    if let Some(e) = runs.iter().find_map(|r| r.error.as_deref()) {
        let failed = runs.iter().filter(|r| r.error.is_some()).count();
        return format!("{failed} of {rounds} runs failed: {e}");
    }
    let unverified: Vec<&&&RunRecord> = runs.iter().filter(|r| !r.verified).collect();
    if let Some(first) = unverified.first() {
        let diffs = first
            .summary
            .as_ref()
            .map(|s| {
                s.differences
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        return format!(
            "{} of {rounds} runs did not verify: {diffs}",
            unverified.len()
        );
    }
    format!("{} of {rounds} rounds ran", runs.len())
}

#[cfg(test)]
mod tests {
    use crawlbench_core::{BackendInfo, ConcurrencyModel, UpstreamStatus};

    use super::*;

    fn entry(label: &str, name: &str, control: bool) -> Entry {
        Entry {
            label: label.into(),
            info: BackendInfo {
                name: name.into(),
                runtime: "r".into(),
                client: "c".into(),
                model: ConcurrencyModel::AsyncMultiThread,
                threads: "1".into(),
                status: UpstreamStatus::Maintained,
                max_concurrency: None,
                tls: None,
                http: crawlbench_core::HttpVersion::Http1,
                connection_policies: vec![crawlbench_core::ConnectionPolicy::Reuse],
            },
            control,
        }
    }

    #[test]
    fn known_difference_ranks_apart_control_ties_unverified_is_not_ranked() {
        let entries = [
            entry("fast", "fast", false),
            entry("slow", "slow", false),
            entry("broken", "broken", false),
            entry("fast (A/A)", "fast", true),
        ];
        let rounds = 9;
        // The machine's speed swings ±30 % between rounds; every backend of a round shares it.
        let drift = [1.0, 1.3, 0.8, 1.1, 0.9, 1.25, 0.75, 1.05, 0.95];
        let jitter = [1.0, 1.01, 0.99, 1.005, 0.995, 1.0, 1.01, 0.99, 1.0];
        let mut records = Vec::new();
        for r in 0..rounds {
            for (i, (label, base)) in [
                ("fast", 1.0),
                ("slow", 1.2),
                ("broken", 0.5),
                ("fast (A/A)", 1.0),
            ]
            .iter()
            .enumerate()
            {
                let j = jitter[(r + i * 3) % rounds];
                records.push(RunRecord {
                    workload: "w".into(),
                    parameter: "p".into(),
                    backend: (*label).into(),
                    round: Some(r),
                    position: i,
                    metrics: vec![(Metric::WallSecs, base * drift[r] * j)],
                    verified: *label != "broken" || r != 4,
                    summary: None,
                    error: None,
                });
            }
        }
        let s = summarize(&records, &entries, "fast", &|_| rounds);
        let wall = s
            .rankings
            .iter()
            .find(|r| r.metric == Metric::WallSecs)
            .unwrap();
        assert_eq!(
            wall.groups,
            vec![vec!["fast".to_owned()], vec!["slow".to_owned()]]
        );
        let slow = s
            .cells
            .iter()
            .find(|c| c.backend == "slow" && c.metric == Metric::WallSecs)
            .unwrap();
        let r = slow.ratio_to_reference.as_ref().unwrap();
        assert!(r.ci95.lo > 1.1 && r.ci95.hi < 1.3, "{r:?}");
        // The absolute interval is wide (the drift), the paired one narrow: the point of pairing.
        assert!(slow.ci95.hi / slow.ci95.lo > r.ci95.hi / r.ci95.lo);
        let control = s
            .controls
            .iter()
            .find(|c| c.metric == Metric::WallSecs)
            .unwrap();
        assert!(control.tied, "{control:?}");
        assert_eq!(s.failures.len(), 1);
        assert_eq!(s.failures[0].backend, "broken");
        assert!(
            s.failures[0].reason.contains("1 of 9 runs did not verify"),
            "{:?}",
            s.failures
        );
        assert!(s.cells.iter().any(|c| c.backend == "broken" && !c.verified));
    }
}
