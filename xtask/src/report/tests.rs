//! Tests of the whole collation on fixture files: ranking, ratios and derived metrics in the
//! tables, failure and unverified rows, the quick banner, results.json, the charts, the change
//! column, the error paths, and `compare`.

use std::fs;

use crawlbench_core::ConcurrencyModel;

use super::{
    Profile, ReportArgs, bench_command, collate, compare,
    fixtures::{Cell, Fixture, run},
    parse_report_args,
    results::{RESULTS_SCHEMA, Results},
};

/// The rows (cells split on `|`) of the table under `heading`, header and separator excluded.
fn table(report: &str, heading: &str) -> Vec<Vec<String>> {
    let start = report
        .find(&format!("{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?} in:\n{report}"));
    report[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The column index of `name` in the table under `heading`.
fn column(report: &str, heading: &str, name: &str) -> usize {
    let start = report.find(&format!("{heading}\n")).unwrap();
    let header = report[start..]
        .lines()
        .find(|l| l.starts_with('|'))
        .unwrap();
    header
        .trim_matches('|')
        .split(" | ")
        .position(|c| c.trim() == name)
        .unwrap_or_else(|| panic!("no column {name:?} in {header}"))
}

fn latency_fixture(tag: &str) -> Fixture {
    let f = Fixture::new(tag);
    f.environment("quick");
    f.order(
        "latency-list",
        Some(42),
        &["a-threads", "b-async", "c-slow", "d-wrong", "e-refuses"],
    );
    let ideal = Some(0.5);
    f.cell(&Cell {
        model: ConcurrencyModel::Threads,
        ideal_secs: ideal,
        ..Cell::new("latency-list", "a-threads", "2000", 0.60)
    });
    f.cell(&Cell {
        ideal_secs: ideal,
        order: 1,
        ..Cell::new("latency-list", "b-async", "2000", 0.55)
    });
    f.cell(&Cell {
        ideal_secs: ideal,
        order: 2,
        ..Cell::new("latency-list", "c-slow", "2000", 0.75)
    });
    // Fastest of all, but one run's results were wrong: never ranked.
    let mut wrong = Cell::new("latency-list", "d-wrong", "2000", 0.40);
    wrong.ideal_secs = ideal;
    wrong.order = 3;
    wrong.runs[1].verified = Some(false);
    wrong.runs[1].differences = vec!["/site/7.html: expected 200, got timeout".into()];
    f.cell(&wrong);
    f.cell(&Cell {
        order: 4,
        ..Cell::failed(
            "latency-list",
            "e-refuses",
            "2000",
            "backend e-refuses cannot run this job: concurrency 2000 is above its limit of 1024",
        )
    });
    f
}

#[test]
fn ranks_verified_cells_by_median_and_keeps_unverified_and_failed_rows() {
    let f = latency_fixture("rank");
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    let report = fs::read_to_string(&collated.report).unwrap();
    let heading = "### N = 2000";
    let rows = table(&report, heading);
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        [
            "`b-async`",
            "`a-threads`",
            "`c-slow`",
            "`d-wrong`",
            "`e-refuses`"
        ]
    );
    let ranks: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ranks, ["1", "2", "3", "*unverified*", "failed"]);

    let best = column(&report, heading, "× best");
    assert_eq!(rows[0][best], "×1.00");
    assert_eq!(rows[1][best], "×1.09"); // 0.60 / 0.55
    assert_eq!(rows[2][best], "×1.36"); // 0.75 / 0.55
    assert_eq!(rows[3][best], "—");

    let eff = column(&report, heading, "efficiency (ideal / wall)");
    assert_eq!(rows[0][eff], "0.91"); // 0.5 / 0.55
    assert_eq!(rows[1][eff], "0.83"); // 0.5 / 0.60
    assert_eq!(rows[2][eff], "0.67"); // 0.5 / 0.75

    let wall = column(&report, heading, "wall s, median [CI]");
    assert_eq!(rows[0][wall], "0.5500 [0.5390, 0.5610]");
    let verified = column(&report, heading, "verified");
    assert_eq!(rows[0][verified], "yes");
    assert_eq!(rows[3][verified], "NO");
    assert_eq!(rows[1][column(&report, heading, "model")], "threads");

    assert!(
        rows[4][wall].contains("concurrency 2000 is above its limit of 1024"),
        "{:?}",
        rows[4]
    );
    assert!(report.contains("`d-wrong` is not ranked: 1 of 3 runs failed verification"));
    assert!(report.contains("expected 200, got timeout"));

    let cells = &collated.results.workloads[0].cells;
    let b = cells.iter().find(|c| c.backend.name == "b-async").unwrap();
    assert_eq!((b.rank, b.ratio_to_best), (Some(1), Some(1.0)));
    assert!((b.metrics.efficiency.unwrap() - 0.5 / 0.55).abs() < 1e-12);
    let d = cells.iter().find(|c| c.backend.name == "d-wrong").unwrap();
    assert_eq!((d.rank, d.verified), (None, false));
    let e = cells
        .iter()
        .find(|c| c.backend.name == "e-refuses")
        .unwrap();
    assert!(e.failure.is_some() && e.wall.is_none() && e.rank.is_none());
}

