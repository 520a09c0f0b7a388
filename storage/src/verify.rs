//! Verifying a lake: proof that the audit record is what ward wrote.
//!
//! [`verify`] reads the lake without changing it, takes no lock and does no crash
//! recovery, and reports every problem it finds rather than the first:
//! - each manifest line parses, and only the last line may be torn (a crash in mid-append
//!   or a cut-off file);
//! - the hash chain holds: each entry's hash matches its content, `seq` grows by one,
//!   `prev` is the previous entry's hash;
//! - each file an entry lists exists, has the recorded size and SHA-256;
//! - no file under a table directory is missing from the manifest: a part file added by
//!   hand, or left by a crash between rename and manifest append, is named;
//! - each file a `delete` entry removes was in the lake, as committed, when it was
//!   removed; files deleted by retention are expected to be gone.
//!
//! A manifest cut at a line boundary is a valid shorter chain; what betrays it is the
//! files its lost entries listed, still on disk and now unlisted (or, once a writer has
//! opened the lake, moved to `_quarantine/`, which the report lists), and the head hash
//! changing from the one an operator recorded (see [`VerifyReport::head`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::RangeInclusive;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::StorageError;
use crate::layout::{self, Table};
use crate::manifest::{EntryKind, FileRecord, FileSets, GENESIS_HASH, HoldScope, ManifestEntry};

/// What [`verify`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Manifest entries read.
    pub entries: u64,
    /// Files listed by the manifest whose bytes were hashed.
    pub files: u64,
    /// Bytes hashed.
    pub bytes: u64,
    /// The last entry's hash: record it somewhere the lake's writers cannot reach, and a
    /// later verify that reports another head for the same `entries` shows a rewrite.
    pub head: Option<String>,
    /// Every problem, in the order found.
    pub problems: Vec<Problem>,
    /// Files a `delete` entry removed that are still on disk: a retention run stopped
    /// between recording a deletion and removing the files. The next writer to open the
    /// lake removes them; not a problem.
    pub awaiting_deletion: Vec<String>,
    /// Files under `_quarantine/`: part files that no manifest entry listed when a writer
    /// opened the lake, moved aside (a crash's orphans, or the files of entries cut from
    /// the manifest). Not a problem by themselves; worth a look when the head changed.
    pub quarantined: Vec<String>,
}

impl VerifyReport {
    /// Whether the lake is intact.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One way the lake differs from what its manifest says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// There is no manifest although table directories hold files.
    ManifestMissing,
    /// A manifest line that is not the last one is not an entry.
    UnreadableLine {
        /// Line number, from 1.
        line: u64,
    },
    /// The last line has no newline or does not parse: a crash in mid-append, or a cut.
    TornLastLine {
        /// Line number, from 1.
        line: u64,
    },
    /// A link of the hash chain does not hold.
    Chain {
        /// The entry's `seq` (its line number when the entry is not where `seq` says).
        seq: u64,
        /// Which link.
        link: ChainLink,
    },
    /// A listed file is gone.
    Missing {
        /// Path relative to the lake root.
        path: String,
    },
    /// A listed file's size or SHA-256 differs from the manifest's.
    Altered {
        /// Path relative to the lake root.
        path: String,
        /// Size recorded in the manifest.
        expected_bytes: u64,
        /// Size on disk.
        actual_bytes: u64,
    },
    /// A file under a table directory that no entry lists.
    Unexpected {
        /// Path relative to the lake root.
        path: String,
    },
    /// A `delete` entry removes a file that was not in the lake as the entry says: never
    /// committed, already deleted, or recorded with another size or hash. The entry
    /// deletes nothing.
    BadDeletion {
        /// The `delete` entry's `seq`.
        seq: u64,
        /// Path relative to the lake root.
        path: String,
    },
    /// A `delete` entry removed a file of a day a period hold in force kept.
    DeletedUnderHold {
        /// The `delete` entry's `seq`.
        seq: u64,
        /// Path relative to the lake root.
        path: String,
        /// The hold's id.
        hold: u64,
    },
}

