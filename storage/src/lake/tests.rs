//! The lake on real files in temporary directories: layout, manifest, exactly-once
//! commits by one and two writers in one process. Crash recovery is in `recovery_tests`,
//! real `kill -9` in `kill_tests`.

use std::fs::{self, File};
use std::ops::Range;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use chrono::{DateTime, TimeZone, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};
use ward_schemas::{Event, EventId, SourceKind};

use super::*;
use crate::testing::{at, dead_letter, event};
use crate::{ChainProblem, DeadLetterRow, SourceOffset, verify_chain};

/// 2024-05-01T12:00:00Z, the time of every commit in these tests.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

pub(super) fn open(root: &Path, writer: &str) -> Lake {
    Lake::open(root, writer)
        .expect("the lake opens")
        .with_clock(noon)
}

/// Events read from `topic`/`partition` at each offset of `offsets`, one per offset, on
/// 2020-09-20 UTC; each one's raw record names its offset, so ids are distinct.
pub(super) fn events(
    topic: &str,
    partition: i32,
    offsets: Range<i64>,
) -> Vec<(Event, Option<SourceOffset>)> {
    let events = offsets.map(|offset| {
        let raw = format!("{topic}/{partition}/{offset}");
        let event = event(SourceKind::Edr, "2020-09-20T10:00:00Z", &raw);
        (event, at(topic, partition, offset))
    });
    events.collect()
}

pub(super) fn id(topic: &str, partition: i32, offset: i64) -> String {
    EventId::of_record(format!("{topic}/{partition}/{offset}").as_bytes()).to_string()
}

fn read(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).expect("the part file exists");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).expect("a parquet file");
    let batches = reader.build().expect("a reader");
    batches
        .map(|batch| batch.expect("a readable batch"))
        .collect()
}

fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    let columns = batches
        .iter()
        .map(|batch| batch.column_by_name(column).expect("column"));
    let values = columns.flat_map(|array| {
        let array = array.as_string::<i32>();
        (0..array.len())
            .map(|i| array.value(i).to_owned())
            .collect::<Vec<_>>()
    });
    values.collect()
}

/// Every event id in the lake, sorted, after checking that the files on disk are exactly
/// those the manifest lists, with the listed sizes and hashes.
pub(super) fn lake_event_ids(root: &Path) -> Vec<String> {
    let entries = read_manifest(root).expect("the manifest reads");
    verify_chain(&entries).expect("the chain holds");
    let files: Vec<FileRecord> = entries.into_iter().flat_map(|entry| entry.files).collect();

    let mut on_disk = Vec::new();
    collect_files(&layout::table_dir(root, EVENTS), root, &mut on_disk);
    collect_files(&layout::table_dir(root, DEAD_LETTERS), root, &mut on_disk);
    let mut listed: Vec<String> = files.iter().map(|file| file.path.clone()).collect();
    on_disk.sort();
    listed.sort();
    assert_eq!(on_disk, listed, "files on disk are the files listed");

    let mut ids = Vec::new();
    for file in files.iter().filter(|file| file.table == "events") {
        let bytes = fs::read(layout::resolve(root, &file.path)).expect("readable");
        assert_eq!(file.bytes, bytes.len() as u64, "{}", file.path);
        assert_eq!(
            file.sha256,
            hex::encode(Sha256::digest(&bytes)),
            "{}",
            file.path
        );
        ids.extend(strings(
            &read(&layout::resolve(root, &file.path)),
            "event_id",
        ));
    }
    ids.sort();
    ids
}

