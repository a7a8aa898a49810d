//! What a run produces: one [`Row`] per measured figure, printed as a table
//! line as soon as it is measured, appended to the `--json` file at the end,
//! and turned into the Markdown table of `BENCHMARKS.md` by `report`.
//! `scripts/bench.sh` reads the JSON, so a row's fields and their order stay
//! as they are.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One measured figure.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub value: f64,
    pub unit: String,
    pub params: String,
}

/// The header of the table [`Row::print`] writes lines of.
pub fn print_header() {
    println!(
        "{:<8} {:<34} {:>12} {:<10} parameters",
        "scenario", "metric", "value", "unit"
    );
}

impl Row {
    /// Prints the row as one line of the table under [`print_header`].
    pub fn print(&self) {
        println!(
            "{:<8} {:<34} {:>12.2} {:<10} {}",
            self.scenario, self.metric, self.value, self.unit, self.params
        );
    }
}

/// Appends `rows` to the JSON array in `path` (a missing or unreadable file
/// counts as empty), so that several runs can share one results file.
pub fn append_json(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut all: Vec<Row> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    all.extend(rows.iter().cloned());
    std::fs::write(path, serde_json::to_string_pretty(&all)?)?;
    Ok(())
}

/// Prints a Markdown table of a JSON results file.
pub fn report(file: &Path) -> anyhow::Result<()> {
    let rows: Vec<Row> = serde_json::from_str(&std::fs::read_to_string(file)?)?;
    println!("| scenario | parameters | metric | value |");
    println!("|---|---|---|---|");
    for r in rows {
        let value = if r.value.fract() == 0.0 {
            format!("{:.0}", r.value)
        } else {
            format!("{:.2}", r.value)
        };
        println!(
            "| {} | {} | {} | {} {} |",
            r.scenario, r.params, r.metric, value, r.unit
        );
    }
    Ok(())
}
