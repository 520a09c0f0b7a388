//! `ward rules`: list the detection rules, and run their fixtures.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ward_correlate::Inventory;
use ward_detections::run_fixtures;

use crate::analysis::{DEFAULT_RULES, load_rules, tier_lookup};

/// The inventory fixtures run against, looked for in the rules folder.
const FIXTURES_INVENTORY: &str = "fixtures-inventory.toml";

/// List detection rules or test them against their fixtures.
#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Show every rule of a folder: id, severity, technique, kind and the classes it reads.
    List {
        /// Rules folder.
        #[arg(default_value = DEFAULT_RULES, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Run each rule's fixtures (`<id>.test.toml`: events in, expected signals out);
    /// exit non-zero on any mismatch, rule that does not load, or rule without fixtures.
    Test {
        /// Rules folder.
        #[arg(default_value = DEFAULT_RULES, value_name = "DIR")]
        dir: PathBuf,
        /// Inventory the rules' `tier()` calls read while testing [default:
        /// DIR/fixtures-inventory.toml when it exists].
        #[arg(long, value_name = "FILE")]
        inventory: Option<PathBuf>,
    },
}

/// Runs `ward rules`.
pub fn run(args: RulesArgs) -> Result<()> {
    match args.command {
        RulesCommand::List { dir } => list(dir),
        RulesCommand::Test { dir, inventory } => test(dir, inventory),
    }
}

fn list(dir: PathBuf) -> Result<()> {
    let rules = load_rules(&dir, Arc::new(|_| None))?;
    println!(
        "{:<36} {:<9} {:<11} {:<8} classes",
        "rule", "severity", "technique", "kind"
    );
    for rule in rules.rules() {
        let classes: Vec<&str> = rule.classes.iter().map(|class| class.as_str()).collect();
        println!(
            "{:<36} {:<9} {:<11} {:<8} {}",
            rule.id,
            rule.severity.as_str(),
            rule.technique,
            rule.kind.as_str(),
            classes.join(",")
        );
    }
    let skipped = rules.problems().len();
    eprintln!("{} rules loaded, {skipped} skipped", rules.rules().count());
    if skipped > 0 {
        bail!("{skipped} rules failed to load");
    }
    Ok(())
}

fn test(dir: PathBuf, inventory: Option<PathBuf>) -> Result<()> {
    let beside = dir.join(FIXTURES_INVENTORY);
    let inventory = inventory.or_else(|| beside.is_file().then_some(beside));
    let inventory = match inventory {
        Some(path) => Inventory::load(&path)?,
        None => Inventory::empty(),
    };
    let mut rules = load_rules(&dir, tier_lookup(&Arc::new(inventory)))?;
    let report = run_fixtures(&mut rules, &dir)
        .with_context(|| format!("cannot run the fixtures in {}", dir.display()))?;

    for case in &report.cases {
        match &case.failure {
            None => println!("ok    {}: {}", case.rule_id, case.case),
            Some(why) => println!("FAIL  {}: {}: {why}", case.rule_id, case.case),
        }
    }
    for rule in &report.untested {
        println!("FAIL  {rule}: no fixture file {rule}.test.toml");
    }
    let failed = report.failures().count();
    let problems = rules.problems().len();
    println!(
        "{} cases, {failed} failed; {} rules without fixtures; {problems} rules did not load",
        report.cases.len(),
        report.untested.len()
    );
    if failed > 0 || problems > 0 || !report.untested.is_empty() {
        bail!("rule tests failed");
    }
    Ok(())
}
