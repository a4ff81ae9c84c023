//! A real documentation site as a test: the Python documentation from Debian's `python3-doc`
//! (hundreds of cross-linked Sphinx pages), served by an nginx of our own on 127.0.0.1, crawled
//! once by `wget -r -np --spider` and once by `crawlbench run --seed` with a blocking thread
//! pool (`threadpool-ureq`) and an async runtime (`tokio-reqwest`). A `--seed` crawl of a server
//! that is not ours has no ground truth, so the comparison with wget *is* the check: the sets of
//! HTML pages found must be equal. The wall times and their ratio are printed, never asserted.
//!
//! Needs `nginx`, `wget` and `python3-doc` (`.ci/run` installs them). Without them the test
//! prints why and passes — unless `CRAWLBENCH_REQUIRE_REAL_SITE` is set (as `.ci/run` does), in
//! which case a missing tool is a failure, so CI can never skip it silently.

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crawlbench_core::CrawlReport;
use url::Url;

const INSTALL: &str = "install with: apt-get install nginx wget python3-doc";
const BACKENDS: [&str; 2] = ["threadpool-ureq", "tokio-reqwest"];
/// The most URLs of each difference printed in a failure message.
const SHOW: usize = 30;

#[test]
fn python_docs_html_pages_equal_wgets() {
    let Some(tree) = doc_tree() else {
        return skip("no python3-doc HTML tree (/usr/share/doc/python3*/html/index.html)");
    };
    let Some(nginx) = find_program("nginx", &["/usr/sbin/nginx", "/sbin/nginx"]) else {
        return skip("nginx not found");
    };
    let Some(wget) = find_program("wget", &[]) else {
        return skip("wget not found");
    };
    let html_files = count_html_files(&tree);
    let dir = TempDir::new("real-site");
    let server = Nginx::start(&nginx, &tree, dir.path());
    let seed = format!("http://127.0.0.1:{}/", server.port);
    eprintln!(
        "real_site: {} ({html_files} .html files) served by {} at {seed}",
        tree.display(),
        nginx.display()
    );

    let (wget_pages, wget_secs) = wget_html_pages(&wget, &seed, dir.path());
    eprintln!(
        "real_site: wget found {} HTML pages in {wget_secs:.2} s",
        wget_pages.len()
    );
    assert!(
        wget_pages.len() >= 100,
        "wget found only {} HTML pages under {seed}: is {} the whole documentation?",
        wget_pages.len(),
        tree.display()
    );

    let mut failures = Vec::new();
    for backend in BACKENDS {
        let (ours, our_secs, report_secs) = crawlbench_html_pages(backend, &seed, dir.path());
        eprintln!(
            "real_site: {backend} found {} HTML pages in {our_secs:.2} s (process wall; the \
             report's wall {report_secs:.2} s; {} build) — wget ÷ ours = {:.2}× (target ≥ 5×, \
             reported, not asserted)",
            ours.len(),
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            wget_secs / our_secs.max(1e-9)
        );
        if ours != wget_pages {
            failures.push(format!(
                "{backend}: {} HTML pages, wget {}\n  only in wget ({}):{}\n  only in {backend} ({}):{}",
                ours.len(),
                wget_pages.len(),
                wget_pages.difference(&ours).count(),
                listing(wget_pages.difference(&ours)),
                ours.difference(&wget_pages).count(),
                listing(ours.difference(&wget_pages)),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "the HTML pages crawlbench found under {seed} differ from wget's:\n{}",
        failures.join("\n")
    );
}

/// Prints why the test did not run, or fails when CI asked for it to run.
fn skip(reason: &str) {
    let required = std::env::var_os("CRAWLBENCH_REQUIRE_REAL_SITE").is_some_and(|v| v != "0");
    assert!(
        !required,
        "real_site: {reason} ({INSTALL}); CRAWLBENCH_REQUIRE_REAL_SITE is set, so this fails"
    );
    eprintln!("SKIP real_site: {reason} ({INSTALL})");
}

/// The Python documentation's HTML root, symlinks resolved: Debian's `python3-doc` links
/// `/usr/share/doc/python3/html` to the versioned `python3.X-doc` package's tree.
fn doc_tree() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("/usr/share/doc/python3/html")];
    if let Ok(entries) = std::fs::read_dir("/usr/share/doc") {
        let mut versioned: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3."))
            .map(|e| e.path().join("html"))
            .collect();
        versioned.sort();
        versioned.reverse(); // the newest version first
        candidates.extend(versioned);
    }
    candidates
        .into_iter()
        .filter_map(|c| c.canonicalize().ok())
        .find(|c| c.join("index.html").is_file())
}

/// `name` on `PATH`, else the first of `fallbacks` that exists (`/usr/sbin` is not on every
/// user's `PATH`).
fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

fn count_html_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "html") {
                n += 1;
            }
        }
    }
    n
}

