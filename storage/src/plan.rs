//! From a batch to the files of one commit: which records are kept, and which partition
//! file each goes to.
//!
//! A plan is built once per commit, filtered against the committed offsets known before
//! taking the lock, then filtered again under the lock against the manifest's latest
//! state. Filtering only ever removes records, so a partition whose rows did not change
//! between the two filters keeps the file already written for it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::RecordBatch;
use chrono::{Datelike, NaiveDate};
use ward_schemas::{Access, Event, EventBatchBuilder, Incident, Signal, SourceKind, Timestamp};

use crate::dead_letter::dead_letter_batch;
use crate::layout::{self, Table};
use crate::manifest::OffsetRange;
use crate::{Batch, DeadLetterRow, SourceOffset, StorageError};

/// Dead-letter reason for an event whose time has no `YYYY-MM-DD` date partition.
pub(crate) const TIME_OUT_OF_RANGE: &str =
    "event time is outside the years 0001 to 9999 and has no date partition";

/// Last committed offset per topic and partition.
pub(crate) type Committed = BTreeMap<(String, i32), i64>;

/// The partition a file of the commit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PartitionKey {
    /// The table.
    pub table: Table,
    /// The source, for the events table.
    pub source: Option<SourceKind>,
    /// The UTC date.
    pub date: NaiveDate,
}

impl PartitionKey {
    /// The partition directory relative to the lake root.
    pub fn dir(&self) -> String {
        layout::partition_dir(self.table, self.source, self.date)
    }
}

/// The records of one partition file.
#[derive(Debug)]
pub(crate) enum Rows {
    /// Rows of the events table.
    Events(Vec<(Event, Option<SourceOffset>)>),
    /// Rows of the dead-letters table.
    DeadLetters(Vec<(DeadLetterRow, Option<SourceOffset>)>),
    /// Rows of the signals table.
    Signals(Vec<(Signal, Option<SourceOffset>)>),
    /// Rows of the incidents table; they carry no offset of their own.
    Incidents(Vec<Incident>),
    /// Rows of the access log; no offset either.
    Accesses(Vec<Access>),
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Rows::Events(rows) => rows.len(),
            Rows::DeadLetters(rows) => rows.len(),
            Rows::Signals(rows) => rows.len(),
            Rows::Incidents(rows) => rows.len(),
            Rows::Accesses(rows) => rows.len(),
        }
    }

    /// The rows as one Arrow record batch of their table's schema.
    pub fn record_batch(&self) -> Result<RecordBatch, StorageError> {
        match self {
            Rows::Events(rows) => {
                let mut builder = EventBatchBuilder::new();
                rows.iter().for_each(|(event, _)| builder.append(event));
                builder.finish().map_err(|source| StorageError::Arrow {
                    table: layout::EVENTS,
                    source,
                })
            }
            Rows::DeadLetters(rows) => {
                dead_letter_batch(rows.iter().map(|(row, _)| row)).map_err(|source| {
                    StorageError::Arrow {
                        table: layout::DEAD_LETTERS,
                        source,
                    }
                })
            }
            Rows::Signals(rows) => ward_schemas::signal_batch(rows.iter().map(|(row, _)| row))
                .map_err(|source| StorageError::Arrow {
                    table: layout::SIGNALS,
                    source,
                }),
            Rows::Incidents(rows) => {
                ward_schemas::incident_batch(rows).map_err(|source| StorageError::Arrow {
                    table: layout::INCIDENTS,
                    source,
                })
            }
            Rows::Accesses(rows) => {
                ward_schemas::access_batch(rows).map_err(|source| StorageError::Arrow {
                    table: layout::ACCESS_LOG,
                    source,
                })
            }
        }
    }

    fn offsets(&self) -> Box<dyn Iterator<Item = &SourceOffset> + '_> {
        match self {
            Rows::Events(rows) => Box::new(rows.iter().filter_map(|(_, at)| at.as_ref())),
            Rows::DeadLetters(rows) => Box::new(rows.iter().filter_map(|(_, at)| at.as_ref())),
            Rows::Signals(rows) => Box::new(rows.iter().filter_map(|(_, at)| at.as_ref())),
            Rows::Incidents(_) | Rows::Accesses(_) => Box::new(std::iter::empty()),
        }
    }

    /// Drops the rows at or below their partition's committed offset; returns how many.
    fn retain_after(&mut self, committed: &HashMap<(&str, i32), i64>) -> usize {
        let before = self.len();
        match self {
            Rows::Events(rows) => rows.retain(|(_, at)| is_new(at.as_ref(), committed)),
            Rows::DeadLetters(rows) => rows.retain(|(_, at)| is_new(at.as_ref(), committed)),
            Rows::Signals(rows) => rows.retain(|(_, at)| is_new(at.as_ref(), committed)),
            Rows::Incidents(_) | Rows::Accesses(_) => {}
        }
        before - self.len()
    }
}

