//! `ward normalize`: sensor files in, normalized events out as JSON lines.
//!
//! Events go to stdout, one JSON object per line, with the lake's column names (absent
//! values omitted). A summary per format and class goes to stderr when the run ends.
//! Records that cannot be normalized go to the dead-letter file when one is given, or are
//! listed on stderr (reason and provenance only; their bytes may hold patient data).
//!
//! Exit status: 0 when the run completed, dead letters or not; 2 for unusable arguments
//! or a path that cannot be read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use ward_ingest::read::{self, Input};
use ward_ingest::{DeadLetter, FormatChoice, Normalizer};
use ward_schemas::Event;

/// Normalize sensor files into ward events, printed as JSON lines.
///
/// Reads files and folders (recursively): JSON lines, JSON arrays, pretty-printed JSON,
/// Zeek TSV, CSV, XML, each optionally gzip-compressed. The format of each record is
/// detected unless --format fixes it.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// Format of every record, or `auto` to detect per record. One of: auto,
    /// windows-json, windows-evtx-json, zeek-json, zeek-tsv, suricata-eve,
    /// fhir-audit-event, dicom-atna, ehr-access-csv.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    format: FormatChoice,

    /// Write records that cannot be normalized here, one JSON object per line with the
    /// reason, provenance and raw bytes. Without it they are listed on stderr.
    #[arg(long, value_name = "FILE")]
    dead_letters: Option<PathBuf>,

    /// Files or folders to read.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

fn parse_format(name: &str) -> Result<FormatChoice, String> {
    name.parse()
        .map_err(|err: ward_ingest::format::UnknownFormat| err.to_string())
}

/// Counts for the summary.
#[derive(Default)]
struct Tally {
    files: u64,
    records: u64,
    bytes: u64,
    events: u64,
    by_format_class: BTreeMap<(&'static str, &'static str), u64>,
    dead_by_reason: BTreeMap<String, u64>,
    dead: u64,
    skipped: Vec<(PathBuf, &'static str)>,
}

/// Runs `ward normalize`.
pub fn run(args: NormalizeArgs) -> Result<()> {
    let inputs = read::expand(&args.paths)?;
    let mut dead_file = match &args.dead_letters {
        Some(path) => Some(BufWriter::new(File::create(path).with_context(|| {
            format!("cannot create the dead-letter file {}", path.display())
        })?)),
        None => None,
    };

    let normalizer = Normalizer::new(args.format);
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let mut tally = Tally::default();
    let mut events: Vec<Event> = Vec::new();
    let mut dead: Vec<DeadLetter> = Vec::new();
    let mut write_error: Option<io::Error> = None;
    let started = Instant::now();
    let mut progress = Progress::new();

    for input in &inputs {
        let path = match input {
            Input::File(path) => path,
            Input::Skipped(path, skip) => {
                tally.skipped.push((path.clone(), skip.reason()));
                continue;
            }
        };
        let summary = read::read_file(path, &mut |record| {
            normalizer.normalize(record, &mut events, &mut dead);
            if write_error.is_none() {
                write_error = write_events(&mut out, &events, &mut tally).err();
            }
            events.clear();
            for letter in dead.drain(..) {
                tally.dead += 1;
                *tally
                    .dead_by_reason
                    .entry(letter.reason.to_string())
                    .or_default() += 1;
                if write_error.is_none() {
                    write_error = write_dead_letter(dead_file.as_mut(), &letter).err();
                }
            }
        })?;
        tally.files += 1;
        tally.records += summary.records;
        tally.bytes += summary.bytes;
        progress.tick(&tally);

        if let Some(err) = write_error.take() {
            if err.kind() == io::ErrorKind::BrokenPipe {
                // The reader of stdout went away (`| head`): stop quietly, as Unix tools do.
                return Ok(());
            }
            return Err(err).context("cannot write the output");
        }
    }

    out.flush()
        .or_else(ignore_broken_pipe)
        .context("cannot write the output")?;
    if let Some(file) = dead_file.as_mut() {
        file.flush().context("cannot write the dead-letter file")?;
    }
    print_summary(&tally, started.elapsed(), args.dead_letters.as_deref());
    Ok(())
}

fn write_events(out: &mut impl Write, events: &[Event], tally: &mut Tally) -> io::Result<()> {
    for event in events.iter() {
        serde_json::to_writer(&mut *out, event)?;
        out.write_all(b"\n")?;
        tally.events += 1;
        *tally
            .by_format_class
            .entry((event.source_format, event.class.as_str()))
            .or_default() += 1;
    }
    Ok(())
}

fn write_dead_letter(file: Option<&mut BufWriter<File>>, letter: &DeadLetter) -> io::Result<()> {
    match file {
        Some(file) => {
            file.write_all(letter.to_json().as_bytes())?;
            file.write_all(b"\n")
        }
        // Reason and provenance only: the raw bytes may hold patient data.
        None => {
            eprintln!(
                "ward: dead letter at {}: {}",
                letter.provenance, letter.reason
            );
            Ok(())
        }
    }
}

fn ignore_broken_pipe(err: io::Error) -> io::Result<()> {
    if err.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(err)
    }
}

/// Progress on stderr every two seconds, only when a person is watching it.
struct Progress {
    shown: bool,
    last: Instant,
    enabled: bool,
}

impl Progress {
    fn new() -> Self {
        Progress {
            shown: false,
            last: Instant::now(),
            enabled: io::stderr().is_terminal(),
        }
    }

    fn tick(&mut self, tally: &Tally) {
        if self.enabled && self.last.elapsed() >= Duration::from_secs(2) {
            eprint!(
                "\rward: {} files, {} records, {} events ...",
                tally.files, tally.records, tally.events
            );
            self.shown = true;
            self.last = Instant::now();
        }
    }
}

fn print_summary(tally: &Tally, elapsed: Duration, dead_letters: Option<&std::path::Path>) {
    let mut err = io::stderr().lock();
    let seconds = elapsed.as_secs_f64();
    let megabytes = tally.bytes as f64 / 1e6;
    let _ = writeln!(
        err,
        "\rward normalize: {} records in {} files ({:.1} MB) -> {} events, {} dead letters \
         in {:.2} s",
        tally.records, tally.files, megabytes, tally.events, tally.dead, seconds
    );
    if !tally.by_format_class.is_empty() {
        let _ = writeln!(err, "  {:<20} {:<24} {:>10}", "format", "class", "events");
        for ((format, class), count) in &tally.by_format_class {
            let _ = writeln!(err, "  {format:<20} {class:<24} {count:>10}");
        }
    }
    if tally.dead > 0 {
        let place = match dead_letters {
            Some(path) => format!("written to {}", path.display()),
            None => "listed above; pass --dead-letters FILE to keep their bytes".to_owned(),
        };
        let _ = writeln!(err, "  dead letters ({place}):");
        for (reason, count) in &tally.dead_by_reason {
            let _ = writeln!(err, "  {count:>10}  {reason}");
        }
    }
    for (path, reason) in &tally.skipped {
        let _ = writeln!(err, "  skipped {}: {reason}", path.display());
    }
}