fn collect_files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("a directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect_files(&path, root, out);
        } else {
            let relative = path.strip_prefix(root).expect("under the root");
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

pub(super) fn committed(lake: &Lake, topic: &str, partition: i32) -> Option<i64> {
    let offsets = lake.committed_offsets().expect("the manifest reads");
    offsets.get(&(topic.to_owned(), partition)).copied()
}

#[test]
fn a_commit_writes_readable_parquet_partitioned_by_source_and_date() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    let batch = Batch {
        events: vec![
            (
                event(SourceKind::Edr, "2020-09-20T23:59:59Z", "a"),
                at("edr", 0, 1),
            ),
            (
                event(SourceKind::Edr, "2020-09-21T00:00:01Z", "b"),
                at("edr", 0, 2),
            ),
            (
                event(SourceKind::Ehr, "2020-09-20T08:00:00Z", "c"),
                at("ehr", 0, 7),
            ),
            (
                event(SourceKind::Edr, "2020-09-20T01:00:00Z", "d"),
                at("edr", 0, 3),
            ),
        ],
        ..Batch::new()
    };

    let summary = lake.commit(batch).expect("the commit succeeds");

    assert_eq!(summary.seq, Some(1));
    assert_eq!(
        (
            summary.event_rows,
            summary.dead_letter_rows,
            summary.duplicates
        ),
        (4, 0, 0)
    );
    let paths: Vec<&str> = summary
        .files
        .iter()
        .map(|file| file.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "events/source=edr/date=2020-09-20/part-00000001-0-w1-1.parquet",
            "events/source=edr/date=2020-09-21/part-00000001-1-w1-1.parquet",
            "events/source=ehr/date=2020-09-20/part-00000001-2-w1-1.parquet",
        ]
    );
    let first = read(&layout::resolve(dir.path(), paths[0]));
    assert_eq!(first[0].schema(), ward_schemas::event_schema());
    assert_eq!(strings(&first, "event_id"), [id_of("a"), id_of("d")]);
    assert_eq!(strings(&first, "source_kind"), ["edr", "edr"]);
    assert_eq!(
        strings(&read(&layout::resolve(dir.path(), paths[2])), "event_id"),
        [id_of("c")]
    );
    let mut all = vec![id_of("a"), id_of("b"), id_of("c"), id_of("d")];
    all.sort();
    assert_eq!(lake_event_ids(dir.path()), all);
    assert_eq!(
        fs::read_dir(dir.path().join("_staging/w1-1"))
            .expect("staging")
            .count(),
        0
    );
}

fn id_of(raw: &str) -> String {
    EventId::of_record(raw.as_bytes()).to_string()
}

#[test]
fn dead_letters_are_partitioned_by_receive_date_else_commit_date() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    let mut binary = dead_letter("", Some("2021-03-04T05:06:07Z"));
    binary.raw = vec![0xff, 0x00, 0xfe];
    binary.offset = Some(12);
    let batch = Batch {
        dead_letters: vec![(binary, at("ndr", 1, 12)), (dead_letter("x", None), None)],
        ..Batch::new()
    };

    let summary = lake.commit(batch).expect("the commit succeeds");

    assert_eq!(summary.dead_letter_rows, 2);
    let paths: Vec<&str> = summary
        .files
        .iter()
        .map(|file| file.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "dead_letters/date=2021-03-04/part-00000001-0-w1-1.parquet",
            "dead_letters/date=2024-05-01/part-00000001-1-w1-1.parquet",
        ]
    );
    let batches = read(&layout::resolve(dir.path(), paths[0]));
    assert_eq!(batches[0].schema(), crate::dead_letter_schema());
    let raw = batches[0]
        .column_by_name("raw")
        .expect("raw")
        .as_binary::<i32>();
    assert_eq!(raw.value(0), [0xff, 0x00, 0xfe]);
    let offset = batches[0].column_by_name("offset").expect("offset");
    assert_eq!(offset.as_primitive::<Int64Type>().value(0), 12);
    assert_eq!(committed(&lake, "ndr", 1), Some(12));
}

