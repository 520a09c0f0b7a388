//! `ward retention` on lakes replayed from the real data and a generated attack, with the
//! clock set by `--as-of`: exactly the expired partitions go, nothing a hold covers does,
//! every deletion and hold is a manifest entry, and the lake still verifies.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Months, NaiveDate};
use common::lake::{count, query};
use common::{arg, data_dir, files_under, replay_into, succeed, text, ward};
use serde_json::Value;

/// A configuration file naming `lake` and the `[retention]` lines given.
fn config(dir: &Path, lake: &Path, retention: &str) -> PathBuf {
    let path = dir.join("ward.toml");
    let text = format!("lake = {:?}\n\n[retention]\n{retention}\n", arg(lake));
    std::fs::write(&path, text).expect("write the configuration");
    path
}

/// `ward retention` with `args` and the configuration, as JSON.
fn retention(config: &Path, args: &[&str]) -> Value {
    let mut all = vec!["retention"];
    all.extend(args);
    all.extend(["--config", arg(config), "--format", "json"]);
    serde_json::from_slice(&succeed(&all)).expect("JSON")
}

/// The partition folders of every part file under the table folders, relative to the
/// lake, with their dates.
fn partitions_on_disk(lake: &Path) -> BTreeSet<(String, NaiveDate)> {
    let parts = files_under(lake).into_iter().filter(|path| {
        let relative = path.strip_prefix(lake).expect("under the lake");
        let top = relative.components().next().expect("a first component");
        !top.as_os_str().to_string_lossy().starts_with('_')
    });
    parts
        .map(|path| {
            let dir = path.parent().expect("a partition folder");
            let relative = dir.strip_prefix(lake).expect("under the lake");
            let relative = relative.to_string_lossy().replace('\\', "/");
            let date = relative.rsplit_once("date=").expect("a date folder").1;
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("a date");
            (relative, date)
        })
        .collect()
}

fn dirs(plan: &Value, key: &str) -> BTreeSet<String> {
    let list = plan[key].as_array().expect("a list of partitions");
    list.iter().map(|p| text(p, "dir").to_owned()).collect()
}

