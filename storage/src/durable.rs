//! Making directory changes survive a crash.
//!
//! A file's data is synced through its own handle, but its name lives in its directory:
//! after creating, renaming or removing a directory entry, the directory itself must be
//! synced before anything that depends on that entry (a manifest line) is written.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::StorageError;

/// Syncs the directory at `path`, making its entries durable.
pub(crate) fn sync_dir(path: &Path) -> Result<(), StorageError> {
    let dir = File::open(path).map_err(|err| StorageError::io("open directory", path, err))?;
    dir.sync_all()
        .map_err(|err| StorageError::io("sync directory", path, err))
}

/// Creates `dir` and any missing parents, and adds to `to_sync` every directory whose
/// entries changed or will change: `dir` itself (files are about to be renamed into it)
/// and the parent of each directory created.
pub(crate) fn ensure_dir(dir: &Path, to_sync: &mut BTreeSet<PathBuf>) -> Result<(), StorageError> {
    let mut missing = Vec::new();
    let mut probe = dir;
    while !probe.exists() {
        missing.push(probe.to_path_buf());
        match probe.parent() {
            Some(parent) => probe = parent,
            None => break,
        }
    }

    std::fs::create_dir_all(dir).map_err(|err| StorageError::io("create directory", dir, err))?;
    let parents = missing.iter().filter_map(|created| created.parent());
    to_sync.extend(parents.map(Path::to_path_buf));
    to_sync.insert(dir.to_path_buf());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_directories_and_their_parents_are_marked_for_sync() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let dir = root.path().join("events/source=edr/date=2020-09-20");
        std::fs::create_dir(root.path().join("events")).expect("create");
        let mut to_sync = BTreeSet::new();

        ensure_dir(&dir, &mut to_sync).expect("created");

        assert!(dir.is_dir());
        let expected: BTreeSet<PathBuf> = [
            root.path().join("events"),
            root.path().join("events/source=edr"),
            dir.clone(),
        ]
        .into();
        assert_eq!(to_sync, expected);
        for dir in &to_sync {
            sync_dir(dir).expect("a directory syncs");
        }
    }
}