/// A link of the chain that failed, for [`Problem::Chain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainLink {
    /// The entry's hash does not match its content.
    Hash,
    /// The entry's `prev` is not the previous entry's hash.
    Prev,
    /// The entry's `seq` does not follow the previous one.
    Seq,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ManifestMissing => {
                f.write_str("the manifest is missing, but table directories hold files")
            }
            Problem::UnreadableLine { line } => {
                write!(f, "manifest line {line} is not a manifest entry")
            }
            Problem::TornLastLine { line } => write!(
                f,
                "manifest line {line}, the last, is incomplete: a crash during a commit, or a \
                 cut manifest"
            ),
            Problem::Chain { seq, link } => {
                let what = match link {
                    ChainLink::Hash => "its hash does not match its content (the entry was edited)",
                    ChainLink::Prev => {
                        "its prev is not the previous entry's hash (an entry before it was \
                         removed, inserted or edited)"
                    }
                    ChainLink::Seq => "its seq does not follow the previous entry's",
                };
                write!(f, "manifest entry {seq}: {what}")
            }
            Problem::Missing { path } => write!(f, "missing: {path}"),
            Problem::Altered {
                path,
                expected_bytes,
                actual_bytes,
            } => write!(
                f,
                "altered: {path} (its SHA-256 differs from the manifest's; {actual_bytes} \
                 bytes, {expected_bytes} recorded)"
            ),
            Problem::Unexpected { path } => write!(
                f,
                "unexpected: {path} (no manifest entry lists it: added, or left by a crash \
                 before its commit)"
            ),
            Problem::BadDeletion { seq, path } => write!(
                f,
                "manifest entry {seq} deletes {path}, which was not in the lake as committed"
            ),
            Problem::DeletedUnderHold { seq, path, hold } => write!(
                f,
                "manifest entry {seq} deleted {path}, a day legal hold {hold} kept"
            ),
        }
    }
}

/// Verifies the lake at `root`; `progress` is called after each file hashed with the
/// bytes hashed so far. Fails only when the lake cannot be read at all; everything that
/// differs from the manifest is a [`Problem`] in the report.
pub fn verify(root: &Path, mut progress: impl FnMut(u64)) -> Result<VerifyReport, StorageError> {
    let mut report = VerifyReport::default();
    let entries = read_entries(root, &mut report)?;
    check_chain(&entries, &mut report);

    let (live, deleted) = follow_files(&entries, &mut report);
    let mut listed = BTreeSet::new();
    for file in &live {
        listed.insert(file.path.clone());
        let path = root.join(&file.path);
        match hash_file(&path) {
            Ok((bytes, sha256)) => {
                report.files += 1;
                report.bytes += bytes;
                progress(report.bytes);
                if bytes != file.bytes || sha256 != file.sha256 {
                    report.problems.push(Problem::Altered {
                        path: file.path.clone(),
                        expected_bytes: file.bytes,
                        actual_bytes: bytes,
                    });
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                report.problems.push(Problem::Missing {
                    path: file.path.clone(),
                });
            }
            Err(err) => return Err(StorageError::io("read", path, err)),
        }
    }

    let mut unexpected = Vec::new();
    for table in Table::ALL {
        for relative in files_in(root, &layout::table_dir(root, table.name()))? {
            if deleted.contains(&relative) {
                report.awaiting_deletion.push(relative);
            } else if !listed.contains(&relative) {
                unexpected.push(relative);
            }
        }
    }
    if entries.is_empty() && !unexpected.is_empty() && !layout::manifest_path(root).exists() {
        report.problems.push(Problem::ManifestMissing);
    }
    let unexpected = unexpected
        .into_iter()
        .map(|path| Problem::Unexpected { path });
    report.problems.extend(unexpected);

    report.quarantined = files_in(root, &root.join(layout::QUARANTINE_DIR))?;
    Ok(report)
}

/// Every file under `dir`, as lake-relative paths in name order; none when `dir` is
/// absent.
fn files_in(root: &Path, dir: &Path) -> Result<Vec<String>, StorageError> {
    let mut files = Vec::new();
    if !dir.is_dir() {
        return Ok(files);
    }
    for found in WalkDir::new(dir).sort_by_file_name() {
        let found = found.map_err(|err| {
            let path = err.path().unwrap_or(dir).to_owned();
            StorageError::io("walk", path, err.into())
        })?;
        if found.file_type().is_file() {
            files.push(relative_path(root, found.path()));
        }
    }
    Ok(files)
}

/// The files in the lake after `entries`, in commit order, and the paths deleted, as
/// [`FileSets`] has them, noting deletions of files that were not there as committed
/// (which delete nothing) and of days a period hold kept.
fn follow_files(
    entries: &[ManifestEntry],
    report: &mut VerifyReport,
) -> (Vec<FileRecord>, HashSet<String>) {
    let mut files = FileSets::default();
    // Period holds in force, by id: the only holds checkable without the deleted data.
    let mut periods = BTreeMap::new();
    for entry in entries {
        match (entry.kind, &entry.hold, entry.releases) {
            (EntryKind::Hold, Some(HoldScope::Period { from, to }), _) => {
                periods.insert(entry.seq, *from..=*to);
            }
            (EntryKind::Release, _, Some(hold)) => {
                periods.remove(&hold);
            }
            (EntryKind::Delete, _, _) => {
                for file in &entry.files {
                    check_deletion(entry.seq, file, &files, &periods, report);
                }
            }
            _ => {}
        }
        files.absorb(entry);
    }
    let commits = entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::Commit);
    let live = commits
        .flat_map(|entry| &entry.files)
        .filter(|file| files.live.contains_key(&file.path))
        .cloned()
        .collect();
    (live, files.deleted)
}

