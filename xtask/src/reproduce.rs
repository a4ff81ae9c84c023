//! `cargo xtask reproduce`: the campaign run twice on one commit and one machine, and the
//! check that no pair of backends is significantly ordered one way in the first and the other
//! way in the second (`crawlbench_stats::reproduce::compare`), that the A/A control misses no
//! more often than chance allows, and that the instruction counts agree within 1 %.
//!
//! [`check`] is the pure part — two reports in, the verdict, its reasons and `REPRODUCE.md`
//! out — so tests run it on fixtures without processes.

use std::{fmt::Write as _, path::Path};

use anyhow::{Context, Result};
use crawlbench_stats::{
    CampaignReport,
    reproduce::{INSTRUCTION_TOLERANCE, Reproduction, compare},
};

use crate::{
    Exit,
    args::{self, Flag, Profile},
    campaign::{self, Finished, REPORT_JSON, Spec},
    report::{
        self, REPRODUCE_JSON, format,
        markdown::{code, escape, line, table},
    },
};

/// The first campaign's seed when `--seed` is not given (the second uses the next one): fixed,
/// so two machines running `cargo xtask reproduce` run the same orders.
pub(crate) const DEFAULT_SEED: u64 = 20_261_124;

/// `REPRODUCE.md`'s file name.
pub(crate) const REPRODUCE_MD: &str = "REPRODUCE.md";

/// The verdict on two campaigns.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) reproduction: Reproduction,
    /// Why they do not agree (empty when they do).
    pub(crate) reasons: Vec<String>,
    /// `REPRODUCE.md`, also printed.
    pub(crate) markdown: String,
}

impl Checked {
    /// 0 when the campaigns agree, 1 when not.
    pub(crate) fn exit_code(&self) -> u8 {
        u8::from(!self.reproduction.agree)
    }
}

/// Compares two campaigns and renders the result.
pub(crate) fn check(first: &CampaignReport, second: &CampaignReport) -> Checked {
    let reproduction = compare(first, second);
    let reasons = reasons(&reproduction);
    let markdown = render(&reproduction, &reasons, [first, second]);
    Checked {
        reproduction,
        reasons,
        markdown,
    }
}

fn reasons(r: &Reproduction) -> Vec<String> {
    let mut out: Vec<String> = r
        .inversions
        .iter()
        .map(|i| {
            format!(
                "inversion: {} {} {}: {} ÷ {} is {} in the first campaign, {} in the second",
                i.workload,
                i.parameter,
                format::heading(i.metric),
                i.b,
                i.a,
                format::times(i.first.median, i.first.ci95),
                format::times(i.second.median, i.second.ci95)
            )
        })
        .collect();
    if r.control_not_tied.len() > r.control_allowance {
        out.push(format!(
            "the A/A control did not tie in {} of {} checks; chance allows {}",
            r.control_not_tied.len(),
            r.control_checks,
            r.control_allowance
        ));
    }
    for i in r
        .instructions
        .iter()
        .filter(|i| i.relative_difference > INSTRUCTION_TOLERANCE)
    {
        out.push(format!(
            "the instruction counts of {} differ by {} (allowed: {})",
            i.backend,
            format::percent(i.relative_difference),
            format::percent(INSTRUCTION_TOLERANCE)
        ));
    }
    if !r.agree && out.is_empty() {
        out.push("the reproduction check says the campaigns disagree (see reproduce.json)".into());
    }
    out
}

fn render(r: &Reproduction, reasons: &[String], reports: [&CampaignReport; 2]) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Reproduction check — {} profile\n", r.profile);
    line(
        w,
        "The same campaign run twice on one commit and one machine, with different seeds (so \
         different run orders). For every workload, parameter and metric, no pair of verified \
         backends may be significantly ordered one way in the first campaign and the other way \
         in the second.",
    );
    line(w, "");
    let info = |f: &dyn Fn(&CampaignReport) -> String| reports.map(f).to_vec();
    let rows = [
        ("commit", info(&|c| code(&c.environment.git_commit))),
        ("seed", info(&|c| c.campaign.seed.to_string())),
        ("rounds", info(&|c| c.campaign.rounds.to_string())),
        ("started", info(&|c| escape(&c.campaign.started))),
        (
            "duration s",
            info(&|c| format::num(c.campaign.duration_secs)),
        ),
    ];
    table(
        w,
        &["", "first", "second"],
        rows.into_iter().map(|(k, v)| {
            let mut row = vec![k.to_owned()];
            row.extend(v);
            row
        }),
    );
    if r.agree {
        line(
            w,
            "**The two campaigns agree**: no significant inversion, the A/A control within what \
             chance allows, instruction counts within 1 %.",
        );
        line(w, "");
    } else {
        line(w, "**The two campaigns do not agree:**");
        line(w, "");
        for reason in reasons {
            let _ = writeln!(w, "- {}", escape(reason));
        }
        line(w, "");
    }
    agreement(w, r);
    inversions(w, r);
    control(w, r);
    instructions(w, r, reports);
    out
}

