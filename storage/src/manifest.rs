//! The manifest: the lake's table of contents and its tamper-evident audit trail.
//!
//! `_manifest/manifest.jsonl` holds one JSON object per line, one line per commit, in
//! commit order (wrapped here; a real line has no line breaks and no spaces):
//!
//! ```text
//! {"seq":1,"kind":"commit","committed_at":"2024-05-01T12:00:00.000000Z",
//!  "writer":"ward1-4242",
//!  "files":[{"table":"events",
//!            "path":"events/source=edr/date=2020-09-20/part-00000001-0-ward1-4242.parquet",
//!            "rows":123,"bytes":4567,"sha256":"9f86d0..."}],
//!  "offsets":[{"topic":"edr","partition":0,"first":100,"last":222}],
//!  "prev":"0000...0000","hash":"b5bb9d..."}
//! ```
//!
//! Invariants:
//! - `seq` is 1 for the first entry and grows by one per entry; it is also the line number.
//! - `prev` is the previous entry's `hash`, or 64 zeros for the first entry.
//! - `hash` is the lowercase hex SHA-256 of the entry's compact JSON without the `hash`
//!   member, members in the order shown. Altering an entry breaks its hash; removing,
//!   inserting or reordering entries breaks the next entry's `prev`.
//! - An entry is appended while holding the lock, after its files were synced, renamed
//!   into place and their directories synced, by one write of the whole line including
//!   its newline, then synced. A complete line is committed; a torn last line (no newline)
//!   is a crash in mid-append, is not committed, and is truncated by the next writer that
//!   takes the lock. A line with its newline that is not an entry is corruption wherever it
//!   is, never truncated: it may be an entry this ward cannot read.
//! - `files` paths are relative to the lake root, with `/` separators, in commit order;
//!   `offsets` lists each topic and partition once, sorted by topic then partition.
//! - Per topic and partition, `last` only grows from entry to entry. After any commit the
//!   highest `last` of a partition is at or above every offset of that partition whose
//!   records are in the lake, and every offset up to it is in the lake or produced no
//!   record. So resuming each partition at `last + 1` brings every message into the lake
//!   exactly once. `first` is the lowest offset with records in the entry, or its `last`
//!   when the entry only advances the partition past messages that produced nothing.
//! - `kind` says what the entry records:
//!   - `commit`: `files` were added, covering `offsets`.
//!   - `delete`: `files` (each exactly as its commit recorded it) were removed by the
//!     retention policy; `by` and `reason` say who ran it and under which rules. The entry
//!     is appended before the files are removed, so a crash in between leaves files the
//!     manifest already calls deleted, and the next writer to open the lake removes them.
//!   - `hold`: a legal hold (`hold`, with `by` and `reason`) from now on keeps what it
//!     covers from deletion. Its `seq` is the hold's id.
//!   - `release`: the hold placed by entry `releases` no longer applies.
//!
//!   `files` and `offsets` are empty for the last two. `by`, `reason`, `hold` and
//!   `releases` are left out of entries that have none, so commit lines read as they always
//!   did. A ward that meets a kind it does not know refuses to go on rather than misread
//!   it.
//! - A file is in the lake from the entry that commits it until an entry deletes it; a
//!   path is never committed twice.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ChainProblem;
use crate::{StorageError, layout};

/// `prev` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Sequence number: 1 for the first entry, then one more per entry.
    pub seq: u64,
    /// What the entry records.
    pub kind: EntryKind,
    /// When the entry was committed, RFC 3339 UTC with microseconds. Kept as the exact
    /// text written, because the hash covers it.
    pub committed_at: String,
    /// The writer id of the process that committed it.
    pub writer: String,
    /// The files the commit added, in order.
    pub files: Vec<FileRecord>,
    /// The Kafka offsets the commit covers, per topic and partition.
    pub offsets: Vec<OffsetRange>,
    /// Who asked for a deletion, hold or release: the account that ran ward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Why: the retention rules applied, or the hold's or release's stated reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a `hold` entry keeps from deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldScope>,
    /// The `seq` of the hold a `release` entry ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releases: Option<u64>,
    /// The previous entry's `hash`, or [`GENESIS_HASH`].
    pub prev: String,
    /// SHA-256 of this entry without this field; see [`ManifestEntry::canonical_hash`].
    pub hash: String,
}

/// What a manifest entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Files added to the lake and the offsets they cover.
    Commit,
    /// Files removed by the retention policy.
    Delete,
    /// A legal hold placed.
    Hold,
    /// A legal hold released.
    Release,
}

