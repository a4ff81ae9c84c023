//! `cargo xtask new-backend NAME`: generates a backend crate from `xtask/templates/` and wires it
//! in — one crate, one workspace dependency line, one CLI dependency line, one registry line —
//! so a newcomer starts from something that builds, shows up in `crawlbench list`, runs, and has
//! its conformance test.
//!
//! `cargo xtask scaffold-check` proves the template has not rotted: it copies the workspace's
//! tracked files to a temporary directory, generates a backend there, and builds and lists it.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail, ensure};

const CARGO_TEMPLATE: &str = include_str!("../templates/Cargo.toml.tmpl");
const LIB_TEMPLATE: &str = include_str!("../templates/lib.rs.tmpl");
const TEST_TEMPLATE: &str = include_str!("../templates/conformance.rs.tmpl");

const WORKSPACE_MARKER: &str = "# new-backend: workspace dependency lines above";
const CLI_DEP_MARKER: &str = "# new-backend: dependency lines above";
const REGISTRY_MARKER: &str = "// new-backend: registry line above";

/// The names derived from a backend name like `glommio-h1`.
#[derive(Debug)]
struct Names {
    name: String,
    krate: String,
    lib: String,
    ty: String,
}

impl Names {
    fn of(name: &str) -> Result<Self> {
        let valid = !name.is_empty()
            && name.len() <= 40
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.ends_with('-')
            && !name.contains("--");
        ensure!(
            valid,
            "invalid backend name {name:?} (accepted: lowercase letters, digits and single dashes, \
             starting with a letter, at most 40 characters, e.g. `glommio-h1`)"
        );
        let ty = name
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        let krate = format!("crawlbench-{name}");
        Ok(Self {
            name: name.to_owned(),
            lib: krate.replace('-', "_"),
            krate,
            ty,
        })
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{{name}}", &self.name)
            .replace("{{crate}}", &self.krate)
            .replace("{{lib}}", &self.lib)
            .replace("{{type}}", &self.ty)
    }
}

fn insert_before_marker(path: &Path, marker: &str, line: &str) -> Result<()> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let at = text.find(marker).with_context(|| {
        format!(
            "{} lost its `{marker}` line; put it back where new lines belong",
            path.display()
        )
    })?;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[line_start..at];
    let updated = format!(
        "{}{indent}{line}\n{}",
        &text[..line_start],
        &text[line_start..]
    );
    fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))
}

/// Generates backend `name` in the workspace at `root`.
pub(crate) fn new_backend(root: &Path, name: &str) -> Result<()> {
    let names = Names::of(name)?;
    let dir = root.join("crates/backends").join(&names.name);
    if dir.exists() {
        bail!("{} already exists; pick another name", dir.display());
    }
    let registry = root.join("crates/cli/src/lib.rs");
    let registry_text = fs::read_to_string(&registry)?;
    if registry_text.contains(&format!("{}::", names.lib)) {
        bail!("the registry already names {}", names.lib);
    }
    fs::create_dir_all(dir.join("src"))?;
    fs::create_dir_all(dir.join("tests"))?;
    fs::write(dir.join("Cargo.toml"), names.fill(CARGO_TEMPLATE))?;
    fs::write(dir.join("src/lib.rs"), names.fill(LIB_TEMPLATE))?;
    fs::write(dir.join("tests/conformance.rs"), names.fill(TEST_TEMPLATE))?;
    insert_before_marker(
        &root.join("Cargo.toml"),
        WORKSPACE_MARKER,
        &format!(
            "{} = {{ path = \"crates/backends/{}\", version = \"0.1.0\" }}",
            names.krate, names.name
        ),
    )?;
    insert_before_marker(
        &root.join("crates/cli/Cargo.toml"),
        CLI_DEP_MARKER,
        &format!("{}.workspace = true", names.krate),
    )?;
    insert_before_marker(
        &registry,
        REGISTRY_MARKER,
        &format!("Box::new({}::{}),", names.lib, names.ty),
    )?;
    println!(
        "created crates/backends/{name} ({krate}) and registered it.\n\
         next:\n  \
         1. write {ty}Client::get in crates/backends/{name}/src/lib.rs (see CONTRIBUTING.md)\n  \
         2. cargo test -p {krate}            # the conformance suite\n  \
         3. cargo run --release -p crawlbench -- run --backend {name} --pages 2000 --concurrency 200 --delay 50ms",
        krate = names.krate,
        ty = names.ty,
    );
    Ok(())
}

/// Generates a probe backend in a copy of the workspace and proves it builds, lists and runs its
/// conformance test binary.
pub(crate) fn scaffold_check(root: &Path) -> Result<()> {
    let copy = std::env::temp_dir().join(format!("crawlbench-scaffold-{}", std::process::id()));
    if copy.exists() {
        fs::remove_dir_all(&copy)?;
    }
    let files = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z"])
        .output()?;
    ensure!(files.status.success(), "git ls-files failed");
    for rel in files.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let rel = PathBuf::from(String::from_utf8_lossy(rel).into_owned());
        let (from, to) = (root.join(&rel), copy.join(&rel));
        if !from.is_file() {
            continue;
        }
        fs::create_dir_all(to.parent().expect("a file has a parent"))?;
        fs::copy(&from, &to)?;
    }
    let result = (|| {
        new_backend(&copy, "scaffold-probe")?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target = root.join("target");
        let run = |args: &[&str]| -> Result<String> {
            let out = Command::new(&cargo)
                .current_dir(&copy)
                .env("CARGO_TARGET_DIR", &target)
                .args(args)
                .output()
                .with_context(|| format!("cannot run cargo {args:?}"))?;
            ensure!(
                out.status.success(),
                "cargo {args:?} failed in the scaffold copy:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        run(&[
            "test",
            "-p",
            "crawlbench-scaffold-probe",
            "--no-run",
            "--quiet",
        ])?;
        let listed = run(&["run", "--quiet", "-p", "crawlbench", "--", "list"])?;
        ensure!(
            listed.contains("scaffold-probe"),
            "the generated backend is not listed:\n{listed}"
        );
        Ok(())
    })();
    let _ = fs::remove_dir_all(&copy);
    result?;
    println!(
        "scaffold-check: a generated backend builds, registers, lists, and compiles its conformance test"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_and_bad_names_are_refused() {
        let n = Names::of("glommio-h1").unwrap();
        assert_eq!(
            (n.krate.as_str(), n.lib.as_str(), n.ty.as_str()),
            (
                "crawlbench-glommio-h1",
                "crawlbench_glommio_h1",
                "GlommioH1"
            )
        );
        for bad in ["", "Tokio", "1x", "a_b", "a-", "a--b", "a b"] {
            let e = Names::of(bad).unwrap_err().to_string();
            assert!(e.contains("accepted"), "{bad}: {e}");
        }
    }

    #[test]
    fn templates_have_no_unfilled_placeholders() {
        let n = Names::of("x").unwrap();
        for t in [CARGO_TEMPLATE, LIB_TEMPLATE, TEST_TEMPLATE] {
            assert!(!n.fill(t).contains("{{"), "{t}");
        }
    }

    #[test]
    fn markers_are_present_in_the_workspace() {
        let root = crate::project_root();
        for (file, marker) in [
            ("Cargo.toml", WORKSPACE_MARKER),
            ("crates/cli/Cargo.toml", CLI_DEP_MARKER),
            ("crates/cli/src/lib.rs", REGISTRY_MARKER),
        ] {
            let text = fs::read_to_string(root.join(file)).unwrap();
            assert!(text.contains(marker), "{file} lacks `{marker}`");
        }
    }
}
