//! `ward run` configuration: what the file and the flags say, then the validated
//! settings the service runs with.
//!
//! The file is TOML; every key is optional and flags override it:
//!
//! ```toml
//! brokers = "kafka-1:9092,kafka-2:9092"
//! group = "ward"
//! lake = "/var/lib/ward/lake"
//! topics = ["edr", "ndr", "ehr"]
//! dead_letter_topic = "ward-dead-letters"   # also send dead letters here
//! signals_topic = "ward-signals"            # send every signal here as JSON
//! incidents_topic = "ward-incidents"        # send each new or grown incident here
//!
//! [formats]          # fix a topic's format instead of detecting it per record
//! edr = "windows-json"
//!
//! [batch]            # a batch becomes Parquet files when any bound is reached
//! max_rows = 100000
//! max_bytes = 33554432
//! max_wait = "5s"
//!
//! rules = "detections/rules"               # detection rules folder
//! inventory = "/etc/ward/inventory.toml"    # asset tiers for correlation
//!
//! [correlation]
//! skew = "5m"        # clock difference tolerated between sources
//! window = "24h"     # longest time from a chain's first step to its last
//! policy = "/etc/ward/policy.rhai"          # replaces the built-in policy
//!
//! [retention]      # `ward retention apply`: how long each table keeps a day
//! default = "6 years"                       # 45 CFR 164.316(b)(2); also the default
//! dead_letters = "1 year"                   # per table: events, dead_letters, signals,
//!                                           # incidents, access_log
//!
//! [encryption]     # encrypt the lake's files (AES-GCM) with the key in this file;
//! key_file = "/etc/ward/lake.key"           # or set WARD_LAKE_KEY or WARD_LAKE_KEY_FILE
//!
//! [kafka]
//! session_timeout = "10s"
//! queue_limit_kib = 65536
//! [kafka.properties]  # passed to librdkafka as given
//! "security.protocol" = "ssl"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use ward_ingest::FormatChoice;
use ward_ingest::kafka::KafkaSettings;

/// The configuration file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    brokers: Option<String>,
    group: Option<String>,
    pub(crate) lake: Option<PathBuf>,
    topics: Option<Vec<String>>,
    dead_letter_topic: Option<String>,
    signals_topic: Option<String>,
    incidents_topic: Option<String>,
    #[serde(default)]
    formats: BTreeMap<String, String>,
    #[serde(default)]
    batch: BatchConfig,
    #[serde(default)]
    kafka: KafkaConfig,
    /// Detection rules folder.
    pub(crate) rules: Option<PathBuf>,
    /// Asset inventory file.
    pub(crate) inventory: Option<PathBuf>,
    #[serde(default)]
    pub(crate) correlation: CorrelationConfig,
    #[serde(default)]
    pub(crate) retention: RetentionConfig,
    #[serde(default)]
    encryption: EncryptionConfig,
}

/// The `[encryption]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EncryptionConfig {
    /// A file holding the lake key as hex digits.
    key_file: Option<PathBuf>,
}

/// The `[retention]` table as written: a period per table, and one for the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    default: Option<String>,
    events: Option<String>,
    dead_letters: Option<String>,
    signals: Option<String>,
    incidents: Option<String>,
    access_log: Option<String>,
}

impl RetentionConfig {
    /// The policy the table describes; six years for what it leaves out.
    pub fn policy(&self) -> Result<ward_storage::Policy> {
        let parse = |text: &Option<String>, key: &str| -> Result<Option<ward_storage::Period>> {
            let period = text.as_deref().map(str::parse).transpose();
            period.with_context(|| format!("invalid retention.{key} in the configuration"))
        };
        let default = parse(&self.default, "default")?.unwrap_or(ward_storage::Period::SIX_YEARS);
        let mut policy = ward_storage::Policy::new(default);
        let tables = [
            (ward_storage::Table::Events, &self.events),
            (ward_storage::Table::DeadLetters, &self.dead_letters),
            (ward_storage::Table::Signals, &self.signals),
            (ward_storage::Table::Incidents, &self.incidents),
            (ward_storage::Table::AccessLog, &self.access_log),
        ];
        for (table, text) in tables {
            if let Some(period) = parse(text, table.name())? {
                policy = policy.with_table(table, period);
            }
        }
        Ok(policy)
    }
}