#[test]
fn the_manifest_chain_verifies_and_a_flipped_byte_breaks_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    for range in [0..3, 3..6, 6..9] {
        let batch = Batch {
            events: events("edr", 0, range),
            ..Batch::new()
        };
        lake.commit(batch).expect("the commit succeeds");
    }
    drop(lake);
    let entries = read_manifest(dir.path()).expect("the manifest reads");
    verify_chain(&entries).expect("an intact chain");
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(entries[0].prev, crate::GENESIS_HASH);
    assert_eq!(entries[1].prev, entries[0].hash);

    // "rows":3 becomes "rows":2 in the second entry: still valid JSON, no longer intact.
    let path = layout::manifest_path(dir.path());
    let text = fs::read_to_string(&path).expect("readable");
    let second = text.find('\n').expect("two lines") + 1;
    let rows = second + text[second..].find("\"rows\":3").expect("a row count") + 7;
    let mut bytes = text.into_bytes();
    bytes[rows] = b'2';
    fs::write(&path, bytes).expect("writable");

    let entries = read_manifest(dir.path()).expect("the manifest still parses");
    let err = verify_chain(&entries).expect_err("a broken chain");
    assert!(matches!(
        err,
        StorageError::ChainBroken {
            seq: 2,
            problem: ChainProblem::HashMismatch
        }
    ));
    let err = Lake::open(dir.path(), "w1-2").expect_err("a broken chain stops the writer");
    assert!(
        matches!(err, StorageError::ChainBroken { seq: 2, .. }),
        "{err}"
    );
}

#[test]
fn committed_offsets_return_the_last_offset_per_partition() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    assert!(lake.committed_offsets().expect("empty manifest").is_empty());
    let mut batch = Batch {
        events: events("edr", 0, 0..5),
        ..Batch::new()
    };
    batch.events.extend(events("edr", 3, 40..42));
    batch
        .dead_letters
        .push((dead_letter("?", None), at("ndr", 0, 9)));
    lake.commit(batch).expect("the commit succeeds");
    lake.commit(Batch {
        events: events("edr", 0, 5..8),
        ..Batch::new()
    })
    .expect("the commit succeeds");

    let offsets = lake.committed_offsets().expect("the manifest reads");
    let expected = BTreeMap::from([
        (("edr".to_owned(), 0), 7),
        (("edr".to_owned(), 3), 41),
        (("ndr".to_owned(), 0), 9),
    ]);
    assert_eq!(offsets, expected);
    let entries = read_manifest(dir.path()).expect("the manifest reads");
    let ranges: Vec<(&str, i32, i64, i64)> = entries[0]
        .offsets
        .iter()
        .map(|r| (r.topic.as_str(), r.partition, r.first, r.last))
        .collect();
    assert_eq!(
        ranges,
        [("edr", 0, 0, 4), ("edr", 3, 40, 41), ("ndr", 0, 9, 9)]
    );

    drop(lake);
    let reopened = open(dir.path(), "w1-2");
    assert_eq!(reopened.committed_offsets().expect("reads"), expected);
}

#[test]
fn two_writers_with_overlapping_offsets_keep_each_record_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Both open before either commits, so each one's view of the manifest goes stale.
    let mut a = open(dir.path(), "wa-1");
    let mut b = open(dir.path(), "wb-1");
    let batch = |range| Batch {
        events: events("edr", 0, range),
        ..Batch::new()
    };

    let first = a.commit(batch(0..10)).expect("a commits");
    let second = b.commit(batch(5..15)).expect("b commits after a rebalance");
    let third = a
        .commit(batch(12..20))
        .expect("a commits what it still had");
    let fourth = b.commit(batch(15..20)).expect("b catches up");

    assert_eq!((first.event_rows, first.duplicates), (10, 0));
    assert_eq!(
        (second.event_rows, second.duplicates),
        (5, 5),
        "b rewrote its file"
    );
    assert_eq!((third.event_rows, third.duplicates), (5, 3));
    assert_eq!(fourth.seq, None, "everything b had is in the lake");
    assert_eq!(fourth.duplicates, 5);
    let mut expected: Vec<String> = (0..20).map(|offset| id("edr", 0, offset)).collect();
    expected.sort();
    assert_eq!(lake_event_ids(dir.path()), expected);
    assert_eq!(committed(&a, "edr", 0), Some(19));
    let writers: Vec<String> = read_manifest(dir.path())
        .expect("reads")
        .into_iter()
        .map(|entry| entry.writer)
        .collect();
    assert_eq!(writers, ["wa-1", "wb-1", "wa-1"]);
}