#[test]
fn quick_profile_gets_a_banner_and_the_environment_is_shown() {
    let f = latency_fixture("banner");
    let report = fs::read_to_string(collate(&f.target(), &f.out(), None).unwrap().report).unwrap();
    assert!(report.contains("**⚠ Quick profile — not for publication.**"));
    for expected in [
        "Test CPU 3000 (2 logical cores)",
        "8.0 GiB",
        "Linux 6.1.0",
        "rustc 1.95.0",
        "`0123abc`",
        "shuffled per workload with seed 42",
        "client and origin share the machine's 2 cores",
        "`tokio 1.48.0`",
        "Run order: `a-threads` → `b-async` → `c-slow` → `d-wrong` → `e-refuses` (shuffled with seed 42)",
        "![latency-list: median wall time at N = 2000 (quick profile)](latency-list.svg)",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }

    let full = Fixture::new("full");
    full.environment("full");
    full.cell(&Cell {
        profile: "full".into(),
        ..Cell::new("throughput", "a", "1000", 1.0)
    });
    let report =
        fs::read_to_string(collate(&full.target(), &full.out(), None).unwrap().report).unwrap();
    assert!(!report.contains("not for publication"), "{report}");
}

#[test]
fn results_json_round_trips_with_its_schema_and_the_charts_are_written() {
    let f = latency_fixture("json");
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    let text = fs::read_to_string(&collated.json).unwrap();
    assert!(
        text.starts_with(&format!("{{\n  \"schema\": {RESULTS_SCHEMA},")),
        "{}",
        &text[..80]
    );
    let read = Results::read(&collated.json).unwrap();
    assert_eq!(read, collated.results);
    assert_eq!(read.schema, RESULTS_SCHEMA);
    assert_eq!(read.environment.as_ref().unwrap().order_seed, Some(42));
    assert_eq!(
        read.workloads[0].order.as_ref().unwrap().order[0],
        "a-threads"
    );

    assert_eq!(read.charts.len(), 1);
    let svg = fs::read_to_string(f.out().join(&read.charts[0].file)).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
    assert!(svg.contains("latency-list: median wall time at N = 2000 (quick profile)"));
    assert!(svg.contains("median wall time of one run (s)"));
    assert!(svg.contains("1. b-async") && svg.contains("d-wrong (unverified)"));
    assert!(svg.contains("e-refuses (failed)"));
    assert!(
        svg.contains(r##"fill="#FFFFFF""##),
        "opaque white background"
    );
}

#[test]
fn throughput_reports_rates_cpu_origin_cpu_and_errors_from_the_runs() {
    let f = Fixture::new("throughput");
    f.environment("quick");
    let mut cell = Cell::new("throughput", "tokio-x", "1000", 0.5);
    for (i, r) in cell.runs.iter_mut().enumerate() {
        r.requests = 1000 + 10 * i as u64; // median 1010
        r.cpu_us_per_request = [100.0, 300.0, 200.0][i]; // median 200
        r.origin_cpu_secs = Some([0.2, 0.4, 0.3][i]); // median 0.3
        r.errors.insert("timeout".into(), [12, 14, 13][i]);
        r.errors.insert("reset".into(), 3);
    }
    f.cell(&cell);
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    let report = fs::read_to_string(&collated.report).unwrap();
    let heading = "### N = 1000";
    let row = &table(&report, heading)[0];
    assert_eq!(row[column(&report, heading, "req/s")], "2020"); // 1010 / 0.5
    assert_eq!(row[column(&report, heading, "CPU µs/req")], "200");
    assert_eq!(row[column(&report, heading, "origin CPU s")], "0.300");
    assert_eq!(row[column(&report, heading, "CPU s")], "0.150");
    assert_eq!(row[column(&report, heading, "peak RSS MiB")], "20.0");
    assert_eq!(row[column(&report, heading, "p50 ms")], "10.0");
    assert_eq!(row[column(&report, heading, "p99 ms")], "30.0");
    assert_eq!(
        row[column(&report, heading, "errors")],
        "reset 3, timeout 12–14"
    );
    let m = &collated.results.workloads[0].cells[0].metrics;
    assert_eq!(m.requests_per_sec, Some(2020.0));
}

#[test]
fn sweep_and_seed_replica_get_line_charts_slopes_and_failures_per_parameter() {
    let f = Fixture::new("sweep");
    f.environment("full");
    for (c, a_wall, b_wall) in [(16, 2.0, 1.0), (128, 1.0, 0.5), (10000, 0.8, 0.25)] {
        let p = c.to_string();
        f.cell(&Cell {
            profile: "full".into(),
            concurrency: c,
            model: ConcurrencyModel::Processes,
            ..Cell::new("concurrency-sweep", "procs", &p, a_wall)
        });
        f.cell(&Cell {
            profile: "full".into(),
            concurrency: c,
            ..Cell::new("concurrency-sweep", "tasks", &p, b_wall)
        });
    }
    // Overwrite procs at 10000 with a refusal.
    f.cell(&Cell {
        profile: "full".into(),
        ..Cell::failed(
            "concurrency-sweep",
            "procs",
            "10000",
            "cannot spawn 10000 workers: fd limit 4096",
        )
    });
    for n in [6, 12, 18] {
        let p = n.to_string();
        // wall = 0.2 + 0.05 N and 0.1 + 0.01 N
        for (backend, a, b) in [("slow", 0.2, 0.05), ("fast", 0.1, 0.01)] {
            f.cell(&Cell {
                profile: "full".into(),
                ..Cell::new("seed-replica", backend, &p, a + b * n as f64)
            });
        }
    }
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    let report = fs::read_to_string(&collated.report).unwrap();

    for (file, title) in [
        (
            "concurrency-sweep-throughput.svg",
            "concurrency-sweep: throughput vs C",
        ),
        (
            "concurrency-sweep-rss.svg",
            "concurrency-sweep: client peak RSS vs C",
        ),
        ("seed-replica-wall.svg", "seed-replica: wall time vs N"),
        (
            "seed-replica.svg",
            "seed-replica: median wall time at N = 18",
        ),
        (
            "concurrency-sweep.svg",
            "concurrency-sweep: median wall time at C = 10000",
        ),
    ] {
        let svg = fs::read_to_string(f.out().join(file)).unwrap();
        assert!(svg.contains(title), "{file} lacks {title:?}");
        assert!(report.contains(&format!("]({file})")), "{file} not linked");
    }
    let throughput = fs::read_to_string(f.out().join("concurrency-sweep-throughput.svg")).unwrap();
    assert!(throughput.contains("procs (failed at C = 10000)"));
    assert!(throughput.contains("throughput (URLs/s)"));
    assert!(throughput.contains("requests in flight (C, log scale)"));

    for c in ["16", "128", "10000"] {
        let rows = table(&report, &format!("### C = {c}"));
        assert_eq!(rows[0][1], "`tasks`", "C = {c}");
    }
    let heading = "### C = 10000";
    let rows = table(&report, heading);
    assert_eq!(rows[1][0], "failed");
    assert!(rows[1][3].contains("fd limit 4096"));
    assert_eq!(rows[0][column(&report, heading, "URLs/s")], "400"); // 100 / 0.25
    let rows = table(&report, "### C = 16");
    assert_eq!(rows[1][column(&report, "### C = 16", "× best")], "×2.00");

    // seed-replica: ranked at the largest N, and the fitted slope in ms per URL.
    let rows = table(&report, "### N = 18 (largest)");
    assert_eq!(
        (rows[0][1].as_str(), rows[1][1].as_str()),
        ("`fast`", "`slow`")
    );
    let rows = table(&report, "### Median wall (s) by N");
    let slow = rows.iter().find(|r| r[0] == "`slow`").unwrap();
    assert_eq!(slow[1..], ["0.5000", "0.8000", "1.100", "50.00", "0.2000"]);
    let fit = &collated.results.workloads[0].scaling;
    let fast = fit.iter().find(|f| f.backend == "fast").unwrap();
    assert!((fast.slope_secs - 0.01).abs() < 1e-9 && fast.points == 3);
}

#[test]
fn unknown_workloads_get_the_common_columns() {
    let f = Fixture::new("unknown");
    f.environment("quick");
    f.cell(&Cell::new("tls-handshakes", "a", "50", 2.0));
    f.cell(&Cell::new("tls-handshakes", "b", "50", 1.0));
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    let report = fs::read_to_string(&collated.report).unwrap();
    assert!(report.contains("## tls-handshakes"));
    let rows = table(&report, "### parameter = 50");
    assert_eq!((rows[0][1].as_str(), rows[0][0].as_str()), ("`b`", "1"));
    assert_eq!(
        rows[1][column(&report, "### parameter = 50", "URLs/s")],
        "50.0"
    );
    assert!(f.out().join("tls-handshakes.svg").is_file());
}

#[test]
fn a_second_report_shows_the_change_and_drops_stale_charts() {
    let f = Fixture::new("change");
    f.environment("quick");
    f.cell(&Cell::new("throughput", "a", "1000", 2.0));
    f.cell(&Cell::new("faults", "a", "500", 1.0));
    let first = collate(&f.target(), &f.out(), None).unwrap();
    assert!(f.out().join("faults.svg").is_file());
    let report = fs::read_to_string(&first.report).unwrap();
    assert!(!report.contains("vs previous"));

    fs::remove_dir_all(f.data()).unwrap();
    f.environment("quick");
    f.cell(&Cell::new("throughput", "a", "1000", 2.2));
    f.cell(&Cell::new("throughput", "b", "1000", 1.0));
    let second = collate(&f.target(), &f.out(), None).unwrap();
    let report = fs::read_to_string(&second.report).unwrap();
    let heading = "### N = 1000";
    let rows = table(&report, heading);
    let change = column(&report, heading, "vs previous");
    assert_eq!(
        (rows[0][1].as_str(), rows[0][change].as_str()),
        ("`b`", "new")
    );
    assert_eq!(
        (rows[1][1].as_str(), rows[1][change].as_str()),
        ("`a`", "+10.0%")
    );
    assert!(
        !f.out().join("faults.svg").exists(),
        "stale chart left behind"
    );
    assert!(f.out().join("throughput.svg").is_file());
}

#[test]
fn cells_without_criterion_estimates_use_their_runs_and_say_so() {
    let f = Fixture::new("noest");
    f.environment("quick");
    let mut cell = Cell::new("crawl", "a", "300", 1.0);
    cell.criterion = None;
    for (r, wall) in cell.runs.iter_mut().zip([1.2, 1.0, 1.4]) {
        r.wall_secs = wall;
    }
    f.cell(&cell);
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    let report = fs::read_to_string(&collated.report).unwrap();
    let heading = "### pages = 300";
    let row = &table(&report, heading)[0];
    assert_eq!(
        row[column(&report, heading, "wall s, median [CI]")],
        "1.200 (runs' median, no CI)"
    );
    assert!(report.contains("criterion wrote no estimates"));
}

#[test]
fn stale_estimates_from_an_earlier_run_are_not_used() {
    let f = Fixture::new("stale");
    f.environment("quick");
    f.cell(&Cell::new("crawl", "a", "300", 1.0));
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    let collated = collate(&f.target(), &f.out(), Some(later)).unwrap();
    let wall = collated.results.workloads[0].cells[0].wall.clone().unwrap();
    assert_eq!(wall.source, super::results::WallSource::Runs);
    assert!(
        collated
            .results
            .warnings
            .iter()
            .any(|w| w.contains("stale"))
    );
}

#[test]
fn no_data_names_the_command_to_run() {
    let f = Fixture::new("nodata");
    for _ in 0..2 {
        let err = format!("{:#}", collate(&f.target(), &f.out(), None).unwrap_err());
        assert!(err.contains("no benchmark data"), "{err}");
        assert!(err.contains("`cargo xtask report --run`"), "{err}");
        assert!(err.contains("`cargo bench -p crawlbench-benches`"), "{err}");
        // Second round: the directory exists but holds no cells.
        f.environment("quick");
    }
    assert!(!f.out().exists(), "nothing written without data");
}

#[test]
fn partial_data_gives_a_partial_report_naming_the_missing_workloads() {
    let f = Fixture::new("partial");
    f.environment("quick");
    f.cell(&Cell::new("throughput", "a", "1000", 1.0));
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    assert_eq!(
        collated.results.missing_workloads,
        [
            "seed-replica",
            "latency-list",
            "crawl",
            "concurrency-sweep",
            "faults"
        ]
    );
    let report = fs::read_to_string(&collated.report).unwrap();
    assert!(report.contains(
        "**Partial report — missing workloads:** `seed-replica`, `latency-list`, `crawl`, \
         `concurrency-sweep`, `faults`"
    ));
}

#[test]
fn corrupt_json_is_an_error_naming_the_file_and_the_problem() {
    let f = Fixture::new("corrupt");
    f.environment("quick");
    let cell = Cell::new("throughput", "a", "1000", 1.0);
    f.cell(&cell);

    fs::write(f.cell_path(&cell), "{\"schema\": 1, \"profile\": ").unwrap();
    let err = format!("{:#}", collate(&f.target(), &f.out(), None).unwrap_err());
    assert!(
        err.contains(&f.cell_path(&cell).display().to_string()),
        "{err}"
    );
    assert!(err.contains("expected CellMetrics JSON"), "{err}");
    assert!(err.contains("EOF while parsing"), "{err}");

    f.cell(&cell);
    fs::write(f.estimates_path(&cell), "{\"mean\": {}}").unwrap();
    let err = format!("{:#}", collate(&f.target(), &f.out(), None).unwrap_err());
    assert!(
        err.contains(&f.estimates_path(&cell).display().to_string()),
        "{err}"
    );
    assert!(err.contains("missing field"), "{err}");

    f.cell(&cell);
    let env = f.data().join("environment.json");
    fs::write(&env, "{\"schema\": \"one\"}").unwrap();
    let err = format!("{:#}", collate(&f.target(), &f.out(), None).unwrap_err());
    assert!(
        err.contains(&env.display().to_string()) && err.contains("invalid type"),
        "{err}"
    );

    f.environment("quick");
    let elsewhere = f.data().join("throughput/b/1000.json");
    fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    fs::copy(f.cell_path(&cell), &elsewhere).unwrap();
    let err = format!("{:#}", collate(&f.target(), &f.out(), None).unwrap_err());
    assert!(
        err.contains(&elsewhere.display().to_string()) && err.contains("lies under"),
        "{err}"
    );
}

#[test]
fn compare_computes_changes_and_verification_changes() {
    let f = Fixture::new("compare-old");
    f.environment("quick");
    f.cell(&Cell::new("throughput", "a", "1000", 2.0));
    f.cell(&Cell::new("throughput", "b", "1000", 1.0));
    f.cell(&Cell::new("throughput", "gone", "1000", 1.0));
    let old = collate(&f.target(), &f.out(), None).unwrap().results;

    let g = Fixture::new("compare-new");
    g.environment("quick");
    g.cell(&Cell::new("throughput", "a", "1000", 1.5));
    let mut b = Cell::new("throughput", "b", "1000", 1.031);
    b.runs[0].verified = Some(false);
    g.cell(&b);
    let new = collate(&g.target(), &g.out(), None).unwrap().results;

    let rows = compare::compare(&old, &new);
    let row = |name: &str| rows.iter().find(|r| r.backend == name).unwrap();
    let a = row("a");
    assert_eq!((a.old_secs, a.new_secs), (Some(2.0), Some(1.5)));
    assert!((a.change_pct.unwrap() + 25.0).abs() < 1e-9);
    assert!(!a.verification_changed());
    let b = row("b");
    assert!((b.change_pct.unwrap() - 3.1).abs() < 1e-9);
    assert_eq!((b.old_verdict, b.new_verdict), ("yes", "NO"));
    assert!(b.verification_changed());
    let gone = row("gone");
    assert_eq!(
        (gone.new_secs, gone.change_pct, gone.new_verdict),
        (None, None, "absent")
    );

    let text = compare::render("old.json", "new.json", &old, &new);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap()
            .to_owned()
    };
    assert!(line("a").contains("-25.0%"), "{text}");
    assert!(
        line("b").contains("+3.1%") && line("b").contains("yes → NO"),
        "{text}"
    );
    assert!(line("gone").contains("absent"), "{text}");
}

