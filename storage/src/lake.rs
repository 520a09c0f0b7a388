//! The lake: opening and recovering it, and committing batches exactly once.
//!
//! A commit goes through these steps; a crash between any two leaves the lake as it was
//! before the commit, plus leftovers that [`Lake::open`] removes (see `recovery`):
//! 1. Sort the batch into partition files, dropping records whose offsets this writer
//!    already knows are committed, and write each file to the writer's staging
//!    directory, synced. Encoding runs without the lock, so writers overlap.
//! 2. Take the lock and read the entries other writers appended since. Drop the records
//!    they committed meanwhile, rewriting the files that lost rows.
//! 3. Rename each file into its partition directory and sync the directories.
//! 4. Append the manifest entry in one write and sync it; release the lock.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use tracing::{debug, info, warn};

use crate::durable::{ensure_dir, sync_dir};
use crate::encryption::{self, LakeKey};
use crate::layout::{self, DEAD_LETTERS, EVENTS, Table};
use crate::lock::LockFile;
use crate::manifest::{EntryKind, FileRecord, FileSets, HoldScope, ManifestEntry, OffsetRange};
use crate::part_file::{WrittenFile, write_part_file};
use crate::plan::{PartitionKey, Plan, Rows};
use crate::tail::Tail;
use crate::{Batch, StorageError, read_manifest, recovery, retention};

/// An open lake directory that this process commits to.
///
/// Several processes (each with its own writer id) may hold a `Lake` on the same
/// directory and commit concurrently: commits are serialized by the lake's lock, and a
/// record whose offset another writer already committed is dropped, not written twice.
#[derive(Debug)]
pub struct Lake {
    /// The lake directory.
    root: PathBuf,
    /// This writer's id: names its staging directory and part files, and signs its
    /// manifest entries.
    writer: String,
    /// The lock file, kept open for the lake's lifetime.
    lock: Arc<LockFile>,
    /// The manifest as this writer last read it.
    tail: Tail,
    /// The current time, for `committed_at` and for dating dead letters that carry no
    /// receive time. [`Utc::now`] unless a test sets another.
    clock: fn() -> DateTime<Utc>,
    /// The key part files are encrypted with, when the lake is encrypted.
    key: Option<LakeKey>,
}

/// What one [`Lake::commit`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// The manifest entry written, or `None` when there was nothing new to commit (no
    /// records left after dropping duplicates, and no partition advanced).
    pub seq: Option<u64>,
    /// The files added, in the manifest's order, with their lake-relative paths.
    pub files: Vec<FileRecord>,
    /// The offsets the entry covers per topic and partition; the `last` values are what
    /// the binary may report to Kafka as consumed.
    pub offsets: Vec<OffsetRange>,
    /// Rows added to the `events` table.
    pub event_rows: u64,
    /// Rows added to the `dead_letters` table.
    pub dead_letter_rows: u64,
    /// Signal rows written.
    pub signal_rows: u64,
    /// Incident rows written.
    pub incident_rows: u64,
    /// Access-log rows written.
    pub access_rows: u64,
    /// Records dropped because their offsets were already committed.
    pub duplicates: u64,
}

impl Lake {
    /// Opens the lake at `root` as `writer`, creating its directories if needed, and
    /// repairs what crashed writers left: a torn last manifest line is truncated, part
    /// files no entry lists are moved to the quarantine, files a `delete` entry names are
    /// removed, and the staging directories of dead writers on this host are removed
    /// (all logged at WARN).
    ///
    /// `writer` must be unique among the lake's live writers and a safe file name; use
    /// [`default_writer_id`](crate::default_writer_id) unless there is a reason not to.
    ///
    /// Opening reads the whole manifest and lists every table file, so it takes time in
    /// proportion to the lake's size.
    pub fn open(root: &Path, writer: &str) -> Result<Lake, StorageError> {
        Lake::open_with_key(root, writer, None)
    }

    /// [`Lake::open`] for a lake whose files are encrypted with `key`. A lake with no files
    /// yet becomes encrypted with `key`; one encrypted with another key, or holding plain
    /// files, is refused, as is an encrypted lake opened with no key.
    pub fn open_with_key(
        root: &Path,
        writer: &str,
        key: Option<LakeKey>,
    ) -> Result<Lake, StorageError> {
        layout::validate_writer(writer)?;
        create_layout(root)?;
        let lock = LockFile::open(&layout::lock_path(root))?;

        let mut tail = Tail::empty();
        {
            let _locked = lock.lock()?;
            let check = |files: &FileSets| check_opened_encryption(root, files, key.as_ref());
            recovery::recover(root, writer, &mut tail, check)?;
        }

        info!(
            root = %root.display(),
            writer,
            seq = tail.seq,
            partitions = tail.committed.len(),
            "lake opened"
        );
        Ok(Lake {
            root: root.to_owned(),
            writer: writer.to_owned(),
            lock,
            tail,
            clock: Utc::now,
            key,
        })
    }

