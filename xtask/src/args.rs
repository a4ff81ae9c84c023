//! Flag parsing for the commands that run or read campaigns (`report`, `reproduce`): one parser,
//! so every command spells a flag the same way and every error says what is accepted.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// The campaign profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    Quick,
    Full,
}

impl Profile {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }
}

/// A flag a command may accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flag {
    Run,
    Profile,
    Seed,
    Rounds,
    Out,
    Publish,
}

impl Flag {
    pub(crate) const ALL: [Flag; 6] = [
        Flag::Run,
        Flag::Profile,
        Flag::Seed,
        Flag::Rounds,
        Flag::Out,
        Flag::Publish,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Run => "--run",
            Self::Profile => "--profile",
            Self::Seed => "--seed",
            Self::Rounds => "--rounds",
            Self::Out => "--out",
            Self::Publish => "--publish",
        }
    }

    /// How the flag is written, value included.
    fn syntax(self) -> &'static str {
        match self {
            Self::Run => "--run",
            Self::Profile => "--profile quick|full",
            Self::Seed => "--seed N",
            Self::Rounds => "--rounds R",
            Self::Out => "--out DIR",
            Self::Publish => "--publish",
        }
    }
}

/// The smallest round count accepted: a median's interval needs at least two rounds.
pub(crate) const MIN_ROUNDS: usize = 2;

/// Parsed flags (each `None`/`false` when not given).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) run: bool,
    pub(crate) profile: Option<Profile>,
    pub(crate) seed: Option<u64>,
    pub(crate) rounds: Option<usize>,
    pub(crate) out: Option<PathBuf>,
    pub(crate) publish: bool,
    /// Everything after `--`, handed to `crawlbench campaign` as it is (e.g. `--workloads
    /// throughput --no-callgrind`).
    pub(crate) campaign_args: Vec<String>,
}

/// Parses `args` of `command`, which accepts `accepted`.
pub(crate) fn parse(command: &str, args: &[String], accepted: &[Flag]) -> Result<Options> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            o.campaign_args = it.by_ref().cloned().collect();
            break;
        }
        let Some(flag) = Flag::ALL
            .into_iter()
            .find(|f| f.name() == arg && accepted.contains(f))
        else {
            let list: Vec<&str> = accepted.iter().map(|f| f.syntax()).collect();
            bail!(
                "unknown argument {arg:?} for {command} (accepted: {}, and `-- ARGS…` passed to \
                 `crawlbench campaign`)",
                list.join(", ")
            );
        };
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{} needs a value ({})", flag.name(), flag.syntax()))
        };
        match flag {
            Flag::Run => o.run = true,
            Flag::Publish => o.publish = true,
            Flag::Profile => {
                o.profile = Some(match value()?.as_str() {
                    "quick" => Profile::Quick,
                    "full" => Profile::Full,
                    other => bail!("unknown profile {other:?} (accepted: quick, full)"),
                })
            }
            Flag::Seed => {
                let v = value()?;
                o.seed = Some(v.parse().with_context(|| {
                    format!("--seed {v:?} is not a number (accepted: 0 to {})", u64::MAX)
                })?);
            }
            Flag::Rounds => {
                let v = value()?;
                o.rounds = Some(v.parse().ok().filter(|r| *r >= MIN_ROUNDS).with_context(
                    || {
                        format!(
                            "--rounds {v:?} is not accepted (accepted: a whole number from \
                                 {MIN_ROUNDS}; a median's interval needs at least two rounds)"
                        )
                    },
                )?);
            }
            Flag::Out => o.out = Some(PathBuf::from(value()?)),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(args: &[&str]) -> Result<Options> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        parse("report", &args, &Flag::ALL)
    }

    #[test]
    fn flags_parse_and_errors_say_what_is_accepted() {
        let o = parse_all(&[
            "--run",
            "--profile",
            "full",
            "--seed",
            "7",
            "--rounds",
            "9",
            "--out",
            "x",
        ])
        .unwrap();
        assert!(o.run && !o.publish);
        assert_eq!(o.profile, Some(Profile::Full));
        assert_eq!((o.seed, o.rounds), (Some(7), Some(9)));
        assert_eq!(o.out, Some(PathBuf::from("x")));
        let o = parse_all(&["--run", "--", "--workloads", "crawl"]).unwrap();
        assert_eq!(o.campaign_args, ["--workloads", "crawl"]);

        let err = |args: &[&str]| format!("{:#}", parse_all(args).unwrap_err());
        assert!(err(&["--profile", "slow"]).contains("accepted: quick, full"));
        assert!(err(&["--profile"]).contains("--profile needs a value (--profile quick|full)"));
        assert!(err(&["--seed", "x"]).contains("accepted: 0 to"));
        assert!(err(&["--rounds", "1"]).contains("accepted: a whole number from 2"));
        let bogus = err(&["--bogus"]);
        assert!(
            bogus.contains("unknown argument \"--bogus\" for report"),
            "{bogus}"
        );
        assert!(
            bogus.contains("--profile quick|full, --seed N, --rounds R"),
            "{bogus}"
        );
        // A flag another command accepts is unknown here.
        let args = vec!["--out".to_owned(), "x".to_owned()];
        let e = parse("reproduce", &args, &[Flag::Profile]).unwrap_err();
        assert!(
            format!("{e:#}").contains("accepted: --profile quick|full"),
            "{e:#}"
        );
    }
}