impl EntryKind {
    /// The kinds this ward reads, as the manifest spells them.
    const KNOWN: [&'static str; 4] = ["commit", "delete", "hold", "release"];
}

/// What a legal hold keeps from deletion, whatever the retention policy says.
///
/// A hold keeps whole partitions: one that holds anything the hold covers stays, with
/// every file in it, until the hold is released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case", deny_unknown_fields)]
pub enum HoldScope {
    /// An incident: every partition dated from the day before its first step to the day
    /// after its last (the skew its chain tolerates may cross midnight).
    Incident {
        /// The incident's id.
        incident_id: String,
    },
    /// A patient: every partition with an event or signal about the patient. The
    /// manifest stays plain text even in an encrypted lake, so it names the patient by a
    /// digest of the id (see [`patient_digest`](crate::retention::patient_digest)), never
    /// by the id.
    Patient {
        /// The digest of the patient's id, as events carry it.
        patient_digest: String,
    },
    /// An account: every partition with an event or signal by it, an incident involving
    /// it, or a use of the lake by it.
    User {
        /// The account's short name, as events carry it (compared without case).
        user: String,
    },
    /// Every partition dated within a period, both ends included.
    Period {
        /// The first day held, UTC.
        from: NaiveDate,
        /// The last day held, UTC.
        to: NaiveDate,
    },
}

impl fmt::Display for HoldScope {
    /// The scope as an operator names it: `incident 1f2e...`, `period 2024-01-01 to ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldScope::Incident { incident_id } => write!(f, "incident {incident_id}"),
            HoldScope::Patient { patient_digest } => {
                let short = patient_digest.get(..12).unwrap_or(patient_digest);
                write!(f, "patient (id digest {short})")
            }
            HoldScope::User { user } => write!(f, "user {user}"),
            HoldScope::Period { from, to } => write!(f, "period {from} to {to}"),
        }
    }
}

/// One file added by a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// The table, such as `events`.
    pub table: String,
    /// The path relative to the lake root, with `/` separators.
    pub path: String,
    /// Number of rows.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// The offsets of one Kafka topic and partition that a commit covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsetRange {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The lowest offset with records in the commit, or `last` when it has none.
    pub first: i64,
    /// The highest offset the commit accounts for: its last record or the last message
    /// consumed, whichever is higher.
    pub last: i64,
}

/// The members a hash covers, in canonical order.
#[derive(Serialize)]
struct HashedFields<'a> {
    seq: u64,
    kind: EntryKind,
    committed_at: &'a str,
    writer: &'a str,
    files: &'a [FileRecord],
    offsets: &'a [OffsetRange],
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hold: Option<&'a HoldScope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    releases: Option<u64>,
    prev: &'a str,
}

impl ManifestEntry {
    /// The entry with `hash` set from its other fields.
    pub(crate) fn sealed(mut self) -> Self {
        self.hash = self.canonical_hash();
        self
    }

    /// The lowercase hex SHA-256 of the entry's compact JSON without `hash`, members in
    /// declaration order. Equal to `hash` for every entry ward wrote and no one altered.
    pub fn canonical_hash(&self) -> String {
        let fields = HashedFields {
            seq: self.seq,
            kind: self.kind,
            committed_at: &self.committed_at,
            writer: &self.writer,
            files: &self.files,
            offsets: &self.offsets,
            by: self.by.as_deref(),
            reason: self.reason.as_deref(),
            hold: self.hold.as_ref(),
            releases: self.releases,
            prev: &self.prev,
        };
        let json = serde_json::to_vec(&fields).expect("numbers and strings always serialize");
        hex::encode(Sha256::digest(json))
    }

    /// The entry as one manifest line, newline included.
    pub(crate) fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("numbers and strings always serialize");
        line.push('\n');
        line
    }

    /// Checks that the entry is intact and follows the entry with `prev_seq` and
    /// `prev_hash` (0 and [`GENESIS_HASH`] for the first).
    pub(crate) fn check_link(&self, prev_seq: u64, prev_hash: &str) -> Result<(), StorageError> {
        let problem = if self.canonical_hash() != self.hash {
            Some(ChainProblem::HashMismatch)
        } else if self.seq != prev_seq + 1 {
            Some(ChainProblem::SeqGap)
        } else if self.prev != prev_hash {
            Some(ChainProblem::PrevMismatch)
        } else {
            None
        };
        match problem {
            Some(problem) => Err(StorageError::ChainBroken {
                seq: self.seq,
                problem,
            }),
            None => Ok(()),
        }
    }
}

/// Every committed entry of the lake at `root`, in order; none when no writer has created
/// the manifest yet. A torn last line is not committed and is left out; any other
/// unreadable line is an error. The chain is not checked; see [`verify_chain`].
pub fn read_manifest(root: &Path) -> Result<Vec<ManifestEntry>, StorageError> {
    let path = layout::manifest_path(root);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut entries = Vec::new();
    scan(&path, 0, 1, |entry| {
        entries.push(entry);
        Ok(())
    })?;
    Ok(entries)
}

