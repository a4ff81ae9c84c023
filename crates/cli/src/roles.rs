//! The child roles this executable plays, as one type parsed and formatted in one place.
//!
//! The campaign, the benches and the multi-process backends re-execute the current executable
//! (the `crawlbench` binary or a bench binary) to get a process of their own for a measured run,
//! for the origin, or for a backend's worker. How such a child learns its role is an argument
//! list: [`Role::to_args`] writes it for the parent and [`Role::parse`] reads it in the child, so
//! the two can never disagree. Every binary that uses the registry calls
//! [`crate::child_role_main`] first, which parses and runs the role.

use std::ffi::OsString;

/// What a re-executed child does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// `run-one`: one run of one registry backend; the request on stdin, the report on stdout.
    RunOne,
    /// `serve-origin SPEC_JSON [THREADS] [--reuse-port PORT]`: the origin for a site spec,
    /// controlled over stdio.
    ServeOrigin(ServeOrigin),
    /// `worker`: a multi-process backend's worker, speaking its framed protocol on stdio.
    Worker,
    /// `worker --redis URL …`: a `distributed-redis` worker, on this host or any other, pulling
    /// URLs from the Redis frontier (the one child role a user starts by hand).
    RedisWorker(crawlbench_distributed_redis::WorkerArgs),
    /// `external-example`: the example external backend in Rust (tokio + reqwest speaking
    /// PROTOCOL.md on stdio), started through its manifest like any external program.
    ExternalExample,
}

/// The origin role's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeOrigin {
    /// The site spec as JSON.
    pub spec_json: String,
    /// Server threads (default: one per core).
    pub threads: Option<usize>,
    /// Listen on this port with `SO_REUSEPORT` (0: a free one), so several origin processes
    /// share it (`OriginProcess::spawn_cluster`).
    pub reuse_port: Option<u16>,
}

const RUN_ONE: &str = "run-one";
const SERVE_ORIGIN: &str = "serve-origin";
const WORKER: &str = "worker";
const EXTERNAL_EXAMPLE: &str = "external-example";
const SERVE_ORIGIN_USAGE: &str = "usage: serve-origin SPEC_JSON [THREADS] [--reuse-port PORT] \
     (a site spec as JSON; THREADS a whole number ≥ 1; PORT 0–65535, 0 for a free port)";

impl Role {
    /// The role `args` (this process's arguments after the program name) ask for: `None` when
    /// the first is not a role's name (an ordinary command line), an error saying what is
    /// accepted when the role's own arguments are wrong.
    pub fn parse(args: &[OsString]) -> Option<Result<Self, String>> {
        let (first, rest) = args.split_first()?;
        let rest: Vec<String> = rest
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        match first.to_str()? {
            RUN_ONE => Some(no_arguments(RUN_ONE, &rest).map(|()| Self::RunOne)),
            WORKER if rest.is_empty() => Some(Ok(Self::Worker)),
            WORKER => Some(
                crawlbench_distributed_redis::WorkerArgs::parse(&rest)
                    .map(Self::RedisWorker)
                    .map_err(|e| format!("{WORKER}: {e}")),
            ),
            EXTERNAL_EXAMPLE => {
                Some(no_arguments(EXTERNAL_EXAMPLE, &rest).map(|()| Self::ExternalExample))
            }
            SERVE_ORIGIN => Some(ServeOrigin::parse(&rest).map(Self::ServeOrigin)),
            _ => None,
        }
    }

    /// The arguments that make a re-executed child play this role.
    pub fn to_args(&self) -> Vec<String> {
        match self {
            Self::RunOne => vec![RUN_ONE.into()],
            Self::Worker => vec![WORKER.into()],
            Self::RedisWorker(args) => std::iter::once(WORKER.into())
                .chain(args.to_args())
                .collect(),
            Self::ExternalExample => vec![EXTERNAL_EXAMPLE.into()],
            Self::ServeOrigin(o) => {
                let mut args = vec![SERVE_ORIGIN.into(), o.spec_json.clone()];
                if let Some(t) = o.threads {
                    args.push(t.max(1).to_string());
                }
                if let Some(port) = o.reuse_port {
                    args.extend(["--reuse-port".into(), port.to_string()]);
                }
                args
            }
        }
    }

    /// Plays the role; returns the exit code.
    pub fn run(self) -> i32 {
        match self {
            Self::RunOne => crawlbench_campaign::serve_run_request(|name, job| {
                crawlbench_core::resources::raise_fd_limit();
                crate::backend(name)?.run(job).map_err(|e| e.to_string())
            }),
            Self::Worker => crawlbench_multiprocess::worker_main(),
            Self::RedisWorker(args) => crawlbench_distributed_redis::worker_main(args),
            Self::ExternalExample => crawlbench_external_example::main(),
            Self::ServeOrigin(o) => o.serve(),
        }
    }
}

