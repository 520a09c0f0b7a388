//! `ward retention`: deleting what has outlived the retention policy, and the legal
//! holds that stop it.
//!
//! `apply` plans from the manifest and the policy in the configuration's `[retention]`
//! table (six years for every table unless it says otherwise), prints every partition it
//! deletes and every one a hold keeps, and with `--dry-run` stops there. Holds, releases
//! and deletions are manifest entries, so `ward verify` proves who changed what.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use ward_storage::retention::{self, Partition, RetentionPlan};
use ward_storage::{HoldScope, Lake, LakeKey, default_writer_id};

use crate::run::config::RunConfig;

/// Retention of the audit record: delete expired days, place and release legal holds.
///
/// Each table keeps a day for its period (six years by default, as 45 CFR 164.316(b)(2)
/// asks; set others under `[retention]` in the configuration). A legal hold keeps every
/// partition holding what it covers, however old, until it is released. Deletions, holds
/// and releases are recorded in the manifest's hash chain with who made them and why.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    #[command(subcommand)]
    command: RetentionCommand,

    /// The lake folder [default: `lake` from the configuration].
    #[arg(long, value_name = "DIR", global = true)]
    lake: Option<PathBuf>,

    /// Configuration file (the one `ward run` reads), for `lake` and `[retention]`.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    format: Format,
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Delete every partition older than its table's period that no hold covers.
    ///
    /// Prints what it deletes and what holds keep. The deletion is recorded in the
    /// manifest before any file is removed.
    Apply {
        /// Print what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,

        /// Apply the policy as it stood on this day (YYYY-MM-DD, UTC) instead of today;
        /// it cannot be later than today.
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
    },
    /// Place a legal hold: nothing it covers is deleted until it is released.
    ///
    /// Give exactly one of --incident, --patient, --user, or --from with --to.
    Hold {
        /// Why (a case or complaint number); recorded with the hold.
        #[arg(long, value_name = "TEXT")]
        reason: String,

        /// Keep every day of this incident, from the day before its first step to the day
        /// after its last.
        #[arg(long, value_name = "ID", group = "scope")]
        incident: Option<String>,

        /// Keep every partition with an event or signal about this patient (`-` reads the
        /// id from stdin). The manifest records a digest of the id, not the id; name the
        /// case in --reason, not the patient.
        #[arg(long, value_name = "ID", group = "scope")]
        patient: Option<String>,

        /// Keep every partition with an event, signal, incident or lake use by this account.
        #[arg(long, value_name = "NAME", group = "scope")]
        user: Option<String>,

        /// Keep every partition from this day (YYYY-MM-DD, UTC)...
        #[arg(long, value_name = "DATE", group = "scope", requires = "to")]
        from: Option<NaiveDate>,

        /// ...to this day, included.
        #[arg(long, value_name = "DATE", requires = "from")]
        to: Option<NaiveDate>,
    },
    /// Release a legal hold by its id (the number `hold` printed, also in `holds`).
    Release {
        /// The hold's id.
        hold: u64,

        /// Why it ends; recorded with the release.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// List the legal holds in force.
    Holds,
}

/// How `ward retention` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Lines for a person.
    Text,
    /// One JSON object.
    Json,
}

