//! The distributed backend's worker as a standalone binary (`crawlbench-redis-worker --redis
//! URL …`), so this crate's tests — and anyone embedding the backend without the `crawlbench`
//! CLI — have a worker to start. The CLI runs the same code as `crawlbench worker --redis URL`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match crawlbench_distributed_redis::WorkerArgs::parse(&args) {
        Ok(args) => crawlbench_distributed_redis::worker_main(args),
        Err(e) => {
            eprintln!("crawlbench-redis-worker: {e}");
            2
        }
    };
    std::process::exit(code);
}
