//! `ward generate`: a hospital's security telemetry for a day, deterministic for a seed.
//!
//! No real EHR audit trail of any volume is public, and no lab recording holds a hospital's
//! background of clinicians at work, so trials, demos and scenario tests use this. What it
//! writes is in the same wire formats as the real sensors ward reads: NXLog JSON lines per
//! Windows host (Security, System, Sysmon), a Zeek conn log in the `_path` JSON dialect, FHIR
//! R4 AuditEvents and an access-log CSV shaped like Epic Clarity's.
//!
//! Scenarios:
//! - `background`: clinicians log on at their workstations, read and chart their own
//!   patients in the EHR, workstations talk to the domain controllers and the EHR, the
//!   application servers query the ePHI database. Nothing in it is an attack.
//! - `lateral-movement`: the same day with an attack injected: a phished workstation, a
//!   PsExec-style hop with a helpdesk admin's cached credentials to a second workstation,
//!   a second hop to the ePHI database server, and bulk reads of patients' records through
//!   the EHR with the phished clinician's account.
//!
//! Layout of `--out` (the sensors' files under `logs/`, so that folder can be replayed
//! whole):
//! - `logs/edr/<host>.jsonl`: one file per Windows host, as an NXLog collector writes them;
//! - `logs/ndr/conn.json`: the network sensor's conn log;
//! - `logs/ehr/fhir-audit.jsonl` and `logs/ehr/access-log.csv`: the two EHR audit logs;
//! - `inventory.toml`: the asset inventory, as `--inventory` reads it;
//! - `truth.json`: what was generated: record counts by kind, and the attack's path,
//!   accounts, time window and the patients it harvested.
//!
//! Modules: `hospital` (hosts, staff, patients), `records` (what happened, as typed
//! records), `background` and `attack` (the activity), `windows`, `zeek` and `ehr` (wire
//! formats).

mod attack;
mod background;
mod ehr;
mod hospital;
mod records;
mod windows;
mod zeek;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, ValueEnum};
use fastrand::Rng;
use serde::Serialize;

use self::attack::Attack;
use self::hospital::Hospital;
use self::records::{EhrLog, Logs, millis};

/// The folder under `--out` that holds the sensors' files.
pub const LOGS: &str = "logs";

/// Generate a hospital's EDR, NDR and EHR telemetry for one day, with or without an attack.
///
/// The same seed and settings always write the same bytes. The files are in the formats
/// ward reads from real sensors, under OUT/logs; replay them with `ward replay --inventory
/// OUT/inventory.toml --lake LAKE OUT/logs`, or publish them to Kafka with `--brokers`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// What happens during the day.
    #[arg(long, value_enum, default_value_t = Scenario::LateralMovement)]
    pub scenario: Scenario,

    /// Seed of every random choice: hosts' roles, staff, patients, times, the attack's
    /// victims.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Folder to write; it must be empty or not exist.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub size: SizeArgs,

    /// Also publish the generated records to Kafka at these brokers (HOST:PORT,...): EDR
    /// to topic `edr`, the conn log to `ndr`, the FHIR AuditEvents to `ehr`. The access
    /// log's CSV rows need their header and stay in the file.
    #[arg(long, value_name = "BROKERS")]
    pub brokers: Option<String>,
}

/// How big and how long the generated day is.
#[derive(Debug, Clone, Args)]
pub struct SizeArgs {
    /// Clinical workstations (1 to 1,000).
    #[arg(long, default_value_t = 40)]
    pub workstations: usize,

    /// Clinicians; several share a workstation, as shifts do.
    #[arg(long, default_value_t = 120)]
    pub clinicians: usize,

    /// Patients in the hospital; the attack reads up to 650 of them.
    #[arg(long, default_value_t = 3000)]
    pub patients: usize,

    /// Start of the day, UTC (RFC 3339).
    #[arg(long, default_value = "2026-03-02T12:00:00Z")]
    pub start: DateTime<Utc>,

    /// Length of the day (at least 4h, so the attack fits).
    #[arg(long, default_value = "10h", value_parser = humantime::parse_duration)]
    pub duration: Duration,