/// Checks the hash chain of a whole manifest, as [`read_manifest`] returns it: every
/// entry's hash matches its content, every `seq` follows the previous one and every
/// `prev` is the previous entry's hash. Does not check the files themselves.
pub fn verify_chain(entries: &[ManifestEntry]) -> Result<(), StorageError> {
    let mut prev = (0, GENESIS_HASH);
    for entry in entries {
        entry.check_link(prev.0, prev.1)?;
        prev = (entry.seq, &entry.hash);
    }
    Ok(())
}

/// The files in the lake after `entries`, and the paths deleted from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSets {
    /// Committed and not deleted since, by path, as their commit recorded them.
    pub live: HashMap<String, FileRecord>,
    /// Committed, then deleted by an entry that recorded them exactly as committed. A
    /// deletion that names a file otherwise (never committed, another size or hash) is
    /// not one: the file stays live, and `verify` names the entry.
    pub deleted: HashSet<String>,
}

impl FileSets {
    /// The sets after `entries`, in order.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a ManifestEntry>) -> FileSets {
        let mut sets = FileSets::default();
        entries.into_iter().for_each(|entry| sets.absorb(entry));
        sets
    }

    /// Moves the sets past `entry`.
    pub fn absorb(&mut self, entry: &ManifestEntry) {
        for file in &entry.files {
            match entry.kind {
                EntryKind::Commit => {
                    self.live.insert(file.path.clone(), file.clone());
                }
                EntryKind::Delete if self.live.get(&file.path) == Some(file) => {
                    self.live.remove(&file.path);
                    self.deleted.insert(file.path.clone());
                }
                EntryKind::Delete | EntryKind::Hold | EntryKind::Release => {}
            }
        }
    }
}

/// Where a scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// Byte offset just past the last committed line.
    pub end: u64,
    /// Bytes of a torn last line after `end`, 0 when there is none.
    pub torn: u64,
}

/// Reads the manifest at `path` from byte `from` (the start of line `line`), passing
/// each committed entry to `on_entry` in order.
pub(crate) fn scan(
    path: &Path,
    from: u64,
    mut line: u64,
    mut on_entry: impl FnMut(ManifestEntry) -> Result<(), StorageError>,
) -> Result<ScanEnd, StorageError> {
    let mut file = File::open(path).map_err(|err| StorageError::io("open", path, err))?;
    file.seek(SeekFrom::Start(from))
        .map_err(|err| StorageError::io("seek in", path, err))?;
    let mut reader = BufReader::new(file);
    let mut end = from;
    let mut bytes = Vec::new();

    loop {
        bytes.clear();
        let read = reader
            .read_until(b'\n', &mut bytes)
            .map_err(|err| StorageError::io("read", path, err))?;
        if read == 0 {
            return Ok(ScanEnd { end, torn: 0 });
        }

        // Only a line without its newline is torn, and only the last line can lack one.
        if bytes.last() != Some(&b'\n') {
            return Ok(ScanEnd {
                end,
                torn: read as u64,
            });
        }
        match parse(path, line, &bytes)? {
            Some(entry) => on_entry(entry)?,
            None => {
                return Err(StorageError::ManifestCorrupt {
                    path: path.to_owned(),
                    line,
                    detail: "the line is not a manifest entry".to_owned(),
                });
            }
        }
        end += read as u64;
        line += 1;
    }
}

