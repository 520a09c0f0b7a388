//! Retention on real lakes in temporary folders: what a plan deletes and keeps, holds,
//! the `delete` entry in the chain, and a run cut off between its entry and the removals.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use ward_schemas::{Event, SourceKind};

use super::*;
use crate::testing::{date, event};
use crate::{Batch, Lake, Problem, verify};

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
        .single()
        .expect("a valid time")
}

fn open(root: &Path) -> Lake {
    Lake::open(root, "retention-test")
        .expect("the lake opens")
        .with_clock(noon)
}

/// An EHR event on `day` by `user` about `patient`; `n` keeps ids distinct.
fn access(day: &str, user: &str, patient: &str, n: usize) -> Event {
    let raw = format!("{day}/{user}/{patient}/{n}");
    let mut event = event(SourceKind::Ehr, &format!("{day}T09:00:00Z"), &raw);
    event.user = Some(user.to_owned());
    event.patient_id = Some(patient.to_owned());
    event
}

/// A lake with EHR events on four days, one commit per day, and EDR events on the first.
fn lake_of_four_days(root: &Path) -> Lake {
    let mut lake = open(root);
    let days = ["2019-03-01", "2019-03-02", "2019-03-03", "2023-06-01"];
    for (n, day) in days.iter().enumerate() {
        let mut batch = Batch::new();
        batch
            .events
            .push((access(day, "jdoe", &format!("P{n}"), n), None));
        batch.events.push((access(day, "asmith", "P9", n), None));
        if n == 0 {
            let edr = event(SourceKind::Edr, "2019-03-01T08:00:00Z", "edr-0");
            batch.events.push((edr, None));
        }
        lake.commit(batch).expect("the day commits");
    }
    lake
}

fn dirs(partitions: &[Partition]) -> Vec<&str> {
    partitions.iter().map(|p| p.dir.as_str()).collect()
}

fn part_files(root: &Path) -> Vec<PathBuf> {
    let files = walkdir::WalkDir::new(root.join("events")).sort_by_file_name();
    let files = files
        .into_iter()
        .map(|entry| entry.expect("a readable folder"));
    let files = files.filter(|entry| entry.file_type().is_file());
    files.map(|entry| entry.path().to_owned()).collect()
}

#[test]
fn periods_read_as_an_operator_writes_them_and_count_back_in_calendar_terms() {
    let cases = [
        ("6 years", "2020-12-04"),
        ("18 months", "2025-06-04"),
        ("90d", "2026-09-05"),
    ];
    for (text, cutoff) in cases {
        let period: Period = text.parse().expect("a period");
        assert_eq!(period.cutoff(date("2026-12-04")), date(cutoff), "{text}");
    }
    assert_eq!(
        "1 year".parse::<Period>().expect("a period").to_string(),
        "1 year"
    );
    assert_eq!(Period::SIX_YEARS.to_string(), "6 years");
    assert!(
        "1 year"
            .parse::<Period>()
            .expect("a period")
            .is_under_six_years()
    );
    assert!(
        !"7y"
            .parse::<Period>()
            .expect("a period")
            .is_under_six_years()
    );
    for bad in ["", "six years", "6", "6 weeks", "0 days", "-1 days"] {
        let err = bad.parse::<Period>().expect_err("not a period");
        assert!(
            err.to_string().contains("is not a retention period"),
            "{bad}"
        );
    }
}