    /// The same lake, taking the current time from `clock`; for tests.
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Lake {
        self.clock = clock;
        self
    }

    /// The lake directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This writer's id.
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// The last committed offset per topic and partition, by every writer, read afresh
    /// from the manifest; a consumer assigned a partition resumes at the offset after.
    /// Partitions never committed are absent. Same as the free [`committed_offsets`].
    pub fn committed_offsets(&self) -> Result<BTreeMap<(String, i32), i64>, StorageError> {
        committed_offsets(&self.root)
    }

    /// Commits `batch`: each record not yet in the lake lands in it exactly once, and the
    /// manifest records the files and the offsets they cover. See [`Batch`] for the
    /// contract on offsets that makes this exact.
    ///
    /// On error nothing is committed and the lake stays consistent; retrying with the
    /// same batch is safe. Blocks while another writer holds the lock.
    pub fn commit(&mut self, batch: Batch) -> Result<CommitSummary, StorageError> {
        let now = (self.clock)();
        let mut plan = Plan::new(batch, now.date_naive());
        plan.retain_after(&self.tail.committed);

        let staging = layout::staging_dir(&self.root, &self.writer);
        let mut staged = Staged::new(staging, self.key.clone())?;
        for (key, rows) in &plan.files {
            staged.write(*key, rows)?;
        }

        let _locked = self.lock.lock()?;
        self.commit_locked(plan, &mut staged, now)
    }

    /// Steps 2 to 4 of a commit, with the lock held.
    fn commit_locked(
        &mut self,
        mut plan: Plan,
        staged: &mut Staged,
        now: DateTime<Utc>,
    ) -> Result<CommitSummary, StorageError> {
        self.catch_up_locked()?;
        // Another writer may have encrypted the lake since this one opened it.
        self.check_encryption()?;

        // Other writers may have committed some of these offsets since step 1.
        for key in plan.retain_after(&self.tail.committed) {
            staged.discard(key);
            if let Some(rows) = plan.files.get(&key) {
                staged.write(key, rows)?;
            }
        }
        let mut summary = CommitSummary {
            offsets: plan.offset_ranges(&self.tail.committed),
            event_rows: plan.rows(Table::Events),
            dead_letter_rows: plan.rows(Table::DeadLetters),
            signal_rows: plan.rows(Table::Signals),
            incident_rows: plan.rows(Table::Incidents),
            access_rows: plan.rows(Table::AccessLog),
            duplicates: plan.duplicates,
            ..CommitSummary::default()
        };
        if plan.files.is_empty() && summary.offsets.is_empty() {
            debug!(duplicates = summary.duplicates, "nothing new to commit");
            return Ok(summary);
        }

        let seq = self.tail.seq + 1;
        let placed = self.place(seq, staged)?;
        let mut entry = self.next_entry(EntryKind::Commit, now);
        entry.files = placed.iter().map(|(file, _)| file.clone()).collect();
        entry.offsets = summary.offsets.clone();
        let manifest = layout::manifest_path(&self.root);
        if let Err(failed) = self.tail.append(&manifest, entry.sealed()) {
            if failed.rolled_back {
                remove_uncommitted(placed.iter().map(|(_, path)| path));
            }
            return Err(failed.error);
        }

        summary.seq = Some(seq);
        summary.files = placed.into_iter().map(|(file, _)| file).collect();
        for file in &summary.files {
            debug!(seq, path = %file.path, rows = file.rows, bytes = file.bytes, "file committed");
        }
        info!(
            writer = %self.writer,
            seq,
            files = summary.files.len(),
            events = summary.event_rows,
            dead_letters = summary.dead_letter_rows,
            signals = summary.signal_rows,
            incidents = summary.incident_rows,
            duplicates = summary.duplicates,
            "batch committed"
        );
        Ok(summary)
    }

    /// Reads what other writers appended since this one last looked. When a writer died
    /// mid-append, the files of its torn entry are orphans now, and go to the quarantine.
    /// Call with the lock held.
    fn catch_up_locked(&mut self) -> Result<(), StorageError> {
        let manifest = layout::manifest_path(&self.root);
        if self.tail.catch_up(&manifest, |_| {})? {
            let files = FileSets::of(&read_manifest(&self.root)?);
            recovery::remove_orphans(&self.root, &files)?;
        }
        Ok(())
    }