/// The records of one commit, by partition.
#[derive(Debug)]
pub(crate) struct Plan {
    /// One entry per partition file, never empty.
    pub files: BTreeMap<PartitionKey, Rows>,
    /// The batch's consumed offsets.
    pub consumed: Vec<SourceOffset>,
    /// Records dropped because their offset was already committed.
    pub duplicates: u64,
}

impl Plan {
    /// Sorts the batch's records into partitions; `today` dates dead letters that carry
    /// no receive time.
    pub fn new(batch: Batch, today: NaiveDate) -> Plan {
        let mut events: BTreeMap<PartitionKey, Vec<_>> = BTreeMap::new();
        let mut dead_letters: BTreeMap<PartitionKey, Vec<_>> = BTreeMap::new();
        let dead_letter_key = |date| PartitionKey {
            table: Table::DeadLetters,
            source: None,
            date,
        };

        for (event, at) in batch.events {
            match partition_date(event.time) {
                Some(date) => {
                    let key = PartitionKey {
                        table: Table::Events,
                        source: Some(event.source_kind),
                        date,
                    };
                    events.entry(key).or_default().push((event, at));
                }
                None => {
                    let row = undatable(event, at.as_ref());
                    dead_letters
                        .entry(dead_letter_key(today))
                        .or_default()
                        .push((row, at));
                }
            }
        }
        for (row, at) in batch.dead_letters {
            let date = row.received_time.and_then(partition_date).unwrap_or(today);
            dead_letters
                .entry(dead_letter_key(date))
                .or_default()
                .push((row, at));
        }

        let mut signals: BTreeMap<PartitionKey, Vec<_>> = BTreeMap::new();
        for (signal, at) in batch.signals {
            let date = partition_date(signal.time).unwrap_or(today);
            let key = PartitionKey {
                table: Table::Signals,
                source: None,
                date,
            };
            signals.entry(key).or_default().push((signal, at));
        }
        let mut incidents: BTreeMap<PartitionKey, Vec<_>> = BTreeMap::new();
        for incident in batch.incidents {
            let date = partition_date(incident.first_seen).unwrap_or(today);
            let key = PartitionKey {
                table: Table::Incidents,
                source: None,
                date,
            };
            incidents.entry(key).or_default().push(incident);
        }
        let mut accesses: BTreeMap<PartitionKey, Vec<_>> = BTreeMap::new();
        for access in batch.accesses {
            let date = partition_date(access.time).unwrap_or(today);
            let key = PartitionKey {
                table: Table::AccessLog,
                source: None,
                date,
            };
            accesses.entry(key).or_default().push(access);
        }

        let events = events
            .into_iter()
            .map(|(key, rows)| (key, Rows::Events(rows)));
        let signals = signals
            .into_iter()
            .map(|(key, rows)| (key, Rows::Signals(rows)));
        let incidents = incidents
            .into_iter()
            .map(|(key, rows)| (key, Rows::Incidents(rows)));
        let dead_letters = dead_letters
            .into_iter()
            .map(|(key, rows)| (key, Rows::DeadLetters(rows)));
        let accesses = accesses
            .into_iter()
            .map(|(key, rows)| (key, Rows::Accesses(rows)));
        Plan {
            files: events
                .chain(dead_letters)
                .chain(signals)
                .chain(incidents)
                .chain(accesses)
                .collect(),
            consumed: batch.consumed,
            duplicates: 0,
        }
    }

    /// Drops every record at or below its partition's committed offset, and files left
    /// empty; returns the partitions whose rows changed.
    pub fn retain_after(&mut self, committed: &Committed) -> BTreeSet<PartitionKey> {
        let committed = lookup(committed);
        let mut changed = BTreeSet::new();
        for (key, rows) in &mut self.files {
            let dropped = rows.retain_after(&committed);
            if dropped > 0 {
                self.duplicates += dropped as u64;
                changed.insert(*key);
            }
        }
        self.files.retain(|_, rows| rows.len() > 0);
        changed
    }

    /// Rows kept, per table.
    pub fn rows(&self, table: Table) -> u64 {
        let rows = self.files.iter().filter(|(key, _)| key.table == table);
        rows.map(|(_, rows)| rows.len() as u64).sum()
    }

