//! What one writer knows of the manifest, and the two operations that move it forward:
//! catching up with entries other writers appended, and appending an entry.
//!
//! Both run under the lock; only the lock holder may truncate or append, so the bytes a
//! writer has read stay exactly as it read them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use tracing::warn;

use crate::StorageError;
use crate::manifest::{self, GENESIS_HASH, ManifestEntry};
use crate::plan::Committed;

/// The state of the manifest up to `len` bytes: the last entry and the committed offsets.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    /// `seq` of the last entry, 0 before the first.
    pub seq: u64,
    /// `hash` of the last entry, [`GENESIS_HASH`] before the first.
    pub hash: String,
    /// Highest `last` offset per topic and partition.
    pub committed: Committed,
    /// Bytes of the manifest read, always the end of a whole line.
    pub len: u64,
}

/// An append that failed.
#[derive(Debug)]
pub(crate) struct AppendFailed {
    /// Why.
    pub error: StorageError,
    /// Whether the manifest was truncated back to its length before the append, so the
    /// entry is surely not committed. When false, the next writer to take the lock finds
    /// either a torn line (not committed) or a whole one (committed).
    pub rolled_back: bool,
}

impl Tail {
    /// The state before the first entry.
    pub fn empty() -> Tail {
        Tail {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
            committed: Committed::new(),
            len: 0,
        }
    }

    /// The state of the whole manifest at `path`, read without the lock; a torn last line
    /// (perhaps an append in progress) is ignored.
    pub fn load(path: &Path) -> Result<Tail, StorageError> {
        let mut tail = Tail::empty();
        let end = manifest::scan(path, 0, 1, |entry| tail.absorb(entry))?;
        tail.len = end.end;
        Ok(tail)
    }

    /// Reads the entries appended after `len`, passing each to `on_entry`, and truncates
    /// a torn last line away. Call only with the lock held. Returns whether a torn line
    /// was truncated.
    pub fn catch_up(
        &mut self,
        path: &Path,
        mut on_entry: impl FnMut(&ManifestEntry),
    ) -> Result<bool, StorageError> {
        let size = std::fs::metadata(path)
            .map_err(|err| StorageError::io("read metadata of", path, err))?
            .len();
        if size < self.len {
            return Err(StorageError::ManifestCorrupt {
                path: path.to_owned(),
                line: self.seq,
                detail: format!("the file is shorter than the {} bytes committed", self.len),
            });
        }

        let end = manifest::scan(path, self.len, self.seq + 1, |entry| {
            on_entry(&entry);
            self.absorb(entry)
        })?;
        self.len = end.end;
        if end.torn == 0 {
            return Ok(false);
        }

        // Only the lock holder appends, so a torn line found under the lock belongs to a
        // writer that died or failed mid-append: its entry never committed.
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|err| StorageError::io("open", path, err))?;
        truncate(&file, path, end.end)?;
        warn!(
            path = %path.display(),
            bytes = end.torn,
            seq = self.seq,
            "torn manifest line truncated"
        );
        Ok(true)
    }

    /// Appends `entry`, which must follow the last entry, in one write, and syncs it.
    /// Call only with the lock held, after [`Tail::catch_up`].
    pub fn append(&mut self, path: &Path, entry: ManifestEntry) -> Result<(), AppendFailed> {
        let line = entry.to_line();
        let failed = |error, rolled_back| AppendFailed { error, rolled_back };
        let mut file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|err| failed(StorageError::io("open", path, err), true))?;

        let written = file
            .write_all(line.as_bytes())
            .map_err(|err| StorageError::io("append to", path, err))
            .and_then(|()| {
                file.sync_data()
                    .map_err(|err| StorageError::io("sync", path, err))
            });
        if let Err(error) = written {
            let rolled_back = truncate(&file, path, self.len).is_ok();
            return Err(failed(error, rolled_back));
        }

        self.len += line.len() as u64;
        self.absorb(entry).map_err(|error| failed(error, false))
    }

    /// Moves the state past `entry` after checking it follows the last one.
    fn absorb(&mut self, entry: ManifestEntry) -> Result<(), StorageError> {
        entry.check_link(self.seq, &self.hash)?;
        for range in entry.offsets {
            let last = self.committed.entry((range.topic, range.partition));
            let last = last.or_insert(range.last);
            *last = (*last).max(range.last);
        }
        self.seq = entry.seq;
        self.hash = entry.hash;
        Ok(())
    }
}

/// Cuts the file at `path` to `len` bytes and syncs it.
fn truncate(file: &File, path: &Path, len: u64) -> Result<(), StorageError> {
    file.set_len(len)
        .map_err(|err| StorageError::io("truncate", path, err))?;
    file.sync_all()
        .map_err(|err| StorageError::io("sync", path, err))
}