/// Runs `ward retention`.
pub fn run(args: RetentionArgs) -> Result<()> {
    let (lake, config, key) = RunConfig::lake_and_key(args.lake, args.config.as_deref())?;
    let by = crate::access::actor();
    match args.command {
        RetentionCommand::Apply { dry_run, as_of } => {
            let today = Utc::now().date_naive();
            let as_of = as_of.unwrap_or(today);
            if as_of > today {
                bail!(
                    "--as-of {as_of} is after today ({today}): retention cannot run ahead of \
                     the calendar"
                );
            }
            let policy = config.retention.policy()?;
            for table in ward_storage::Table::ALL {
                let period = policy.period(table);
                if period.is_under_six_years() {
                    eprintln!(
                        "ward retention: warning: {} keeps {period}, under the six years 45 \
                         CFR 164.316(b)(2) asks for",
                        table.name()
                    );
                }
            }
            let options = Apply {
                as_of,
                dry_run,
                by,
                format: args.format,
            };
            apply(&lake, key, &policy, &options)
        }
        RetentionCommand::Hold {
            reason,
            incident,
            patient,
            user,
            from,
            to,
        } => {
            let scope = match (incident, patient, user, from.zip(to)) {
                (Some(incident_id), None, None, None) => {
                    check_incident(&lake, key.as_ref(), &incident_id)?;
                    HoldScope::Incident { incident_id }
                }
                (None, Some(patient), None, None) => {
                    let patient = crate::report::patient_id(patient)?;
                    HoldScope::Patient {
                        patient_digest: retention::patient_digest(&patient, key.as_ref()),
                    }
                }
                (None, None, Some(user), None) => HoldScope::User { user },
                (None, None, None, Some((from, to))) if from <= to => {
                    HoldScope::Period { from, to }
                }
                (None, None, None, Some(_)) => bail!("--from must not be after --to"),
                _ => bail!("say what to hold: --incident, --patient, --user, or --from and --to"),
            };
            let mut writer = Lake::open_with_key(&lake, &default_writer_id(), key)?;
            let seq = writer.place_hold(scope.clone(), &by, &reason)?;
            match args.format {
                Format::Text => println!(
                    "ward retention: hold {seq} placed on {scope}; retention deletes nothing it \
                     covers until `ward retention release {seq}`"
                ),
                Format::Json => println!("{}", json!({ "hold": seq, "scope": scope })),
            }
            Ok(())
        }
        RetentionCommand::Release { hold, reason } => {
            let mut writer = Lake::open_with_key(&lake, &default_writer_id(), key)?;
            let seq = writer.release_hold(hold, &by, &reason)?;
            match args.format {
                Format::Text => println!("ward retention: hold {hold} released (entry {seq})"),
                Format::Json => println!("{}", json!({ "released": hold, "entry": seq })),
            }
            Ok(())
        }
        RetentionCommand::Holds => {
            let entries =
                ward_storage::read_manifest(&lake).context("cannot read the lake's manifest")?;
            let holds = ward_storage::active_holds(&entries);
            match args.format {
                Format::Text if holds.is_empty() => emit("ward retention: no holds in force\n"),
                Format::Text => {
                    let lines: Vec<String> = holds
                        .iter()
                        .map(|hold| {
                            format!(
                                "hold {}: {} (placed {} by {}: {})\n",
                                hold.seq,
                                hold.scope,
                                hold.placed_at,
                                hold.by.as_deref().unwrap_or("?"),
                                hold.reason.as_deref().unwrap_or("")
                            )
                        })
                        .collect();
                    emit(&lines.concat())
                }
                Format::Json => emit(&format!("{}\n", json!({ "holds": holds }))),
            }
        }
    }
}

/// How one `apply` runs.
struct Apply {
    /// The day the policy is applied as of.
    as_of: NaiveDate,
    /// Print only.
    dry_run: bool,
    /// The account running it, recorded with the deletion.
    by: String,
    /// How to print.
    format: Format,
}

/// Plans, prints, and unless it is a dry run, deletes.
fn apply(
    lake: &std::path::Path,
    key: Option<LakeKey>,
    policy: &ward_storage::Policy,
    options: &Apply,
) -> Result<()> {
    let Apply {
        as_of,
        dry_run,
        ref by,
        format,
    } = *options;
    // A writer opens (and so recovers) the lake before planning, so the plan sees it as
    // the deletion will.
    let mut writer = if dry_run {
        None
    } else {
        Some(Lake::open_with_key(
            lake,
            &default_writer_id(),
            key.clone(),
        )?)
    };
    // A plan the lake outdated while it was made (a hold placed meanwhile, say) is made
    // again, a few times, before giving up.
    let mut attempts = 0;
    let (plan, entry) = loop {
        attempts += 1;
        let plan = retention::plan(lake, policy, as_of, key.as_ref())
            .with_context(|| format!("cannot plan retention for {}", lake.display()))?;
        let deleted = match writer.as_mut() {
            Some(writer) if !plan.expired.is_empty() => {
                writer.delete(&plan.files(), plan.planned_at, by, &plan.describe())
            }
            _ => Ok(None),
        };
        match deleted {
            Ok(entry) => break (plan, entry),
            Err(err @ ward_storage::StorageError::PlanOutdated { .. }) if attempts < 3 => {
                eprintln!("ward retention: {err}; planning again");
            }
            Err(err) => return Err(err).context("the deletion failed"),
        }
    };
    match format {
        Format::Text => print_text(&plan, dry_run, entry),
        Format::Json => emit(&format!("{}\n", plan_json(&plan, dry_run, entry))),
    }
}