/// The `[correlation]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationConfig {
    pub(crate) skew: Option<String>,
    pub(crate) window: Option<String>,
    pub(crate) policy: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchConfig {
    max_rows: Option<usize>,
    max_bytes: Option<usize>,
    max_wait: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KafkaConfig {
    session_timeout: Option<String>,
    queue_limit_kib: Option<u32>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

impl RunConfig {
    /// The lake folder a lake command works on: `flag` (its `--lake`), else `lake` from the
    /// configuration file `config` when one is given, with the configuration read. The
    /// folder must exist.
    pub fn lake(flag: Option<PathBuf>, config: Option<&Path>) -> Result<(PathBuf, RunConfig)> {
        let config = match config {
            Some(path) => RunConfig::load(path)?,
            None => RunConfig::default(),
        };
        let lake = flag
            .or_else(|| config.lake.clone())
            .context("no lake given: pass --lake DIR or set `lake` in the configuration")?;
        if !lake.is_dir() {
            bail!(
                "no lake at {}: pass the folder `ward run --lake` writes",
                lake.display()
            );
        }
        Ok((lake, config))
    }

    /// The lake key, if one is given: `WARD_LAKE_KEY` (hex digits), else the file
    /// `WARD_LAKE_KEY_FILE` names, else `encryption.key_file`. Every command that reads or
    /// writes an encrypted lake needs it; `ward verify` does not.
    pub fn lake_key(&self) -> Result<Option<ward_storage::LakeKey>> {
        if let Some(text) = std::env::var_os("WARD_LAKE_KEY") {
            let text = text.to_string_lossy();
            let key = ward_storage::LakeKey::from_hex(&text).context("in WARD_LAKE_KEY")?;
            return Ok(Some(key));
        }
        let file = std::env::var_os("WARD_LAKE_KEY_FILE")
            .map(PathBuf::from)
            .or_else(|| self.encryption.key_file.clone());
        let Some(file) = file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read the lake key file {}", file.display()))?;
        let key = ward_storage::LakeKey::from_hex(&text)
            .with_context(|| format!("in the lake key file {}", file.display()))?;
        Ok(Some(key))
    }

    /// [`RunConfig::lake`] with the lake key, checked: for an encrypted lake it must be the
    /// lake's own, so a command fails before it reads or records anything.
    pub fn lake_and_key(
        flag: Option<PathBuf>,
        config: Option<&Path>,
    ) -> Result<(PathBuf, RunConfig, Option<ward_storage::LakeKey>)> {
        let (lake, config) = RunConfig::lake(flag, config)?;
        let key = config.lake_key()?;
        ward_storage::key_for_reading(&lake, key.as_ref())
            .with_context(|| format!("cannot read the lake {}", lake.display()))?;
        Ok((lake, config, key))
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("invalid configuration file {}", path.display()))
    }
}

/// What the flags say; each overrides the file.
#[derive(Debug, Default)]
pub struct RunFlags {
    /// `--brokers`.
    pub brokers: Option<String>,
    /// `--topics`, comma separated.
    pub topics: Option<String>,
    /// `--lake`.
    pub lake: Option<PathBuf>,
    /// `--group`.
    pub group: Option<String>,
    /// `--exit-when-idle`.
    pub exit_when_idle: Option<Duration>,
}

/// When a batch is written.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Rows (events and dead letters) in one batch.
    pub max_rows: usize,
    /// Bytes of consumed records in one batch; bounds memory under any backlog.
    pub max_bytes: usize,
    /// Age of the oldest record in a batch before it is written anyway.
    pub max_wait: Duration,
}

/// Validated settings of `ward run`.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Where to consume.
    pub kafka: KafkaSettings,
    /// The lake folder.
    pub lake: PathBuf,
    /// Format per topic; topics not listed are detected per record.
    pub formats: BTreeMap<String, FormatChoice>,
    /// Also publish dead letters to this topic.
    pub dead_letter_topic: Option<String>,
    /// Publish signals to this topic as JSON.
    pub signals_topic: Option<String>,
    /// Publish new and grown incidents to this topic as JSON.
    pub incidents_topic: Option<String>,
    /// Batch bounds.
    pub batch: BatchLimits,
    /// Stop, after writing everything, once no record has come for this long.
    pub exit_when_idle: Option<Duration>,
    /// The key the lake's files are encrypted with, if they are.
    pub key: Option<ward_storage::LakeKey>,
}

