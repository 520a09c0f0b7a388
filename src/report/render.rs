//! A report as terminal text, CSV and JSON.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use super::queries::text;
use super::{Report, Section};

/// Widest cell of a terminal table; longer values (command lines) are cut with `…`.
const MAX_CELL: usize = 60;

/// Facts, then each section as an aligned table.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{}", report.title);
    let label_width = report
        .facts
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    for (label, value) in &report.facts {
        let _ = writeln!(out, "  {label:<label_width$}  {value}");
    }
    let _ = writeln!(
        out,
        "  {:<label_width$}  {} (manifest head {})",
        "Lake", report.lake, report.head
    );
    for section in &report.sections {
        let _ = writeln!(out, "\n{} ({} rows)", section.title, section.rows.len());
        if !section.rows.is_empty() {
            out.push_str(&grid(section));
        }
    }
    out
}

fn grid(section: &Section) -> String {
    let cells: Vec<Vec<String>> = section
        .rows
        .iter()
        .map(|row| {
            section
                .columns
                .iter()
                .map(|column| cut(&text(row, column)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = section
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let widest = cells
                .iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0);
            widest.max(column.len())
        })
        .collect();
    let line = |values: &[String]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(value, &width)| format!("{value:<width$}"))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&section.columns);
    let rules: Vec<String> = widths.iter().map(|&width| "-".repeat(width)).collect();
    out.push_str(&line(&rules));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

fn cut(value: &str) -> String {
    let value = value.replace(['\n', '\r', '\t'], " ");
    if value.chars().count() <= MAX_CELL {
        return value;
    }
    let mut cut: String = value.chars().take(MAX_CELL - 1).collect();
    cut.push('…');
    cut
}

/// The main section as CSV with a header row.
pub fn csv(report: &Report) -> Result<String> {
    let Some(main) = report.sections.first() else {
        return Ok(String::new());
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(&main.columns)
        .context("cannot write CSV")?;
    for row in &main.rows {
        let values: Vec<String> = main
            .columns
            .iter()
            .map(|column| text(row, column))
            .collect();
        writer.write_record(&values).context("cannot write CSV")?;
    }
    let bytes = writer.into_inner().context("cannot write CSV")?;
    String::from_utf8(bytes).context("CSV of UTF-8 values is UTF-8")
}

/// The whole report as one JSON object.
pub fn json(report: &Report) -> Result<String> {
    let mut text =
        serde_json::to_string_pretty(&value(report)).context("cannot encode the report")?;
    text.push('\n');
    Ok(text)
}

/// The whole report as one JSON value, as [`json()`] writes it.
pub fn value(report: &Report) -> Value {
    let facts: Map<String, Value> = report
        .facts
        .iter()
        .map(|(label, value)| (label.clone(), Value::from(value.as_str())))
        .collect();
    let sections: Vec<Value> = report
        .sections
        .iter()
        .map(|section| {
            json!({
                "title": section.title,
                "columns": section.columns,
                "rows": section.rows,
            })
        })
        .collect();
    json!({
        "report": report.kind,
        "title": report.title,
        "generated": report.generated.to_rfc3339(),
        "lake": report.lake,
        "manifest_head": report.head,
        "facts": facts,
        "path": report.path,
        "sections": sections,
    })
}
