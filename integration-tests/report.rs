//! `ward report` on lakes replayed from a generated attack and from the real data: the
//! right accesses and events, in order, with incident membership, in every format; and
//! every report recorded in the lake's access log.

mod common;

use std::path::{Path, PathBuf};

use common::lake::{count, query};
use common::{arg, replay_into, replay_lab, text, ward};
use serde_json::Value;

/// A generated attack replayed into `dir/lake`; returns the lake and the truth.
fn generated_lake(dir: &Path) -> (PathBuf, Value) {
    let out = dir.join("generated");
    let output = ward(&[
        "generate",
        "--seed",
        "21",
        "--out",
        arg(&out),
        "--workstations",
        "12",
        "--clinicians",
        "36",
        "--patients",
        "900",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lake = dir.join("lake");
    let inventory = out.join("inventory.toml");
    let logs = out.join("logs");
    replay_into(&lake, Some(&inventory), &[&logs], &[]);
    let truth = std::fs::read(out.join("truth.json")).expect("truth.json");
    (lake, serde_json::from_slice(&truth).expect("JSON"))
}

/// `ward report` with `args` as JSON.
fn report(lake: &Path, args: &[&str]) -> Value {
    let mut all = vec!["report"];
    all.extend(args);
    all.extend(["--lake", arg(lake), "--format", "json"]);
    let output = ward(&all);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

fn rows(report: &Value, section: usize) -> &Vec<Value> {
    report["sections"][section]["rows"]
        .as_array()
        .expect("rows")
}

fn fact<'a>(report: &'a Value, label: &str) -> &'a str {
    report["facts"][label]
        .as_str()
        .unwrap_or_else(|| panic!("fact {label}: {report}"))
}

fn assert_in_time_order(rows: &[Value], column: &str) {
    let times: Vec<&str> = rows.iter().map(|row| text(row, column)).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "{column} in order");
}