fn print_text(plan: &RetentionPlan, dry_run: bool, entry: Option<u64>) -> Result<()> {
    use std::fmt::Write as _;

    let mut out = String::new();
    let mode = if dry_run {
        " (dry run: nothing is deleted)"
    } else {
        ""
    };
    let _ = writeln!(out, "ward retention: as of {}{mode}", plan.as_of);
    for rule in &plan.rules {
        let _ = writeln!(
            out,
            "  {:<13} keeps {:<10} expired: days before {}",
            rule.table.name(),
            rule.keep.to_string(),
            rule.cutoff
        );
    }
    let verb = if dry_run { "would delete" } else { "delete" };
    for partition in &plan.expired {
        let _ = writeln!(out, "  {verb:<12} {}  ({})", partition.dir, size(partition));
    }
    for held in &plan.held {
        let holds: Vec<String> = held.holds.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "  {:<12} {}  (hold {})",
            "held",
            held.partition.dir,
            holds.join(", ")
        );
    }
    let files: usize = plan.expired.iter().map(|p| p.files.len()).sum();
    let rows: u64 = plan.expired.iter().map(Partition::rows).sum();
    let bytes: u64 = plan.expired.iter().map(Partition::bytes).sum();
    let outcome = match (dry_run, entry) {
        (true, _) => "would delete".to_owned(),
        (false, Some(seq)) => format!("deleted, recorded as manifest entry {seq},"),
        (false, None) => "deleted".to_owned(),
    };
    let _ = writeln!(
        out,
        "{outcome} {} ({}, {}, {:.1} MB); {} held by {}; {} within retention",
        count(plan.expired.len() as u64, "partition"),
        count(files as u64, "file"),
        count(rows, "row"),
        bytes as f64 / 1e6,
        count(plan.held.len() as u64, "partition"),
        count(plan.holds.len() as u64, "hold"),
        count(plan.kept, "partition"),
    );
    emit(&out)
}

/// `n thing` or `n things`.
fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Writes `text` to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write as _;

    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(err).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}

fn size(partition: &Partition) -> String {
    format!(
        "{}, {}, {:.1} MB",
        count(partition.files.len() as u64, "file"),
        count(partition.rows(), "row"),
        partition.bytes() as f64 / 1e6
    )
}

fn plan_json(plan: &RetentionPlan, dry_run: bool, entry: Option<u64>) -> Value {
    let partition = |partition: &Partition| {
        json!({
            "table": partition.table.name(),
            "dir": partition.dir,
            "date": partition.date,
            "files": partition.files.len(),
            "rows": partition.rows(),
            "bytes": partition.bytes(),
        })
    };
    let held: Vec<Value> = plan
        .held
        .iter()
        .map(|held| {
            let mut value = partition(&held.partition);
            value["holds"] = json!(held.holds);
            value
        })
        .collect();
    json!({
        "as_of": plan.as_of,
        "dry_run": dry_run,
        "rules": plan.rules,
        "deleted": plan.expired.iter().map(partition).collect::<Vec<_>>(),
        "held": held,
        "kept": plan.kept,
        "holds": plan.holds,
        "entry": entry,
    })
}

/// Fails unless the lake holds incident `id`, so a mistyped id does not hold nothing.
fn check_incident(lake: &std::path::Path, key: Option<&LakeKey>, id: &str) -> Result<()> {
    let found = crate::query::block_on(async {
        let ctx = crate::query::session(lake, key).await?;
        let sql = "SELECT incident_id FROM incidents WHERE incident_id = $1 LIMIT 1";
        let params = vec![datafusion::scalar::ScalarValue::from(id)];
        crate::report::queries::rows(&ctx, sql, params).await
    })??;
    if found.is_empty() {
        bail!(
            "the lake holds no incident {id}: check the id (ward query \"SELECT incident_id \
             FROM incidents\")"
        );
    }
    Ok(())
}
