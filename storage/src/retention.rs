//! Retention: which partitions have outlived the policy, and which legal holds keep.
//!
//! The unit of deletion is a partition (a `date=` folder, under its `source=` folder for
//! events): a table keeps each day for its [`Period`], counted back from the day the
//! policy is applied, and a day older than that is expired. HIPAA asks for six years
//! (45 CFR 164.316(b)(2)), the default for every table.
//!
//! A legal hold keeps an expired partition, whole, when it covers anything in it; see
//! [`HoldScope`] for what each kind of hold covers. Holds live in the manifest (`hold`
//! and `release` entries), so who placed one, when and why is part of the hash chain, as
//! is every deletion.
//!
//! [`plan`] decides without changing anything; [`Lake::delete`](crate::Lake::delete)
//! carries a plan out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::path::Path;
use std::str::FromStr;

use arrow::array::{Array, AsArray, TimestampMicrosecondArray};
use arrow::datatypes::DataType;
use chrono::{DateTime, Days, Months, NaiveDate};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::debug;

use crate::encryption::{self, LakeKey};
use crate::layout::{self, Table};
use crate::manifest::{EntryKind, FileRecord, FileSets, HoldScope, ManifestEntry};
use crate::{StorageError, read_manifest};

/// How long a table keeps a day: a number of days, months or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Period {
    count: u32,
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Days,
    Months,
    Years,
}

impl Period {
    /// Six years, what 45 CFR 164.316(b)(2) asks documentation to be kept for.
    pub const SIX_YEARS: Period = Period {
        count: 6,
        unit: Unit::Years,
    };

    /// The first day still kept when the policy is applied on `today`: `today` minus the
    /// period, in calendar terms (six years before 2026-12-04 is 2020-12-04). Days
    /// before it are expired.
    pub fn cutoff(self, today: NaiveDate) -> NaiveDate {
        let back = match self.unit {
            Unit::Days => today.checked_sub_days(Days::new(self.count.into())),
            Unit::Months => today.checked_sub_months(Months::new(self.count)),
            Unit::Years => today.checked_sub_months(Months::new(self.count.saturating_mul(12))),
        };
        back.unwrap_or(NaiveDate::MIN)
    }

    /// Whether the period is shorter than six years.
    pub fn is_under_six_years(self) -> bool {
        let reference = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
        self.cutoff(reference) > Period::SIX_YEARS.cutoff(reference)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Days => "day",
            Unit::Months => "month",
            Unit::Years => "year",
        };
        let plural = if self.count == 1 { "" } else { "s" };
        write!(f, "{} {unit}{plural}", self.count)
    }
}

impl From<Period> for String {
    fn from(period: Period) -> String {
        period.to_string()
    }
}

/// A period that does not parse, with what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a retention period: write a whole number and days, months or years, such \
     as \"6 years\" or \"90 days\""
)]
pub struct PeriodError(String);

impl FromStr for Period {
    type Err = PeriodError;

    /// `6 years`, `18 months`, `90 days`, `1 year`; `6y`, `18mo` and `90d` too.
    fn from_str(text: &str) -> Result<Period, PeriodError> {
        let error = || PeriodError(text.to_owned());
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(error)?;
        let (count, unit) = trimmed.split_at(split);
        let count: u32 = count.parse().map_err(|_| error())?;
        let unit = match unit.trim().to_ascii_lowercase().as_str() {
            "d" | "day" | "days" => Unit::Days,
            "mo" | "month" | "months" => Unit::Months,
            "y" | "year" | "years" => Unit::Years,
            _ => return Err(error()),
        };
        if count == 0 {
            return Err(error());
        }
        Ok(Period { count, unit })
    }
}

/// How long each table keeps its days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    default: Period,
    tables: BTreeMap<Table, Period>,
}

impl Default for Policy {
    /// Six years for every table.
    fn default() -> Policy {
        Policy::new(Period::SIX_YEARS)
    }
}

impl Policy {
    /// `default` for every table.
    pub fn new(default: Period) -> Policy {
        Policy {
            default,
            tables: BTreeMap::new(),
        }
    }

    /// The same policy with `table` kept for `period`.
    pub fn with_table(mut self, table: Table, period: Period) -> Policy {
        self.tables.insert(table, period);
        self
    }

    /// How long `table` keeps a day.
    pub fn period(&self, table: Table) -> Period {
        self.tables.get(&table).copied().unwrap_or(self.default)
    }
}