/// Every manifest entry; none when nothing has written to the lake yet.
fn manifest(lake: &Path) -> Vec<Value> {
    let path = lake.join("_manifest/manifest.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str(line).expect("an entry"))
        .collect()
}

fn assert_intact(lake: &Path) {
    let output = ward(&["verify", "--lake", arg(lake), "--format", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert!(output.status.success(), "verify: {report}");
    assert_eq!(report["problems"], serde_json::json!([]));
}

#[test]
fn retention_deletes_exactly_the_partitions_older_than_six_years() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let lake = dir.path().join("lake");
    replay_into(
        &lake,
        None,
        &[&data_dir().join("edr/evtx-attack-samples")],
        &[],
    );
    let config = config(dir.path(), &lake, "default = \"6 years\"");
    let before = partitions_on_disk(&lake);

    // The clock: six years after the middle day of the samples, so about half expire.
    let days: BTreeSet<NaiveDate> = before.iter().map(|(_, date)| *date).collect();
    let days: Vec<NaiveDate> = days.into_iter().collect();
    assert!(days.len() >= 4, "the samples span {} days", days.len());
    let middle = days[days.len() / 2];
    let as_of = middle.checked_add_months(Months::new(72)).expect("a date");
    assert!(as_of <= chrono::Utc::now().date_naive(), "samples are old");
    let as_of = as_of.to_string();
    let expired: BTreeSet<String> = before
        .iter()
        .filter(|(_, date)| *date < middle)
        .map(|(dir, _)| dir.clone())
        .collect();
    assert!(!expired.is_empty() && expired.len() < before.len());

    let manifest_before = manifest(&lake);
    let dry = retention(&config, &["apply", "--dry-run", "--as-of", &as_of]);
    assert_eq!(dirs(&dry, "deleted"), expired);
    assert_eq!(dry["entry"], Value::Null);
    assert_eq!(
        manifest(&lake),
        manifest_before,
        "a dry run records nothing"
    );
    assert_eq!(
        partitions_on_disk(&lake),
        before,
        "a dry run deletes nothing"
    );

    let events_kept = count(
        &lake,
        &format!("SELECT count(*) AS n FROM events WHERE date >= '{middle}'"),
    );
    let applied = retention(&config, &["apply", "--as-of", &as_of]);
    assert_eq!(dirs(&applied, "deleted"), expired);
    let seq = applied["entry"].as_u64().expect("a delete entry");

    // On disk: the expired folders are gone and every other one is still there.
    let after = partitions_on_disk(&lake);
    let kept: BTreeSet<String> = after.iter().map(|(dir, _)| dir.clone()).collect();
    let expected: BTreeSet<String> = before
        .iter()
        .map(|(dir, _)| dir.clone())
        .filter(|dir| !expired.contains(dir))
        .collect();
    assert!(
        expected.is_subset(&kept),
        "every partition within retention is kept"
    );
    let added: Vec<&String> = kept.difference(&expected).collect();
    assert!(
        added.iter().all(|dir| dir.starts_with("access_log/")),
        "only this test's own queries added folders: {added:?}"
    );

    // In the chain: one delete entry, by this account, listing exactly those files.
    let entries = manifest(&lake);
    let entry = &entries[seq as usize - 1];
    assert_eq!(text(entry, "kind"), "delete");
    assert!(text(entry, "reason").contains("events 6 years (before"));
    let deleted: BTreeSet<String> = entry["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|file| {
            let path = text(file, "path");
            path.rsplit_once('/').expect("a folder").0.to_owned()
        })
        .collect();
    assert_eq!(deleted, expired);

    // Queries see the kept days whole and the expired ones not at all.
    let old = count(
        &lake,
        &format!("SELECT count(*) AS n FROM events WHERE date < '{middle}'"),
    );
    assert_eq!(old, 0);
    let events_after = count(&lake, "SELECT count(*) AS n FROM events");
    assert_eq!(events_after, events_kept);
    assert_intact(&lake);

    // Nothing is left to delete.
    let again = retention(&config, &["apply", "--as-of", &as_of]);
    assert_eq!(dirs(&again, "deleted"), BTreeSet::new());
    assert_eq!(again["entry"], Value::Null);
}

#[test]
fn legal_holds_keep_what_they_cover_until_released() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let generated = dir.path().join("generated");
    succeed(&[
        "generate",
        "--seed",
        "5",
        "--out",
        arg(&generated),
        "--workstations",
        "10",
        "--clinicians",
        "30",
        "--patients",
        "600",
    ]);
    let lake = dir.path().join("lake");
    let inventory = generated.join("inventory.toml");
    let samples = data_dir().join("edr/evtx-attack-samples");
    replay_into(
        &lake,
        Some(&inventory),
        &[&generated.join("logs"), &samples],
        &[],
    );
    // Thirty days, applied as of 2026-06-01: everything replayed has expired.
    let config = config(dir.path(), &lake, "default = \"30 days\"");
    let as_of = "2026-06-01";

    let incidents = query(&lake, "SELECT DISTINCT incident_id FROM incidents");
    assert_eq!(incidents.len(), 1, "the generated attack is one incident");
    let incident = text(&incidents[0], "incident_id").to_owned();
    // An account of the real samples, and a day of them with nobody held.
    let sample_days = query(
        &lake,
        "SELECT date, min(user) AS user FROM events WHERE date < '2026-01-01' \
         AND user IS NOT NULL GROUP BY date ORDER BY date",
    );
    assert!(sample_days.len() >= 3);
    let user = text(&sample_days[0], "user").to_owned();
    let held_day = text(&sample_days[sample_days.len() - 1], "date").to_owned();

    let hold = |scope: &[&str]| {
        let mut args = vec!["hold", "--reason", "OCR case 04-1234"];
        args.extend(scope);
        retention(&config, &args)["hold"]
            .as_u64()
            .expect("a hold id")
    };
    let incident_hold = hold(&["--incident", &incident]);
    let user_hold = hold(&["--user", &user.to_uppercase()]);
    let period_hold = hold(&["--from", &held_day, "--to", &held_day]);

    // What each hold should keep, from the lake itself.
    let user_dirs = partitions_where(&lake, &format!("lower(user) = lower('{user}')"));
    let period_dirs: BTreeSet<String> = partitions_on_disk(&lake)
        .into_iter()
        .filter(|(_, date)| date.to_string() == held_day)
        .map(|(dir, _)| dir)
        .collect();
    let incident_dirs: BTreeSet<String> = partitions_on_disk(&lake)
        .into_iter()
        .filter(|(_, date)| date.to_string().as_str() >= "2026-03-01")
        .filter(|(_, date)| date.to_string().as_str() <= "2026-03-03")
        .map(|(dir, _)| dir)
        .collect();
    assert!(incident_dirs.contains("events/source=ehr/date=2026-03-02"));
    assert!(incident_dirs.contains("incidents/date=2026-03-02"));

    let attack_day = count(
        &lake,
        "SELECT count(*) AS n FROM events WHERE date = '2026-03-02'",
    );
    let plan = retention(&config, &["apply", "--as-of", as_of]);
    let held = dirs(&plan, "held");
    let mut expected_held = incident_dirs.clone();
    expected_held.extend(user_dirs.iter().cloned());
    expected_held.extend(period_dirs.iter().cloned());
    assert_eq!(held, expected_held);
    for partition in plan["held"].as_array().expect("held") {
        let holds: Vec<u64> = partition["holds"]
            .as_array()
            .expect("holds")
            .iter()
            .map(|id| id.as_u64().expect("an id"))
            .collect();
        let dir = text(partition, "dir");
        let mut want = Vec::new();
        if incident_dirs.contains(dir) {
            want.push(incident_hold);
        }
        if user_dirs.contains(dir) {
            want.push(user_hold);
        }
        if period_dirs.contains(dir) {
            want.push(period_hold);
        }
        assert_eq!(holds, want, "{dir}");
    }
    let (on_disk, recent): (BTreeSet<_>, BTreeSet<_>) = partitions_on_disk(&lake)
        .into_iter()
        .partition(|(_, date)| date.to_string().as_str() < "2026-05-02");
    let on_disk: BTreeSet<String> = on_disk.into_iter().map(|(dir, _)| dir).collect();
    assert_eq!(
        on_disk, expected_held,
        "of the expired partitions only the held remain"
    );
    assert!(recent.iter().all(|(dir, _)| !dir.starts_with("events/")));
    let day = count(
        &lake,
        "SELECT count(*) AS n FROM events WHERE date = '2026-03-02'",
    );
    assert_eq!(day, attack_day, "the attack's day is kept whole");

    // Released, the incident keeps nothing; the other holds still keep theirs, and a hold
    // on one of the attack's victims keeps the partitions with her records.
    retention(
        &config,
        &["release", &incident_hold.to_string(), "--reason", "closed"],
    );
    let victim = query(
        &lake,
        "SELECT min(patient_id) AS patient FROM events WHERE date = '2026-03-02' \
         AND patient_id IS NOT NULL",
    );
    let victim = text(&victim[0], "patient").to_owned();
    // The id through stdin, so it stays out of the process list and shell history.
    let mut placing = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
        .args([
            "retention",
            "hold",
            "--patient",
            "-",
            "--reason",
            "OCR case 04-1234",
        ])
        .args(["--config", arg(&config), "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("ward runs");
    let mut stdin = placing.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, format!("{victim}\n").as_bytes()).expect("write");
    drop(stdin);
    let placed = placing.wait_with_output().expect("ward finishes");
    assert!(placed.status.success());
    let placed: Value = serde_json::from_slice(&placed.stdout).expect("JSON");
    let patient_hold = placed["hold"].as_u64().expect("a hold id");
    let patient_dirs = partitions_where(&lake, &format!("patient_id = '{victim}'"));
    assert!(
        patient_dirs.contains("events/source=ehr/date=2026-03-02"),
        "{patient_dirs:?}"
    );
    let ehr_day = count(
        &lake,
        "SELECT count(*) AS n FROM events WHERE date = '2026-03-02' AND source = 'ehr'",
    );
    let plan = retention(&config, &["apply", "--as-of", as_of]);
    assert_eq!(
        dirs(&plan, "deleted"),
        &(&incident_dirs - &user_dirs) - &patient_dirs
    );
    let day = count(
        &lake,
        "SELECT count(*) AS n FROM events WHERE date = '2026-03-02' AND source <> 'ehr'",
    );
    assert_eq!(day, 0);
    let kept = count(
        &lake,
        "SELECT count(*) AS n FROM events WHERE date = '2026-03-02' AND source = 'ehr'",
    );
    assert_eq!(kept, ehr_day, "the victim's partition is kept whole");
    let holds_text = String::from_utf8(succeed(&["retention", "holds", "--config", arg(&config)]))
        .expect("text");
    assert!(holds_text.contains(&format!("hold {patient_hold}: patient (id digest")));
    assert!(
        !holds_text.contains(&victim),
        "the manifest names no patient"
    );
    let manifest_text = std::fs::read_to_string(lake.join("_manifest/manifest.jsonl"));
    assert!(!manifest_text.expect("manifest").contains(&victim));
    let user_events = count(
        &lake,
        &format!("SELECT count(*) AS n FROM events WHERE lower(user) = lower('{user}')"),
    );
    assert!(user_events > 0);

    let holds = retention(&config, &["holds"]);
    let ids: Vec<u64> = holds["holds"]
        .as_array()
        .expect("holds")
        .iter()
        .map(|hold| hold["seq"].as_u64().expect("an id"))
        .collect();
    assert_eq!(ids, [user_hold, period_hold, patient_hold]);
    let kinds: Vec<String> = manifest(&lake)
        .iter()
        .map(|entry| text(entry, "kind").to_owned())
        .filter(|kind| kind != "commit")
        .collect();
    assert_eq!(
        kinds,
        [
            "hold", "hold", "hold", "delete", "release", "hold", "delete"
        ]
    );
    assert_intact(&lake);
}

/// Partitions of events and signals where `condition` holds for some row.
fn partitions_where(lake: &Path, condition: &str) -> BTreeSet<String> {
    let events = query(
        lake,
        &format!("SELECT DISTINCT source, date FROM events WHERE {condition}"),
    );
    let signals = query(
        lake,
        &format!("SELECT DISTINCT date FROM signals WHERE {condition}"),
    );
    let events = events.iter().map(|row| {
        format!(
            "events/source={}/date={}",
            text(row, "source"),
            text(row, "date")
        )
    });
    let signals = signals
        .iter()
        .map(|row| format!("signals/date={}", text(row, "date")));
    events.chain(signals).collect()
}

#[test]
fn retention_refuses_a_future_clock_a_bad_period_and_an_unknown_incident() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).expect("mkdir");

    let good = config(dir.path(), &lake, "");
    let output = ward(&[
        "retention",
        "apply",
        "--as-of",
        "2999-01-01",
        "--config",
        arg(&good),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is after today"), "{stderr}");

    let bad = config(dir.path(), &lake, "dead_letters = \"a while\"");
    let output = ward(&["retention", "apply", "--dry-run", "--config", arg(&bad)]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("retention.dead_letters"), "{stderr}");
    assert!(stderr.contains("is not a retention period"), "{stderr}");

    let output = ward(&[
        "retention",
        "hold",
        "--incident",
        "0123456789abcdef",
        "--reason",
        "case",
        "--lake",
        arg(&lake),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("holds no incident 0123456789abcdef"),
        "{stderr}"
    );
    let kinds: Vec<String> = manifest(&lake)
        .iter()
        .map(|entry| text(entry, "kind").to_owned())
        .collect();
    assert!(!kinds.contains(&"hold".to_owned()), "no hold was placed");

    let short = config(dir.path(), &lake, "default = \"1 year\"");
    let output = ward(&["retention", "apply", "--dry-run", "--config", arg(&short)]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("under the six years"), "{stderr}");
}