#[test]
fn a_plan_deletes_exactly_the_days_before_each_tables_cutoff() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let _lake = lake_of_four_days(dir.path());
    let manifest_before = std::fs::read(layout::manifest_path(dir.path())).expect("manifest");

    let plan = plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");
    assert_eq!(plan.rules[0].cutoff, date("2019-03-03"));
    assert_eq!(
        dirs(&plan.expired),
        [
            "events/source=edr/date=2019-03-01",
            "events/source=ehr/date=2019-03-01",
            "events/source=ehr/date=2019-03-02",
        ]
    );
    assert!(plan.held.is_empty());
    assert_eq!(plan.kept, 2);
    assert_eq!(plan.expired[1].rows(), 2);
    assert_eq!(plan.planned_at, 4);
    // Planning changes nothing.
    let manifest_after = std::fs::read(layout::manifest_path(dir.path())).expect("manifest");
    assert_eq!(manifest_before, manifest_after);

    // A table with its own period: events for 7 years keeps everything.
    let policy = Policy::default().with_table(Table::Events, "7 years".parse().expect("7y"));
    let plan = super::plan(dir.path(), &policy, date("2025-03-03"), None).expect("a plan");
    assert!(plan.expired.is_empty());
    assert_eq!(plan.kept, 5);
}

#[test]
fn holds_on_a_patient_a_user_and_a_period_keep_the_partitions_they_cover() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut lake = lake_of_four_days(dir.path());
    let patient = lake.place_hold(
        HoldScope::Patient {
            patient_digest: patient_digest("P1", None),
        },
        "privacy",
        "OCR case 04-1001",
    );
    let patient = patient.expect("a hold");
    let period = HoldScope::Period {
        from: date("2019-03-01"),
        to: date("2019-03-01"),
    };
    let period = lake
        .place_hold(period, "legal", "litigation")
        .expect("a hold");
    let user = HoldScope::User {
        user: "ASmith".into(),
    };
    let user = lake.place_hold(user, "legal", "HR case").expect("a hold");

    let plan = plan(dir.path(), &Policy::default(), date("2025-12-31"), None).expect("a plan");
    let held: Vec<(&str, Vec<u64>)> = plan
        .held
        .iter()
        .map(|held| (held.partition.dir.as_str(), held.holds.clone()))
        .collect();
    assert_eq!(
        held,
        [
            ("events/source=edr/date=2019-03-01", vec![period]),
            ("events/source=ehr/date=2019-03-01", vec![period, user]),
            ("events/source=ehr/date=2019-03-02", vec![patient, user]),
            ("events/source=ehr/date=2019-03-03", vec![user]),
        ]
    );
    assert!(plan.expired.is_empty());

    // Released, the user hold keeps nothing; the others still keep their days.
    lake.release_hold(user, "legal", "HR case closed")
        .expect("released");
    let plan =
        super::plan(dir.path(), &Policy::default(), date("2025-12-31"), None).expect("a plan");
    assert_eq!(dirs(&plan.expired), ["events/source=ehr/date=2019-03-03"]);
    assert_eq!(plan.holds.len(), 2);

    let err = lake
        .release_hold(user, "legal", "again")
        .expect_err("already released");
    assert!(matches!(err, StorageError::NoSuchHold { seq } if seq == user));
}

#[test]
fn a_deletion_is_an_entry_of_the_chain_and_the_lake_still_verifies() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut lake = lake_of_four_days(dir.path());
    let plan = plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");
    let files = plan.files();
    assert_eq!(files.len(), 3);

    let seq = lake.delete(&files, plan.planned_at, "ops", &plan.describe());
    assert_eq!(seq.expect("the deletion commits"), Some(5));

    let entries = read_manifest(dir.path()).expect("the manifest reads");
    let last = entries.last().expect("an entry");
    assert_eq!(last.kind, EntryKind::Delete);
    assert_eq!(last.files, files);
    assert_eq!(last.by.as_deref(), Some("ops"));
    assert!(
        last.reason
            .as_deref()
            .is_some_and(|r| r.contains("events 6 years"))
    );
    let remaining = part_files(dir.path());
    assert_eq!(remaining.len(), 2);
    for file in &files {
        assert!(
            !layout::resolve(dir.path(), &file.path).exists(),
            "{}",
            file.path
        );
    }
    // The emptied partition folders went, and the source folder with no days left.
    assert!(!dir.path().join("events/source=edr").exists());
    assert!(
        !dir.path()
            .join("events/source=ehr/date=2019-03-01")
            .exists()
    );
    assert!(
        dir.path()
            .join("events/source=ehr/date=2019-03-03")
            .exists()
    );

    let report = verify(dir.path(), |_| {}).expect("the lake verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.files, 2);

    // Applying again finds nothing more.
    let again =
        super::plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");
    assert!(again.expired.is_empty());
    assert_eq!(
        lake.delete(&files, again.planned_at, "ops", "x")
            .expect("no-op"),
        None
    );
}

