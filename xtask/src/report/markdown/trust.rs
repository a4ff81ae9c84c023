//! How far the report's claims can be trusted: the machine's noise set against the smallest
//! difference the report calls significant, and the A/A control (one backend entered twice,
//! which must tie with itself).

use std::fmt::Write as _;

use crawlbench_stats::{Metric, bootstrap::per_round_ratios, median, reproduce::chance_allowance};

use super::{code, escape, line, table};
use crate::report::{format, view::View};

/// A significant difference the report claims, and where.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Claim {
    /// `|ratio − 1|` of the claim's paired ratio.
    pub(crate) size: f64,
    pub(crate) what: String,
}

/// The noisiest probe figure: the larger of a probe's CV and its drift away from 1.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Noisiest {
    pub(crate) size: f64,
    pub(crate) what: String,
}

/// The noise set against the claims.
#[derive(Debug)]
pub(crate) struct Trust {
    pub(crate) smallest: Option<Claim>,
    pub(crate) noisiest: Option<Noisiest>,
    /// The A/A control missed more often than chance allows: (missed, checks, allowance).
    pub(crate) control_missed: Option<(usize, usize, usize)>,
}

impl Trust {
    pub(crate) fn of(view: &View<'_>) -> Self {
        let noisiest = view
            .report
            .noise
            .probes
            .iter()
            .flat_map(|p| {
                [
                    (
                        p.cv,
                        format!(
                            "{} varies with a CV of {}",
                            code(&p.name),
                            format::percent(p.cv)
                        ),
                    ),
                    (
                        (p.drift - 1.0).abs(),
                        format!(
                            "{} drifted by {} from start to end",
                            code(&p.name),
                            format::percent((p.drift - 1.0).abs())
                        ),
                    ),
                ]
            })
            .filter(|(size, _)| size.is_finite())
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(size, what)| Noisiest { size, what });
        let checks = view.report.counted_controls().count();
        let missed = view.report.counted_controls().filter(|c| !c.tied).count();
        let allowance = chance_allowance(checks);
        Self {
            smallest: smallest_claim(view),
            noisiest,
            control_missed: (missed > allowance).then_some((missed, checks, allowance)),
        }
    }

    /// True when the machine's noise is larger than the smallest claimed difference.
    fn noise_exceeds_claims(&self) -> bool {
        matches!((&self.noisiest, &self.smallest), (Some(n), Some(c)) if n.size > c.size)
    }

    /// Warnings for the top of the report.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = self.noise_warning();
        if let Some((missed, checks, allowance)) = self.control_missed {
            out.push(format!(
                "The A/A control did not tie in {missed} of {checks} checks, more than the \
                 {allowance} chance allows: the method calls equal backends different on this \
                 machine (see A/A control)."
            ));
        }
        out
    }

    fn noise_warning(&self) -> Vec<String> {
        match (&self.noisiest, &self.smallest) {
            (Some(n), Some(c)) if self.noise_exceeds_claims() => vec![format!(
                "The machine's noise is larger than the smallest difference this report calls \
                 significant: {} while the smallest claimed difference is {} ({}). Paired ratios \
                 within rounds cancel drift that hits a whole round alike, but treat differences \
                 of that size with caution (see Machine noise).",
                n.what,
                format::percent(c.size),
                c.what
            )],
            _ => Vec::new(),
        }
    }

    pub(crate) fn noise_section(&self, w: &mut String, view: &View<'_>) {
        let probes = &view.report.noise.probes;
        line(w, "## Machine noise");
        line(w, "");
        if probes.is_empty() {
            line(
                w,
                "No noise probe ran in this campaign: how steady the machine was is unknown.",
            );
            line(w, "");
            return;
        }
        line(
            w,
            "Fixed pieces of work timed several times at the start, between workloads and at the \
             end. CV: coefficient of variation over every repetition; drift: the median of the \
             last point ÷ the median of the first (1 = no drift).",
        );
        line(w, "");
        table(
            w,
            &[
                "probe",
                "what it times",
                "points",
                "CV",
                "drift end ÷ start",
                "median start → end",
            ],
            probes.iter().map(|p| {
                let med = |i: Option<&crawlbench_stats::ProbePoint>| {
                    i.map_or("—".to_owned(), |pt| {
                        format!("{} s", format::secs(median(&pt.secs)))
                    })
                };
                vec![
                    code(&p.name),
                    escape(&p.description),
                    p.points.len().to_string(),
                    format::percent(p.cv),
                    format::ratio(p.drift),
                    format!("{} → {}", med(p.points.first()), med(p.points.last())),
                ]
            }),
        );
        match &self.smallest {
            Some(c) => {
                let _ = writeln!(
                    w,
                    "The smallest difference this report calls significant is {} ({}).\n",
                    format::percent(c.size),
                    c.what
                );
            }
            None => line(w, "This report calls no difference significant.\n"),
        }
        if self.noise_exceeds_claims() {
            for warning in self.noise_warning() {
                let _ = writeln!(w, "> **⚠ Noise warning.** {}\n", escape(&warning));
            }
        }
    }
}