    /// The offset range the commit covers, per topic and partition, in order: from the
    /// first kept record (or the consumed offset when none is kept) to the highest of
    /// the last kept record and the consumed offset. Partitions with neither a kept
    /// record nor a consumed offset above the committed one are absent.
    pub fn offset_ranges(&self, committed: &Committed) -> Vec<OffsetRange> {
        let committed = lookup(committed);
        let mut ranges: BTreeMap<(&str, i32), (i64, i64)> = BTreeMap::new();

        let kept = self.files.values().flat_map(Rows::offsets);
        for at in kept {
            let range = ranges.entry((&at.topic, at.partition));
            let range = range.or_insert((at.offset, at.offset));
            *range = (range.0.min(at.offset), range.1.max(at.offset));
        }

        let consumed = self
            .consumed
            .iter()
            .filter(|at| is_new(Some(at), &committed));
        for at in consumed {
            let range = ranges.entry((&at.topic, at.partition));
            let range = range.or_insert((at.offset, at.offset));
            range.1 = range.1.max(at.offset);
        }

        let ranges = ranges.into_iter();
        ranges
            .map(|((topic, partition), (first, last))| OffsetRange {
                topic: topic.to_owned(),
                partition,
                first,
                last,
            })
            .collect()
    }
}

/// The committed offsets keyed by borrowed topic, so records can be looked up without
/// allocating.
fn lookup(committed: &Committed) -> HashMap<(&str, i32), i64> {
    let entries = committed.iter();
    entries
        .map(|((topic, partition), last)| ((topic.as_str(), *partition), *last))
        .collect()
}

/// Whether a record at `at` is not committed yet; records from files always are new.
fn is_new(at: Option<&SourceOffset>, committed: &HashMap<(&str, i32), i64>) -> bool {
    at.is_none_or(|at| {
        let last = committed.get(&(&*at.topic, at.partition));
        last.is_none_or(|last| at.offset > *last)
    })
}

/// The UTC date partition of a time, if it has a four-digit year.
fn partition_date(time: Timestamp) -> Option<NaiveDate> {
    let date = time.to_datetime()?.date_naive();
    (1..=9999).contains(&date.year()).then_some(date)
}