fn agreement(w: &mut String, r: &Reproduction) {
    line(w, "## Agreement");
    line(w, "");
    line(
        w,
        "Pairs of verified backends: *same* — significantly ordered the same way in both; *one \
         only* — significant in one, tied in the other (allowed: an interval near 1 may land \
         either side); *tied* — tied in both; *inverted* — significant in both, opposite ways \
         (not allowed).",
    );
    line(w, "");
    let mut total = [0usize; 5];
    let mut rows: Vec<Vec<String>> = r
        .agreement
        .iter()
        .map(|a| {
            let counts = [a.pairs, a.same, a.one_only, a.tied, a.inverted];
            for (t, c) in total.iter_mut().zip(counts) {
                *t += c;
            }
            let mut row = vec![
                escape(&a.workload),
                escape(&a.parameter),
                format::heading(a.metric).to_owned(),
            ];
            row.extend(counts.iter().map(|c| c.to_string()));
            if a.inverted > 0 {
                row[7] = format!("**{}**", a.inverted);
            }
            row
        })
        .collect();
    let mut sum = vec!["**all**".to_owned(), String::new(), String::new()];
    sum.extend(total.iter().map(|c| format!("**{c}**")));
    rows.push(sum);
    table(
        w,
        &[
            "workload",
            "parameter",
            "metric",
            "pairs",
            "same",
            "one only",
            "tied",
            "inverted",
        ],
        rows,
    );
}

fn inversions(w: &mut String, r: &Reproduction) {
    line(w, "## Inversions");
    line(w, "");
    if r.inversions.is_empty() {
        line(w, "None.");
        line(w, "");
        return;
    }
    table(
        w,
        &[
            "workload",
            "parameter",
            "metric",
            "a",
            "b",
            "first: b ÷ a [95 % CI]",
            "second: b ÷ a [95 % CI]",
        ],
        r.inversions.iter().map(|i| {
            vec![
                escape(&i.workload),
                escape(&i.parameter),
                format::heading(i.metric).to_owned(),
                code(&i.a),
                code(&i.b),
                format::times(i.first.median, i.first.ci95),
                format::times(i.second.median, i.second.ci95),
            ]
        }),
    );
}

fn control(w: &mut String, r: &Reproduction) {
    line(w, "## A/A control");
    line(w, "");
    let missed = r.control_not_tied.len();
    let verdict = if missed <= r.control_allowance {
        "within"
    } else {
        "**more than**"
    };
    let _ = writeln!(
        w,
        "{} checks over both campaigns; {missed} did not tie — {verdict} the {} that chance \
         alone allows at 95 %.\n",
        r.control_checks, r.control_allowance
    );
    for c in &r.control_not_tied {
        let _ = writeln!(w, "- {}", escape(c));
    }
    if missed > 0 {
        line(w, "");
    }
}

