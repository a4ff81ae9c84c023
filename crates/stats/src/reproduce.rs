//! The reproduction check: two complete campaigns of one commit on one machine must not order
//! any pair of backends significantly one way in the first and the other way in the second.
//!
//! For every (workload, parameter, metric) present in both, every pair of verified backends is
//! classified: significant the same way in both, significant in one only, tied in both, or
//! *inverted* (significant in both, opposite ways). Any inversion fails the check. The A/A
//! control must tie in both, and the instruction counts (which do not drift) must agree within
//! 1 %.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{
    bootstrap::{Ratio, paired_ratio, seed_of},
    contract::{CampaignReport, Metric},
};

/// Version of the `reproduce.json` layout.
pub const REPRODUCE_SCHEMA: u32 = 1;

/// Largest relative difference allowed between the two campaigns' instruction counts.
pub const INSTRUCTION_TOLERANCE: f64 = 0.01;

/// The whole of `reproduce.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reproduction {
    /// [`REPRODUCE_SCHEMA`].
    pub schema: u32,
    /// `quick` or `full`.
    pub profile: String,
    /// The two campaigns: commit, start, duration.
    pub campaigns: [CampaignId; 2],
    /// Per (workload, parameter, metric): how the pairs compared.
    pub agreement: Vec<AgreementRow>,
    /// Every significant inversion (the check fails when there is one).
    pub inversions: Vec<Inversion>,
    /// The A/A control's verdicts in each campaign: (workload, parameter, metric) where it did
    /// not tie.
    pub control_not_tied: Vec<String>,
    /// A/A checks made over both campaigns.
    pub control_checks: usize,
    /// How many of them may miss by chance ([`chance_allowance`]); more fails the check.
    pub control_allowance: usize,
    /// Instruction counts of both campaigns.
    pub instructions: Vec<InstructionAgreement>,
    /// True when there is no inversion, the control missed no more often than chance allows
    /// and the instruction counts agree.
    pub agree: bool,
}

/// Which campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignId {
    /// Commit.
    pub git_commit: String,
    /// Start.
    pub started: String,
    /// Wall seconds.
    pub duration_secs: f64,
}

/// Pair verdicts for one (workload, parameter, metric).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementRow {
    /// Workload.
    pub workload: String,
    /// Parameter.
    pub parameter: String,
    /// Metric.
    pub metric: Metric,
    /// Pairs compared.
    pub pairs: usize,
    /// Significant the same way in both.
    pub same: usize,
    /// Significant in one campaign, tied in the other.
    pub one_only: usize,
    /// Tied in both.
    pub tied: usize,
    /// Significant in both, opposite ways.
    pub inverted: usize,
}

/// A pair ordered one way in the first campaign and the other way in the second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inversion {
    /// Workload.
    pub workload: String,
    /// Parameter.
    pub parameter: String,
    /// Metric.
    pub metric: Metric,
    /// Backend a.
    pub a: String,
    /// Backend b.
    pub b: String,
    /// b ÷ a in the first campaign.
    pub first: Ratio,
    /// b ÷ a in the second.
    pub second: Ratio,
}

/// One backend's instruction counts in both campaigns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstructionAgreement {
    /// Backend.
    pub backend: String,
    /// Instructions per request, first campaign.
    pub first: f64,
    /// Second campaign.
    pub second: f64,
    /// |second − first| ÷ first.
    pub relative_difference: f64,
}

fn pair_ratio(r: &CampaignReport, w: &str, p: &str, m: Metric, a: &str, b: &str) -> Option<Ratio> {
    let ca = r.cell(w, p, a, m).filter(|c| c.verified)?;
    let cb = r.cell(w, p, b, m).filter(|c| c.verified)?;
    paired_ratio(&ca.values, &cb.values, seed_of(&[w, p, m.as_str(), a, b]))
}