#[test]
fn a_hold_placed_after_planning_stops_the_deletion() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut lake = lake_of_four_days(dir.path());
    let plan = plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");

    let mut other = Lake::open(dir.path(), "privacy-desk").expect("a second writer");
    let scope = HoldScope::Patient {
        patient_digest: patient_digest("P0", None),
    };
    let hold = other
        .place_hold(scope, "privacy", "new complaint")
        .expect("a hold");

    let err = lake
        .delete(&plan.files(), plan.planned_at, "ops", "retention")
        .expect_err("the plan predates the hold");
    assert!(matches!(err, StorageError::PlanOutdated { seq, .. } if seq == hold));
    assert_eq!(part_files(dir.path()).len(), 5);
}

#[test]
fn files_left_by_a_run_cut_off_after_its_entry_are_expected_and_removed_on_open() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut lake = lake_of_four_days(dir.path());
    let plan = plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");
    let files = plan.files();
    let saved: Vec<(PathBuf, Vec<u8>)> = files
        .iter()
        .map(|file| {
            let path = layout::resolve(dir.path(), &file.path);
            let bytes = std::fs::read(&path).expect("a part file");
            (path, bytes)
        })
        .collect();
    lake.delete(&files, plan.planned_at, "ops", "retention")
        .expect("the deletion commits");
    drop(lake);

    // As if the process died after appending the entry, before removing anything.
    for (path, bytes) in &saved {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(path, bytes).expect("restore");
    }
    let report = verify(dir.path(), |_| {}).expect("the lake verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.awaiting_deletion.len(), 3);

    let _reopened = open(dir.path());
    assert_eq!(part_files(dir.path()).len(), 2);
    let report = verify(dir.path(), |_| {}).expect("the lake verifies");
    assert!(report.is_intact() && report.awaiting_deletion.is_empty());
    assert!(
        report.quarantined.is_empty(),
        "deleted files are not quarantined"
    );
}

/// Appends a `delete` entry of `files` by hand, as someone bypassing ward would, and
/// returns its `seq`. `delete` only writes what retention decides, so a forgery cannot go
/// through it.
fn forge_deletion(root: &Path, files: &[FileRecord]) -> u64 {
    let entries = read_manifest(root).expect("manifest");
    let last = entries.last().expect("an entry");
    let forged = ManifestEntry {
        seq: last.seq + 1,
        kind: EntryKind::Delete,
        committed_at: "2026-12-04T12:00:00.000000Z".into(),
        writer: "forger".into(),
        files: files.to_vec(),
        offsets: Vec::new(),
        by: Some("nobody".into()),
        reason: Some("cover-up".into()),
        hold: None,
        releases: None,
        prev: last.hash.clone(),
        hash: String::new(),
    }
    .sealed();
    let manifest = layout::manifest_path(root);
    let mut text = std::fs::read_to_string(&manifest).expect("manifest");
    text.push_str(&forged.to_line());
    std::fs::write(&manifest, text).expect("write");
    forged.seq
}

#[test]
fn a_forged_deletion_of_a_file_never_committed_is_named_and_deletes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    drop(lake_of_four_days(dir.path()));
    let plan = plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");
    let mut files = plan.files();
    files.truncate(1);
    files[0].sha256 = "00".repeat(32);
    let seq = forge_deletion(dir.path(), &files);

    let report = verify(dir.path(), |_| {}).expect("the lake verifies");
    let path = files[0].path.clone();
    assert_eq!(report.problems, [Problem::BadDeletion { seq, path }]);
    // The next writer keeps the file: a deletion that misnames it is none.
    drop(open(dir.path()));
    assert_eq!(part_files(dir.path()).len(), 5);
}

