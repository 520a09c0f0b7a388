//! Verify on real lakes in temporary directories, tampered with in each way an attacker or
//! a failing disk could.

use std::fs;
use std::path::{Path, PathBuf};

use ward_schemas::SourceKind;

use super::*;
use crate::testing::{at, event};
use crate::{Batch, Lake};

/// A lake of three commits of two events each, on two dates; returns its root and the
/// part files in commit order.
fn lake() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut lake = Lake::open(dir.path(), "verify-test").expect("the lake opens");
    for commit in 0..3 {
        let mut batch = Batch::new();
        for n in 0..2 {
            let offset = commit * 2 + n;
            let day = if n == 0 { "2020-09-20" } else { "2020-09-21" };
            let raw = format!("edr/0/{offset}");
            let event = event(SourceKind::Edr, &format!("{day}T10:00:00Z"), &raw);
            batch.events.push((event, at("edr", 0, offset)));
        }
        lake.commit(batch).expect("the commit");
    }
    let entries = crate::read_manifest(dir.path()).expect("a manifest");
    let files = entries
        .iter()
        .flat_map(|entry| entry.files.iter().map(|file| file.path.clone()))
        .collect();
    (dir, files)
}

fn check(root: &Path) -> VerifyReport {
    verify(root, |_| {}).expect("the lake can be read")
}

fn manifest(root: &Path) -> PathBuf {
    crate::manifest_path(root)
}

fn lines(root: &Path) -> Vec<String> {
    let text = fs::read_to_string(manifest(root)).expect("a manifest");
    text.lines().map(str::to_owned).collect()
}

#[test]
fn an_untouched_lake_is_intact_and_every_file_is_hashed() {
    let (dir, files) = lake();
    let report = check(dir.path());
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.entries, 3);
    assert_eq!(report.files, files.len() as u64);
    assert_eq!(files.len(), 6);
    let head = crate::read_manifest(dir.path()).expect("a manifest")[2]
        .hash
        .clone();
    assert_eq!(report.head, Some(head));
}

#[test]
fn a_flipped_byte_is_named() {
    let (dir, files) = lake();
    let path = dir.path().join(&files[3]);
    let mut bytes = fs::read(&path).expect("the file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&path, &bytes).expect("write");

    let report = check(dir.path());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(matches!(&report.problems[0], Problem::Altered { path, .. } if *path == files[3]));
}

#[test]
fn deleted_and_added_files_are_named() {
    let (dir, files) = lake();
    fs::remove_file(dir.path().join(&files[0])).expect("remove");
    let extra = "events/source=edr/date=2020-09-20/part-00000099-0-intruder.parquet";
    fs::copy(dir.path().join(&files[2]), dir.path().join(extra)).expect("copy");

    let report = check(dir.path());
    assert_eq!(
        report.problems,
        [
            Problem::Missing {
                path: files[0].clone()
            },
            Problem::Unexpected {
                path: extra.to_owned()
            },
        ]
    );
}

#[test]
fn an_edited_entry_breaks_its_hash() {
    let (dir, _) = lake();
    let mut lines = lines(dir.path());
    lines[1] = lines[1].replacen("\"rows\":1", "\"rows\":9", 1);
    fs::write(manifest(dir.path()), lines.join("\n") + "\n").expect("write");

    let report = check(dir.path());
    assert_eq!(
        report.problems,
        [Problem::Chain {
            seq: 2,
            link: ChainLink::Hash
        }]
    );
}

#[test]
fn a_removed_entry_breaks_the_next_link_and_unlists_its_files() {
    let (dir, files) = lake();
    let mut lines = lines(dir.path());
    lines.remove(1);
    fs::write(manifest(dir.path()), lines.join("\n") + "\n").expect("write");

    let report = check(dir.path());
    assert_eq!(
        report.problems,
        [
            Problem::Chain {
                seq: 3,
                link: ChainLink::Seq
            },
            Problem::Chain {
                seq: 3,
                link: ChainLink::Prev
            },
            Problem::Unexpected {
                path: files[2].clone()
            },
            Problem::Unexpected {
                path: files[3].clone()
            },
        ]
    );
}

#[test]
fn a_truncated_manifest_is_named_by_its_torn_line_or_its_orphaned_files() {
    let (dir, files) = lake();
    let text = fs::read(manifest(dir.path())).expect("a manifest");

    // Cut inside the last line.
    fs::write(manifest(dir.path()), &text[..text.len() - 20]).expect("write");
    let report = check(dir.path());
    assert_eq!(report.problems[0], Problem::TornLastLine { line: 3 });
    assert_eq!(report.entries, 2);

    // Cut at a line boundary: the chain is whole, the last commit's files are not listed.
    let keep: usize = lines(dir.path())
        .iter()
        .take(2)
        .map(|line| line.len() + 1)
        .sum();
    fs::write(manifest(dir.path()), &text[..keep]).expect("write");
    let report = check(dir.path());
    assert_eq!(
        report.problems,
        [
            Problem::Unexpected {
                path: files[4].clone()
            },
            Problem::Unexpected {
                path: files[5].clone()
            },
        ]
    );
}

#[test]
fn a_deleted_manifest_is_named() {
    let (dir, _) = lake();
    fs::remove_file(manifest(dir.path())).expect("remove");
    let report = check(dir.path());
    assert_eq!(report.problems[0], Problem::ManifestMissing);
    assert_eq!(report.problems.len(), 7);
}