/// Compares two campaigns.
pub fn compare(first: &CampaignReport, second: &CampaignReport) -> Reproduction {
    let keys: BTreeSet<(String, String, Metric)> = first
        .cells
        .iter()
        .map(|c| (c.workload.clone(), c.parameter.clone(), c.metric))
        .filter(|(w, p, m)| {
            second
                .cells
                .iter()
                .any(|c| &c.workload == w && &c.parameter == p && c.metric == *m)
        })
        .collect();
    let mut agreement = Vec::new();
    let mut inversions = Vec::new();
    for (w, p, m) in keys {
        let backends: BTreeSet<&str> = first
            .cells
            .iter()
            .filter(|c| c.workload == w && c.parameter == p && c.metric == m && c.verified)
            .map(|c| c.backend.as_str())
            .collect();
        let backends: Vec<&str> = backends.into_iter().collect();
        let mut row = AgreementRow {
            workload: w.clone(),
            parameter: p.clone(),
            metric: m,
            pairs: 0,
            same: 0,
            one_only: 0,
            tied: 0,
            inverted: 0,
        };
        for (i, a) in backends.iter().enumerate() {
            for b in &backends[i + 1..] {
                let (Some(r1), Some(r2)) = (
                    pair_ratio(first, &w, &p, m, a, b),
                    pair_ratio(second, &w, &p, m, a, b),
                ) else {
                    continue;
                };
                row.pairs += 1;
                match (r1.significant(), r2.significant()) {
                    (None, None) => row.tied += 1,
                    (Some(x), Some(y)) if x == y => row.same += 1,
                    (Some(_), Some(_)) => {
                        row.inverted += 1;
                        inversions.push(Inversion {
                            workload: w.clone(),
                            parameter: p.clone(),
                            metric: m,
                            a: (*a).to_owned(),
                            b: (*b).to_owned(),
                            first: r1,
                            second: r2,
                        });
                    }
                    _ => row.one_only += 1,
                }
            }
        }
        agreement.push(row);
    }
    let mut control_not_tied = Vec::new();
    for (n, r) in [first, second].iter().enumerate() {
        for c in r.counted_controls().filter(|c| !c.tied) {
            control_not_tied.push(format!(
                "campaign {}: {}/{} {} (ratio {:.3}, 95 % CI {:.3}–{:.3})",
                n + 1,
                c.workload,
                c.parameter,
                c.metric.as_str(),
                c.ratio.median,
                c.ratio.ci95.lo,
                c.ratio.ci95.hi
            ));
        }
    }
    let instructions: Vec<InstructionAgreement> = first
        .instructions
        .iter()
        .filter(|i| i.failure.is_none())
        .filter_map(|i| {
            let j = second
                .instructions
                .iter()
                .find(|j| j.backend == i.backend && j.failure.is_none())?;
            Some(InstructionAgreement {
                backend: i.backend.clone(),
                first: i.per_request,
                second: j.per_request,
                relative_difference: (j.per_request - i.per_request).abs() / i.per_request,
            })
        })
        .collect();
    let checks = first.counted_controls().count() + second.counted_controls().count();
    let control_allowance = chance_allowance(checks);
    let agree = inversions.is_empty()
        && control_not_tied.len() <= control_allowance
        && instructions
            .iter()
            .all(|i| i.relative_difference <= INSTRUCTION_TOLERANCE);
    let id = |r: &CampaignReport| CampaignId {
        git_commit: r.environment.git_commit.clone(),
        started: r.campaign.started.clone(),
        duration_secs: r.campaign.duration_secs,
    };
    Reproduction {
        schema: REPRODUCE_SCHEMA,
        profile: first.profile.clone(),
        campaigns: [id(first), id(second)],
        agreement,
        inversions,
        control_not_tied,
        control_checks: checks,
        control_allowance,
        instructions,
        agree,
    }
}

/// How many of `checks` independent 95 % intervals may exclude the truth by chance alone: the
/// smallest k with P(Binomial(checks, 0.05) > k) < 1 %. An A/A control checked on many cells and
/// metrics will miss a few by design; more than this says the method, not luck, is off.
pub fn chance_allowance(checks: usize) -> usize {
    let p: f64 = 0.05;
    let n = checks as i32;
    let mut cumulative = 0.0;
    let mut binom = (1.0 - p).powi(n); // P(X = 0)
    for k in 0..=checks {
        cumulative += binom;
        if 1.0 - cumulative < 0.01 {
            return k;
        }
        let k1 = k as f64 + 1.0;
        binom *= (f64::from(n) - k as f64) / k1 * p / (1.0 - p);
    }
    checks
}

#[cfg(test)]
mod tests {
    #[test]
    fn chance_allowance_grows_with_checks() {
        assert_eq!(super::chance_allowance(1), 1);
        assert_eq!(super::chance_allowance(0), 0);
        let a = super::chance_allowance(100);
        assert!((9..=12).contains(&a), "{a}");
    }
}
