//! `ward replay`: the analysis pipeline of `ward run`, from files.
//!
//! Reads sensor files, normalizes every record, runs the detection rules and the
//! correlator, and writes events, dead letters, signals and incidents to a lake with the
//! same commit protocol as `ward run`. Incidents are also written as JSON lines when
//! asked, and summarized on stderr. For backfills and forensics: replaying a day of logs
//! finds the incidents a live run would have found.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use ward_ingest::read::{self, Input};
use ward_ingest::{DeadLetter, FormatChoice, Normalizer};
use ward_schemas::{Event, Incident};
use ward_storage::{Batch, DeadLetterRow, Lake, default_writer_id, read_manifest};

use crate::analysis::{Analysis, AnalysisFlags, AnalysisSettings};
use crate::run::config::RunConfig;

/// Rows gathered before they are committed to the lake.
const COMMIT_ROWS: usize = 50_000;

/// Replay sensor files through detection and correlation into a lake.
///
/// Reads files and folders as `ward normalize` does, and writes events, dead letters,
/// signals and incidents to the lake. Prints each incident's path, evidence and breach
/// triage when done.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Configuration file (the one `ward run` reads): lake, rules, inventory, correlation.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The lake folder to write [default: `lake` from the configuration].
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,

    #[command(flatten)]
    analysis: AnalysisFlags,

    /// Also write every incident here, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    incidents_out: Option<PathBuf>,

    /// Write into a lake that already holds data. Replayed records carry no Kafka offset,
    /// so replaying the same files twice into one lake stores them twice.
    #[arg(long)]
    append: bool,

    /// Format of every record, or `auto` to detect per record.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    format: FormatChoice,

    /// Files or folders to read.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

fn parse_format(name: &str) -> Result<FormatChoice, String> {
    name.parse()
        .map_err(|err: ward_ingest::format::UnknownFormat| err.to_string())
}

/// What a replay did, for the summary and for callers such as `ward demo`.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    /// Records read.
    pub records: u64,
    /// Events written.
    pub events: u64,
    /// Dead letters written.
    pub dead_letters: u64,
    /// Signals written.
    pub signals: u64,
    /// Rules loaded.
    pub rules: usize,
    /// Signals per rule id.
    pub fired: std::collections::BTreeMap<String, u64>,
    /// The incidents found, in order of their first step.
    pub incidents: Vec<Incident>,
}

/// Runs `ward replay`.
pub fn run(args: ReplayArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => RunConfig::load(path)?,
        None => RunConfig::default(),
    };
    let lake = args
        .lake
        .clone()
        .or_else(|| config.lake.clone())
        .context("no lake given: pass --lake DIR or set `lake` in the configuration")?;
    let settings = AnalysisSettings::new(&config, &args.analysis)?;
    let started = Instant::now();

    let key = config.lake_key()?;
    let summary = replay(&lake, key, &settings, args.format, &args.paths, args.append)?;

    if let Some(path) = &args.incidents_out {
        write_incidents(path, &summary.incidents)?;
    }
    print_summary(&summary, &lake, started);
    Ok(())
}