/// A legal hold in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// Its id: the `seq` of the entry that placed it.
    pub seq: u64,
    /// When it was placed, as the entry records it.
    pub placed_at: String,
    /// Who placed it.
    pub by: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// What it keeps.
    pub scope: HoldScope,
}

/// The digest a patient hold records for `patient_id`: keyed with the lake key in an
/// encrypted lake, so a plain manifest does not let a guessed id (an MRN is a short
/// number) be confirmed without the key; a plain SHA-256 in a plain lake, whose files
/// hold the ids in the clear anyway.
pub fn patient_digest(patient_id: &str, key: Option<&LakeKey>) -> String {
    match key {
        Some(key) => key.keyed_digest("patient", patient_id),
        None => {
            let mut hasher = Sha256::new();
            hasher.update(b"ward patient v1\0");
            hasher.update(patient_id.as_bytes());
            hex::encode(hasher.finalize())
        }
    }
}

/// The holds placed and not released in `entries`, in the order placed.
pub fn active_holds(entries: &[ManifestEntry]) -> Vec<Hold> {
    let released: HashSet<u64> = entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::Release)
        .filter_map(|entry| entry.releases)
        .collect();
    let placed = entries.iter().filter(|entry| entry.kind == EntryKind::Hold);
    placed
        .filter(|entry| !released.contains(&entry.seq))
        .filter_map(|entry| {
            Some(Hold {
                seq: entry.seq,
                placed_at: entry.committed_at.clone(),
                by: entry.by.clone(),
                reason: entry.reason.clone(),
                scope: entry.hold.clone()?,
            })
        })
        .collect()
}

/// One partition folder of a table and the lake's files in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// The table.
    #[serde(serialize_with = "table_name")]
    pub table: Table,
    /// The folder, relative to the lake root: `events/source=edr/date=2020-09-20`.
    pub dir: String,
    /// Its `date`.
    pub date: NaiveDate,
    /// Its files, in commit order.
    #[serde(skip)]
    pub files: Vec<FileRecord>,
}

impl Partition {
    /// Rows in its files.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|file| file.rows).sum()
    }

    /// Bytes of its files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|file| file.bytes).sum()
    }
}

fn table_name<S: serde::Serializer>(table: &Table, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(table.name())
}

/// An expired partition a hold keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldPartition {
    /// The partition.
    #[serde(flatten)]
    pub partition: Partition,
    /// The ids of the holds that cover it.
    pub holds: Vec<u64>,
}

/// A table's rule as a plan applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRule {
    /// The table.
    #[serde(serialize_with = "table_name")]
    pub table: Table,
    /// How long it keeps a day.
    pub keep: Period,
    /// The first day kept; days before are expired.
    pub cutoff: NaiveDate,
}

/// What applying the policy on a day would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionPlan {
    /// The day the policy is applied as of.
    pub as_of: NaiveDate,
    /// The last manifest entry the plan read; see [`Lake::delete`](crate::Lake::delete).
    pub planned_at: u64,
    /// Each table's period and cut-off.
    pub rules: Vec<TableRule>,
    /// Expired partitions no hold covers: to delete.
    pub expired: Vec<Partition>,
    /// Expired partitions that holds keep.
    pub held: Vec<HeldPartition>,
    /// Partitions within their table's period.
    pub kept: u64,
    /// The holds in force.
    pub holds: Vec<Hold>,
}

impl RetentionPlan {
    /// The files of every partition to delete.
    pub fn files(&self) -> Vec<FileRecord> {
        let files = self.expired.iter().flat_map(|partition| &partition.files);
        files.cloned().collect()
    }

    /// The rules in words, for the `delete` entry's reason.
    pub fn describe(&self) -> String {
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|rule| {
                format!(
                    "{} {} (before {})",
                    rule.table.name(),
                    rule.keep,
                    rule.cutoff
                )
            })
            .collect();
        format!("retention as of {}: {}", self.as_of, rules.join(", "))
    }
}

