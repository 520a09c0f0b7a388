//! `ward generate` and `ward demo`: a generated hospital's attack becomes one incident with
//! its whole path, its background alone none, whatever the clocks; the same seed writes
//! the same bytes.

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use common::lake::{count, query};
use common::{arg, json_lines, rules_dir, text, ward};
use serde_json::Value;

/// A small hospital, so each test generates and replays in seconds.
const SIZE: [&str; 6] = [
    "--workstations",
    "16",
    "--clinicians",
    "48",
    "--patients",
    "1200",
];

/// Generates `scenario` with `seed` and `extra` flags into `dir/out`; returns the truth.
fn generate(dir: &Path, scenario: &str, seed: u64, extra: &[&str]) -> (PathBuf, Value) {
    let out = dir.join("out");
    let seed = seed.to_string();
    let mut args = vec![
        "generate",
        "--scenario",
        scenario,
        "--seed",
        &seed,
        "--out",
        arg(&out),
    ];
    args.extend(SIZE);
    args.extend(extra);
    let output = ward(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "ward generate failed: {stderr}");
    let truth = std::fs::read(out.join("truth.json")).expect("truth.json is written");
    (
        out,
        serde_json::from_slice(&truth).expect("truth.json is JSON"),
    )
}

/// Replays what `generate` wrote with its inventory and `extra` flags; returns the
/// incidents, the lake and stderr.
fn replay(dir: &Path, out: &Path, extra: &[&str]) -> (Vec<Value>, PathBuf, String) {
    let lake = dir.join("lake");
    let incidents = dir.join("incidents.jsonl");
    let inventory = out.join("inventory.toml");
    let logs = out.join("logs");
    let rules = rules_dir();
    let mut args = vec![
        "replay",
        "--lake",
        arg(&lake),
        "--rules",
        arg(&rules),
        "--inventory",
        arg(&inventory),
        "--incidents-out",
        arg(&incidents),
    ];
    args.extend(extra);
    args.push(arg(&logs));
    let output = ward(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ward replay failed: {stderr}");
    let incidents = json_lines(&std::fs::read(&incidents).expect("the incidents file"));
    (incidents, lake, stderr)
}

fn strings(value: &Value) -> Vec<String> {
    let array = value.as_array().expect("an array");
    array
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().expect("a time string");
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Every file under `dir` with its bytes, by relative path.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let files = common::files_under(dir).into_iter().map(|path| {
        let bytes = std::fs::read(&path).expect("a readable file");
        (
            path.strip_prefix(dir).expect("under dir").to_path_buf(),
            bytes,
        )
    });
    files.collect()
}

#[test]
fn a_generated_multi_hop_attack_is_one_incident_with_the_whole_path() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (out, truth) = generate(dir.path(), "lateral-movement", 11, &[]);
    let attack = &truth["attack"];
    let path = strings(&attack["path"]);
    assert_eq!(path.len(), 3);
    assert!(
        path[0].starts_with("ws-") && path[1].starts_with("ws-"),
        "{path:?}"
    );
    assert_eq!(path[2], "db-ehr-01");

    let (incidents, lake, stderr) = replay(dir.path(), &out, &[]);

    assert_eq!(incidents.len(), 1, "{stderr}");
    let incident = &incidents[0];
    assert_eq!(strings(&incident["path"]), path);
    let users = strings(&incident["users"]);
    assert!(
        users.contains(&text(attack, "admin_user").to_owned()),
        "{users:?}"
    );
    assert_eq!(text(incident, "severity"), "critical");

    // The harvest is 650 patients, so the breach needs notice to HHS and the media.
    let harvested = attack["patients_harvested"].as_u64().expect("a count");
    assert_eq!(harvested, 650);
    let affected = incident["patients_affected"].as_u64().expect("a count");
    assert!(
        affected >= harvested,
        "{affected} affected, {harvested} harvested"
    );
    assert_eq!(text(incident, "triage"), "hhs_and_media_within_60_days");

    // Both hops carry evidence, all of it in the lake, none before the phishing.
    let hops = incident["hops"].as_array().expect("hops");
    let steps: Vec<(String, String)> = hops
        .iter()
        .map(|hop| (text(hop, "from").to_owned(), text(hop, "to").to_owned()))
        .collect();
    assert_eq!(
        steps,
        [
            (path[0].clone(), path[1].clone()),
            (path[1].clone(), path[2].clone())
        ]
    );
    let evidence = strings(&incident["evidence"]);
    let ids: Vec<String> = evidence.iter().map(|id| format!("'{id}'")).collect();
    let sql = format!(
        "SELECT count(*) AS n FROM events WHERE event_id IN ({}) AND time >= \
         TIMESTAMP '{}'",
        ids.join(","),
        text(attack, "first_seen").trim_end_matches('Z')
    );
    assert_eq!(count(&lake, &sql), evidence.len() as u64);
    let first = time(&incident["first_seen"]);
    let injected = time(&attack["first_seen"]);
    assert!(
        injected <= first && first <= injected + TimeDelta::hours(1),
        "{first}"
    );

    // The lake holds every generated record as an event: nothing became a dead letter.
    let records: u64 = truth["records"]
        .as_object()
        .expect("counts by kind")
        .values()
        .map(|n| n.as_u64().expect("a count"))
        .sum();
    assert_eq!(count(&lake, "SELECT count(*) AS n FROM events"), records);
    assert_eq!(count(&lake, "SELECT count(*) AS n FROM dead_letters"), 0);
    let stored = query(&lake, "SELECT incident_id FROM incidents");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["incident_id"], incident["incident_id"]);
}

