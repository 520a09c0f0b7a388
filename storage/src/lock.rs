//! The lake's exclusive lock, held while committing or recovering.
//!
//! It is an advisory `flock` on `_manifest/lock`, taken per open file description, so two
//! [`Lake`](crate::Lake)s exclude each other even inside one process, and the kernel
//! releases it when its holder dies, however it dies. On network file systems `flock` may
//! not be enforced between hosts; a lake shared by several hosts needs a file system
//! whose locks are (or one writer host).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fs4::fs_std::FileExt;
use tracing::error;

use crate::StorageError;

/// The lock file, opened once per lake.
#[derive(Debug)]
pub(crate) struct LockFile {
    file: File,
    path: PathBuf,
}

impl LockFile {
    /// Opens (creating if needed) the lock file at `path`.
    pub fn open(path: &Path) -> Result<Arc<LockFile>, StorageError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|err| StorageError::io("open", path, err))?;
        Ok(Arc::new(LockFile {
            file,
            path: path.to_owned(),
        }))
    }

    /// Waits for the lock and holds it until the guard is dropped. The guard shares the
    /// file rather than borrowing it, so the lake can change while it is held.
    pub fn lock(self: &Arc<Self>) -> Result<LockGuard, StorageError> {
        FileExt::lock_exclusive(&self.file).map_err(|source| StorageError::Lock {
            path: self.path.clone(),
            source,
        })?;
        Ok(LockGuard {
            lock: Arc::clone(self),
        })
    }
}

/// The lock, held until dropped.
#[derive(Debug)]
pub(crate) struct LockGuard {
    lock: Arc<LockFile>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Err(err) = FileExt::unlock(&self.lock.file) {
            // Other writers will wait until this process exits.
            error!(
                path = %self.lock.path.display(),
                error = %err,
                "cannot release the lake lock; other writers are blocked"
            );
        }
    }
}