impl RunSettings {
    /// Merges file and flags and checks the result.
    pub fn new(config: RunConfig, flags: RunFlags) -> Result<Self> {
        let key = config.lake_key()?;
        let brokers = flags.brokers.or(config.brokers).context(
            "no brokers given: pass --brokers HOST:PORT or set `brokers` in the configuration",
        )?;
        let lake = flags
            .lake
            .or(config.lake)
            .context("no lake given: pass --lake DIR or set `lake` in the configuration")?;
        let topics: Vec<String> = match flags.topics {
            Some(list) => list.split(',').map(|t| t.trim().to_owned()).collect(),
            None => config.topics.unwrap_or_default(),
        };
        let topics: Vec<String> = topics.into_iter().filter(|t| !t.is_empty()).collect();
        if topics.is_empty() {
            bail!("no topics given: pass --topics T1,T2 or set `topics` in the configuration");
        }

        let mut formats = BTreeMap::new();
        for (topic, name) in config.formats {
            let choice: FormatChoice = name.parse().with_context(|| format!("topic {topic}"))?;
            formats.insert(topic, choice);
        }

        let batch = BatchLimits {
            max_rows: config.batch.max_rows.unwrap_or(100_000).max(1),
            max_bytes: config.batch.max_bytes.unwrap_or(32 << 20).max(1),
            max_wait: duration(config.batch.max_wait.as_deref(), "batch.max_wait")?
                .unwrap_or(Duration::from_secs(5)),
        };
        let session_timeout = duration(
            config.kafka.session_timeout.as_deref(),
            "kafka.session_timeout",
        )?
        .unwrap_or(Duration::from_secs(10));
        let kafka = KafkaSettings {
            brokers,
            group: flags
                .group
                .or(config.group)
                .unwrap_or_else(|| "ward".to_owned()),
            topics,
            session_timeout,
            queue_limit: config.kafka.queue_limit_kib.unwrap_or(64 * 1024),
            properties: config.kafka.properties,
        };
        Ok(RunSettings {
            kafka,
            lake,
            key,
            formats,
            dead_letter_topic: config.dead_letter_topic,
            signals_topic: config.signals_topic,
            incidents_topic: config.incidents_topic,
            batch,
            exit_when_idle: flags.exit_when_idle,
        })
    }
}

pub(crate) fn duration(text: Option<&str>, key: &str) -> Result<Option<Duration>> {
    text.map(|t| {
        humantime::parse_duration(t).with_context(|| format!("invalid duration for {key}"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_defaults_fill_the_rest() {
        let config: RunConfig = toml::from_str(
            r#"
            brokers = "file:9092"
            topics = ["edr", "ndr"]
            lake = "/lake"
            [formats]
            edr = "windows-json"
            [batch]
            max_wait = "2s"
            "#,
        )
        .expect("valid TOML");
        let flags = RunFlags {
            brokers: Some("flag:9092".into()),
            ..RunFlags::default()
        };
        let settings = RunSettings::new(config, flags).expect("valid settings");
        assert_eq!(settings.kafka.brokers, "flag:9092");
        assert_eq!(settings.kafka.topics, ["edr", "ndr"]);
        assert_eq!(settings.kafka.group, "ward");
        assert_eq!(settings.batch.max_wait, Duration::from_secs(2));
        assert_eq!(settings.batch.max_rows, 100_000);
        assert!(matches!(
            settings.formats.get("edr"),
            Some(FormatChoice::Fixed(_))
        ));
    }

    #[test]
    fn missing_and_misspelled_settings_are_explained() {
        let err = RunSettings::new(RunConfig::default(), RunFlags::default()).unwrap_err();
        assert!(err.to_string().contains("--brokers"), "{err}");

        let err = toml::from_str::<RunConfig>("brokerz = \"x\"").unwrap_err();
        assert!(err.to_string().contains("brokerz"), "{err}");

        let config: RunConfig = toml::from_str("[formats]\nedr = \"evtx\"").expect("valid TOML");
        let flags = RunFlags {
            brokers: Some("b:1".into()),
            topics: Some("edr".into()),
            lake: Some("/l".into()),
            ..RunFlags::default()
        };
        let err = RunSettings::new(config, flags).unwrap_err();
        assert!(format!("{err:#}").contains("windows-evtx-json"), "{err:#}");
    }
}
