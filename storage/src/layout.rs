//! Where everything lives in a lake directory, and the names of tables, partitions and
//! writers.
//!
//! This layout is a durable format: any later ward, and any Parquet engine, reads what an
//! earlier ward wrote.
//!
//! ```text
//! <lake>/
//!   events/source=<edr|ndr|ehr>/date=YYYY-MM-DD/part-<seq:08>-<n>-<writer>.parquet
//!   dead_letters/date=YYYY-MM-DD/part-<seq:08>-<n>-<writer>.parquet
//!   signals/date=YYYY-MM-DD/part-<seq:08>-<n>-<writer>.parquet
//!   incidents/date=YYYY-MM-DD/part-<seq:08>-<n>-<writer>.parquet
//!   access_log/date=YYYY-MM-DD/part-<seq:08>-<n>-<writer>.parquet
//!   _manifest/manifest.jsonl    one line per commit, deletion, hold (see `manifest`)
//!   _manifest/encryption.json   present when part files are encrypted (see `encryption`)
//!   _manifest/lock              exclusive file lock, held while committing or recovering
//!   _staging/<writer>/          files being written, before they are renamed into place
//!   _quarantine/<table>/...     part files no manifest entry listed, moved out on open
//! ```
//!
//! Invariants:
//! - Partitioning is Hive style: `source` and `date` are read from the path, not stored in
//!   the file (`source_kind` stays in events files and always equals `source`). `date` is
//!   the UTC date of the event's `time`; for a dead letter, of its `received_time`, or of
//!   the commit when it has none; for a signal, of its `time`; for an incident, of its
//!   `first_seen`; for an access, of its `time`.
//! - An events file holds exactly the columns of [`ward_schemas::event_schema`], a
//!   dead-letter file exactly those of [`dead_letter_schema`], signals and incidents
//!   files those of [`ward_schemas::signal_schema`] and [`ward_schemas::incident_schema`];
//!   zstd compressed, one row group per file (its size is the committed batch's share of
//!   that partition).
//! - A file under a table directory belongs to the lake if and only if a manifest entry
//!   commits its path and no later entry deletes it. Files no entry lists are orphans of
//!   a crash; [`Lake::open`] moves them to `_quarantine/` under the same relative path
//!   (kept, never read as data), and readers that must be exact read the file list from
//!   the manifest.
//! - A part file is never changed after it is renamed into place. Its name is unique:
//!   `seq` is its commit's sequence number, `n` its index within the commit, `writer` the
//!   process that wrote it.
//! - Table directories hold only part files; everything else (`_manifest`, `_staging`)
//!   sits beside them, so an engine pointed at a table directory sees only data.
//! - A writer id is unique among live writers of a lake and a safe file name (ASCII
//!   letters, digits, `.`, `_`, `-`, at most 100 characters, starting with a letter or a
//!   digit). The default is `<hostname>-<pid>`, which lets [`Lake::open`] tell a dead
//!   writer's staging directory from a live one.
//!
//! [`Lake::open`]: crate::Lake::open
//! [`dead_letter_schema`]: crate::dead_letter_schema

use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use ward_schemas::SourceKind;

use crate::StorageError;

/// Name of the events table and its directory.
pub const EVENTS: &str = "events";
/// Name of the dead-letters table and its directory.
pub const DEAD_LETTERS: &str = "dead_letters";
/// Name of the signals table and its directory.
pub const SIGNALS: &str = "signals";
/// Name of the incidents table and its directory.
pub const INCIDENTS: &str = "incidents";
/// Name of the access-log table and its directory.
pub const ACCESS_LOG: &str = "access_log";
/// Partition column holding the source kind (`edr`, `ndr`, `ehr`), read from the path.
pub const SOURCE_COLUMN: &str = "source";
/// Partition column holding the UTC date as `YYYY-MM-DD`, read from the path.
pub const DATE_COLUMN: &str = "date";

/// Directory of the manifest and its lock, under the lake root.
pub const MANIFEST_DIR: &str = "_manifest";
/// File name of the manifest, under [`MANIFEST_DIR`].
pub const MANIFEST_FILE: &str = "manifest.jsonl";
/// File name of the lock, under [`MANIFEST_DIR`].
pub const LOCK_FILE: &str = "lock";
/// Directory of the writers' staging directories, under the lake root.
pub const STAGING_DIR: &str = "_staging";
/// Directory of part files no manifest entry lists, under the lake root.
pub const QUARANTINE_DIR: &str = "_quarantine";