    /// Checks that the files this writer writes are what the lake holds: encrypted with
    /// its key when it is encrypted, plain when it is not. Call with the lock held.
    fn check_encryption(&self) -> Result<(), StorageError> {
        match (encryption::lake_fingerprint(&self.root)?, &self.key) {
            (None, Some(_)) => Err(StorageError::EncryptionMarkerMissing),
            (fingerprint, key) => encryption::check_key(fingerprint, key.as_ref()).map(|_| ()),
        }
    }

    /// An entry of `kind` that follows the last one, by this writer at `now`, with no
    /// files, offsets or reasons yet; seal it after filling them in.
    fn next_entry(&self, kind: EntryKind, now: DateTime<Utc>) -> ManifestEntry {
        ManifestEntry {
            seq: self.tail.seq + 1,
            kind,
            committed_at: now.to_rfc3339_opts(SecondsFormat::Micros, true),
            writer: self.writer.clone(),
            files: Vec::new(),
            offsets: Vec::new(),
            by: None,
            reason: None,
            hold: None,
            releases: None,
            prev: self.tail.hash.clone(),
            hash: String::new(),
        }
    }

    /// Appends `entry`, which must follow the last one. Call with the lock held.
    fn append_locked(&mut self, entry: ManifestEntry) -> Result<u64, StorageError> {
        let seq = entry.seq;
        let manifest = layout::manifest_path(&self.root);
        self.tail
            .append(&manifest, entry.sealed())
            .map_err(|failed| failed.error)?;
        Ok(seq)
    }

    /// Places a legal hold: from this entry on, retention deletes nothing `scope` covers.
    /// `by` is the account placing it and `reason` why (a case number, a complaint).
    /// Returns the hold's id, the `seq` of its entry.
    pub fn place_hold(
        &mut self,
        scope: HoldScope,
        by: &str,
        reason: &str,
    ) -> Result<u64, StorageError> {
        let _locked = self.lock.lock()?;
        self.catch_up_locked()?;
        let mut entry = self.next_entry(EntryKind::Hold, (self.clock)());
        entry.by = Some(by.to_owned());
        entry.reason = Some(reason.to_owned());
        entry.hold = Some(scope);
        let seq = self.append_locked(entry)?;
        info!(seq, "legal hold placed");
        Ok(seq)
    }

    /// Releases the active legal hold `hold`; returns the `seq` of the release entry.
    pub fn release_hold(&mut self, hold: u64, by: &str, reason: &str) -> Result<u64, StorageError> {
        let _locked = self.lock.lock()?;
        self.catch_up_locked()?;
        let active = retention::active_holds(&read_manifest(&self.root)?);
        if !active.iter().any(|placed| placed.seq == hold) {
            return Err(StorageError::NoSuchHold { seq: hold });
        }
        let mut entry = self.next_entry(EntryKind::Release, (self.clock)());
        entry.by = Some(by.to_owned());
        entry.reason = Some(reason.to_owned());
        entry.releases = Some(hold);
        let seq = self.append_locked(entry)?;
        info!(seq, hold, "legal hold released");
        Ok(seq)
    }

    /// Deletes `files`, which a retention plan made from the manifest up to entry
    /// `planned_at` chose: records their deletion in one `delete` entry (`by` the account
    /// running retention, `reason` the rules applied), then removes them and the
    /// partition folders left empty. Files another run deleted meanwhile are skipped.
    ///
    /// Refuses, deleting nothing, when an entry after `planned_at` placed a hold, committed
    /// incidents or added files to a partition the plan deletes, since the plan did not
    /// see them. Returns the entry's `seq`, or `None` when nothing was left
    /// to delete. Once the entry is appended the files are gone as far as the lake is
    /// concerned: a file that cannot be removed now (or a crash before) is removed by the
    /// next writer to open the lake.
    pub fn delete(
        &mut self,
        files: &[FileRecord],
        planned_at: u64,
        by: &str,
        reason: &str,
    ) -> Result<Option<u64>, StorageError> {
        let _locked = self.lock.lock()?;
        self.catch_up_locked()?;
        let entries = read_manifest(&self.root)?;
        check_plan_current(&entries, planned_at, files)?;
        // The entry records each file as its commit did, whatever the caller passed.
        let live = FileSets::of(&entries).live;
        let files: Vec<FileRecord> = files
            .iter()
            .filter_map(|file| live.get(&file.path).cloned())
            .collect();
        if files.is_empty() {
            return Ok(None);
        }

        let mut entry = self.next_entry(EntryKind::Delete, (self.clock)());
        entry.files = files;
        entry.by = Some(by.to_owned());
        entry.reason = Some(reason.to_owned());
        let paths: Vec<String> = entry.files.iter().map(|file| file.path.clone()).collect();
        let seq = self.append_locked(entry)?;
        if let Err(err) = recovery::remove_deleted(&self.root, paths.iter().map(String::as_str)) {
            // Deleted as far as the lake is concerned; the next open removes the rest.
            warn!(seq, error = %err, "deletion recorded, but not every file could be removed");
        }
        info!(seq, files = paths.len(), "files deleted by retention");
        Ok(Some(seq))
    }