#[test]
fn records_without_offsets_are_never_dropped() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    let from_file = || Batch {
        events: vec![(event(SourceKind::Ndr, "2020-09-20T00:00:00Z", "f"), None)],
        ..Batch::new()
    };

    lake.commit(from_file()).expect("the first commit succeeds");
    let again = lake
        .commit(from_file())
        .expect("the second commit succeeds");

    assert_eq!(
        (again.seq, again.event_rows, again.duplicates),
        (Some(2), 1, 0)
    );
    assert!(again.offsets.is_empty());
    assert!(lake.committed_offsets().expect("reads").is_empty());
}

#[test]
fn a_batch_with_no_records_writes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");

    let summary = lake
        .commit(Batch::new())
        .expect("nothing to do is not an error");

    assert_eq!(summary, CommitSummary::default());
    assert!(read_manifest(dir.path()).expect("reads").is_empty());
    assert_eq!(
        fs::read_dir(dir.path().join("events"))
            .expect("dir")
            .count(),
        0
    );
    assert_eq!(
        fs::read_dir(dir.path().join("_staging/w1-1"))
            .expect("dir")
            .count(),
        0
    );
}

#[test]
fn consumed_offsets_advance_last_even_when_records_produced_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    let consumed = |offset| at("edr", 0, offset).expect("an offset");

    // Offsets 6 and 7 produced no record; resuming must not read them again.
    let batch = Batch {
        events: events("edr", 0, 4..6),
        consumed: vec![consumed(7)],
        ..Batch::new()
    };
    let summary = lake.commit(batch).expect("the commit succeeds");
    assert_eq!((summary.offsets[0].first, summary.offsets[0].last), (4, 7));
    assert_eq!(committed(&lake, "edr", 0), Some(7));

    // A batch of messages that all produced nothing only advances the partition.
    let batch = Batch {
        consumed: vec![consumed(9)],
        ..Batch::new()
    };
    let summary = lake.commit(batch).expect("the commit succeeds");
    assert_eq!(summary.seq, Some(2));
    assert!(summary.files.is_empty());
    assert_eq!((summary.offsets[0].first, summary.offsets[0].last), (9, 9));
    assert_eq!(committed(&lake, "edr", 0), Some(9));

    // Consumed offsets already committed change nothing.
    let batch = Batch {
        events: events("edr", 0, 8..10),
        consumed: vec![consumed(9)],
        ..Batch::new()
    };
    let summary = lake.commit(batch).expect("the commit succeeds");
    assert_eq!((summary.seq, summary.duplicates), (None, 2));
    assert_eq!(read_manifest(dir.path()).expect("reads").len(), 2);
}

#[test]
fn a_writer_id_that_is_not_a_safe_file_name_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let err = Lake::open(dir.path(), "../escape").expect_err("refused");
    assert_eq!(err.fault(), crate::Fault::User);
}

#[test]
fn unused_dead_letter_fields_round_trip_as_nulls() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    let row = DeadLetterRow {
        format: Some("zeek-json".into()),
        ..dead_letter("{", Some("2021-01-01T00:00:00Z"))
    };
    let summary = lake
        .commit(Batch {
            dead_letters: vec![(row, None)],
            ..Batch::new()
        })
        .expect("the commit succeeds");

    let batches = read(&layout::resolve(dir.path(), &summary.files[0].path));
    assert_eq!(strings(&batches, "format"), ["zeek-json"]);
    assert!(
        batches[0]
            .column_by_name("topic")
            .expect("topic")
            .is_null(0)
    );
    assert!(
        batches[0]
            .column_by_name("received_time")
            .expect("time")
            .is_valid(0)
    );
}
