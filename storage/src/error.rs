//! What can go wrong in the lake, and whose fault it is.
//!
//! Messages name paths, sequence numbers, topics and partitions, never record content:
//! the lake holds patient data, and errors end up in logs.

use std::fmt;
use std::io;
use std::path::PathBuf;

use arrow::error::ArrowError;
use parquet::errors::ParquetError;
use thiserror::Error;

/// Who is at fault for a [`StorageError`], which decides what the caller does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller passed something unusable, such as a writer id that is not a safe file
    /// name. Fix the configuration; retrying the same call fails the same way.
    User,
    /// The disk, the file system or the lake's files as found on disk: a full disk, a
    /// permission, a manifest that is not what ward wrote. See
    /// [`StorageError::is_retryable`] for which of these a retry may cure.
    External,
    /// A bug in ward: data that should always encode did not.
    Internal,
}

/// A manifest hash chain link that does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entry's `hash` is not the SHA-256 of its other fields: the entry was altered.
    HashMismatch,
    /// The entry's `prev` is not the previous entry's `hash`: an entry was removed,
    /// inserted or altered before it.
    PrevMismatch,
    /// The entry's `seq` does not follow the previous entry's.
    SeqGap,
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChainProblem::HashMismatch => "its hash does not match its content",
            ChainProblem::PrevMismatch => "its prev does not match the previous entry's hash",
            ChainProblem::SeqGap => "its seq does not follow the previous entry's",
        })
    }
}

/// Everything the lake can fail with.
#[derive(Debug, Error)]
pub enum StorageError {
    /// A file system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done, as a verb phrase (`create`, `rename into place`, ...).
        action: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Taking or releasing the manifest lock failed.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Encoding a Parquet file failed.
    #[error("cannot write parquet file {path}: {source}")]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The encoder's error.
        source: ParquetError,
    },
    /// Building an Arrow record batch from records failed.
    #[error("cannot build a record batch for table {table}: {source}")]
    Arrow {
        /// The table the batch was for.
        table: &'static str,
        /// Arrow's error.
        source: ArrowError,
    },
    /// The writer id cannot name a staging directory and part files.
    #[error(
        "writer id {writer:?} is not usable: it must be 1 to 100 ASCII letters, digits, \
         '.', '_' or '-', starting with a letter or digit"
    )]
    InvalidWriter {
        /// The rejected id (an operator-chosen name, not record content).
        writer: String,
    },
    /// A manifest line other than a torn last line cannot be read.
    #[error("manifest {path} is corrupt at line {line}: {detail}")]
    ManifestCorrupt {
        /// The manifest file.
        path: PathBuf,
        /// The line number, from 1.
        line: u64,
        /// What is wrong, without quoting the line.
        detail: String,
    },
    /// A manifest entry has a kind this version of ward does not know, such as one
    /// written by a newer ward.
    #[error("manifest {path} line {line} has entry kind {kind:?}, which is not supported")]
    UnsupportedEntryKind {
        /// The manifest file.
        path: PathBuf,
        /// The line number, from 1.
        line: u64,
        /// The kind found.
        kind: String,
    },
    /// Reading a Parquet file of the lake failed.
    #[error("cannot read parquet file {path}: {source}")]
    ParquetRead {
        /// The file being read.
        path: PathBuf,
        /// The decoder's error.
        source: ParquetError,
    },
    /// The lake changed, in a way that matters to the plan, after a retention run
    /// planned its deletions and before it could record them (a write conflict); nothing
    /// was deleted, and planning again takes the change into account.
    #[error(
        "the lake changed while the retention run was planning ({why}, entry {seq}), so \
         nothing was deleted; run it again"
    )]
    PlanOutdated {
        /// The entry that changed it.
        seq: u64,
        /// What changed.
        why: &'static str,
    },
    /// The lake is encrypted and no key was given.
    #[error(
        "the lake is encrypted: give its key (WARD_LAKE_KEY, WARD_LAKE_KEY_FILE, or \
         encryption.key_file in the configuration)"
    )]
    KeyRequired,
    /// The key given is not the lake's.
    #[error(
        "the key given (fingerprint {given}) is not the lake's key (fingerprint {expected}); \
         nothing was read or written"
    )]
    WrongKey {
        /// The lake key's fingerprint.
        expected: String,
        /// The given key's fingerprint.
        given: String,
    },
    /// The lake's part files are encrypted but its encryption marker is gone, or went away
    /// while a writer with a key had it open.
    #[error(
        "the lake's files are encrypted but {} is missing; restore it from a backup \
         (ward will not write plain files into an encrypted lake)",
        "_manifest/encryption.json"
    )]
    EncryptionMarkerMissing,
    /// A key was given for a lake that already holds plain files.
    #[error(
        "the lake already holds unencrypted files, so it cannot be encrypted now; \
         encryption is chosen when a lake is first written"
    )]
    LakeNotEncrypted,
    /// There is no active legal hold with this id.
    #[error("there is no active legal hold {seq} (see the holds the lake lists)")]
    NoSuchHold {
        /// The id asked for.
        seq: u64,
    },
    /// The manifest's hash chain is broken: the audit trail was altered.
    #[error("manifest chain is broken at seq {seq}: {problem}")]
    ChainBroken {
        /// The first entry whose link does not hold.
        seq: u64,
        /// Which link.
        problem: ChainProblem,
    },
}

