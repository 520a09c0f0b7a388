//! Putting a lake back in order after a crash, under the lock.
//!
//! A writer killed at any point leaves one of these behind, and nothing else:
//! - files in its staging directory (killed before its rename step): never committed;
//! - part files renamed into table directories but listed by no manifest entry (killed
//!   between renaming and appending): orphans, never committed;
//! - a torn last manifest line (killed in mid-append): not committed, and its files are
//!   orphans;
//! - files a `delete` entry names, still on disk (a retention run killed between its
//!   entry and the removals): deleted as far as the lake is concerned, so they are
//!   removed now.
//!
//! In each case the records are not in the lake and the manifest's offsets do not cover
//! them, so they are consumed again; recovery only clears the leftovers away. Unlisted
//! part files are moved to `_quarantine/`, not deleted: a crash's orphan is harmless
//! there, and a file that lost its manifest entry to tampering (a cut-back manifest)
//! stays as evidence for `ward verify` and an investigator. It runs under
//! the lock because a live writer holds the lock from its first rename to its append:
//! under the lock, every part file is either listed or an orphan of a dead writer.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use tracing::{debug, warn};

use crate::StorageError;
use crate::durable::sync_dir;
use crate::layout::{self, Table};
use crate::manifest::FileSets;
use crate::tail::Tail;

/// Brings `tail` up to date with the whole manifest, truncating a torn last line, passes
/// the lake's files to `check` (which can stop the recovery there), moves orphan part
/// files to the quarantine and removes dead writers' staging directories. Call with the
/// lock held and `tail` empty.
pub(crate) fn recover(
    root: &Path,
    writer: &str,
    tail: &mut Tail,
    check: impl FnOnce(&FileSets) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let mut files = FileSets::default();
    tail.catch_up(&layout::manifest_path(root), |entry| files.absorb(entry))?;
    check(&files)?;
    remove_orphans(root, &files)?;
    remove_dead_staging(root, writer)
}

/// Moves every file under the table directories that is not live in `files` to the same
/// path under `_quarantine/`, except files `files` calls deleted, which are removed, and
/// removes directories left empty. Call with the lock held.
pub(crate) fn remove_orphans(root: &Path, files: &FileSets) -> Result<(), StorageError> {
    let mut removed = Removed::default();
    for table in Table::ALL {
        let dir = layout::table_dir(root, table.name());
        if dir.exists() {
            sweep(root, &dir, table.name(), files, &mut removed)?;
        }
    }
    if removed.files > 0 {
        warn!(
            files = removed.files,
            bytes = removed.bytes,
            quarantine = %root.join(layout::QUARANTINE_DIR).display(),
            "part files no manifest entry lists were moved to the quarantine: never \
             committed, or their entry was removed"
        );
    }
    if removed.deleted > 0 {
        warn!(
            files = removed.deleted,
            "files a retention run recorded as deleted, but did not remove, were removed"
        );
    }
    Ok(())
}

/// Removes the files at `paths` (lake-relative, recorded as deleted in the manifest) and
/// the partition folders they leave empty, syncing what changed. Call with the lock held.
pub(crate) fn remove_deleted<'a>(
    root: &Path,
    paths: impl IntoIterator<Item = &'a str>,
) -> Result<(), StorageError> {
    let mut dirs = BTreeSet::new();
    for relative in paths {
        let path = layout::resolve(root, relative);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(StorageError::io("remove", &path, err)),
        }
        if let Some(dir) = path.parent() {
            dirs.insert(dir.to_owned());
        }
    }

    // Climb from each file's folder, removing folders left empty, up to the table
    // folder; sync the first folder kept, whose entries changed.
    let mut to_sync = BTreeSet::new();
    for mut dir in dirs {
        while dir.parent().is_some_and(|parent| parent != root) && fs::remove_dir(&dir).is_ok() {
            dir.pop();
        }
        to_sync.insert(dir);
    }
    to_sync
        .iter()
        .filter(|dir| dir.exists())
        .try_for_each(|dir| sync_dir(dir))
}