/// Longest accepted writer id, in bytes.
const MAX_WRITER_LEN: usize = 100;

/// A table of the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Normalized events, partitioned by source and date.
    Events,
    /// Records that could not be normalized, partitioned by date.
    DeadLetters,
    /// What detection rules said about events, partitioned by date.
    Signals,
    /// Lateral-movement chains, partitioned by the date of their first step.
    Incidents,
    /// Uses of the lake (queries, reports), partitioned by date.
    AccessLog,
}

impl Table {
    /// Every table, in directory name order.
    pub const ALL: [Table; 5] = [
        Table::AccessLog,
        Table::DeadLetters,
        Table::Events,
        Table::Incidents,
        Table::Signals,
    ];

    /// The table's name, which is also its directory under the lake root.
    pub fn name(self) -> &'static str {
        match self {
            Table::Events => EVENTS,
            Table::DeadLetters => DEAD_LETTERS,
            Table::Signals => SIGNALS,
            Table::Incidents => INCIDENTS,
            Table::AccessLog => ACCESS_LOG,
        }
    }

    /// The table named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|table| table.name() == name)
    }

    /// The Hive partition columns, outermost first, as they appear in paths.
    pub fn partition_columns(self) -> &'static [&'static str] {
        match self {
            Table::Events => &[SOURCE_COLUMN, DATE_COLUMN],
            Table::DeadLetters | Table::Signals | Table::Incidents | Table::AccessLog => {
                &[DATE_COLUMN]
            }
        }
    }

    /// The Arrow schema of the table's files, without the partition columns.
    pub fn schema(self) -> SchemaRef {
        match self {
            Table::Events => ward_schemas::event_schema(),
            Table::DeadLetters => crate::dead_letter_schema(),
            Table::Signals => ward_schemas::signal_schema(),
            Table::Incidents => ward_schemas::incident_schema(),
            Table::AccessLog => ward_schemas::access_schema(),
        }
    }
}

/// The directory holding every file of the table named `table` (such as [`EVENTS`]), for
/// pointing a query engine at it.
pub fn table_dir(root: &Path, table: &str) -> PathBuf {
    root.join(table)
}

/// The manifest file of the lake at `root`.
pub fn manifest_path(root: &Path) -> PathBuf {
    root.join(MANIFEST_DIR).join(MANIFEST_FILE)
}

/// The lock file of the lake at `root`.
pub(crate) fn lock_path(root: &Path) -> PathBuf {
    root.join(MANIFEST_DIR).join(LOCK_FILE)
}

/// The staging directory of `writer` in the lake at `root`.
pub(crate) fn staging_dir(root: &Path, writer: &str) -> PathBuf {
    root.join(STAGING_DIR).join(writer)
}

/// A partition directory relative to the lake root, with `/` separators as the manifest
/// records it: `events/source=edr/date=2020-09-20`. `source` is ignored for tables not
/// partitioned by source.
pub(crate) fn partition_dir(table: Table, source: Option<SourceKind>, date: NaiveDate) -> String {
    let date = date.format("%Y-%m-%d");
    match (table, source) {
        (Table::Events, Some(source)) => {
            format!(
                "{}/{SOURCE_COLUMN}={source}/{DATE_COLUMN}={date}",
                table.name()
            )
        }
        _ => format!("{}/{DATE_COLUMN}={date}", table.name()),
    }
}

/// The partition folder of a lake-relative file path: `events/source=edr/date=2020-09-20`
/// for `events/source=edr/date=2020-09-20/part-....parquet`.
pub(crate) fn partition_folder(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(dir, _)| dir)
}

/// The `date` of a lake-relative partition folder or file path
/// (`events/source=edr/date=2020-09-20/part-...`), if it has one.
pub(crate) fn partition_date(path: &str) -> Option<NaiveDate> {
    let part = path
        .split('/')
        .find_map(|part| part.strip_prefix("date="))?;
    NaiveDate::parse_from_str(part, "%Y-%m-%d").ok()
}