    /// Greatest difference between two clocks: every host, the network sensor and the EHR
    /// run up to half of it ahead of or behind true time. The attack's workstations and the
    /// sensor run ahead by half and the database behind by half, so with 5m the database
    /// hop looks two minutes older than the hop before it.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub skew: Duration,
}

/// What happens during the generated day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// A day of clinical work, no attack.
    Background,
    /// The same day with a lateral-movement attack that ends in bulk EHR reads.
    LateralMovement,
}

/// Validated settings of one generated day.
#[derive(Debug, Clone)]
pub struct GenerateSettings {
    /// What happens.
    pub scenario: Scenario,
    /// Seed of every random choice.
    pub seed: u64,
    /// Clinical workstations.
    pub workstations: usize,
    /// Clinicians.
    pub clinicians: usize,
    /// Patients.
    pub patients: usize,
    /// Start of the day.
    pub start: DateTime<Utc>,
    /// Length of the day.
    pub duration: TimeDelta,
    /// Greatest difference between two clocks.
    pub skew: TimeDelta,
}

impl GenerateSettings {
    /// Checks the sizes and spans.
    pub fn new(scenario: Scenario, seed: u64, size: &SizeArgs) -> Result<GenerateSettings> {
        if !(1..=1000).contains(&size.workstations) {
            bail!("--workstations must be between 1 and 1000");
        }
        if scenario == Scenario::LateralMovement && size.workstations < 2 {
            bail!("the lateral-movement scenario needs at least 2 workstations");
        }
        if size.clinicians == 0 {
            bail!("--clinicians must be at least 1");
        }
        if size.patients < 8 {
            bail!("--patients must be at least 8, one per clinical unit");
        }
        let duration = TimeDelta::from_std(size.duration).context("--duration is too long")?;
        if duration < TimeDelta::hours(4) || duration > TimeDelta::days(7) {
            bail!("--duration must be between 4h and 7days");
        }
        let skew = TimeDelta::from_std(size.skew).context("--skew is too long")?;
        if skew > TimeDelta::hours(1) {
            bail!("--skew must be at most 1h");
        }
        Ok(GenerateSettings {
            scenario,
            seed,
            workstations: size.workstations,
            clinicians: size.clinicians,
            patients: size.patients,
            start: size.start,
            duration,
            skew,
        })
    }
}

/// What was generated, as `truth.json` holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    /// The scenario.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// Start of the day.
    pub start: DateTime<Utc>,
    /// End of the day.
    pub end: DateTime<Utc>,
    /// Records written, by kind (`edr security 4624`, `ndr conn 445/tcp`, `ehr fhir read`).
    pub records: BTreeMap<String, u64>,
    /// The attack, in the lateral-movement scenario.
    pub attack: Option<AttackTruth>,
}

/// The injected attack.
#[derive(Debug, Clone, Serialize)]
pub struct AttackTruth {
    /// Hosts in the order the attacker reached them, starting at the phished workstation.
    pub path: Vec<String>,
    /// The phished clinician, whose account read the patients' records.
    pub phished_user: String,
    /// The admin account whose cached credentials carried the lateral steps.
    pub admin_user: String,
    /// The phishing document opened, by true time.
    pub first_seen: DateTime<Utc>,
    /// The last bulk read, by true time.
    pub last_seen: DateTime<Utc>,
    /// Distinct patients whose records the attacker read.
    pub patients_harvested: usize,
}

/// A generated day, before it is written.
pub struct Generated {
    hospital: Hospital,
    logs: Logs,
    attack: Option<Attack>,
    settings: GenerateSettings,
}

/// Runs `ward generate`.
pub fn run(args: GenerateArgs) -> Result<()> {
    let settings = GenerateSettings::new(args.scenario, args.seed, &args.size)?;
    let generated = generate(&settings);
    let truth = generated.write(&args.out)?;
    let total: u64 = truth.records.values().sum();
    eprintln!(
        "ward generate: {total} records over {} of a hospital with {} workstations, {} \
         clinicians and {} patients in {}",
        humantime::format_duration(args.size.duration),
        settings.workstations,
        settings.clinicians,
        settings.patients,
        args.out.display()
    );
    if let Some(attack) = &truth.attack {
        eprintln!(
            "  attack: {} as {} then {}, {} patients' records read",
            attack.path.join(" -> "),
            attack.phished_user,
            attack.admin_user,
            attack.patients_harvested
        );
    }
    if let Some(brokers) = &args.brokers {
        publish(brokers, &args.out)?;
    }
    Ok(())
}