/// One line as an entry; `None` when it is not valid JSON of an entry. A well-formed
/// entry of a kind this ward does not know is an error, not a torn line.
fn parse(path: &Path, line: u64, bytes: &[u8]) -> Result<Option<ManifestEntry>, StorageError> {
    if let Ok(entry) = serde_json::from_slice(bytes) {
        return Ok(Some(entry));
    }

    #[derive(Deserialize)]
    struct KindOnly {
        kind: String,
    }
    match serde_json::from_slice::<KindOnly>(bytes) {
        Ok(probe) if !EntryKind::KNOWN.contains(&probe.kind.as_str()) => {
            Err(StorageError::UnsupportedEntryKind {
                path: path.to_owned(),
                line,
                kind: probe.kind,
            })
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, prev: &str) -> ManifestEntry {
        let file = FileRecord {
            table: "events".into(),
            path: format!("events/source=edr/date=2020-09-20/part-{seq:08}-0-w.parquet"),
            rows: 3,
            bytes: 1000,
            sha256: "ab".repeat(32),
        };
        let offsets = OffsetRange {
            topic: "edr".into(),
            partition: 0,
            first: 1,
            last: 3,
        };
        let entry = ManifestEntry {
            seq,
            kind: EntryKind::Commit,
            committed_at: "2024-05-01T12:00:00.000000Z".into(),
            writer: "ward1-4242".into(),
            files: vec![file],
            offsets: vec![offsets],
            by: None,
            reason: None,
            hold: None,
            releases: None,
            prev: prev.into(),
            hash: String::new(),
        };
        entry.sealed()
    }

    #[test]
    fn the_line_is_the_hashed_json_plus_the_hash() {
        let entry = entry(1, GENESIS_HASH);
        let line = entry.to_line();
        let body = format!(",\"hash\":\"{}\"}}\n", entry.hash);
        let hashed = format!("{}}}", line.strip_suffix(&body).expect("the hash is last"));

        assert_eq!(entry.hash, hex::encode(Sha256::digest(hashed.as_bytes())));
        assert!(line.starts_with("{\"seq\":1,\"kind\":\"commit\",\"committed_at\":"));
        let back: ManifestEntry = serde_json::from_str(&line).expect("the line parses");
        assert_eq!(back, entry);
    }

    #[test]
    fn a_removed_entry_breaks_the_chain() {
        let first = entry(1, GENESIS_HASH);
        let second = entry(2, &first.hash);
        let third = entry(3, &second.hash);
        verify_chain(&[first.clone(), second, third.clone()]).expect("an intact chain");

        let err = verify_chain(&[first, third]).expect_err("a gap");
        assert!(matches!(
            err,
            StorageError::ChainBroken {
                seq: 3,
                problem: ChainProblem::SeqGap
            }
        ));
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_a_torn_middle_line_is_corruption() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("manifest.jsonl");
        let first = entry(1, GENESIS_HASH).to_line();
        let torn = &entry(2, GENESIS_HASH).to_line()[..40];

        std::fs::write(&path, format!("{first}{torn}")).expect("write");
        let mut seen = Vec::new();
        let end = scan(&path, 0, 1, |entry| {
            seen.push(entry.seq);
            Ok(())
        });
        let end = end.expect("a torn tail is not an error");
        assert_eq!(seen, [1]);
        assert_eq!(
            end,
            ScanEnd {
                end: first.len() as u64,
                torn: 40
            }
        );

        std::fs::write(&path, format!("{torn}\n{first}")).expect("write");
        let err = scan(&path, 0, 1, |_| Ok(())).expect_err("corruption");
        assert!(
            matches!(err, StorageError::ManifestCorrupt { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_hold_line_carries_its_scope_and_only_the_members_it_has() {
        let mut hold = entry(2, GENESIS_HASH);
        hold.kind = EntryKind::Hold;
        hold.files.clear();
        hold.offsets.clear();
        hold.by = Some("privacy-officer".into());
        hold.reason = Some("OCR complaint 04-123".into());
        hold.hold = Some(HoldScope::Period {
            from: NaiveDate::from_ymd_opt(2020, 9, 1).expect("a date"),
            to: NaiveDate::from_ymd_opt(2020, 9, 30).expect("a date"),
        });
        let hold = hold.sealed();
        let line = hold.to_line();

        assert!(line.contains(concat!(
            "\"offsets\":[],\"by\":\"privacy-officer\",\"reason\":\"OCR complaint 04-123\",",
            "\"hold\":{\"scope\":\"period\",\"from\":\"2020-09-01\",\"to\":\"2020-09-30\"},",
            "\"prev\":"
        )));
        assert!(!line.contains("releases"));
        let back: ManifestEntry = serde_json::from_str(&line).expect("the line parses");
        assert_eq!(back.canonical_hash(), hold.hash);

        let commit = entry(1, GENESIS_HASH).to_line();
        assert!(!commit.contains("\"by\"") && !commit.contains("\"hold\""));
    }

    #[test]
    fn deleted_files_leave_the_live_set() {
        let first = entry(1, GENESIS_HASH);
        let mut delete = entry(2, &first.hash);
        delete.kind = EntryKind::Delete;
        delete.offsets.clear();
        delete.files = first.files.clone();
        let third = entry(3, &delete.hash);

        let mut forged = entry(4, &third.hash);
        forged.kind = EntryKind::Delete;
        forged.files = third.files.clone();
        forged.files[0].sha256 = "cd".repeat(32);

        let sets = FileSets::of([&first, &delete, &third, &forged]);
        let path = |entry: &ManifestEntry| entry.files[0].path.clone();
        let live: Vec<&String> = sets.live.keys().collect();
        assert_eq!(
            live,
            [&path(&third)],
            "a deletion that misnames a file is none"
        );
        assert_eq!(sets.deleted, HashSet::from([path(&first)]));
    }

    #[test]
    fn an_unknown_entry_kind_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("manifest.jsonl");
        std::fs::write(&path, "{\"seq\":1,\"kind\":\"retention\"}\n").expect("write");

        let err = scan(&path, 0, 1, |_| Ok(())).expect_err("unknown kind");
        let StorageError::UnsupportedEntryKind { kind, line, .. } = err else {
            panic!("not an unsupported kind: {err}");
        };
        assert_eq!((kind.as_str(), line), ("retention", 1));
    }
}