impl StorageError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            StorageError::InvalidWriter { .. }
            | StorageError::NoSuchHold { .. }
            | StorageError::KeyRequired
            | StorageError::WrongKey { .. }
            | StorageError::LakeNotEncrypted => Fault::User,
            StorageError::EncryptionMarkerMissing
            | StorageError::PlanOutdated { .. }
            | StorageError::ParquetRead { .. } => Fault::External,
            StorageError::Io { .. }
            | StorageError::Lock { .. }
            | StorageError::ManifestCorrupt { .. }
            | StorageError::UnsupportedEntryKind { .. }
            | StorageError::ChainBroken { .. } => Fault::External,
            StorageError::Parquet { source, .. } if wraps_io(source) => Fault::External,
            StorageError::Parquet { .. } | StorageError::Arrow { .. } => Fault::Internal,
        }
    }

    /// Whether retrying the same call may succeed: true for disk and lock failures, which
    /// can be transient (a full disk being cleaned, an interrupted call). A failed commit
    /// leaves the lake consistent, so retrying [`Lake::commit`](crate::Lake::commit) with
    /// the same batch is always safe.
    pub fn is_retryable(&self) -> bool {
        match self {
            StorageError::Io { .. }
            | StorageError::Lock { .. }
            | StorageError::PlanOutdated { .. } => true,
            StorageError::Parquet { source, .. } => wraps_io(source),
            _ => false,
        }
    }

    /// Shorthand for [`StorageError::Io`].
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Whether a Parquet error is an I/O error of the file being written.
fn wraps_io(err: &ParquetError) -> bool {
    matches!(err, ParquetError::External(inner) if inner.is::<io::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_errors_are_external_and_retryable() {
        let err = StorageError::io(
            "create",
            "/lake/x",
            io::Error::new(io::ErrorKind::StorageFull, "no space left on device"),
        );
        assert_eq!(err.fault(), Fault::External);
        assert!(err.is_retryable());
        assert_eq!(
            err.to_string(),
            "cannot create /lake/x: no space left on device"
        );

        let err = StorageError::Parquet {
            path: "/lake/x".into(),
            source: io::Error::other("disk gone").into(),
        };
        assert_eq!(err.fault(), Fault::External);
        assert!(err.is_retryable());
    }

    #[test]
    fn a_broken_chain_is_external_but_not_retryable() {
        let err = StorageError::ChainBroken {
            seq: 7,
            problem: ChainProblem::HashMismatch,
        };
        assert_eq!(err.fault(), Fault::External);
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "manifest chain is broken at seq 7: its hash does not match its content"
        );
    }

    #[test]
    fn encoding_bugs_are_internal() {
        let err = StorageError::Parquet {
            path: "/lake/x".into(),
            source: ParquetError::General("bad".into()),
        };
        assert_eq!(err.fault(), Fault::Internal);
        assert!(!err.is_retryable());
        let err = StorageError::InvalidWriter {
            writer: "../x".into(),
        };
        assert_eq!(err.fault(), Fault::User);
    }
}