    /// Step 3: renames the staged files into their partitions as the files of commit
    /// `seq`, and syncs the directories. On error, removes what it renamed.
    fn place(&self, seq: u64, staged: &Staged) -> Result<Vec<(FileRecord, PathBuf)>, StorageError> {
        let mut placed = Vec::with_capacity(staged.files.len());
        match self.rename_all(seq, staged, &mut placed) {
            Ok(()) => Ok(placed),
            Err(err) => {
                remove_uncommitted(placed.iter().map(|(_, path)| path));
                Err(err)
            }
        }
    }

    /// Renames each staged file into place, pushing it to `placed`, then syncs every
    /// directory whose entries changed.
    fn rename_all(
        &self,
        seq: u64,
        staged: &Staged,
        placed: &mut Vec<(FileRecord, PathBuf)>,
    ) -> Result<(), StorageError> {
        let mut to_sync = BTreeSet::new();
        for (n, (key, written)) in staged.files.iter().enumerate() {
            let name = layout::part_file_name(seq, n, &self.writer);
            let relative = format!("{}/{name}", key.dir());
            let target = layout::resolve(&self.root, &relative);
            let dir = target
                .parent()
                .expect("a part file path has a partition directory");
            ensure_dir(dir, &mut to_sync)?;

            // A file already at this name is an orphan (no entry has this seq yet), so
            // replacing it is safe.
            fs::rename(&written.path, &target)
                .map_err(|err| StorageError::io("rename into place", &target, err))?;
            let record = FileRecord {
                table: key.table.name().to_owned(),
                path: relative,
                rows: written.rows,
                bytes: written.bytes,
                sha256: written.sha256.clone(),
            };
            placed.push((record, target));
        }
        to_sync.iter().try_for_each(|dir| sync_dir(dir))
    }
}

impl Drop for Lake {
    fn drop(&mut self) {
        // Only succeeds when empty; a leftover with files is for recovery to judge.
        let _ = fs::remove_dir(layout::staging_dir(&self.root, &self.writer));
    }
}

/// The last committed offset per topic and partition in the lake at `root`, read from
/// its manifest without the lock (entries are appended whole, and a torn last line is
/// ignored), so a consumer's rebalance callback can call it without holding the
/// [`Lake`]. Partitions never committed are absent.
pub fn committed_offsets(root: &Path) -> Result<BTreeMap<(String, i32), i64>, StorageError> {
    Ok(Tail::load(&layout::manifest_path(root))?.committed)
}

/// At open, with the lock held: checks `key` against the lake whose files are `files`.
/// An encrypted lake needs its own key. A lake without a marker is refused when its
/// files are encrypted (the marker was removed), and becomes encrypted with `key` when it
/// has no files yet; one with plain files cannot take a key.
fn check_opened_encryption(
    root: &Path,
    files: &FileSets,
    key: Option<&LakeKey>,
) -> Result<(), StorageError> {
    if let Some(fingerprint) = encryption::lake_fingerprint(root)? {
        return encryption::check_key(Some(fingerprint), key).map(|_| ());
    }
    // One live file on disk tells whether the lake's files are encrypted.
    let mut paths: Vec<&String> = files.live.keys().collect();
    paths.sort();
    let sample = paths
        .into_iter()
        .map(|path| layout::resolve(root, path))
        .find(|path| path.is_file());
    if sample.is_some_and(|path| encryption::is_encrypted_file(&path)) {
        return Err(StorageError::EncryptionMarkerMissing);
    }
    match key {
        Some(_) if !files.live.is_empty() => Err(StorageError::LakeNotEncrypted),
        Some(key) => {
            encryption::mark_encrypted(root, key)?;
            info!(root = %root.display(), key = %key.fingerprint(), "lake encrypted");
            Ok(())
        }
        None => Ok(()),
    }
}

