//! Which chart files a collation owns: `charts.json` beside `REPORT.md` lists the SVGs the last
//! collation wrote, so the next one removes those it does not write again (a workload dropped
//! from the campaign must not leave its old chart behind) and never touches any other file.

use std::{fs, path::Path};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::ChartFile;

/// The list's file name.
pub(crate) const LIST: &str = "charts.json";

/// `charts.json`.
#[derive(Debug, Serialize, Deserialize)]
struct List {
    /// What wrote it.
    written_by: String,
    /// Chart file names, relative to the directory.
    charts: Vec<String>,
}

/// The charts an earlier collation wrote into `dir`: those `charts.json` lists, and those the
/// old criterion-based report listed in its `results.json` (which this collation replaces, so
/// that file is removed too). An unreadable list is treated as empty: at worst an old chart
/// stays.
pub(crate) fn previous_charts(dir: &Path) -> Result<Vec<String>> {
    let mut previous = Vec::new();
    if let Ok(text) = fs::read_to_string(dir.join(LIST)) {
        if let Ok(list) = serde_json::from_str::<List>(&text) {
            previous.extend(list.charts);
        }
    }
    // The criterion-based report's results.json: recognised by its `metrics_schema`.
    let legacy = dir.join("results.json");
    let old: Option<serde_json::Value> = fs::read_to_string(&legacy)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    if let Some(old) = old.filter(|v| v.get("metrics_schema").is_some()) {
        let files = old["charts"].as_array().into_iter().flatten();
        previous.extend(files.filter_map(|c| c["file"].as_str().map(String::from)));
        fs::remove_file(&legacy)
            .with_context(|| format!("cannot remove the superseded {}", legacy.display()))?;
        println!(
            "report: removed {} (the criterion-based report, replaced by report.json)",
            legacy.display()
        );
    }
    Ok(previous)
}

/// Removes the charts in `previous` that `current` did not write again. Only plain `.svg` file
/// names are ever removed.
pub(crate) fn remove_stale(
    dir: &Path,
    previous: &[String],
    current: &[ChartFile],
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for old in previous {
        let stale = !current.iter().any(|c| &c.file == old);
        let plain = !old.contains(['/', '\\']) && old.ends_with(".svg");
        let path = dir.join(old);
        if stale && plain && path.is_file() {
            fs::remove_file(&path)
                .with_context(|| format!("cannot remove stale chart {}", path.display()))?;
            removed.push(old.clone());
        }
    }
    Ok(removed)
}

/// Writes `charts.json` listing `current`.
pub(crate) fn write_list(dir: &Path, current: &[ChartFile]) -> Result<()> {
    let list = List {
        written_by: "cargo xtask report: the charts of the last collation; the next one removes \
                     those it does not write again"
            .into(),
        charts: current.iter().map(|c| c.file.clone()).collect(),
    };
    let path = dir.join(LIST);
    fs::write(&path, serde_json::to_string_pretty(&list)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}
