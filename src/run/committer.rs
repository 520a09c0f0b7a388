//! The committer thread: writing a batch to the lake (Arrow building, Parquet encoding,
//! zstd, fsync) runs beside consumption and normalization instead of stopping them.
//!
//! Jobs go through a channel that holds one: while a batch is being written, the next
//! can wait, and the one after that blocks the consumer. So at most three batches are in
//! memory (one written, one waiting, one filling) and a slow disk slows consumption
//! rather than growing memory.
//!
//! A commit that fails ends the thread: a later batch must never reach the lake ahead of
//! an earlier one that did not, or the manifest would claim offsets the lake lacks.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use anyhow::{Context, Result, anyhow};
use tracing::{debug, info_span};
use ward_storage::{Batch, CommitSummary, Lake, StorageError};

/// One batch to commit, with what to do once it is in the lake.
pub struct Job {
    /// The records.
    pub batch: Batch,
    /// The next offset to read per partition, for Kafka's committed offsets.
    pub next: BTreeMap<(String, i32), i64>,
    /// Dead letters to publish to the dead-letter topic.
    pub outgoing: super::Outgoing,
}

/// A job's outcome, handed back to the consumer thread.
pub struct Done {
    /// What the lake says it wrote.
    pub result: Result<CommitSummary, StorageError>,
    /// The job's next offsets.
    pub next: BTreeMap<(String, i32), i64>,
    /// The job's dead letters.
    pub outgoing: super::Outgoing,
}

/// The running committer.
pub struct Committer {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    /// Starts the thread; it owns the lake from now on.
    pub fn start(mut lake: Lake) -> Result<Self> {
        let (jobs, inbox) = sync_channel::<Job>(1);
        let (outbox, done) = sync_channel::<Done>(4);
        let span = info_span!("committer", writer = %lake.writer());
        let thread = std::thread::Builder::new()
            .name("ward-committer".into())
            .spawn(move || {
                let _entered = span.enter();
                for job in inbox {
                    let rows = job.batch.records();
                    let result = lake.commit(job.batch);
                    let failed = result.is_err();
                    debug!(rows, failed, "batch handled");
                    let reply = Done {
                        result,
                        next: job.next,
                        outgoing: job.outgoing,
                    };
                    if outbox.send(reply).is_err() || failed {
                        break;
                    }
                }
            })
            .context("cannot start the committer thread")?;
        Ok(Committer {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }

    /// Hands a batch over; waits while another batch is already waiting.
    pub fn submit(&self, job: Job) -> Result<()> {
        let jobs = self
            .jobs
            .as_ref()
            .context("the committer has been closed")?;
        jobs.send(job)
            .map_err(|_| anyhow!("the committer stopped after a failed commit"))
    }

    /// A finished job, if one is ready.
    pub fn finished(&self) -> Option<Done> {
        self.done.try_recv().ok()
    }

    /// Lets the thread finish every job handed over and returns their outcomes.
    pub fn close(&mut self) -> Vec<Done> {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the thread would be a bug; its outcomes are still drained below.
            let _ = thread.join();
        }
        self.done.try_iter().collect()
    }
}