fn no_arguments(role: &str, rest: &[String]) -> Result<(), String> {
    match rest.first() {
        None => Ok(()),
        Some(extra) => Err(format!(
            "{role}: unexpected argument {extra:?} (accepted: none; the parent sends its request \
             on stdin)"
        )),
    }
}

impl ServeOrigin {
    fn parse(args: &[String]) -> Result<Self, String> {
        let (spec_json, rest) = args
            .split_first()
            .ok_or_else(|| SERVE_ORIGIN_USAGE.to_owned())?;
        let mut role = Self {
            spec_json: spec_json.clone(),
            threads: None,
            reuse_port: None,
        };
        let mut rest = rest.iter();
        while let Some(arg) = rest.next() {
            if arg == "--reuse-port" {
                match rest.next().map(|p| p.parse::<u16>()) {
                    Some(Ok(port)) if role.reuse_port.is_none() => role.reuse_port = Some(port),
                    _ => {
                        return Err(format!(
                            "{SERVE_ORIGIN}: --reuse-port takes one port, once (0–65535, 0 for \
                             a free port)\n{SERVE_ORIGIN_USAGE}"
                        ));
                    }
                }
            } else {
                match arg.parse::<usize>() {
                    Ok(t) if t > 0 && role.threads.is_none() => role.threads = Some(t),
                    _ => {
                        return Err(format!(
                            "{SERVE_ORIGIN}: unexpected argument {arg:?}: the thread count must \
                             be one whole number of at least 1\n{SERVE_ORIGIN_USAGE}"
                        ));
                    }
                }
            }
        }
        Ok(role)
    }

    /// The origin's side of the role: serve the spec, answer the control protocol on stdio.
    fn serve(self) -> i32 {
        let spec = match serde_json::from_str::<crawlbench_origin::SiteSpec>(&self.spec_json) {
            Ok(spec) => spec,
            Err(e) => {
                eprintln!("{SERVE_ORIGIN}: the argument is not a site spec: {e}");
                return 2;
            }
        };
        let mut config = crawlbench_origin::OriginConfig::default();
        if let Some(t) = self.threads {
            config.threads = t;
        }
        if let Some(port) = self.reuse_port {
            config.reuse_port = true;
            config.port = Some(port);
        }
        crawlbench_core::resources::raise_fd_limit();
        match crawlbench_origin::process::serve_stdio(spec, config) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("origin: {e}");
                1
            }
        }
    }
}

/// The origin role's arguments, as the campaign's [`crawlbench_campaign::Host`] asks for them.
pub(crate) fn serve_origin_args(
    spec_json: &str,
    threads: Option<usize>,
    reuse_port: Option<u16>,
) -> Vec<String> {
    Role::ServeOrigin(ServeOrigin {
        spec_json: spec_json.to_owned(),
        threads,
        reuse_port,
    })
    .to_args()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Option<Result<Role, String>> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        Role::parse(&args)
    }

    #[test]
    fn every_role_reads_back_what_it_writes() {
        let roles = [
            Role::RunOne,
            Role::Worker,
            Role::RedisWorker(
                crawlbench_distributed_redis::WorkerArgs::parse(&[
                    "--redis".into(),
                    "redis://:pw@198.18.0.11:6390/3".into(),
                    "--slots".into(),
                    "5".into(),
                    "--run".into(),
                    "ab".into(),
                    "--exit-with-stdin".into(),
                ])
                .expect("valid worker arguments"),
            ),
            Role::ServeOrigin(ServeOrigin {
                spec_json: "{}".into(),
                threads: None,
                reuse_port: None,
            }),
            Role::ServeOrigin(ServeOrigin {
                spec_json: "{\"pages\":3}".into(),
                threads: Some(2),
                reuse_port: Some(0),
            }),
        ];
        for role in roles {
            let args: Vec<String> = role.to_args();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_eq!(parse(&refs), Some(Ok(role)));
        }
    }

    #[test]
    fn ordinary_command_lines_are_not_roles_and_bad_role_arguments_say_what_is_accepted() {
        assert_eq!(parse(&["run", "--backend", "x"]), None);
        assert_eq!(parse(&[]), None);
        for bad in [
            &["serve-origin"][..],
            &["serve-origin", "{}", "0"],
            &["serve-origin", "{}", "2", "3"],
            &["serve-origin", "{}", "--reuse-port"],
            &[
                "serve-origin",
                "{}",
                "--reuse-port",
                "1",
                "--reuse-port",
                "2",
            ],
            &["worker", "extra"],
            &["worker", "--stack", "tokio-reqwest"],
            &["worker", "--redis", "http://x/"],
            &["worker", "--redis", "redis://127.0.0.1/", "--stack", "curl"],
            &["worker", "--redis", "redis://127.0.0.1/", "--slots", "0"],
        ] {
            let e = parse(bad).expect("a role").unwrap_err();
            assert!(
                e.contains("accepted") || e.contains("usage"),
                "{bad:?}: {e}"
            );
        }
    }
}