/// The smallest significant difference the report claims, in a ranked metric: over every
/// verified cell whose paired ratio to the reference excludes 1 (the A/A control's own entry
/// aside: its section judges it), and every boundary between two rank groups (the next group's
/// leader against this group's leader, per-round ratios), the smallest `|ratio − 1|`.
fn smallest_claim(view: &View<'_>) -> Option<Claim> {
    let r = view.report;
    let control = |label: &str| view.backends.iter().any(|b| b.control && b.label == label);
    let claimed = |c: &&crawlbench_stats::CellStat| {
        c.verified && Metric::RANKED.contains(&c.metric) && !control(&c.backend)
    };
    let from_reference = r.cells.iter().filter(claimed).filter_map(|c| {
        let ratio = c.ratio_to_reference.as_ref()?;
        let significant = ratio.significant().is_some();
        significant.then(|| Claim {
            size: (ratio.median - 1.0).abs(),
            what: format!(
                "{} {} = {}, {}: {} vs {}",
                c.workload,
                param_symbol(&c.workload),
                c.parameter,
                format::heading(c.metric),
                code(&c.backend),
                code(&ratio.reference)
            ),
        })
    });
    let from_groups = r.rankings.iter().flat_map(|rk| {
        rk.groups.windows(2).filter_map(move |pair| {
            let (a, b) = (pair[0].first()?, pair[1].first()?);
            let va = &view.cell(&rk.workload, &rk.parameter, a, rk.metric)?.values;
            let vb = &view.cell(&rk.workload, &rk.parameter, b, rk.metric)?.values;
            let m = median(&per_round_ratios(va, vb));
            m.is_finite().then(|| Claim {
                size: (m - 1.0).abs(),
                what: format!(
                    "{} {} = {}, {}: {} ranked ahead of {}",
                    rk.workload,
                    param_symbol(&rk.workload),
                    rk.parameter,
                    format::heading(rk.metric),
                    code(a),
                    code(b)
                ),
            })
        })
    });
    from_reference
        .chain(from_groups)
        .min_by(|a, b| a.size.total_cmp(&b.size))
}

fn param_symbol(workload: &str) -> &'static str {
    crate::report::workloads::presentation(workload).parameter
}

pub(super) fn control_section(w: &mut String, view: &View<'_>) {
    let r = view.report;
    let control = &r.campaign.control;
    line(w, "## A/A control");
    line(w, "");
    let _ = writeln!(
        w,
        "{} ran a second time in every round as {}: the same code, so the two must tie — the \
         95 % interval of their paired ratio must include 1.\n",
        code(&control.backend),
        code(&control.label)
    );
    let checks = &r.controls;
    if checks.is_empty() {
        line(
            w,
            "**No A/A check was made in this campaign**: it cannot show that it tells equals apart from differences.",
        );
        line(w, "");
        return;
    }
    let all = checks;
    let counted: Vec<_> = r.counted_controls().collect();
    let missed = counted.iter().filter(|c| !c.tied).count();
    let allowance = chance_allowance(counted.len());
    let checks = &counted;
    let verdict = if missed == 0 {
        format!("**The control tied in all {} checks.**", checks.len())
    } else if missed <= allowance {
        format!(
            "**The control did not tie in {missed} of {} checks** — within what chance allows \
             ({allowance} of {} 95 % intervals may miss by chance alone).",
            checks.len(),
            checks.len()
        )
    } else {
        format!(
            "**⚠ The control did not tie in {missed} of {} checks — more than chance allows \
             ({allowance}).** The method is calling equal backends different on this machine: \
             do not trust differences of the size the control shows.",
            checks.len()
        )
    };
    line(w, &verdict);
    line(w, "");
    let uncounted = all.len() - counted.len();
    if uncounted > 0 {
        let missed_there = all.iter().filter(|c| !c.tied).count() - missed;
        line(
            w,
            &format!(
                "{uncounted} more checks, of cells with fewer than {} rounds, are shown below \
                 but not counted ({missed_there} of them did not tie): with n rounds, n paired \
                 ratios of equal things all fall on one side of 1 with probability 2 ÷ 2ⁿ (25 % \
                 for 3 rounds), so their intervals are not 95 % ones. Differences in those cells \
                 are read from their size, not from their intervals.",
                crawlbench_stats::MIN_ROUNDS_FOR_95
            ),
        );
        line(w, "");
    }
    let checks = all;
    // One row per (workload, parameter), one column per metric: every check, compactly.
    let metrics: Vec<Metric> = Metric::ALL
        .into_iter()
        .filter(|m| checks.iter().any(|c| c.metric == *m))
        .collect();
    let mut cells: Vec<(&str, &str)> = Vec::new();
    for c in checks {
        if !cells.contains(&(c.workload.as_str(), c.parameter.as_str())) {
            cells.push((&c.workload, &c.parameter));
        }
    }
    line(
        w,
        "Each entry: control ÷ original, the median of the per-round ratios [95 % interval]; \
         **NO** where the interval excludes 1.",
    );
    line(w, "");
    let mut header = vec!["workload".to_owned(), "parameter".to_owned()];
    header.extend(metrics.iter().map(|m| format::heading(*m).to_owned()));
    table(
        w,
        &header,
        cells.iter().map(|(wl, p)| {
            let mut row = vec![escape(wl), escape(p)];
            row.extend(metrics.iter().map(|m| {
                match checks
                    .iter()
                    .find(|c| c.workload == *wl && c.parameter == *p && c.metric == *m)
                {
                    None => "—".to_owned(),
                    Some(c) if c.tied => format::times(c.ratio.median, c.ratio.ci95),
                    Some(c) => format!("**NO** {}", format::times(c.ratio.median, c.ratio.ci95)),
                }
            }));
            row
        }),
    );
}
