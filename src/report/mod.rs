//! `ward report`: the ready-made answers an OCR investigation asks for.
//!
//! Three reports, each read from the lake with SQL and printed as a terminal table, CSV,
//! JSON, or a self-contained HTML file an investigator can open offline:
//! - `patient-access`: every access to one patient's record, with incident membership;
//! - `user-activity`: everything one account did across EDR, NDR and EHR, in time order;
//! - `incident`: one incident's hops, the evidence of each, and the patients it affected.
//!
//! Every report is recorded in the lake's `access_log` before it is shown, and cites the
//! manifest head of the lake it was made from, so `ward verify --expect-head` can later
//! prove the lake still holds what the report was made of.
//!
//! Modules: `queries` (the three reports' SQL and what is computed from it), `render`
//! (terminal, CSV, JSON), `html` (the offline page).

mod html;
pub(crate) mod queries;
pub(crate) mod render;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use crate::access::Use;
use crate::run::config::RunConfig;

/// Investigation reports from the lake: patient access, user activity, incident timeline.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    report: ReportKind,

    #[command(flatten)]
    output: OutputArgs,
}

/// Which report, with its arguments.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum ReportKind {
    /// Every access to one patient's record: when, by whom, from which workstation, what
    /// was done, the purpose of use, break-the-glass, and whether the account or
    /// workstation was part of an incident at the time.
    PatientAccess {
        /// The patient's identifier as the EHR records it (MRN or FHIR Patient id), or `-`
        /// to read it from stdin, which keeps it out of the process list and shell history.
        #[arg(long)]
        patient: String,
        #[command(flatten)]
        period: Period,
    },
    /// Everything one account did across endpoint, network and EHR events, in time order,
    /// with the detection rules that fired on each event.
    UserActivity {
        /// The account, as logged (`DOMAIN\name`, `name@domain` or `name`).
        #[arg(long)]
        user: String,
        #[command(flatten)]
        period: Period,
    },
    /// One incident: its path, each hop with its evidence events, the patients whose
    /// records the involved accounts or hosts touched, and breach triage.
    Incident {
        /// The incident id (32 hex digits, as `ward query` shows in `incidents`).
        id: String,
    },
}

/// The time span a report covers.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct Period {
    /// From this time (RFC 3339, or a date meaning its start, UTC).
    #[arg(long, value_parser = parse_time)]
    pub(crate) from: Option<DateTime<Utc>>,
    /// Up to this time, excluded (RFC 3339, or a date meaning its start, UTC).
    #[arg(long, value_parser = parse_time)]
    pub(crate) to: Option<DateTime<Utc>>,
}

/// Where the lake is and how the report is written.
#[derive(Debug, Args)]
struct OutputArgs {
    /// The lake folder [default: `lake` from the configuration].
    #[arg(long, value_name = "DIR", global = true)]
    lake: Option<PathBuf>,

    /// Configuration file (the one `ward run` reads), for its `lake`.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,

    /// How to write the report: `table` and `csv` hold its main table, `json` and `html`
    /// all of it.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    format: Format,

    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE", global = true)]
    out: Option<PathBuf>,
}

/// Output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned text tables.
    Table,
    /// The main table as CSV with a header row.
    Csv,
    /// The whole report as one JSON object.
    Json,
    /// A self-contained HTML page.
    Html,
}

/// A report, ready to render.
#[derive(Debug, Clone)]
pub struct Report {
    /// `patient-access`, `user-activity` or `incident`.
    pub kind: &'static str,
    /// Its heading.
    pub title: String,
    /// Label and value pairs shown above the tables.
    pub facts: Vec<(String, String)>,
    /// For an incident, the hosts of its path, to draw.
    pub path: Vec<String>,
    /// The tables, the main one first.
    pub sections: Vec<Section>,
    /// Where it was made from: the lake folder and its manifest head.
    pub lake: String,
    /// The lake's manifest head when the report was made.
    pub head: String,
    /// When it was made.
    pub generated: DateTime<Utc>,
}

impl Report {
    /// Rows of its main table, the count the access log records.
    pub fn main_rows(&self) -> u64 {
        self.sections
            .first()
            .map_or(0, |main| main.rows.len() as u64)
    }
}

/// One table of a report.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its heading.
    pub title: String,
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each a JSON object holding those columns.
    pub rows: Vec<Map<String, Value>>,
}

/// Runs `ward report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let (lake, _, key) =
        RunConfig::lake_and_key(args.output.lake.clone(), args.output.config.as_deref())?;

    let mut kind = args.report;
    if let ReportKind::PatientAccess { patient, .. } = &mut kind {
        *patient = patient_id(std::mem::take(patient))?;
    }
    let access = Use::start("report", describe(&kind));
    let built = crate::query::block_on(build(&lake, key.as_ref(), &kind))?;
    let report = match built {
        Ok(report) => report,
        Err(err) => {
            access.record(&lake, key.as_ref(), None)?;
            return Err(err);
        }
    };
    let rows = report.main_rows();
    access.record(&lake, key.as_ref(), Some(rows))?;

    let text = match args.output.format {
        Format::Table => render::table(&report),
        Format::Csv => render::csv(&report)?,
        Format::Json => render::json(&report)?,
        Format::Html => html::page(&report),
    };
    match &args.output.out {
        Some(path) => {
            fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("ward report: {} written to {}", report.kind, path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// A patient id as given on the command line: the text itself, or for `-` the first line
/// of stdin.
pub(crate) fn patient_id(given: String) -> Result<String> {
    if given != "-" {
        return Ok(given);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the patient id from stdin")?;
    let id = line.trim();
    if id.is_empty() {
        anyhow::bail!("no patient id on stdin");
    }
    Ok(id.to_owned())
}

/// Builds the report `kind` from the lake, read with `key` when it is encrypted.
pub(crate) async fn build(
    lake: &Path,
    key: Option<&ward_storage::LakeKey>,
    kind: &ReportKind,
) -> Result<Report> {
    let ctx = crate::query::session(lake, key).await?;
    let mut report = match kind {
        ReportKind::PatientAccess { patient, period } => {
            queries::patient_access(&ctx, patient, period).await?
        }
        ReportKind::UserActivity { user, period } => {
            queries::user_activity(&ctx, user, period).await?
        }
        ReportKind::Incident { id } => queries::incident(&ctx, id).await?,
    };
    let entries = ward_storage::read_manifest(lake).context("cannot read the lake's manifest")?;
    report.head = entries
        .last()
        .map_or_else(|| "(empty lake)".to_owned(), |e| e.hash.clone());
    report.lake = lake.display().to_string();
    Ok(report)
}

/// What the access log records of a report: its name and arguments.
pub(crate) fn describe(kind: &ReportKind) -> String {
    let period = |period: &Period| {
        let mut text = String::new();
        if let Some(from) = period.from {
            text.push_str(&format!(" --from {}", from.to_rfc3339()));
        }
        if let Some(to) = period.to {
            text.push_str(&format!(" --to {}", to.to_rfc3339()));
        }
        text
    };
    match kind {
        ReportKind::PatientAccess { patient, period: p } => {
            format!("patient-access --patient {patient}{}", period(p))
        }
        ReportKind::UserActivity { user, period: p } => {
            format!("user-activity --user {user}{}", period(p))
        }
        ReportKind::Incident { id } => format!("incident {id}"),
    }
}

/// RFC 3339, or a bare date meaning its first instant in UTC.
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|date| date.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| format!("{text:?} is neither RFC 3339 nor a YYYY-MM-DD date"))
}
