//! Tidy checks, run as ordinary tests (`cargo test -p xtask`): conventions that keep the
//! workspace easy to enter, checked instead of remembered.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::project_root;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    rust_files(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every Rust file opens with a `//!` comment saying why it exists.
    #[test]
    fn every_rust_file_opens_with_module_docs() {
        let root = project_root();
        let mut files = Vec::new();
        for dir in ["crates", "xtask", "benches"] {
            if root.join(dir).is_dir() {
                rust_files(&root.join(dir), &mut files);
            }
        }
        assert!(files.len() > 10, "found only {} files", files.len());
        let missing: Vec<String> = files
            .iter()
            .filter(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                !text.trim_start().starts_with("//!")
            })
            .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert!(
            missing.is_empty(),
            "files without a leading //! doc: {missing:?}"
        );
    }

    /// The core crate's manifest names no runtime and no HTTP client (the fast, offline half of
    /// `cargo xtask check-core`, which also checks transitive dependencies).
    #[test]
    fn core_manifest_names_no_runtime_or_client() {
        let manifest =
            std::fs::read_to_string(project_root().join("crates/core/Cargo.toml")).unwrap();
        for name in crate::FORBIDDEN_IN_CORE {
            let needle = format!("\n{name}");
            assert!(
                !manifest.contains(&needle),
                "crates/core/Cargo.toml names {name}"
            );
        }
    }
}