/// Decides what applying `policy` on `as_of` deletes from the lake at `root`, and what
/// legal holds keep. Reads the manifest, and, for holds on patients and users, the
/// matching columns of expired partitions' files (with `key`, for an encrypted lake);
/// changes nothing.
pub fn plan(
    root: &Path,
    policy: &Policy,
    as_of: NaiveDate,
    key: Option<&LakeKey>,
) -> Result<RetentionPlan, StorageError> {
    let key = encryption::key_for_reading(root, key)?;
    let entries = read_manifest(root)?;
    let holds = active_holds(&entries);
    let partitions = live_partitions(root, &entries)?;
    let rules: Vec<TableRule> = Table::ALL
        .into_iter()
        .map(|table| TableRule {
            table,
            keep: policy.period(table),
            cutoff: policy.period(table).cutoff(as_of),
        })
        .collect();

    let mut matcher = HoldMatcher::new(root, key, &holds, &partitions)?;
    let mut plan = RetentionPlan {
        as_of,
        planned_at: entries.last().map_or(0, |entry| entry.seq),
        rules,
        expired: Vec::new(),
        held: Vec::new(),
        kept: 0,
        holds: holds.clone(),
    };
    for partition in partitions {
        let cutoff = policy.period(partition.table).cutoff(as_of);
        if partition.date >= cutoff {
            plan.kept += 1;
            continue;
        }
        let covering = matcher.covering(&partition)?;
        if covering.is_empty() {
            plan.expired.push(partition);
        } else {
            debug!(partition = %partition.dir, holds = ?covering, "expired but held");
            plan.held.push(HeldPartition {
                partition,
                holds: covering,
            });
        }
    }
    Ok(plan)
}

/// Every partition with live files, in folder order.
fn live_partitions(root: &Path, entries: &[ManifestEntry]) -> Result<Vec<Partition>, StorageError> {
    let live = FileSets::of(entries).live;
    let mut partitions: BTreeMap<String, Partition> = BTreeMap::new();
    let commits = entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::Commit);
    for file in commits.flat_map(|entry| &entry.files) {
        if !live.contains_key(&file.path) {
            continue;
        }
        let corrupt = |detail: String| StorageError::ManifestCorrupt {
            path: layout::manifest_path(root),
            line: 0,
            detail,
        };
        let dir = layout::partition_folder(&file.path)
            .ok_or_else(|| corrupt(format!("{} is not in a partition folder", file.path)))?;
        let table = Table::from_name(&file.table)
            .ok_or_else(|| corrupt(format!("{} names no table", file.path)))?;
        let date =
            layout::partition_date(dir).ok_or_else(|| corrupt(format!("{dir} has no date")))?;
        let partition = partitions
            .entry(dir.to_owned())
            .or_insert_with(|| Partition {
                table,
                dir: dir.to_owned(),
                date,
                files: Vec::new(),
            });
        partition.files.push(file.clone());
    }
    Ok(partitions.into_values().collect())
}

/// Decides which holds cover a partition.
struct HoldMatcher<'a> {
    root: &'a Path,
    key: Option<&'a LakeKey>,
    holds: &'a [Hold],
    /// The days each held incident spans, widened by a day on each side.
    incident_days: HashMap<u64, (NaiveDate, NaiveDate)>,
}