/// Generates the day `settings` describe.
pub fn generate(settings: &GenerateSettings) -> Generated {
    let mut rng = Rng::with_seed(settings.seed);
    let hospital = Hospital::build(
        &mut rng,
        settings.workstations,
        settings.clinicians,
        settings.patients,
    );
    let mut logs = Logs::default();
    let end = settings.start + settings.duration;
    background::day(&mut rng, &hospital, (settings.start, end), &mut logs);
    let attack = (settings.scenario == Scenario::LateralMovement)
        .then(|| attack::inject(&mut rng, &hospital, settings.start, &mut logs));
    Generated {
        hospital,
        logs,
        attack,
        settings: settings.clone(),
    }
}

impl Generated {
    /// Writes every file into `out`, which must be empty or not exist; returns the truth.
    pub fn write(mut self, out: &Path) -> Result<Truth> {
        prepare(out)?;
        let mut rng = Rng::with_seed(self.settings.seed ^ 0x5eed_f11e);
        let clocks = Clocks::draw(
            &mut rng,
            &self.hospital,
            self.attack.as_ref(),
            self.settings.skew,
        );
        let mut records = BTreeMap::new();

        let logs = out.join(LOGS);
        write_windows(
            &mut rng,
            &mut self.logs,
            &clocks,
            &logs.join("edr"),
            &mut records,
        )?;
        write_conns(
            &mut rng,
            &mut self.logs,
            clocks.sensor,
            &logs.join("ndr"),
            &mut records,
        )?;
        write_ehr(
            &mut rng,
            &mut self.logs,
            clocks.ehr,
            &logs.join("ehr"),
            &mut records,
        )?;
        write_file(
            &out.join("inventory.toml"),
            self.hospital.inventory_toml().as_bytes(),
        )?;

        let truth = Truth {
            scenario: self.settings.scenario,
            seed: self.settings.seed,
            start: self.settings.start,
            end: self.settings.start + self.settings.duration,
            records,
            attack: self.attack.as_ref().map(Attack::truth),
        };
        let mut text = serde_json::to_string_pretty(&truth).context("cannot encode the truth")?;
        text.push('\n');
        write_file(&out.join("truth.json"), text.as_bytes())?;
        Ok(truth)
    }
}

/// Each clock's offset from true time (positive: ahead).
struct Clocks {
    /// Per Windows computer name, as records carry it.
    hosts: BTreeMap<String, TimeDelta>,
    /// The network sensor's.
    sensor: TimeDelta,
    /// The EHR application's, which stamps both audit logs.
    ehr: TimeDelta,
}

impl Clocks {
    /// Offsets within half of `skew` either way. The attack is put at the extremes: the
    /// two workstations and the network sensor run ahead by half, the database behind by
    /// half, so every piece of evidence of the second step looks older than the first
    /// step's when the skew is larger than the three minutes between them.
    fn draw(
        rng: &mut Rng,
        hospital: &Hospital,
        attack: Option<&Attack>,
        skew: TimeDelta,
    ) -> Clocks {
        let half = skew.num_milliseconds() / 2;
        let mut offset = || millis(rng, -half, half);
        let mut hosts = BTreeMap::new();
        for host in hospital.workstations.iter().chain(&hospital.servers) {
            hosts.insert(host.computer(), offset());
        }
        let (mut sensor, ehr) = (offset(), offset());
        if let Some(attack) = attack {
            let (ahead, behind) = (
                TimeDelta::milliseconds(half),
                TimeDelta::milliseconds(-half),
            );
            hosts.insert(attack.first.computer(), ahead);
            hosts.insert(attack.second.computer(), ahead);
            hosts.insert(attack.database.computer(), behind);
            sensor = ahead;
        }
        Clocks { hosts, sensor, ehr }
    }
}

fn prepare(out: &Path) -> Result<()> {
    if out.exists() {
        let mut entries =
            fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty: generate into a new or empty folder",
                out.display()
            );
        }
    }
    for dir in ["edr", "ndr", "ehr"] {
        let path = out.join(LOGS).join(dir);
        fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
    }
    Ok(())
}