#[test]
fn reports_on_a_generated_attack_name_the_path_the_accesses_and_the_patients() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (lake, truth) = generated_lake(dir.path());
    let attack = &truth["attack"];
    let path: Vec<&str> = attack["path"]
        .as_array()
        .expect("a path")
        .iter()
        .map(|host| host.as_str().expect("a host"))
        .collect();
    let phished = text(attack, "phished_user");
    let admin = text(attack, "admin_user");
    let incidents = query(&lake, "SELECT incident_id, evidence FROM incidents");
    assert_eq!(incidents.len(), 1);
    let id = text(&incidents[0], "incident_id");
    let evidence = incidents[0]["evidence"].as_array().expect("evidence").len();

    // The incident: its path, every evidence event on the timeline in order, its patients.
    let incident = report(&lake, &["incident", id]);
    assert_eq!(fact(&incident, "Path"), path.join(" -> "));
    assert!(fact(&incident, "Breach triage").starts_with("hhs_and_media_within_60_days"));
    let timeline = rows(&incident, 0);
    assert_eq!(timeline.len(), evidence);
    assert_in_time_order(timeline, "time");
    let on_hops = timeline
        .iter()
        .filter(|e| text(e, "hop").contains(" -> "))
        .count();
    assert_eq!(on_hops, 20, "ten events prove each PsExec hop");
    let first_hop = format!("{} -> {}", path[0], path[1]);
    let second_hop = format!("{} -> {}", path[1], path[2]);
    for event in timeline {
        let hop = text(event, "hop");
        assert!(
            hop == first_hop || hop == second_hop || hop == "EHR access",
            "{hop}"
        );
    }
    assert_eq!(rows(&incident, 1).len(), 2, "two hops");
    let patients = rows(&incident, 2);
    assert!(patients.len() >= 650, "{} patients", patients.len());
    let harvested = query(
        &lake,
        &format!(
            "SELECT count(DISTINCT patient_id) AS n FROM events WHERE user = '{phished}' AND \
             src_host = '{}'",
            path[1]
        ),
    );
    assert_eq!(harvested[0]["n"], 650);

    // One harvested patient: every access in order, the attacker's marked with the
    // incident, the care team's from before it not.
    let patient = query(
        &lake,
        &format!(
            "SELECT patient_id FROM events WHERE user = '{phished}' AND src_host = '{}' \
             AND patient_id IN (SELECT patient_id FROM events WHERE user <> '{phished}' \
             AND class = 'ehr_activity') ORDER BY patient_id LIMIT 1",
            path[1]
        ),
    );
    let patient = text(&patient[0], "patient_id").to_owned();
    let access = report(&lake, &["patient-access", "--patient", &patient]);
    let accesses = rows(&access, 0);
    let expected = count(
        &lake,
        &format!("SELECT count(*) AS n FROM events WHERE patient_id = '{patient}'"),
    );
    assert_eq!(accesses.len() as u64, expected);
    assert_in_time_order(accesses, "time");
    let by_attacker: Vec<&Value> = accesses
        .iter()
        .filter(|row| text(row, "workstation") == path[1] && text(row, "user") == phished)
        .collect();
    assert_eq!(by_attacker.len(), 1);
    assert_eq!(text(by_attacker[0], "incident"), id);
    assert!(accesses.iter().any(|row| text(row, "incident").is_empty()));
    assert_eq!(rows(&access, 1).len(), 1, "the incident is listed");

    // A period that ends before the attack leaves the attacker's access out.
    let before = text(attack, "first_seen").to_owned();
    let early = report(
        &lake,
        &["patient-access", "--patient", &patient, "--to", &before],
    );
    assert!(
        rows(&early, 0)
            .iter()
            .all(|row| text(row, "incident").is_empty())
    );
    assert!(rows(&early, 0).len() < accesses.len());

    // The admin account: its logons on the hops' targets, in order, flagged by rules.
    let activity = report(
        &lake,
        &["user-activity", "--user", &format!("NVH\\{admin}")],
    );
    let events = rows(&activity, 0);
    assert_in_time_order(events, "time");
    for host in &path[1..] {
        assert!(
            events
                .iter()
                .any(|e| text(e, "host") == *host && text(e, "event_code") == "4624"),
            "a logon on {host}"
        );
    }
    assert!(events.iter().any(|e| !text(e, "rules").is_empty()));
    assert_eq!(rows(&activity, 1).len(), 1);

    // The same incident as an offline page, and as CSV.
    let page = dir.path().join("incident.html");
    let output = ward(&[
        "report",
        "incident",
        id,
        "--lake",
        arg(&lake),
        "--format",
        "html",
        "--out",
        arg(&page),
    ]);
    assert!(output.status.success());
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"));
    for host in &path {
        assert!(html.contains(&format!(">{host}</text>")), "{host} drawn");
    }
    // Self-contained: nothing to fetch, nothing to run.
    for outside in ["<script", "<link", "src=", "@import"] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
    let output = ward(&[
        "report",
        "incident",
        id,
        "--lake",
        arg(&lake),
        "--format",
        "csv",
    ]);
    let csv = String::from_utf8_lossy(&output.stdout);
    assert!(csv.starts_with("time,hop,host,"));
    assert_eq!(csv.lines().count(), evidence + 1);

    // Every report was recorded in the access log, with its arguments and row count.
    let log = query(
        &lake,
        "SELECT detail, rows, outcome FROM access_log WHERE action = 'report' ORDER BY time",
    );
    assert_eq!(log.len(), 6, "{log:?}");
    assert_eq!(text(&log[0], "detail"), format!("incident {id}"));
    assert_eq!(log[0]["rows"].as_u64(), Some(evidence as u64));
    assert!(text(&log[1], "detail").starts_with("patient-access --patient "));
    assert!(log.iter().all(|row| text(row, "outcome") == "ok"));

    // An unknown incident is a clear error, recorded as a failed use.
    let output = ward(&["report", "incident", &"0".repeat(32), "--lake", arg(&lake)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no incident"));
    let failed = count(
        &lake,
        "SELECT count(*) AS n FROM access_log WHERE outcome = 'error'",
    );
    assert_eq!(failed, 1);
}

#[test]
fn reports_on_the_real_data_follow_pgustavo_and_the_fhir_patients() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let lake = dir.path().join("lake");
    replay_lab(dir.path(), &lake, &[]);

    let activity = report(&lake, &["user-activity", "--user", "THESHIRE\\pgustavo"]);
    let events = rows(&activity, 0);
    let expected = count(
        &lake,
        "SELECT count(*) AS n FROM events WHERE user = 'pgustavo'",
    );
    assert_eq!(events.len() as u64, expected);
    assert!(expected > 10);
    assert_in_time_order(events, "time");
    let network_logons = events
        .iter()
        .filter(|e| text(e, "host") == "workstation6" && e["logon_type"] == 3)
        .count();
    assert!(network_logons > 0);
    let incidents = rows(&activity, 1);
    assert_eq!(incidents.len(), 1);
    assert_eq!(text(&incidents[0], "path"), "workstation5 -> workstation6");

    // The FHIR examples' most accessed patient: every access, in order.
    let top = query(
        &lake,
        "SELECT patient_id, count(*) AS n FROM events WHERE class = 'ehr_activity' AND \
         patient_id IS NOT NULL GROUP BY patient_id ORDER BY n DESC, patient_id LIMIT 1",
    );
    let patient = text(&top[0], "patient_id").to_owned();
    let access = report(&lake, &["patient-access", "--patient", &patient]);
    assert_eq!(Some(rows(&access, 0).len() as u64), top[0]["n"].as_u64());
    assert_in_time_order(rows(&access, 0), "time");
    assert_eq!(fact(&access, "Patient"), patient);
}
