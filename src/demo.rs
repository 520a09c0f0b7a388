//! `ward demo`: the whole product in one command, on a generated hospital.
//!
//! Generates the lateral-movement scenario (see `ward generate`), replays it through
//! detection and correlation into a lake, prints each incident with its path, evidence,
//! affected patients and breach triage, and the commands that explore the lake further.
//! Everything lands under one folder, `.ward/demo` by default, which a second run
//! replaces.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use ward_correlate::CorrelatorSettings;
use ward_ingest::FormatChoice;

use crate::analysis::{AnalysisSettings, DEFAULT_RULES};
use crate::generate::{self, GenerateSettings, LOGS, Scenario, SizeArgs};
use crate::replay;

/// Generate a hospital under attack, detect and correlate it, and show the incident.
///
/// Writes the generated sensor logs, the asset inventory and the lake under --dir, and
/// prints the incident and the commands to explore the lake with SQL.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the generated logs and the lake; a previous demo there is replaced.
    #[arg(long, value_name = "DIR", default_value = ".ward/demo")]
    dir: PathBuf,

    /// Seed of the generated hospital and attack.
    #[arg(long, default_value_t = 7)]
    seed: u64,

    /// Detection rules folder.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_RULES)]
    rules: PathBuf,

    #[command(flatten)]
    size: SizeArgs,
}

/// Files a demo folder holds; anything else there means it is not one.
const DEMO_ENTRIES: [&str; 2] = ["data", "lake"];

/// Runs `ward demo`.
pub fn run(args: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let settings = GenerateSettings::new(Scenario::LateralMovement, args.seed, &args.size)?;
    if !args.rules.is_dir() {
        bail!(
            "rules folder {} not found: run ward demo from the repository root, or pass \
             --rules DIR",
            args.rules.display()
        );
    }
    clear(&args.dir)?;

    let data = args.dir.join("data");
    let truth = generate::generate(&settings).write(&data)?;
    let records: u64 = truth.records.values().sum();
    eprintln!(
        "ward demo: generated {records} records of a {}-workstation hospital in {}",
        settings.workstations,
        data.display()
    );

    let lake = args.dir.join("lake");
    let analysis = AnalysisSettings {
        rules: args.rules.clone(),
        inventory: Some(data.join("inventory.toml")),
        policy: None,
        correlator: CorrelatorSettings::default(),
    };
    let logs = vec![data.join(LOGS)];
    let summary = replay::replay(&lake, None, &analysis, FormatChoice::Auto, &logs, false)?;
    replay::print_summary(&summary, &lake, started);

    if let Some(attack) = &truth.attack {
        eprintln!();
        eprintln!(
            "  injected attack (from {}/truth.json): {}, {} patients' records read",
            data.display(),
            attack.path.join(" -> "),
            attack.patients_harvested
        );
    }
    let incident = summary.incidents.first().map(|i| i.incident_id.clone());
    let user = truth.attack.map(|attack| attack.phished_user);
    print_next_steps(&lake, &data, incident, user);
    Ok(())
}

/// Removes a previous demo under `dir`; refuses a folder that holds anything else.
fn clear(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let entries = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = entry.file_name();
        if !DEMO_ENTRIES.iter().any(|ours| name == *ours) {
            bail!(
                "{} holds {} and is not a ward demo folder: pass --dir with a new folder",
                dir.display(),
                name.to_string_lossy()
            );
        }
    }
    for name in DEMO_ENTRIES {
        let path = dir.join(name);
        if path.exists() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove the previous demo's {}", path.display()))?;
        }
    }
    Ok(())
}

fn print_next_steps(lake: &Path, data: &Path, incident: Option<String>, user: Option<String>) {
    // The program as it was started (target/debug/ward under `cargo run`), so the
    // commands can be pasted as they are.
    let ward = std::env::args().next().unwrap_or_else(|| "ward".to_owned());
    let lake = lake.display();
    let incident = incident.unwrap_or_else(|| "INCIDENT_ID".to_owned());
    let user = user.unwrap_or_else(|| "USER".to_owned());
    eprintln!();
    eprintln!("  explore the lake:");
    eprintln!("    {ward} report incident {incident} --lake {lake}");
    eprintln!(
        "    {ward} report incident {incident} --lake {lake} --format html --out incident.html"
    );
    eprintln!("    {ward} report user-activity --user {user} --lake {lake}");
    eprintln!(
        "    {ward} query --lake {lake} \"SELECT time, rule_id, severity, src_host, dst_host, \
         user FROM signals ORDER BY time\""
    );
    eprintln!("    {ward} verify --lake {lake}");
    eprintln!(
        "  replay the same logs yourself:\n    {ward} replay --inventory {}/inventory.toml \
         --lake /tmp/lake {}/{LOGS}",
        data.display(),
        data.display()
    );
}