#[test]
fn a_deletion_of_a_day_under_a_period_hold_is_named() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut lake = lake_of_four_days(dir.path());
    let period = HoldScope::Period {
        from: date("2019-03-02"),
        to: date("2019-03-02"),
    };
    let hold = lake
        .place_hold(period, "legal", "litigation")
        .expect("a hold");
    drop(lake);
    let plan = plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");
    let held = plan.held[0].partition.files.clone();
    let seq = forge_deletion(dir.path(), &held);
    std::fs::remove_file(layout::resolve(dir.path(), &held[0].path)).expect("remove");

    let report = verify(dir.path(), |_| {}).expect("the lake verifies");
    let path = held[0].path.clone();
    assert_eq!(
        report.problems,
        [Problem::DeletedUnderHold { seq, path, hold }]
    );
}

#[test]
fn a_patient_hold_in_an_encrypted_lake_is_keyed_and_read_with_the_key() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let key = crate::LakeKey::from_hex(&"3c".repeat(32)).expect("a key");
    let mut lake = Lake::open_with_key(dir.path(), "enc", Some(key.clone()))
        .expect("the lake opens")
        .with_clock(noon);
    let mut batch = Batch::new();
    batch
        .events
        .push((access("2019-03-01", "jdoe", "MRN-1", 0), None));
    batch
        .events
        .push((access("2019-03-02", "jdoe", "MRN-2", 1), None));
    lake.commit(batch).expect("the commit");

    let digest = patient_digest("MRN-1", Some(&key));
    assert_ne!(digest, patient_digest("MRN-1", None), "keyed");
    let scope = HoldScope::Patient {
        patient_digest: digest,
    };
    let hold = lake.place_hold(scope, "privacy", "case 7").expect("a hold");

    let as_of = date("2026-01-01");
    let plan = plan(dir.path(), &Policy::default(), as_of, Some(&key)).expect("a plan");
    assert_eq!(dirs(&plan.expired), ["events/source=ehr/date=2019-03-02"]);
    assert_eq!(plan.held[0].holds, [hold]);
    let err = super::plan(dir.path(), &Policy::default(), as_of, None);
    assert!(matches!(err, Err(StorageError::KeyRequired)));
}

#[test]
fn a_late_file_in_a_planned_partition_stops_the_deletion_only_under_a_content_hold() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut lake = lake_of_four_days(dir.path());
    let late = |lake: &mut Lake, n| {
        let mut batch = Batch::new();
        batch
            .events
            .push((access("2019-03-02", "jdoe", "P7", n), None));
        lake.commit(batch).expect("a late event for a planned day")
    };

    // With no hold on content, the late file cannot change the plan, which goes ahead
    // and leaves the late file for the next run.
    let plan = plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");
    late(&mut lake, 7);
    let deleted = lake.delete(&plan.files(), plan.planned_at, "ops", "retention");
    assert!(deleted.expect("the deletion").is_some());
    assert_eq!(part_files(dir.path()).len(), 3);

    // A hold on patient P7 makes it matter: the late file puts P7's record in a
    // partition the plan deletes.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut lake = lake_of_four_days(dir.path());
    let scope = HoldScope::Patient {
        patient_digest: patient_digest("P7", None),
    };
    lake.place_hold(scope, "privacy", "case 9").expect("a hold");
    let plan =
        super::plan(dir.path(), &Policy::default(), date("2025-03-03"), None).expect("a plan");
    assert_eq!(plan.expired.len(), 3, "P7 is nowhere yet");
    late(&mut lake, 8);
    let err = lake
        .delete(&plan.files(), plan.planned_at, "ops", "retention")
        .expect_err("the plan did not see the late file");
    assert!(
        matches!(err, StorageError::PlanOutdated { why, .. } if why.contains("partition")),
        "{err}"
    );
}
