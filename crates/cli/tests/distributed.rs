//! `distributed-redis` through the real binary: local workers started as `crawlbench worker`
//! (the CLI's role), workers started by hand against a Redis with a password (which appears in
//! no output), and its flags' errors. Skips where redis-server is missing, except in CI
//! (`CRAWLBENCH_REQUIRE_NETNS=1`).

use std::{
    net::{Ipv4Addr, TcpListener, TcpStream},
    process::{Child, Command, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

fn crawlbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crawlbench"))
}

fn redis_missing(test: &str) -> bool {
    let missing = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err();
    let required = std::env::var_os("CRAWLBENCH_REQUIRE_NETNS").is_some_and(|v| v == "1");
    assert!(
        !(missing && required),
        "CRAWLBENCH_REQUIRE_NETNS=1 but redis-server is missing"
    );
    if missing {
        eprintln!("{test}: skipped: redis-server is not installed");
    }
    missing
}

/// A child killed and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_crawl_with_local_workers_verifies() {
    if redis_missing("a_crawl_with_local_workers_verifies") {
        return;
    }
    let output = crawlbench()
        .args(["run", "--backend", "distributed-redis", "--crawl"])
        .args(["--pages", "300", "--concurrency", "16", "--delay", "2ms"])
        .output()
        .expect("the binary runs");
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("verified    yes (crawl"), "{stdout}");
    assert!(
        stdout.contains("local_workers 2") || stdout.contains("local_workers 1"),
        "{stdout}"
    );
    assert!(stdout.contains("redis_commands"), "{stdout}");
}

#[test]
fn workers_started_by_hand_serve_a_run_and_the_password_is_never_printed() {
    if redis_missing("workers_started_by_hand_serve_a_run_and_the_password_is_never_printed") {
        return;
    }
    const SECRET: &str = "pw-never-printed-7f3a";
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let _redis = Reaped(
        Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--requirepass", SECRET, "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server never listened");
        thread::sleep(Duration::from_millis(10));
    }
    let url = format!("redis://:{SECRET}@127.0.0.1:{port}/0");
    let log = std::env::temp_dir().join(format!("crawlbench-worker-{}.log", std::process::id()));
    let workers: Vec<Reaped> = (0..2)
        .map(|_| {
            Reaped(
                crawlbench()
                    .args(["worker", "--redis", &url])
                    .stderr(std::fs::File::create(&log).expect("a log file"))
                    .spawn()
                    .expect("a worker starts"),
            )
        })
        .collect();
    let output = crawlbench()
        .args(["run", "--backend", "distributed-redis", "--redis", &url])
        .args(["--local-workers", "0", "--remote-workers", "2"])
        .args(["--pages", "400", "--concurrency", "20"])
        .output()
        .expect("the binary runs");
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("verified    yes (list: 400 URLs"),
        "{stdout}"
    );
    assert!(stdout.contains("workers_joined 2"), "{stdout}");
    // A wrong password: refused, by a message that names the Redis without any password.
    let wrong = crawlbench()
        .args(["run", "--backend", "distributed-redis"])
        .args([
            "--redis",
            &format!("redis://:wrong-{SECRET}@127.0.0.1:{port}/0"),
        ])
        .args([
            "--local-workers",
            "0",
            "--remote-workers",
            "1",
            "--pages",
            "5",
        ])
        .output()
        .expect("the binary runs");
    let (wrong_out, wrong_err) = texts(&wrong);
    assert_eq!(wrong.status.code(), Some(2), "{wrong_out}\n{wrong_err}");
    assert!(wrong_err.contains(":***@127.0.0.1"), "{wrong_err}");
    drop(workers);
    let worker_log = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(worker_log.contains(":***@127.0.0.1"), "{worker_log}");
    for text in [&stdout, &stderr, &wrong_out, &wrong_err, &worker_log] {
        assert!(!text.contains(SECRET), "the password leaked: {text}");
    }
}

#[test]
fn distributed_flags_say_what_is_accepted() {
    for (args, expected) in [
        (
            &[
                "--backend",
                "tokio-reqwest",
                "--redis",
                "redis://127.0.0.1/0",
            ][..],
            "apply to --backend distributed-redis only",
        ),
        (
            &[
                "--backend",
                "distributed-redis",
                "--redis",
                "http://127.0.0.1/",
            ],
            "accepted: redis://",
        ),
        (
            &["--backend", "distributed-redis", "--local-workers", "0"],
            "no workers",
        ),
    ] {
        let output = crawlbench()
            .arg("run")
            .args(args)
            .args(["--pages", "5"])
            .output()
            .expect("the binary runs");
        let (stdout, stderr) = texts(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {stdout}\n{stderr}"
        );
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