fn instructions(w: &mut String, r: &Reproduction, reports: [&CampaignReport; 2]) {
    line(w, "## Instruction counts");
    line(w, "");
    if r.instructions.is_empty() {
        line(
            w,
            "No backend was counted in both campaigns (valgrind missing, or `--no-callgrind`): \
             nothing to compare.",
        );
        line(w, "");
    } else {
        let _ = writeln!(
            w,
            "Instructions per request under callgrind; they do not drift with the machine, so \
             the two campaigns must agree within {}.\n",
            format::percent(INSTRUCTION_TOLERANCE)
        );
        table(
            w,
            &[
                "backend",
                "first",
                "second",
                "difference",
                "within tolerance",
            ],
            r.instructions.iter().map(|i| {
                let ok = i.relative_difference <= INSTRUCTION_TOLERANCE;
                vec![
                    code(&i.backend),
                    format::count(i.first),
                    format::count(i.second),
                    format::percent(i.relative_difference),
                    if ok { "yes".into() } else { "**NO**".into() },
                ]
            }),
        );
    }
    let compared = |b: &str| r.instructions.iter().any(|i| i.backend == b);
    let mut one_sided: Vec<String> = Vec::new();
    for (n, report) in reports.iter().enumerate() {
        for i in &report.instructions {
            if !compared(&i.backend) {
                let why = i
                    .failure
                    .as_deref()
                    .unwrap_or("counted in one campaign only");
                one_sided.push(format!(
                    "- campaign {}: {} — {}",
                    n + 1,
                    code(&i.backend),
                    escape(why)
                ));
            }
        }
    }
    if !one_sided.is_empty() {
        line(w, "Not compared:");
        line(w, "");
        for s in &one_sided {
            line(w, s);
        }
        line(w, "");
    }
}

/// Writes `reproduce.json` and `REPRODUCE.md` into `dir`.
fn write(dir: &Path, checked: &Checked) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = dir.join(REPRODUCE_JSON);
    std::fs::write(
        &json,
        serde_json::to_string_pretty(&checked.reproduction)? + "\n",
    )
    .with_context(|| format!("cannot write {}", json.display()))?;
    let md = dir.join(REPRODUCE_MD);
    std::fs::write(&md, &checked.markdown)
        .with_context(|| format!("cannot write {}", md.display()))?;
    println!("reproduce: wrote {} and {}", json.display(), md.display());
    Ok(())
}

/// `cargo xtask reproduce [--profile quick|full] [--seed N] [--rounds R] [--publish]
/// [-- CAMPAIGN-ARGS…]`.
pub(crate) fn reproduce_command(root: &Path, args: &[String]) -> Result<()> {
    let opts = args::parse(
        "reproduce",
        args,
        &[Flag::Profile, Flag::Seed, Flag::Rounds, Flag::Publish],
    )?;
    let binary = campaign::build_release(root)?;
    let base = campaign::data_dir(root).join("reproduce");
    run_twice(&binary, &opts, &base, &root.join("results"))
}

/// Runs the two campaigns with `binary` into `base/first` and `base/second`, checks them,
/// writes the verdict into `base` and, with `--publish` and agreement, into `results`.
fn run_twice(binary: &Path, opts: &args::Options, base: &Path, results: &Path) -> Result<()> {
    let seed = opts.seed.unwrap_or(DEFAULT_SEED);
    let produce = "cargo xtask reproduce";
    let mut reports = Vec::new();
    for (i, name) in ["first", "second"].into_iter().enumerate() {
        let dir = base.join(name);
        let spec = Spec {
            profile: opts.profile.unwrap_or(Profile::Quick),
            seed: Some(seed.wrapping_add(i as u64)),
            rounds: opts.rounds,
            extra: &opts.campaign_args,
        };
        let finished = campaign::run(binary, &spec, &dir)?;
        report::print_collated(&report::collate(&dir, produce)?);
        if finished == Finished::Interrupted {
            return Err(campaign::interrupted(&format!(
                "no comparison was made; the partial report is in {}",
                dir.display()
            )));
        }
        reports.push(report::read_report(&dir.join(REPORT_JSON), produce)?);
    }
    let checked = check(&reports[0], &reports[1]);
    println!("\n{}", checked.markdown);
    write(base, &checked)?;
    if opts.publish {
        if checked.reproduction.agree {
            report::publish_report(&base.join("first"), results)?;
            write(results, &checked)?;
            report::print_collated(&report::collate(
                results,
                "cargo xtask reproduce --publish",
            )?);
        } else {
            println!("reproduce: not published — the campaigns do not agree");
        }
    }
    if checked.exit_code() == 0 {
        println!("reproduce: the two campaigns agree");
        Ok(())
    } else {
        Err(Exit {
            code: checked.exit_code(),
            message: format!(
                "the two campaigns do not agree:\n  - {}",
                checked.reasons.join("\n  - ")
            ),
        }
        .into())
    }
}

#[cfg(test)]
pub(crate) mod tests;