/// Notes what is wrong with entry `seq` deleting `file` from a lake of `files`, with the
/// period holds `periods` in force.
fn check_deletion(
    seq: u64,
    file: &FileRecord,
    files: &FileSets,
    periods: &BTreeMap<u64, RangeInclusive<NaiveDate>>,
    report: &mut VerifyReport,
) {
    let path = file.path.clone();
    if files.live.get(&file.path) != Some(file) {
        report.problems.push(Problem::BadDeletion { seq, path });
        return;
    }
    let date = layout::partition_date(&file.path);
    let held = periods
        .iter()
        .find(|(_, days)| date.is_some_and(|date| days.contains(&date)));
    if let Some((&hold, _)) = held {
        report
            .problems
            .push(Problem::DeletedUnderHold { seq, path, hold });
    }
}

/// Every entry that parses, noting lines that do not.
fn read_entries(
    root: &Path,
    report: &mut VerifyReport,
) -> Result<Vec<ManifestEntry>, StorageError> {
    let path = layout::manifest_path(root);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(StorageError::io("open", path, err)),
    };
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut bytes = Vec::new();
    let mut line = 0;
    loop {
        bytes.clear();
        let read = reader
            .read_until(b'\n', &mut bytes)
            .map_err(|err| StorageError::io("read", &path, err))?;
        if read == 0 {
            break;
        }
        line += 1;
        let whole = bytes.last() == Some(&b'\n');
        match serde_json::from_slice::<ManifestEntry>(&bytes) {
            Ok(entry) if whole => entries.push(entry),
            _ if whole => report.problems.push(Problem::UnreadableLine { line }),
            _ => report.problems.push(Problem::TornLastLine { line }),
        }
    }
    report.entries = entries.len() as u64;
    report.head = entries.last().map(|entry| entry.hash.clone());
    Ok(entries)
}

/// Checks every link, carrying on after a broken one from the entry's own values so one
/// edit is reported once.
fn check_chain(entries: &[ManifestEntry], report: &mut VerifyReport) {
    let mut prev: (u64, &str) = (0, GENESIS_HASH);
    for entry in entries {
        if entry.canonical_hash() != entry.hash {
            report.problems.push(Problem::Chain {
                seq: entry.seq,
                link: ChainLink::Hash,
            });
        }
        if entry.seq != prev.0 + 1 {
            report.problems.push(Problem::Chain {
                seq: entry.seq,
                link: ChainLink::Seq,
            });
        }
        if entry.prev != prev.1 {
            report.problems.push(Problem::Chain {
                seq: entry.seq,
                link: ChainLink::Prev,
            });
        }
        prev = (entry.seq, &entry.hash);
    }
}

/// Size and lowercase hex SHA-256 of a file.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut total = 0;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        total += read as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// `path` relative to `root`, with `/` separators as the manifest writes them.
fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests;
