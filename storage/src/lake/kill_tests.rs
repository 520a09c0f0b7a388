//! Exactly once under `kill -9`: two writer processes commit overlapping offsets of the
//! same partitions to one lake while the test kills them at random moments.
//!
//! The writers are this test binary run again with [`CHILD_ENV`] set, running only
//! [`writer_child`]. Each one resumes like a consumer after a rebalance: from the
//! committed offset of a partition, sometimes a few offsets earlier, so both writers
//! keep offering records the other already committed.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::tests::{events, id, lake_event_ids};
use super::*;
use crate::default_writer_id;

/// Set, to the lake directory, in a writer child's environment.
const CHILD_ENV: &str = "WARD_STORAGE_KILL_TEST_LAKE";
/// The topic the children pretend to consume.
const TOPIC: &str = "edr";
/// How many partitions of it.
const PARTITIONS: i32 = 2;

/// A small xorshift generator; the test needs variety, not quality.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos());
        Rng((nanos as u64 ^ u64::from(std::process::id()) << 32) | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

#[test]
#[ignore = "runs only as a writer process of the kill test"]
fn writer_child() {
    let Some(root) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let root = PathBuf::from(root);
    let mut lake = Lake::open(&root, &default_writer_id()).expect("the lake opens");
    let mut rng = Rng::seeded();

    loop {
        let partition = rng.below(PARTITIONS as u64) as i32;
        let committed = lake.committed_offsets().expect("the manifest reads");
        let next = committed
            .get(&(TOPIC.to_owned(), partition))
            .map_or(0, |last| last + 1);
        let start = (next - rng.below(4) as i64).max(0);
        let end = start + 1 + rng.below(30) as i64;
        let batch = Batch {
            events: events(TOPIC, partition, start..end),
            ..Batch::new()
        };
        lake.commit(batch).expect("the commit succeeds");
    }
}

/// Starts a writer child on the lake at `root`, its stderr going to `log`.
fn spawn_writer(root: &Path, log: &Path) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    let log = File::create(log).expect("a log file");
    Command::new(exe)
        .args([
            "--exact",
            "lake::kill_tests::writer_child",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, root)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the writer starts")
}

/// Kills `child` with SIGKILL, after checking it did not stop on its own.
fn kill(child: &mut Child, log: &Path) {
    if let Some(status) = child.try_wait().expect("the child's status") {
        let log = fs::read_to_string(log).unwrap_or_default();
        panic!("a writer stopped by itself with {status}:\n{log}");
    }
    child.kill().expect("the writer is killed");
    child.wait().expect("the writer is reaped");
}

#[test]
fn two_writers_killed_at_random_leave_every_offset_in_the_lake_once() {
    let lake_dir = tempfile::tempdir().expect("a temporary directory");
    let logs = tempfile::tempdir().expect("a temporary directory");
    let root = lake_dir.path();
    let log = |i: usize| logs.path().join(format!("writer-{i}.log"));
    let mut writers = [spawn_writer(root, &log(0)), spawn_writer(root, &log(1))];
    let mut rng = Rng::seeded();

    let deadline = Instant::now() + Duration::from_secs(3);
    let mut kills = 0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20 + rng.below(150)));
        let i = rng.below(2) as usize;
        kill(&mut writers[i], &log(i));
        writers[i] = spawn_writer(root, &log(i));
        kills += 1;
    }
    for (i, writer) in writers.iter_mut().enumerate() {
        kill(writer, &log(i));
    }

    // Opening recovers; then the lake must hold offsets 0..=last of each partition, each
    // exactly once, in files that are exactly the ones the manifest lists.
    let lake = Lake::open(root, "checker-1").expect("the lake opens");
    let committed = lake.committed_offsets().expect("the manifest reads");
    let mut expected = Vec::new();
    for partition in 0..PARTITIONS {
        let last = committed
            .get(&(TOPIC.to_owned(), partition))
            .copied()
            .unwrap_or(-1);
        expected.extend((0..=last).map(|offset| id(TOPIC, partition, offset)));
    }
    expected.sort();
    assert!(
        expected.len() > 50,
        "the writers made progress: {} records",
        expected.len()
    );
    assert_eq!(lake_event_ids(root), expected, "after {kills} kills");
    let entries = read_manifest(root).expect("the manifest reads").len();
    eprintln!(
        "{kills} kills, {entries} commits, {} records",
        expected.len()
    );
    let staging = fs::read_dir(root.join(layout::STAGING_DIR)).expect("the staging dir");
    assert_eq!(
        staging.count(),
        0,
        "dead writers' staging directories are removed"
    );
}
