//! `ward verify`: proof that the lake is the audit record ward wrote.
//!
//! Recomputes every file's SHA-256 against the manifest, checks the manifest's hash
//! chain, and looks for files no entry lists. Prints each problem by path or entry, and
//! exits 1 when there is any, so a scheduled job or an investigator's script can rely on
//! the exit code alone.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use ward_storage::VerifyReport;

use crate::run::config::RunConfig;

/// Verify the lake: every file's hash, the manifest's hash chain, nothing added.
///
/// Exits 0 when the lake is intact, 1 when anything was altered, deleted, added or
/// cut off (each problem is named on stdout), 2 when the lake cannot be read.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The lake folder [default: `lake` from the configuration].
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,

    /// Configuration file (the one `ward run` reads), for its `lake`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The head hash an earlier verify printed and you kept elsewhere: a lake whose
    /// manifest was rewritten or cut back then fails even when its chain is whole.
    #[arg(long, value_name = "SHA256")]
    expect_head: Option<String>,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// How `ward verify` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// A summary line and one line per problem.
    Text,
    /// One JSON object: counts, head, problems.
    Json,
}

/// Runs `ward verify`.
pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let (lake, _) = RunConfig::lake(args.lake, args.config.as_deref())?;

    let started = Instant::now();
    let mut progress = Progress::new();
    let report = ward_storage::verify(&lake, |bytes| progress.show(bytes))
        .with_context(|| format!("cannot verify the lake {}", lake.display()))?;
    progress.clear();
    let head_differs = match (&args.expect_head, &report.head) {
        (Some(expected), Some(head)) => !expected.eq_ignore_ascii_case(head),
        (Some(_), None) => true,
        (None, _) => false,
    };

    match args.format {
        ReportFormat::Text => print_text(&report, head_differs, started.elapsed()),
        ReportFormat::Json => {
            let mut value = serde_json::to_value(&report).context("cannot encode the report")?;
            value["head_matches"] = serde_json::Value::Bool(!head_differs);
            println!("{value}");
        }
    }
    let intact = report.is_intact() && !head_differs;
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(report: &VerifyReport, head_differs: bool, took: Duration) {
    let mb = report.bytes as f64 / 1e6;
    let verdict = if report.is_intact() && !head_differs {
        "intact"
    } else {
        "TAMPERED"
    };
    println!(
        "ward verify: {verdict}: {} manifest entries, {} files, {mb:.1} MB hashed in {:.1} s",
        report.entries,
        report.files,
        took.as_secs_f64()
    );
    if let Some(head) = &report.head {
        println!("  head: {head}");
    }
    if head_differs {
        println!("  the head differs from --expect-head: the manifest was rewritten or cut back");
    }
    for problem in &report.problems {
        println!("  {problem}");
    }
    if !report.awaiting_deletion.is_empty() {
        println!(
            "  awaiting deletion: {} files a retention run recorded as deleted but did not \
             remove; the next writer to open the lake removes them",
            report.awaiting_deletion.len()
        );
    }
    if !report.quarantined.is_empty() {
        println!(
            "  quarantine: {} files no manifest entry listed when a writer opened the lake \
             (a crash's leftovers, or the files of entries cut from the manifest): {}",
            report.quarantined.len(),
            report.quarantined.join(", ")
        );
    }
}

/// Bytes hashed so far on stderr, every second, when a person is watching.
struct Progress {
    enabled: bool,
    last: Instant,
    shown: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            enabled: io::stderr().is_terminal(),
            last: Instant::now(),
            shown: false,
        }
    }

    fn show(&mut self, bytes: u64) {
        if self.enabled && self.last.elapsed() >= Duration::from_secs(1) {
            eprint!("\rward verify: {:.0} MB hashed", bytes as f64 / 1e6);
            self.last = Instant::now();
            self.shown = true;
        }
    }

    fn clear(&self) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
    }
}