#[test]
fn the_background_alone_produces_no_incident() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (out, truth) = generate(dir.path(), "background", 11, &[]);
    assert!(truth["attack"].is_null());

    let (incidents, lake, stderr) = replay(dir.path(), &out, &[]);

    assert!(incidents.is_empty(), "{incidents:?}\n{stderr}");
    // Not because nothing was seen: clinicians' sign-ons reach the domain controllers,
    // which the rules report and the policy does not take as a step.
    let to_dcs = count(
        &lake,
        "SELECT count(*) AS n FROM signals WHERE kind = 'lateral' AND dst_host LIKE 'dc-%'",
    );
    assert!(to_dcs > 0);
    let ehr = count(
        &lake,
        "SELECT count(*) AS n FROM events WHERE class = 'ehr_activity'",
    );
    assert!(ehr > 1_000, "{ehr} EHR accesses");
}

#[test]
fn clocks_skewed_by_five_minutes_between_hosts_still_correlate() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (out, truth) = generate(dir.path(), "lateral-movement", 12, &["--skew", "5m"]);
    let path = strings(&truth["attack"]["path"]);

    let (incidents, lake, stderr) = replay(dir.path(), &out, &[]);

    assert_eq!(incidents.len(), 1, "{stderr}");
    assert_eq!(strings(&incidents[0]["path"]), path);

    // The skew is real: the database, whose clock is five minutes behind the second
    // workstation's, logged the second hop before the second workstation logged the first.
    let earliest = |host: &str| {
        let sql = format!(
            "SELECT CAST(min(time) AS BIGINT) AS n FROM signals WHERE kind = 'lateral' AND \
             dst_host = '{host}' AND (src_host = '{}' OR src_host IS NULL)",
            path[if host == path[1] { 0 } else { 1 }]
        );
        count(&lake, &sql)
    };
    assert!(
        earliest(&path[2]) < earliest(&path[1]),
        "the second hop looks older"
    );
}

#[test]
fn the_same_seed_writes_the_same_bytes_and_another_seed_does_not() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    let three = dir.path().join("three");
    for (folder, seed) in [(&one, 5), (&two, 5), (&three, 6)] {
        std::fs::create_dir(folder).expect("a folder");
        generate(folder, "lateral-movement", seed, &[]);
    }
    let trees = [&one, &two, &three].map(|folder| tree(&folder.join("out")));
    assert!(trees[0].len() > 10, "{} files", trees[0].len());
    assert!(trees[0] == trees[1], "seed 5 twice differs");
    assert!(trees[0] != trees[2], "seeds 5 and 6 agree");

    // Generating into a folder that holds something is refused, and writes nothing.
    let output = ward(&["generate", "--out", arg(&one.join("out"))]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert!(tree(&one.join("out")) == trees[0]);
}

#[test]
fn demo_prints_the_incident_and_how_to_explore_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let demo = dir.path().join("demo");
    let mut args = vec!["demo", "--dir", arg(&demo), "--rules"];
    let rules = rules_dir();
    args.push(arg(&rules));
    args.extend(SIZE);

    // Twice: a second demo replaces the first.
    for _ in 0..2 {
        let output = ward(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "ward demo failed: {stderr}");
        assert!(stderr.contains("-> db-ehr-01"), "{stderr}");
        assert!(stderr.contains("patients affected:"), "{stderr}");
        assert!(
            stderr.contains("-> hhs_and_media_within_60_days"),
            "{stderr}"
        );
        assert!(stderr.contains("ward query --lake"), "{stderr}");
        assert!(stderr.contains("ward report incident "), "{stderr}");
    }
    let lake = demo.join("lake");
    assert_eq!(count(&lake, "SELECT count(*) AS n FROM incidents"), 1);

    // A folder that is not a demo's is left alone.
    std::fs::write(dir.path().join("notes.txt"), "mine").expect("a file");
    let output = ward(&["demo", "--dir", arg(dir.path()), "--rules", arg(&rules)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(dir.path().join("notes.txt").is_file());
}
