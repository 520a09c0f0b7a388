//! Storage: the Parquet lake that is ward's audit record.
//!
//! What comes in is a [`Batch`]: normalized [`Event`]s, [`DeadLetterRow`]s and the
//! signals rules raised on the events, each with the Kafka offset it was read from (or
//! none, for files), incidents, accesses, and the last offset consumed per partition.
//! What goes out is Hive-partitioned Parquet files any engine can query
//! (`events/source=edr/date=2020-09-20/part-....parquet`), and a hash-chained manifest
//! that lists every file with its SHA-256 and the offsets it covers.
//!
//! Guarantees:
//! - Exactly once: a record whose offset is in the lake is never written again, by this
//!   process or by another one committing to the same directory, and a commit is all or
//!   nothing whenever the process dies (`kill -9` included). A consumer that resumes each
//!   partition after [`committed_offsets`] loses nothing and duplicates nothing.
//! - Tamper evidence: each manifest entry carries the hash of the one before;
//!   [`verify_chain`] finds an altered, removed or reordered entry. Deletions by the
//!   retention policy and legal holds are entries of the same chain.
//! - Nothing from a record's content appears in errors or logs.
//!
//! Modules:
//! - [`lake`]: [`Lake`], opening with crash recovery, and the commit protocol.
//! - [`batch`]: [`Batch`] and [`SourceOffset`], what a commit takes.
//! - [`layout`]: the directory layout (a durable format), table and partition names.
//! - [`manifest`]: the manifest's format (a durable format), reading and chain checks.
//! - [`dead_letter`]: the `dead_letters` table's row and schema.
//! - [`error`]: [`StorageError`] and whose fault it is.
//! - [`mod@verify`]: [`verify()`], checking every file and the chain against the manifest.
//! - [`retention`]: the retention [`Policy`], legal holds, and planning deletions.
//! - [`encryption`]: the [`LakeKey`] that encrypts part files, and checking a key.
//! - `plan`: sorting a batch into partition files and dropping committed offsets.
//! - `part_file`: writing a Parquet file while hashing it.
//! - `tail`: a writer's view of the manifest, catching up and appending.
//! - `recovery`: removing what crashed writers left behind.
//! - `lock`: the lake's exclusive file lock.
//! - `durable`: syncing directories so renames survive a crash.
//!
//! [`Event`]: ward_schemas::Event

pub mod batch;
pub mod dead_letter;
mod durable;
pub mod encryption;
pub mod error;
pub mod lake;
pub mod layout;
mod lock;
pub mod manifest;
mod part_file;
mod plan;
mod recovery;
pub mod retention;
mod tail;
#[cfg(test)]
mod testing;
pub mod verify;

pub use batch::{Batch, SourceOffset};
pub use dead_letter::{DeadLetterRow, dead_letter_schema};
pub use encryption::{LakeKey, key_for_reading};
pub use error::{ChainProblem, Fault, StorageError};
pub use lake::{CommitSummary, Lake, committed_offsets};
pub use layout::{
    ACCESS_LOG, DATE_COLUMN, DEAD_LETTERS, EVENTS, INCIDENTS, SIGNALS, SOURCE_COLUMN, Table,
    default_writer_id, manifest_path, table_dir,
};
pub use manifest::{
    EntryKind, FileRecord, FileSets, GENESIS_HASH, HoldScope, ManifestEntry, OffsetRange,
    read_manifest, verify_chain,
};
pub use retention::{Hold, Period, Policy, RetentionPlan, active_holds};
pub use verify::{Problem, VerifyReport, verify};
