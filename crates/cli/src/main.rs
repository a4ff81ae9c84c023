//! `crawlbench`: list backends, run a verified workload against the built-in origin (or crawl a
//! loopback server of your own), or serve the origin for other tools.

fn main() {
    if let Some(code) = crawlbench::child_role_main() {
        std::process::exit(code);
    }
    std::process::exit(crawlbench::cli::main());
}