impl<'a> HoldMatcher<'a> {
    fn new(
        root: &'a Path,
        key: Option<&'a LakeKey>,
        holds: &'a [Hold],
        partitions: &[Partition],
    ) -> Result<HoldMatcher<'a>, StorageError> {
        let wanted: HashMap<&str, u64> = holds
            .iter()
            .filter_map(|hold| match &hold.scope {
                HoldScope::Incident { incident_id } => Some((incident_id.as_str(), hold.seq)),
                _ => None,
            })
            .collect();
        let mut incident_days = HashMap::new();
        if !wanted.is_empty() {
            let incidents = partitions.iter().filter(|p| p.table == Table::Incidents);
            for file in incidents.flat_map(|partition| &partition.files) {
                let path = layout::resolve(root, &file.path);
                for (id, first, last) in incident_spans(&path, key)? {
                    let Some(&seq) = wanted.get(id.as_str()) else {
                        continue;
                    };
                    let first = first.pred_opt().unwrap_or(first);
                    let last = last.succ_opt().unwrap_or(last);
                    let span = incident_days.entry(seq).or_insert((first, last));
                    *span = (span.0.min(first), span.1.max(last));
                }
            }
        }
        Ok(HoldMatcher {
            root,
            key,
            holds,
            incident_days,
        })
    }

    /// The ids of the holds that cover `partition`.
    fn covering(&mut self, partition: &Partition) -> Result<Vec<u64>, StorageError> {
        let mut covering = Vec::new();
        for hold in self.holds {
            let covers = match &hold.scope {
                HoldScope::Period { from, to } => (*from..=*to).contains(&partition.date),
                HoldScope::Incident { .. } => self
                    .incident_days
                    .get(&hold.seq)
                    .is_some_and(|(from, to)| (*from..=*to).contains(&partition.date)),
                HoldScope::Patient {
                    patient_digest: wanted,
                } => {
                    let column = match partition.table {
                        Table::Events | Table::Signals => Some("patient_id"),
                        _ => None,
                    };
                    let key = self.key;
                    self.any_value(partition, column, |value| {
                        patient_digest(value, key) == *wanted
                    })?
                }
                HoldScope::User { user } => {
                    let column = match partition.table {
                        Table::Events | Table::Signals => Some("user"),
                        Table::Incidents => Some("users"),
                        Table::AccessLog => Some("actor"),
                        Table::DeadLetters => None,
                    };
                    self.any_value(partition, column, |value| value.eq_ignore_ascii_case(user))?
                }
            };
            if covers {
                covering.push(hold.seq);
            }
        }
        Ok(covering)
    }

    /// Whether any value of `column` in the partition's files satisfies `matches`.
    fn any_value(
        &self,
        partition: &Partition,
        column: Option<&str>,
        matches: impl Fn(&str) -> bool,
    ) -> Result<bool, StorageError> {
        let Some(column) = column else {
            return Ok(false);
        };
        for file in &partition.files {
            let path = layout::resolve(self.root, &file.path);
            let mut found = false;
            read_column(&path, self.key, partition.table, column, |array| {
                found = found || any_text(array, &matches);
            })?;
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Each incident row's id and the UTC days of its first and last step.
fn incident_spans(
    path: &Path,
    key: Option<&LakeKey>,
) -> Result<Vec<(String, NaiveDate, NaiveDate)>, StorageError> {
    let mut ids = Vec::new();
    let mut firsts = Vec::new();
    let mut lasts = Vec::new();
    // A file whose columns are not what ward writes fails the plan rather than let an
    // incident hold keep nothing.
    let mut readable = true;
    read_column(
        path,
        key,
        Table::Incidents,
        "incident_id",
        |array| match array.as_string_opt::<i32>() {
            Some(values) => ids.extend(values.iter().map(|id| id.unwrap_or_default().to_owned())),
            None => readable = false,
        },
    )?;
    for (column, days) in [("first_seen", &mut firsts), ("last_seen", &mut lasts)] {
        read_column(path, key, Table::Incidents, column, |array| {
            let Some(times) = array.as_any().downcast_ref::<TimestampMicrosecondArray>() else {
                readable = false;
                return;
            };
            days.extend(times.iter().map(|micros| {
                let time = micros.and_then(DateTime::from_timestamp_micros);
                time.map_or(NaiveDate::MIN, |time| time.date_naive())
            }));
        })?;
    }
    if !readable || ids.len() != firsts.len() || ids.len() != lasts.len() {
        let detail = "its columns are not those of the incidents table".to_owned();
        return Err(StorageError::ParquetRead {
            path: path.to_owned(),
            source: parquet::errors::ParquetError::General(detail),
        });
    }
    let spans = ids.into_iter().zip(firsts).zip(lasts);
    Ok(spans.map(|((id, first), last)| (id, first, last)).collect())
}

/// Reads one column of a part file of `table`, decrypting with `key`, batch by batch.
fn read_column(
    path: &Path,
    key: Option<&LakeKey>,
    table: Table,
    column: &str,
    mut on_batch: impl FnMut(&dyn Array),
) -> Result<(), StorageError> {
    let parquet = |source| StorageError::ParquetRead {
        path: path.to_owned(),
        source,
    };
    let index = table
        .schema()
        .index_of(column)
        .expect("hold columns are in their table's schema");
    let file = File::open(path).map_err(|err| StorageError::io("open", path, err))?;
    let mut options = ArrowReaderOptions::new();
    if let Some(key) = key {
        options = options.with_file_decryption_properties(key.decryption());
    }
    let builder =
        ParquetRecordBatchReaderBuilder::try_new_with_options(file, options).map_err(parquet)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let reader = builder.with_projection(mask).build().map_err(parquet)?;
    for batch in reader {
        let batch = batch.map_err(|err| parquet(err.into()))?;
        on_batch(batch.column(0).as_ref());
    }
    Ok(())
}

/// Whether any text in `array` (strings, or lists of strings) satisfies `matches`. An
/// array of another type matches, so a hold keeps what it cannot read.
fn any_text(array: &dyn Array, matches: &impl Fn(&str) -> bool) -> bool {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().flatten().any(matches),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().flatten().any(matches),
        DataType::Utf8View => array.as_string_view().iter().flatten().any(matches),
        DataType::List(_) => any_text(array.as_list::<i32>().values().as_ref(), matches),
        _ => true,
    }
}

#[cfg(test)]
mod tests;
