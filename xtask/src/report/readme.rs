//! The README's headline table, kept equal to the published report: collating into `results/`
//! rewrites the part of `README.md` between two marker comments with the same table `REPORT.md`
//! shows, so the README can never quote numbers the published campaign did not measure.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{markdown::headline, view::View};

/// The comment that opens the generated part.
pub(crate) const BEGIN: &str = "<!-- headline: written by `cargo xtask report --publish` from results/report.json; do not edit -->";
/// The comment that closes it.
pub(crate) const END: &str = "<!-- headline end -->";

/// Replaces the text between the markers of `readme` with the headline of `view`. Returns
/// whether the file changed.
pub(crate) fn sync(readme: &Path, view: &View<'_>) -> Result<bool> {
    let text = std::fs::read_to_string(readme)
        .with_context(|| format!("cannot read {}", readme.display()))?;
    let updated = splice(&text, &headline::table_and_notes(view)).with_context(|| {
        format!(
            "{} needs the markers `{BEGIN}` and `{END}` around its headline table",
            readme.display()
        )
    })?;
    if updated == text {
        return Ok(false);
    }
    std::fs::write(readme, updated)
        .with_context(|| format!("cannot write {}", readme.display()))?;
    Ok(true)
}

fn splice(text: &str, table: &str) -> Result<String> {
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        bail!("a marker is missing");
    };
    if end < begin {
        bail!("the end marker comes before the begin marker");
    }
    Ok(format!(
        "{}{BEGIN}\n\n{}\n{END}{}",
        &text[..begin],
        table.trim_end(),
        &text[end + END.len()..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_between_the_markers_only() {
        let text = format!("# t\n\nbefore\n{BEGIN}\nold | table\n{END}\nafter\n");
        let out = splice(&text, "| new |\n").unwrap();
        assert_eq!(
            out,
            format!("# t\n\nbefore\n{BEGIN}\n\n| new |\n{END}\nafter\n")
        );
        // Idempotent.
        assert_eq!(splice(&out, "| new |\n").unwrap(), out);
        assert!(splice("no markers", "x").is_err());
        assert!(splice(&format!("{END} {BEGIN}"), "x").is_err());
    }
}