/// Replays `paths` into the lake at `lake`, encrypted with `key` if there is one.
pub fn replay(
    lake_dir: &Path,
    key: Option<ward_storage::LakeKey>,
    settings: &AnalysisSettings,
    format: FormatChoice,
    paths: &[PathBuf],
    append: bool,
) -> Result<ReplaySummary> {
    let inputs = read::expand(paths)?;
    let mut analysis = Analysis::new(settings)?;
    let mut lake = Lake::open_with_key(lake_dir, &default_writer_id(), key)
        .with_context(|| format!("cannot open the lake {}", lake_dir.display()))?;
    if !append && !read_manifest(lake_dir)?.is_empty() {
        bail!(
            "the lake {} already holds data; replay into a new folder, or pass --append to \
             add to it (replayed records carry no offsets, so the same files twice are \
             stored twice)",
            lake_dir.display()
        );
    }

    let normalizer = Normalizer::new(format);
    let mut summary = ReplaySummary::default();
    let mut batch = Batch::new();
    let mut events: Vec<Event> = Vec::new();
    let mut dead: Vec<DeadLetter> = Vec::new();
    for input in &inputs {
        let path = match input {
            Input::File(path) => path,
            Input::Skipped(path, skip) => {
                eprintln!("ward: skipped {}: {}", path.display(), skip.reason());
                continue;
            }
        };
        let read = read::read_file(path, &mut |record| {
            normalizer.normalize(record, &mut events, &mut dead);
            for event in events.drain(..) {
                let (event, signals) = analysis.process(event);
                batch.events.push((event, None));
                batch
                    .signals
                    .extend(signals.into_iter().map(|signal| (signal, None)));
            }
            batch
                .dead_letters
                .extend(dead.drain(..).map(|letter| (row(letter), None)));
        })?;
        summary.records += read.records;

        if batch.records() >= COMMIT_ROWS {
            commit(&mut lake, std::mem::take(&mut batch), &mut summary)?;
        }
    }

    summary.incidents = analysis.incidents();
    summary.rules = analysis.rule_count();
    summary.fired = analysis.fired().clone();
    batch.incidents = summary.incidents.clone();
    commit(&mut lake, batch, &mut summary)?;

    for (rule, failures) in analysis.disabled_rules() {
        eprintln!("ward: rule {rule} was disabled after {failures} failures");
    }
    let stats = analysis.correlator_stats();
    tracing::debug!(?stats, "correlator state at the end of the replay");
    Ok(summary)
}

fn commit(lake: &mut Lake, batch: Batch, summary: &mut ReplaySummary) -> Result<()> {
    let committed = lake.commit(batch).context("cannot commit to the lake")?;
    summary.events += committed.event_rows;
    summary.dead_letters += committed.dead_letter_rows;
    summary.signals += committed.signal_rows;
    Ok(())
}

fn row(letter: DeadLetter) -> DeadLetterRow {
    DeadLetterRow {
        reason: letter.reason.to_string(),
        format: letter.format.map(|format| format.name().to_owned()),
        topic: None,
        partition: None,
        offset: None,
        provenance: letter.provenance,
        received_time: None,
        raw: letter.raw,
    }
}

fn write_incidents(path: &Path, incidents: &[Incident]) -> Result<()> {
    let file = File::create(path)
        .with_context(|| format!("cannot create the incidents file {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for incident in incidents {
        serde_json::to_writer(&mut out, incident)?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("cannot write the incidents file {}", path.display()))
}

/// The incidents on stderr, for the person who ran the replay.
pub fn print_summary(summary: &ReplaySummary, lake: &Path, started: Instant) {
    eprintln!(
        "ward replay: {} records -> {} events, {} dead letters, {} signals, {} incidents in \
         {:.1} s",
        summary.records,
        summary.events,
        summary.dead_letters,
        summary.signals,
        summary.incidents.len(),
        started.elapsed().as_secs_f64()
    );
    let mut fired: Vec<(&String, &u64)> = summary.fired.iter().collect();
    fired.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let fired: Vec<String> = fired
        .iter()
        .map(|(rule, n)| format!("{rule} {n}"))
        .collect();
    if !fired.is_empty() {
        eprintln!(
            "  signals by rule ({} rules loaded): {}",
            summary.rules,
            fired.join(", ")
        );
    }
    for incident in &summary.incidents {
        print_incident(incident);
    }
    eprintln!("  lake: {}", lake.display());
}

/// One incident in a few lines: path, who, proof and what the law asks for.
pub fn print_incident(incident: &Incident) {
    eprintln!();
    eprintln!(
        "  incident {} ({}, score {:.1})",
        incident.incident_id, incident.severity, incident.score
    );
    eprintln!("    path:      {}", incident.path.join(" -> "));
    eprintln!(
        "    when:      {} .. {}",
        incident.first_seen, incident.last_seen
    );
    eprintln!("    why:       {}", incident.reason);
    eprintln!("    users:     {}", incident.users.join(", "));
    eprintln!("    techniques: {}", incident.techniques.join(", "));
    for hop in &incident.hops {
        eprintln!(
            "    step {} -> {}: {} evidence events from {}",
            hop.from,
            hop.to,
            hop.evidence.len(),
            hop.first_seen
        );
    }
    eprintln!(
        "    patients affected: {} -> {} ({})",
        incident.patients_affected,
        incident.triage.as_str(),
        incident.triage.explain()
    );
}
