//! Detection and correlation wired together: events in, signals and incidents out.
//!
//! Shared by the commands that analyse events (`ward replay`, `ward demo`): the rule set
//! loaded from a folder, the inventory giving rules and correlator asset tiers, and the
//! correlator with its policy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use ward_correlate::{Correlator, CorrelatorSettings, Inventory, Policy, Tier};
use ward_detections::{RuleSet, RuleSettings, TierLookup};
use ward_schemas::{Event, Incident, Signal};

use crate::run::config::{RunConfig, duration};

/// The rules folder used when neither a flag nor the configuration names one.
pub const DEFAULT_RULES: &str = "detections/rules";

/// Flags that choose rules, inventory and correlation policy.
#[derive(Debug, Clone, Default, Args)]
pub struct AnalysisFlags {
    /// Detection rules folder [default: `rules` from the configuration, else
    /// detections/rules].
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,

    /// Asset inventory (TOML, one `[[asset]]` per host with host, ips, tier). Without one,
    /// every host's tier is unknown and no chain can reach an ePHI asset.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,

    /// Clock difference tolerated between sources when ordering steps [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub skew: Option<Duration>,
}

/// Validated analysis settings.
#[derive(Debug, Clone)]
pub struct AnalysisSettings {
    /// Rules folder.
    pub rules: PathBuf,
    /// Inventory file, if any.
    pub inventory: Option<PathBuf>,
    /// Policy file replacing the built-in policy, if any.
    pub policy: Option<PathBuf>,
    /// Correlator bounds and tolerances.
    pub correlator: CorrelatorSettings,
}

impl AnalysisSettings {
    /// Merges flags over the configuration file.
    pub fn new(config: &RunConfig, flags: &AnalysisFlags) -> Result<AnalysisSettings> {
        let mut correlator = CorrelatorSettings::default();
        let skew = duration(config.correlation.skew.as_deref(), "correlation.skew")?;
        if let Some(skew) = flags.skew.or(skew) {
            correlator.skew = skew;
        }
        if let Some(window) = duration(config.correlation.window.as_deref(), "correlation.window")?
        {
            correlator.window = window;
        }
        let rules = flags.rules.clone().or_else(|| config.rules.clone());
        Ok(AnalysisSettings {
            rules: rules.unwrap_or_else(|| PathBuf::from(DEFAULT_RULES)),
            inventory: flags.inventory.clone().or_else(|| config.inventory.clone()),
            policy: config.correlation.policy.clone(),
            correlator,
        })
    }
}

/// The inventory's tiers as rules see them.
pub fn tier_lookup(inventory: &Arc<Inventory>) -> TierLookup {
    let inventory = Arc::clone(inventory);
    Arc::new(move |name| inventory.tier(name).map(Tier::as_str))
}

/// Loads the rules of `dir`, failing only when the folder cannot be read; rules that do
/// not load are reported on stderr and skipped.
pub fn load_rules(dir: &Path, tiers: TierLookup) -> Result<RuleSet> {
    if !dir.is_dir() {
        bail!(
            "rules folder {} not found: pass --rules DIR or set `rules` in the configuration",
            dir.display()
        );
    }
    let rules = RuleSet::load(dir, RuleSettings::default(), tiers)
        .with_context(|| format!("cannot load rules from {}", dir.display()))?;
    for problem in rules.problems() {
        eprintln!("ward: rule skipped: {problem}");
    }
    Ok(rules)
}

/// Rules and correlator, fed one event at a time.
pub struct Analysis {
    rules: RuleSet,
    correlator: Correlator,
    fired: BTreeMap<String, u64>,
}

impl Analysis {
    /// Loads rules, inventory and policy.
    pub fn new(settings: &AnalysisSettings) -> Result<Analysis> {
        let inventory = match &settings.inventory {
            Some(path) => Inventory::load(path)?,
            None => Inventory::empty(),
        };
        let inventory = Arc::new(inventory);
        let policy = match &settings.policy {
            Some(path) => Policy::load(path)?,
            None => Policy::builtin(),
        };
        let rules = load_rules(&settings.rules, tier_lookup(&inventory))?;
        let correlator = Correlator::new(settings.correlator.clone(), inventory, policy);
        Ok(Analysis {
            rules,
            correlator,
            fired: BTreeMap::new(),
        })
    }

    /// Number of rules loaded.
    pub fn rule_count(&self) -> usize {
        self.rules.rules().count()
    }

    /// Runs the event through the rules and the correlator; returns the event and the
    /// signals it raised.
    pub fn process(&mut self, event: Event) -> (Event, Vec<Signal>) {
        let event = Arc::new(event);
        let signals = self.rules.detect(&event);
        self.correlator.observe(&event);
        for signal in &signals {
            *self.fired.entry(signal.rule_id.clone()).or_default() += 1;
            self.correlator.add_signal(signal.clone());
        }
        // The rules hold no reference once `detect` returns, so this does not copy.
        let event = Arc::try_unwrap(event).unwrap_or_else(|shared| (*shared).clone());
        (event, signals)
    }

    /// Runs every event of `events` through [`Analysis::process`], in place; returns the
    /// signals they raised.
    pub fn process_all(&mut self, events: &mut Vec<Event>) -> Vec<Signal> {
        let mut signals = Vec::new();
        let analysed: Vec<Event> = events
            .drain(..)
            .map(|event| {
                let (event, raised) = self.process(event);
                signals.extend(raised);
                event
            })
            .collect();
        *events = analysed;
        signals
    }

    /// The incidents in what the correlator holds.
    pub fn incidents(&mut self) -> Vec<Incident> {
        self.correlator.incidents()
    }

    /// Signals raised per rule id.
    pub fn fired(&self) -> &BTreeMap<String, u64> {
        &self.fired
    }

    /// The correlator's state size and evictions.
    pub fn correlator_stats(&self) -> ward_correlate::CorrelatorStats {
        self.correlator.stats()
    }

    /// Rules disabled after repeated failures, with their failure counts.
    pub fn disabled_rules(&self) -> Vec<(String, u64)> {
        let stats = self.rules.stats().filter(|(_, stats)| stats.disabled);
        stats
            .map(|(id, stats)| (id.to_owned(), stats.failures))
            .collect()
    }
}