/// The one normal form both sides' URLs are compared in: parsed by the `url` crate (so percent
/// encoding and case are normalised alike), no fragment, and a directory URL `/d/` named by the
/// file nginx serves for it, `/d/index.html` (Sphinx links to both `/` and `/index.html`: one
/// page, one entry).
fn normalise(url: &str) -> String {
    let mut u = Url::parse(url).unwrap_or_else(|e| panic!("unparsable URL {url:?}: {e}"));
    u.set_fragment(None);
    if u.path().ends_with('/') {
        let path = format!("{}index.html", u.path());
        u.set_path(&path);
    }
    u.to_string()
}

fn listing<'a>(urls: impl Iterator<Item = &'a String>) -> String {
    let urls: Vec<&String> = urls.collect();
    if urls.is_empty() {
        return " none".into();
    }
    let mut s: String = urls
        .iter()
        .take(SHOW)
        .map(|u| format!("\n    {u}"))
        .collect();
    if urls.len() > SHOW {
        s.push_str(&format!("\n    … and {} more", urls.len() - SHOW));
    }
    s
}

/// Crawls `seed` with wget and returns the HTML pages it found, and its wall time.
///
/// Which URLs were HTML pages: wget is run with `-S` (`--server-response`), which writes every
/// response's status line and headers, indented by two spaces, into the log before the `-nv`
/// summary line of that URL (`<date> <time> URL:<url> [n/n] -> "<file>" [1]` for a body it
/// downloaded to parse, `<date> <time> URL: <url> 200 OK` for a spider HEAD). In spider mode wget
/// asks HEAD first and GETs only what it will parse (HTML and CSS); after a redirect the summary
/// names the final URL and the last header block is the final response's. So a URL is an HTML
/// page when the last status before its summary line is 2xx and the last `Content-Type` is
/// `text/html` — the server's own word, the same test wget uses to decide what to parse, rather
/// than a guess from file names or from which bodies wget downloaded (CSS is downloaded too).
fn wget_html_pages(wget: &Path, seed: &str, dir: &Path) -> (BTreeSet<String>, f64) {
    let log = dir.join("wget.log");
    let started = Instant::now();
    let status = Command::new(wget)
        .args([
            "--no-config", // no ~/.wgetrc or /etc/wgetrc settings
            "--no-proxy",
            "-r",
            "-l",
            "inf", // the default depth is 5; crawlbench has no depth limit
            "-np",
            "--spider",
            "-nv",
            "-S",
            "-e",
            "robots=off",
            "--timeout=30",
            "--tries=2",
            "-P", // spider mode still writes (and deletes) temporary files
        ])
        .arg(dir.join("wget"))
        .arg("-o")
        .arg(&log)
        .arg(seed)
        .current_dir(dir)
        .stdin(Stdio::null())
        .status()
        .expect("wget runs");
    let secs = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    // 8: the server answered an error for some URL (a broken link: Debian's python3-doc leaves
    // out whatsnew/changelog.html, which whatsnew/index.html links to).
    assert!(
        matches!(status.code(), Some(0 | 8)),
        "wget exited with {status}; the end of its log:\n{}",
        tail(&text, 40)
    );

    let mut pages = BTreeSet::new();
    let (mut last_status, mut last_type): (Option<u16>, Option<String>) = (None, None);
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("  ") {
            let header = header.trim();
            if header.starts_with("HTTP/") {
                last_status = header
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok());
                last_type = None;
            } else if let Some((_, value)) = header
                .split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            {
                last_type = Some(value.trim().to_ascii_lowercase());
            }
            continue;
        }
        // `<date> <time> URL:<url> …` or `<date> <time> URL: <url> …`.
        let Some((_, rest)) = line.split_once(" URL:") else {
            continue;
        };
        let Some(url) = rest.split_whitespace().next() else {
            continue;
        };
        let html = last_type
            .as_deref()
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| t.trim() == "text/html");
        if last_status.is_some_and(|s| (200..300).contains(&s)) && html {
            pages.insert(normalise(url));
        }
        (last_status, last_type) = (None, None);
    }
    (pages, secs)
}

