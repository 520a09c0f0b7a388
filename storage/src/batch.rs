//! What the pipeline hands the lake in one commit.

use std::fmt;
use std::sync::Arc;

use ward_schemas::{Access, Event, Incident, Signal};

use crate::DeadLetterRow;

/// Where a record was read from in Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceOffset {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition within the topic.
    pub partition: i32,
    /// The offset of the message within the partition.
    pub offset: i64,
}

impl fmt::Display for SourceOffset {
    /// `topic/partition/offset`, the form events use as provenance.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.topic, self.partition, self.offset)
    }
}

/// Records to commit to the lake at once, and how far their partitions were consumed.
///
/// The lake keeps a record only if its offset is above the last offset the manifest has
/// committed for its topic and partition; records without an offset (read from files)
/// are always kept. For that to make delivery exactly once, the caller keeps this
/// contract, per topic and partition:
/// - The batch holds every record produced from the offsets it consumed after the
///   partition's committed offset, each offset's records exactly once (one message may
///   produce several events; they share its offset).
/// - After a failed commit the caller retries with the same batch, or drops it and
///   resumes from [`committed_offsets`](crate::committed_offsets) plus one.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Normalized events, each with the Kafka offset of its message, or `None` when read
    /// from a file.
    pub events: Vec<(Event, Option<SourceOffset>)>,
    /// Records that could not be normalized, each with its Kafka offset if it has one.
    pub dead_letters: Vec<(DeadLetterRow, Option<SourceOffset>)>,
    /// Signals rules raised, each with the Kafka offset of the event it is about, so a
    /// signal is kept exactly when its event is.
    pub signals: Vec<(Signal, Option<SourceOffset>)>,
    /// Incidents, in their state at the time of the commit.
    pub incidents: Vec<Incident>,
    /// Uses of the lake, for the access log.
    pub accesses: Vec<Access>,
    /// The last offset consumed, per topic and partition, whether or not its message
    /// produced any record. The commit's offset range extends to it, so a message that
    /// produced nothing is not read again after a restart. Several values for one
    /// partition are allowed; the highest counts.
    pub consumed: Vec<SourceOffset>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Number of rows over all tables, not counting `consumed`.
    pub fn records(&self) -> usize {
        self.events.len()
            + self.dead_letters.len()
            + self.signals.len()
            + self.incidents.len()
            + self.accesses.len()
    }

    /// Whether the batch holds no records and no consumed offsets: committing it does
    /// nothing.
    pub fn is_empty(&self) -> bool {
        self.records() == 0 && self.consumed.is_empty()
    }
}