#[test]
fn report_arguments_are_checked() {
    let args = |a: &[&str]| parse_report_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let parsed = args(&[
        "--run",
        "--profile",
        "full",
        "--seed",
        "7",
        "--out",
        "/tmp/x",
    ])
    .unwrap();
    assert_eq!(
        parsed,
        ReportArgs {
            run: true,
            profile: Profile::Full,
            seed: Some(7),
            out: Some("/tmp/x".into()),
        }
    );
    assert_eq!(args(&[]).unwrap().profile, Profile::Quick);
    let err = args(&["--seed", "7"]).unwrap_err().to_string();
    assert!(err.contains("need --run"), "{err}");
    let err = args(&["--run", "--profile", "fast"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("accepted: quick, full"), "{err}");
    assert!(args(&["--run", "--seed", "x"]).is_err());
    assert!(args(&["--bogus"]).is_err());
}

#[test]
fn collation_of_a_full_sized_run_takes_well_under_a_second() {
    let f = Fixture::new("speed");
    f.environment("full");
    let backends = ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"];
    for w in ["latency-list", "throughput", "crawl", "faults"] {
        for (i, b) in backends.iter().enumerate() {
            f.cell(&Cell::new(w, b, "2000", 1.0 + i as f64 / 10.0));
        }
    }
    for (i, b) in backends.iter().enumerate() {
        for c in ["16", "128", "1024", "10000"] {
            f.cell(&Cell::new("concurrency-sweep", b, c, 1.0 + i as f64 / 10.0));
        }
        for n in 1..=10 {
            let mut cell = Cell::new("seed-replica", b, &(6 * n).to_string(), 0.1 * n as f64);
            cell.runs = vec![run(0.1 * n as f64); 10];
            f.cell(&cell);
        }
    }
    let started = std::time::Instant::now();
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(collated.results.workloads.len(), 6);
    // Generous for a debug build on a busy machine; a release run takes a few milliseconds.
    assert!(elapsed.as_secs_f64() < 1.0, "collation took {elapsed:?}");
}

#[test]
fn run_builds_the_bench_command_with_profile_seed_and_quick_flag() {
    let root = std::path::Path::new("/work/x");
    let describe = |cmd: &std::process::Command| {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut env: Vec<(String, String)> = cmd
            .get_envs()
            .map(|(k, v)| {
                let v = v.map(|v| v.to_string_lossy().into_owned());
                (k.to_string_lossy().into_owned(), v.unwrap_or_default())
            })
            .collect();
        env.sort();
        (args, env, cmd.get_current_dir().map(|d| d.to_path_buf()))
    };
    let quick = ReportArgs {
        run: true,
        profile: Profile::Quick,
        seed: Some(9),
        out: None,
    };
    let (cmd, shown) = bench_command("/bin/cargo", root, &quick);
    assert_eq!(cmd.get_program(), "/bin/cargo");
    let (args, env, dir) = describe(&cmd);
    assert_eq!(args, ["bench", "-p", "crawlbench-benches", "--", "--quick"]);
    assert_eq!(
        env,
        [
            ("CRAWLBENCH_ORDER_SEED".to_owned(), "9".to_owned()),
            ("CRAWLBENCH_PROFILE".to_owned(), "quick".to_owned())
        ]
    );
    assert_eq!(dir.as_deref(), Some(root));
    assert_eq!(
        shown,
        "CRAWLBENCH_ORDER_SEED=9 CRAWLBENCH_PROFILE=quick cargo bench -p crawlbench-benches -- --quick"
    );

    let full = ReportArgs {
        profile: Profile::Full,
        seed: None,
        ..quick
    };
    let (args, env, _) = describe(&bench_command("cargo", root, &full).0);
    assert_eq!(args, ["bench", "-p", "crawlbench-benches"]);
    assert_eq!(env, [("CRAWLBENCH_PROFILE".to_owned(), "full".to_owned())]);
}

#[test]
fn headline_has_one_row_per_backend_with_failures_and_unverified_named() {
    let f = latency_fixture("headline");
    let collated = collate(&f.target(), &f.out(), None).unwrap();
    let report = fs::read_to_string(&collated.report).unwrap();
    let rows = table(&report, "## Headline");
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "`a-threads`",
            "`b-async`",
            "`c-slow`",
            "`d-wrong`",
            "`e-refuses`"
        ]
    );
    let eff = column(&report, "## Headline", "latency-list efficiency");
    assert_eq!(rows[0][eff], "0.83"); // 0.5 / 0.60
    assert_eq!(rows[1][eff], "0.91"); // 0.5 / 0.55
    assert_eq!(rows[3][eff], "NOT verified");
    assert_eq!(rows[4][eff], "failed");
    // Workloads without data are shown as such, not invented.
    let crawl = column(&report, "## Headline", "crawl s");
    assert!(rows.iter().all(|r| r[crawl] == "—"), "{rows:?}");
}