/// The file name of the `n`th file of commit `seq` by `writer`.
pub(crate) fn part_file_name(seq: u64, n: usize, writer: &str) -> String {
    format!("part-{seq:08}-{n}-{writer}.parquet")
}

/// A lake-relative path with `/` separators to the path on this system.
pub(crate) fn resolve(root: &Path, relative: &str) -> PathBuf {
    relative
        .split('/')
        .fold(root.to_path_buf(), |path, part| path.join(part))
}

/// `<hostname>-<pid>` for this process, the default writer id.
///
/// The host name is reduced to the characters a writer id allows, so the result always
/// passes validation.
pub fn default_writer_id() -> String {
    format!("{}-{}", local_hostname(), std::process::id())
}

/// This machine's host name as writer ids spell it, `localhost` when it cannot be read.
pub(crate) fn local_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .map(|c| if is_writer_char(c) { c } else { '_' })
        .take(MAX_WRITER_LEN - 11)
        .collect();
    match name.chars().next() {
        Some(first) if first.is_ascii_alphanumeric() => name,
        _ => "localhost".to_owned(),
    }
}

/// Rejects writer ids that are not safe as a directory and file name part.
pub(crate) fn validate_writer(writer: &str) -> Result<(), StorageError> {
    let safe = !writer.is_empty()
        && writer.len() <= MAX_WRITER_LEN
        && writer.starts_with(|c: char| c.is_ascii_alphanumeric())
        && writer.chars().all(is_writer_char);
    if safe {
        Ok(())
    } else {
        Err(StorageError::InvalidWriter {
            writer: writer.to_owned(),
        })
    }
}

fn is_writer_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The host and process id of a writer id in the default form, if it has that form.
pub(crate) fn parse_writer(writer: &str) -> Option<(&str, u32)> {
    let (host, pid) = writer.rsplit_once('-')?;
    let pid = pid.parse().ok()?;
    Some((host, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_paths_are_hive_style() {
        let date = NaiveDate::from_ymd_opt(2020, 9, 20).expect("a valid date");
        assert_eq!(
            partition_dir(Table::Events, Some(SourceKind::Edr), date),
            "events/source=edr/date=2020-09-20"
        );
        assert_eq!(
            partition_dir(Table::DeadLetters, None, date),
            "dead_letters/date=2020-09-20"
        );
        assert_eq!(
            part_file_name(42, 1, "host-7"),
            "part-00000042-1-host-7.parquet"
        );
        assert_eq!(
            resolve(Path::new("/lake"), "events/source=edr/x.parquet"),
            Path::new("/lake/events/source=edr/x.parquet")
        );
    }

    #[test]
    fn the_default_writer_id_is_valid_and_names_this_process() {
        let writer = default_writer_id();
        validate_writer(&writer).expect("the default id is valid");
        let (host, pid) = parse_writer(&writer).expect("the default id parses");
        assert_eq!(host, local_hostname());
        assert_eq!(pid, std::process::id());
    }

    #[test]
    fn writer_ids_that_are_not_safe_file_names_are_rejected() {
        for bad in ["", "..", ".hidden", "a/b", "a b", "é", &"x".repeat(101)] {
            let err = validate_writer(bad).expect_err("unsafe id");
            assert!(matches!(err, StorageError::InvalidWriter { .. }), "{bad}");
        }
        for good in ["ward-1", "host.example.org-4242", "A_b.c-d"] {
            validate_writer(good).expect("safe id");
        }
    }

    #[test]
    fn tables_know_their_partition_columns() {
        assert_eq!(Table::Events.partition_columns(), ["source", "date"]);
        assert_eq!(Table::DeadLetters.partition_columns(), ["date"]);
        assert_eq!(Table::from_name("dead_letters"), Some(Table::DeadLetters));
        assert_eq!(Table::from_name("signals"), Some(Table::Signals));
        assert_eq!(Table::from_name("access_log"), Some(Table::AccessLog));
        assert_eq!(Table::from_name("patients"), None);
        for table in Table::ALL {
            let schema = table.schema();
            for column in table.partition_columns() {
                assert!(schema.field_with_name(column).is_err(), "{column} in file");
            }
        }
    }
}