/// The dead letter an event becomes when its time has no date partition, so it is kept
/// rather than lost or allowed to stop the commit.
fn undatable(event: Event, at: Option<&SourceOffset>) -> DeadLetterRow {
    DeadLetterRow {
        reason: TIME_OUT_OF_RANGE.to_owned(),
        format: Some(event.source_format.to_owned()),
        topic: at.map(|at| at.topic.to_string()),
        partition: at.map(|at| at.partition),
        offset: at.map(|at| at.offset),
        provenance: event.provenance,
        received_time: None,
        raw: event.raw.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, date, dead_letter, event, signal};

    fn committed(entries: &[(&str, i32, i64)]) -> Committed {
        let entries = entries.iter();
        entries.map(|(t, p, o)| ((t.to_string(), *p), *o)).collect()
    }

    #[test]
    fn events_are_grouped_by_source_and_utc_date() {
        let batch = Batch {
            events: vec![
                (event(SourceKind::Edr, "2020-09-20T23:59:59Z", "a"), None),
                (event(SourceKind::Edr, "2020-09-21T00:00:00Z", "b"), None),
                (event(SourceKind::Ndr, "2020-09-20T12:00:00Z", "c"), None),
                (
                    event(SourceKind::Edr, "2020-09-20T01:00:00+05:00", "d"),
                    None,
                ),
            ],
            ..Batch::default()
        };
        let plan = Plan::new(batch, date("2024-01-01"));

        let dirs: Vec<(String, usize)> =
            plan.files.iter().map(|(k, r)| (k.dir(), r.len())).collect();
        assert_eq!(
            dirs,
            [
                ("events/source=edr/date=2020-09-19".to_owned(), 1),
                ("events/source=edr/date=2020-09-20".to_owned(), 1),
                ("events/source=edr/date=2020-09-21".to_owned(), 1),
                ("events/source=ndr/date=2020-09-20".to_owned(), 1),
            ]
        );
    }

    #[test]
    fn dead_letters_are_dated_by_receive_time_else_today() {
        let received = dead_letter("x", Some("2021-03-04T05:06:07Z"));
        let unknown = dead_letter("y", None);
        let batch = Batch {
            dead_letters: vec![(received, None), (unknown, None)],
            ..Batch::default()
        };
        let plan = Plan::new(batch, date("2024-01-01"));

        let dirs: Vec<String> = plan.files.keys().map(PartitionKey::dir).collect();
        assert_eq!(
            dirs,
            [
                "dead_letters/date=2021-03-04",
                "dead_letters/date=2024-01-01"
            ]
        );
    }

    #[test]
    fn records_at_or_below_the_committed_offset_are_dropped() {
        let batch = Batch {
            events: vec![
                (
                    event(SourceKind::Edr, "2020-09-20T00:00:00Z", "a"),
                    at("edr", 0, 4),
                ),
                (
                    event(SourceKind::Edr, "2020-09-20T00:00:00Z", "b"),
                    at("edr", 0, 5),
                ),
                (
                    event(SourceKind::Edr, "2020-09-20T00:00:00Z", "c"),
                    at("edr", 1, 5),
                ),
                (event(SourceKind::Edr, "2020-09-20T00:00:00Z", "d"), None),
            ],
            dead_letters: vec![(dead_letter("e", None), at("edr", 0, 6))],
            signals: vec![
                (signal("a", "2020-09-20T00:00:00Z"), at("edr", 0, 4)),
                (signal("e", "2020-09-21T00:00:00Z"), at("edr", 0, 6)),
            ],
            incidents: Vec::new(),
            accesses: Vec::new(),
            consumed: Vec::new(),
        };
        let mut plan = Plan::new(batch, date("2024-01-01"));

        let changed = plan.retain_after(&committed(&[("edr", 0, 5)]));
        assert_eq!(
            plan.rows(Table::Signals),
            1,
            "signals follow their events' offsets"
        );
        let signal_dirs: Vec<String> = plan
            .files
            .keys()
            .filter(|key| key.table == Table::Signals)
            .map(PartitionKey::dir)
            .collect();
        assert_eq!(signal_dirs, ["signals/date=2020-09-21"]);

        assert_eq!(plan.duplicates, 3);
        assert_eq!(changed.len(), 2);
        assert_eq!(
            plan.rows(Table::Events),
            2,
            "partition 1 and the file record stay"
        );
        assert_eq!(plan.rows(Table::DeadLetters), 1);
        let ranges = plan.offset_ranges(&committed(&[("edr", 0, 5)]));
        let ranges: Vec<_> = ranges
            .iter()
            .map(|r| (r.partition, r.first, r.last))
            .collect();
        assert_eq!(ranges, [(0, 6, 6), (1, 5, 5)]);
    }

    #[test]
    fn consumed_offsets_extend_ranges_only_past_the_committed_offset() {
        let batch = Batch {
            events: vec![(
                event(SourceKind::Edr, "2020-09-20T00:00:00Z", "a"),
                at("edr", 0, 10),
            )],
            consumed: vec![
                at("edr", 0, 12).expect("an offset"),
                at("edr", 0, 11).expect("an offset"),
                at("edr", 1, 30).expect("an offset"),
                at("edr", 2, 7).expect("an offset"),
            ],
            ..Batch::default()
        };
        let mut plan = Plan::new(batch, date("2024-01-01"));
        let committed = committed(&[("edr", 0, 9), ("edr", 1, 20), ("edr", 2, 7)]);
        plan.retain_after(&committed);

        let ranges = plan.offset_ranges(&committed);
        let ranges: Vec<_> = ranges
            .iter()
            .map(|r| (r.partition, r.first, r.last))
            .collect();
        assert_eq!(ranges, [(0, 10, 12), (1, 30, 30)]);
    }

    #[test]
    fn an_event_without_a_date_partition_becomes_a_dead_letter() {
        let mut far = event(SourceKind::Ndr, "2020-09-20T00:00:00Z", "z");
        far.time = Timestamp::from_micros(i64::MAX / 2);
        let batch = Batch {
            events: vec![(far, at("ndr", 2, 9))],
            ..Batch::default()
        };
        let plan = Plan::new(batch, date("2024-01-01"));

        let (key, rows) = plan.files.iter().next().expect("one file");
        assert_eq!(key.dir(), "dead_letters/date=2024-01-01");
        let Rows::DeadLetters(rows) = rows else {
            panic!("a dead letter")
        };
        assert_eq!(rows[0].0.reason, TIME_OUT_OF_RANGE);
        assert_eq!(rows[0].0.offset, Some(9));
        assert_eq!(rows[0].0.raw, b"z");
        assert_eq!(rows[0].1, at("ndr", 2, 9));
    }
}