/// One NXLog file per computer; records numbered per computer and channel in time order.
fn write_windows(
    rng: &mut Rng,
    logs: &mut Logs,
    clocks: &Clocks,
    dir: &Path,
    counts: &mut BTreeMap<String, u64>,
) -> Result<()> {
    logs.windows.sort_by_key(|record| record.time);

    let mut by_host: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut numbers: BTreeMap<(&str, records::Channel), u64> = BTreeMap::new();
    for record in &logs.windows {
        let number = numbers
            .entry((&record.computer, record.channel))
            .or_insert(1_000);
        *number += 1;
        let delay = millis(rng, 200, 4_000);
        let skew = clocks
            .hosts
            .get(&record.computer)
            .copied()
            .unwrap_or_default();
        let line = windows::to_line(record, *number, skew, delay);
        by_host.entry(&record.computer).or_default().push(line);
        *counts.entry(record.kind()).or_default() += 1;
    }
    for (computer, lines) in by_host {
        let short = computer
            .split('.')
            .next()
            .unwrap_or(computer)
            .to_lowercase();
        write_lines(&dir.join(format!("{short}.jsonl")), None, &lines)?;
    }
    Ok(())
}

fn write_conns(
    rng: &mut Rng,
    logs: &mut Logs,
    skew: TimeDelta,
    dir: &Path,
    counts: &mut BTreeMap<String, u64>,
) -> Result<()> {
    logs.conns.sort_by_key(|conn| conn.time);
    let mut lines = Vec::with_capacity(logs.conns.len());
    let mut uids = BTreeSet::new();
    for conn in &logs.conns {
        // Zeek's connection uids: `C` and 17 base-62 characters, unique within a log.
        let uid = loop {
            let uid = format!("C{}", base62(rng, 17));
            if uids.insert(uid.clone()) {
                break uid;
            }
        };
        lines.push(zeek::to_line(conn, &uid, skew));
        *counts.entry(conn.kind()).or_default() += 1;
    }
    write_lines(&dir.join("conn.json"), None, &lines)
}

fn write_ehr(
    rng: &mut Rng,
    logs: &mut Logs,
    skew: TimeDelta,
    dir: &Path,
    counts: &mut BTreeMap<String, u64>,
) -> Result<()> {
    for access in &mut logs.ehr {
        access.time += skew;
    }
    logs.ehr.sort_by_key(|access| access.time);
    let (mut fhir, mut rows) = (Vec::new(), Vec::new());
    for access in &logs.ehr {
        match access.log {
            EhrLog::Fhir => fhir.push(ehr::to_fhir_line(rng, access)),
            EhrLog::AccessLog => rows.push(ehr::to_csv_row(access)),
        }
        *counts.entry(access.kind()).or_default() += 1;
    }
    write_lines(&dir.join("fhir-audit.jsonl"), None, &fhir)?;
    write_lines(
        &dir.join("access-log.csv"),
        Some(ehr::ACCESS_LOG_HEADER),
        &rows,
    )
}

fn write_lines(path: &Path, header: Option<&str>, lines: &[String]) -> Result<()> {
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let written: std::io::Result<()> = (|| {
        if let Some(header) = header {
            writeln!(out, "{header}")?;
        }
        for line in lines {
            writeln!(out, "{line}")?;
        }
        out.flush()
    })();
    written.with_context(|| format!("cannot write {}", path.display()))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn base62(rng: &mut Rng, count: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..count)
        .map(|_| char::from(DIGITS[rng.usize(..DIGITS.len())]))
        .collect()
}

/// Publishes what [`Generated::write`] wrote in `out` to the topics `edr`, `ndr`, `ehr`.
fn publish(brokers: &str, out: &Path) -> Result<()> {
    let logs = out.join(LOGS);
    for (topic, path) in [
        ("edr", logs.join("edr")),
        ("ndr", logs.join("ndr")),
        ("ehr", logs.join("ehr").join("fhir-audit.jsonl")),
    ] {
        let sent = crate::publish::publish(brokers, topic, 4, &[path])?;
        eprintln!("  published {} records to {topic}", sent.sent);
    }
    Ok(())
}