/// Fails when an entry after `planned_at` could change what a plan of deleting `files`
/// decided: a hold placed; while an incident hold is in force, incidents committed (they
/// can widen its days); while a patient or account hold is in force, files committed to
/// a partition the plan deletes (the plan did not read them). Commits that cannot change
/// the plan, such as a live `ward run`'s, do not stop it.
fn check_plan_current(
    entries: &[ManifestEntry],
    planned_at: u64,
    files: &[FileRecord],
) -> Result<(), StorageError> {
    let holds = retention::active_holds(entries);
    let incident_held = holds
        .iter()
        .any(|hold| matches!(hold.scope, HoldScope::Incident { .. }));
    let content_held = holds.iter().any(|hold| {
        matches!(
            hold.scope,
            HoldScope::Patient { .. } | HoldScope::User { .. }
        )
    });
    let planned: BTreeSet<&str> = files
        .iter()
        .filter_map(|file| layout::partition_folder(&file.path))
        .collect();
    for entry in entries.iter().filter(|entry| entry.seq > planned_at) {
        let why = match entry.kind {
            EntryKind::Hold => Some("a legal hold was placed"),
            EntryKind::Commit => entry.files.iter().find_map(|file| {
                let dir = layout::partition_folder(&file.path).unwrap_or("");
                if incident_held && file.table == layout::INCIDENTS {
                    Some("incidents were committed")
                } else if content_held && planned.contains(dir) {
                    Some("files were committed to a partition it deletes")
                } else {
                    None
                }
            }),
            EntryKind::Delete | EntryKind::Release => None,
        };
        if let Some(why) = why {
            return Err(StorageError::PlanOutdated {
                seq: entry.seq,
                why,
            });
        }
    }
    Ok(())
}

/// Creates the lake's directories and an empty manifest if they are missing.
fn create_layout(root: &Path) -> Result<(), StorageError> {
    let dirs = [
        root.to_owned(),
        layout::table_dir(root, EVENTS),
        layout::table_dir(root, DEAD_LETTERS),
        root.join(layout::MANIFEST_DIR),
        root.join(layout::STAGING_DIR),
    ];
    for dir in &dirs {
        fs::create_dir_all(dir).map_err(|err| StorageError::io("create directory", dir, err))?;
    }

    let manifest = layout::manifest_path(root);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&manifest)
        .map_err(|err| StorageError::io("create", &manifest, err))?;
    sync_dir(root)?;
    sync_dir(&root.join(layout::MANIFEST_DIR))
}

/// Removes part files renamed into place for a commit that did not happen. A file that
/// cannot be removed is an orphan, removed at the next open.
fn remove_uncommitted<'a>(paths: impl Iterator<Item = &'a PathBuf>) {
    for path in paths {
        if let Err(err) = fs::remove_file(path) {
            debug!(path = %path.display(), error = %err, "uncommitted part file left for recovery");
        }
    }
}

/// The files of one commit in the writer's staging directory, by partition. Whatever is
/// still staged when this is dropped (because the commit failed) is removed.
#[derive(Debug)]
struct Staged {
    /// The writer's staging directory.
    dir: PathBuf,
    /// The staged files, in the order they are placed.
    files: BTreeMap<PartitionKey, WrittenFile>,
    /// The lake's key, when its files are encrypted.
    key: Option<LakeKey>,
}

impl Staged {
    fn new(dir: PathBuf, key: Option<LakeKey>) -> Result<Staged, StorageError> {
        fs::create_dir_all(&dir).map_err(|err| StorageError::io("create directory", &dir, err))?;
        Ok(Staged {
            dir,
            files: BTreeMap::new(),
            key,
        })
    }

    /// Writes the file of partition `key`, replacing any staged before.
    fn write(&mut self, key: PartitionKey, rows: &Rows) -> Result<(), StorageError> {
        let name = format!("{}.parquet", key.dir().replace('/', "_"));
        let path = self.dir.join(name);
        let written = write_part_file(&path, &rows.record_batch()?, self.key.as_ref())?;
        debug!(path = %written.path.display(), rows = written.rows, "file staged");
        self.files.insert(key, written);
        Ok(())
    }

    /// Removes the file of partition `key`.
    fn discard(&mut self, key: PartitionKey) {
        if let Some(written) = self.files.remove(&key) {
            let _ = fs::remove_file(&written.path);
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // After a successful commit every file was renamed away and this finds nothing.
        for written in self.files.values() {
            let _ = fs::remove_file(&written.path);
        }
    }
}

#[cfg(test)]
mod kill_tests;
#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod tests;