/// What a sweep removed.
#[derive(Debug, Default)]
struct Removed {
    /// Files moved to the quarantine.
    files: u64,
    /// Their bytes.
    bytes: u64,
    /// Files removed because a `delete` entry names them.
    deleted: u64,
}

/// Moves unlisted files under `dir` (whose lake-relative path is `relative`) to the
/// quarantine, and removes subdirectories that end up empty. Returns how many entries
/// remain in `dir`.
fn sweep(
    root: &Path,
    dir: &Path,
    relative: &str,
    files: &FileSets,
    removed: &mut Removed,
) -> Result<usize, StorageError> {
    let entries = fs::read_dir(dir).map_err(|err| StorageError::io("list", dir, err))?;
    let mut remaining = 0;
    let mut changed = false;

    for entry in entries {
        let entry = entry.map_err(|err| StorageError::io("list", dir, err))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = format!("{relative}/{name}");
        let kind = entry
            .file_type()
            .map_err(|err| StorageError::io("inspect", &path, err))?;

        if kind.is_dir() {
            if sweep(root, &path, &child, files, removed)? > 0 {
                remaining += 1;
                continue;
            }
            fs::remove_dir(&path).map_err(|err| StorageError::io("remove", &path, err))?;
            changed = true;
        } else if files.live.contains_key(&child) {
            remaining += 1;
        } else if files.deleted.contains(&child) {
            fs::remove_file(&path).map_err(|err| StorageError::io("remove", &path, err))?;
            debug!(path = %child, "deleted file removed");
            removed.deleted += 1;
            changed = true;
        } else {
            let bytes = entry.metadata().map(|meta| meta.len()).unwrap_or(0);
            let kept = root.join(layout::QUARANTINE_DIR).join(&child);
            let folder = kept.parent().unwrap_or(root);
            fs::create_dir_all(folder).map_err(|err| StorageError::io("create", folder, err))?;
            fs::rename(&path, &kept)
                .map_err(|err| StorageError::io("move to the quarantine", &path, err))?;
            sync_dir(folder)?;
            debug!(path = %child, bytes, "orphan part file quarantined");
            removed.files += 1;
            removed.bytes += bytes;
            changed = true;
        }
    }

    if changed {
        sync_dir(dir)?;
    }
    Ok(remaining)
}

/// Removes the staging directories of writers that cannot be running: `writer`'s own
/// (left by an earlier process with the same id), and those named `<this host>-<pid>`
/// where no process `pid` exists. Directories of live processes, of other hosts and with
/// other names are kept, since their owners may be writing.
fn remove_dead_staging(root: &Path, writer: &str) -> Result<(), StorageError> {
    let staging = root.join(layout::STAGING_DIR);
    let entries = fs::read_dir(&staging).map_err(|err| StorageError::io("list", &staging, err))?;
    let host = layout::local_hostname();
    let (mut dirs, mut files) = (0, 0);

    for entry in entries {
        let entry = entry.map_err(|err| StorageError::io("list", &staging, err))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let dead = name == writer
            || matches!(layout::parse_writer(&name),
                Some((owner, pid)) if owner == host && !process_exists(pid));
        if !dead {
            debug!(writer = %name, "staging directory of a possibly live writer kept");
            continue;
        }

        let path = entry.path();
        let count = fs::read_dir(&path).map(Iterator::count).unwrap_or(0);
        fs::remove_dir_all(&path).map_err(|err| StorageError::io("remove", &path, err))?;
        dirs += 1;
        files += count;
    }

    if files > 0 {
        warn!(
            dirs,
            files, "staging files of dead writers removed: they were never committed"
        );
    } else if dirs > 0 {
        debug!(dirs, "empty staging directories of dead writers removed");
    }
    Ok(())
}

/// Whether a process `pid` exists on this host. Where `/proc` is not available the
/// answer is yes, so nothing is removed on a guess.
fn process_exists(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}
