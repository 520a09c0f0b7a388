//! Recovery on real files: what a writer killed at each step leaves behind is removed,
//! and a commit that fails part way leaves nothing.

use std::fs::{self, OpenOptions};
use std::io::Write;

use ward_schemas::SourceKind;

use super::tests::{committed, events, id, lake_event_ids, open};
use super::*;
use crate::testing::{at, event};

#[test]
fn an_orphan_part_file_is_moved_to_the_quarantine_on_open() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    lake.commit(Batch {
        events: events("edr", 0, 0..3),
        ..Batch::new()
    })
    .expect("the commit succeeds");
    drop(lake);

    // A writer killed between renaming its file into place and appending its entry.
    let orphan_dir = dir.path().join("events/source=ndr/date=2020-09-22");
    fs::create_dir_all(&orphan_dir).expect("create");
    let orphan = orphan_dir.join("part-00000002-0-w9-9.parquet");
    fs::write(&orphan, b"PAR1 not really").expect("write");

    let _lake = open(dir.path(), "w1-2");

    assert!(!orphan.exists());
    assert!(!orphan_dir.exists(), "a partition left empty is removed");
    let kept = dir
        .path()
        .join("_quarantine/events/source=ndr/date=2020-09-22/part-00000002-0-w9-9.parquet");
    assert_eq!(
        fs::read(kept).expect("kept in the quarantine"),
        b"PAR1 not really"
    );
    assert!(
        dir.path()
            .join("events/source=edr/date=2020-09-20")
            .is_dir()
    );
    assert_eq!(lake_event_ids(dir.path()).len(), 3);
}

#[test]
fn a_torn_manifest_line_is_truncated_and_its_files_removed_on_open() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    lake.commit(Batch {
        events: events("edr", 0, 0..3),
        ..Batch::new()
    })
    .expect("the commit succeeds");
    drop(lake);
    let manifest = layout::manifest_path(dir.path());
    let committed_len = fs::metadata(&manifest).expect("exists").len();

    // A writer killed in mid-append: its file is in place, half its line is written.
    let partition = dir.path().join("events/source=edr/date=2020-09-20");
    let torn_file = partition.join("part-00000002-0-w9-9.parquet");
    fs::write(&torn_file, b"PAR1 not really").expect("write");
    let mut file = OpenOptions::new()
        .append(true)
        .open(&manifest)
        .expect("open");
    file.write_all(b"{\"seq\":2,\"kind\":\"commit\",\"committed_at\":\"2024-05-01T1")
        .expect("append");
    drop(file);

    let mut lake = open(dir.path(), "w1-2");

    assert_eq!(
        fs::metadata(&manifest).expect("exists").len(),
        committed_len
    );
    assert!(!torn_file.exists());
    assert_eq!(committed(&lake, "edr", 0), Some(2));
    let summary = lake
        .commit(Batch {
            events: events("edr", 0, 3..5),
            ..Batch::new()
        })
        .expect("the lake takes commits again");
    assert_eq!(summary.seq, Some(2));
    assert_eq!(lake_event_ids(dir.path()).len(), 5);
}

#[test]
fn a_torn_line_left_by_a_writer_that_died_is_repaired_by_the_next_commit() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    lake.commit(Batch {
        events: events("edr", 0, 0..2),
        ..Batch::new()
    })
    .expect("the commit succeeds");

    // Another writer dies mid-append while this one stays open.
    let partition = dir.path().join("events/source=edr/date=2020-09-20");
    let torn_file = partition.join("part-00000002-0-w9-9.parquet");
    fs::write(&torn_file, b"PAR1 not really").expect("write");
    let manifest = layout::manifest_path(dir.path());
    let mut file = OpenOptions::new()
        .append(true)
        .open(&manifest)
        .expect("open");
    file.write_all(b"{\"seq\":2,\"ki").expect("append");
    drop(file);

    let summary = lake
        .commit(Batch {
            events: events("edr", 0, 2..4),
            ..Batch::new()
        })
        .expect("the commit succeeds");

    assert_eq!(summary.seq, Some(2));
    assert!(!torn_file.exists());
    let mut expected: Vec<String> = (0..4).map(|offset| id("edr", 0, offset)).collect();
    expected.sort();
    assert_eq!(lake_event_ids(dir.path()), expected);
}

#[test]
fn dead_writers_staging_directories_are_removed_and_live_ones_kept() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    drop(open(dir.path(), "w1-1"));
    let staging = dir.path().join(layout::STAGING_DIR);
    let host = layout::local_hostname();
    // Above the highest pid Linux can hand out, so surely not running.
    let dead = format!("{host}-4194305");
    let live = format!("{host}-{}", std::process::id());
    let elsewhere = "some-other-host-4194305".to_owned();
    let own = "w1-2".to_owned();
    for name in [&dead, &live, &elsewhere, &own] {
        fs::create_dir_all(staging.join(name)).expect("create");
        fs::write(staging.join(name).join("events.parquet"), b"partial").expect("write");
    }

    let _lake = open(dir.path(), "w1-2");

    assert!(
        !staging.join(&dead).exists(),
        "a dead writer's files are removed"
    );
    assert!(
        staging.join(&live).join("events.parquet").exists(),
        "a live writer is kept"
    );
    assert!(
        staging.join(&elsewhere).exists(),
        "another host's writer is kept"
    );
    let own_files = fs::read_dir(staging.join(&own))
        .map(Iterator::count)
        .unwrap_or(0);
    assert_eq!(
        own_files, 0,
        "a leftover under this writer's own id is removed"
    );
}

#[test]
fn a_failed_commit_leaves_nothing_behind_and_can_be_retried() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut lake = open(dir.path(), "w1-1");
    let mut batch = Batch {
        events: events("edr", 0, 0..3),
        ..Batch::new()
    };
    batch.events.push((
        event(SourceKind::Ndr, "2020-09-20T10:00:00Z", "n"),
        at("ndr", 0, 0),
    ));
    // A file where the ndr partition's directory must go: the edr file is renamed into
    // place first, then the ndr one cannot be.
    let blocker = dir.path().join("events/source=ndr");
    fs::write(&blocker, b"in the way").expect("write");

    let err = lake
        .commit(batch.clone())
        .expect_err("the ndr partition cannot be created");

    assert!(err.is_retryable(), "{err}");
    assert!(read_manifest(dir.path()).expect("reads").is_empty());
    assert!(
        !dir.path()
            .join("events/source=edr/date=2020-09-20")
            .join(layout::part_file_name(1, 0, "w1-1"))
            .exists()
    );
    assert_eq!(
        fs::read_dir(dir.path().join("_staging/w1-1"))
            .expect("dir")
            .count(),
        0
    );

    fs::remove_file(&blocker).expect("remove");
    let summary = lake.commit(batch).expect("the retry succeeds");
    assert_eq!((summary.seq, summary.event_rows), (Some(1), 4));
    assert_eq!(lake_event_ids(dir.path()).len(), 4);
}