/// Crawls `seed` with crawlbench on `backend`; returns the HTML pages, the process's wall time
/// and the report's own wall time.
///
/// Which outcomes were HTML pages: a 2xx whose response said `text/html` (the report's `html`),
/// the same test wget's log is read with — decided from crawlbench's report alone, never from
/// wget's answer.
fn crawlbench_html_pages(backend: &str, seed: &str, dir: &Path) -> (BTreeSet<String>, f64, f64) {
    let json = dir.join(format!("{backend}.json"));
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_crawlbench"))
        .args(["run", "--backend", backend, "--seed", seed])
        .args(["--max-pages", "100000", "--concurrency", "16"])
        // The default, stated: under the seed's directory, like wget -np (robots.txt is not
        // fetched by default either, like wget -e robots=off).
        .args(["--scope", "dir"])
        // contents.html is 2.5 MB and genindex-all.html 1.7 MB: the default body cap of a crawl
        // (16 MiB) must take them whole, so it is deliberately not raised here.
        .args(["--timeout", "30s"])
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .output()
        .expect("the crawlbench binary runs");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "crawlbench run --backend {backend} --seed {seed} exited with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: CrawlReport =
        serde_json::from_slice(&std::fs::read(&json).expect("the report was written"))
            .expect("the report parses");
    assert!(!report.interrupted, "{backend}: the run was interrupted");
    let capped: Vec<&str> = report
        .outcomes
        .iter()
        .filter(|o| o.links_partial || o.outcome.to_string() == "body_too_large")
        .map(|o| o.url.as_str())
        .collect();
    assert!(
        capped.is_empty(),
        "{backend}: pages over the default crawl body cap: {capped:?}"
    );
    let pages = report
        .outcomes
        .iter()
        .filter(|o| o.outcome.is_success() && o.html)
        .map(|o| normalise(o.final_url.as_str()))
        .collect();
    (pages, secs, report.wall_secs)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("crawlbench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temporary directory");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An nginx of our own, in the foreground as one process (no master, no daemon, no system
/// service), killed on drop — a failed assertion included.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(nginx: &Path, root: &Path, dir: &Path) -> Self {
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(&prefix).expect("create nginx's directory");
        let mut last_error = String::new();
        // A free port is found by binding 127.0.0.1:0; another process may take it before nginx
        // does, so a few tries.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("bind 127.0.0.1:0")
                .port();
            let conf = prefix.join("nginx.conf");
            std::fs::write(&conf, nginx_conf(&prefix, root, port)).expect("write nginx.conf");
            let stderr_path = prefix.join("stderr.log");
            let stderr = std::fs::File::create(&stderr_path).expect("create nginx's stderr file");
            let child = Command::new(nginx)
                .arg("-p")
                .arg(&prefix)
                .arg("-c")
                .arg(&conf)
                // The error log before the configuration is read (otherwise /var/log/nginx).
                .arg("-e")
                .arg(prefix.join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", nginx.display()));
            let mut server = Self { child, port };
            if server.wait_until_ready(Duration::from_secs(10)) {
                return server;
            }
            drop(server); // kills it
            last_error = format!(
                "{}{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default(),
                std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default()
            );
        }
        panic!("nginx did not start on 127.0.0.1 after 5 tries:\n{last_error}");
    }

    /// True once a GET of `/` answers 200 from this child; false if it exits or time runs out.
    fn wait_until_ready(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut reply = Vec::new();
                if s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    .and_then(|()| s.read_to_end(&mut reply))
                    .is_ok()
                    && reply.starts_with(b"HTTP/1.1 200")
                {
                    return matches!(self.child.try_wait(), Ok(None));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_conf(prefix: &Path, root: &Path, port: u16) -> String {
    let p = prefix.display();
    // `user root;` matters only with a master process that drops privileges; without one the
    // single process keeps the test's user, root or not.
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {p}/client_body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
    }}
}}
",
        root = root.display()
    )
}
