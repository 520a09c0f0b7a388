//! `ward replay` and `ward rules` on the real event data: the rule pack's fixtures, the
//! OTRF lateral-movement runs becoming one incident each, and the network sets becoming
//! none.

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use common::lake::{count, query};
use common::{LAB_INVENTORY, data_dir, json_lines, rules_dir, text, ward};
use serde_json::Value;

fn otrf_runs() -> Vec<PathBuf> {
    let dir = data_dir().join("edr/otrf");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the OTRF runs are there")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.join("ground_truth.json").is_file())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 5, "five OTRF runs in {}", dir.display());
    runs
}

/// What `ward replay` left: its stderr, the incidents file and the lake.
struct Replayed {
    stderr: String,
    incidents: Vec<Value>,
    lake: PathBuf,
    _dir: tempfile::TempDir,
}

fn replay(inventory: Option<&str>, rules: &Path, paths: &[&Path]) -> Replayed {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let lake = dir.path().join("lake");
    let incidents = dir.path().join("incidents.jsonl");
    let inventory_path = dir.path().join("inventory.toml");
    let mut args: Vec<String> = vec![
        "replay".into(),
        "--lake".into(),
        lake.display().to_string(),
        "--rules".into(),
        rules.display().to_string(),
        "--incidents-out".into(),
        incidents.display().to_string(),
    ];
    if let Some(inventory) = inventory {
        std::fs::write(&inventory_path, inventory).expect("write the inventory");
        args.extend(["--inventory".into(), inventory_path.display().to_string()]);
    }
    args.extend(paths.iter().map(|path| path.display().to_string()));

    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = ward(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ward replay failed: {stderr}");
    let incidents = json_lines(&std::fs::read(&incidents).expect("the incidents file exists"));
    Replayed {
        stderr,
        incidents,
        lake,
        _dir: dir,
    }
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|err| panic!("{text:?} is not RFC 3339: {err}"))
        .with_timezone(&Utc)
}

fn strings(value: &Value) -> Vec<&str> {
    let array = value.as_array().expect("an array");
    array
        .iter()
        .map(|item| item.as_str().expect("a string"))
        .collect()
}

#[test]
fn every_rule_passes_its_fixtures() {
    let output = ward(&["rules", "test", rules_dir().to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "rule fixtures failed:\n{stdout}");

    let list = ward(&["rules", "list", rules_dir().to_str().expect("utf-8 path")]);
    assert!(list.status.success());
    let listed = String::from_utf8_lossy(&list.stdout).lines().count() - 1;
    assert!(
        listed >= 20,
        "the pack holds at least 20 rules, not {listed}"
    );
    let cases = stdout
        .lines()
        .filter(|line| line.starts_with("ok "))
        .count();
    assert!(
        cases >= 2 * listed,
        "a positive and a negative case per rule: {cases}"
    );
}

#[test]
fn each_otrf_run_is_one_incident_from_workstation5_to_workstation6() {
    for run in otrf_runs() {
        let name = run
            .file_name()
            .expect("a run folder")
            .to_string_lossy()
            .into_owned();
        let truth: Value = serde_json::from_slice(
            &std::fs::read(run.join("ground_truth.json")).expect("ground truth"),
        )
        .expect("ground truth is JSON");
        let window = (
            time(text(&truth, "first_evidence_utc")),
            time(text(&truth, "last_evidence_utc")),
        );

        let replayed = replay(Some(LAB_INVENTORY), &rules_dir(), &[&run.join("host")]);

        assert_eq!(replayed.incidents.len(), 1, "{name}: {}", replayed.stderr);
        let incident = &replayed.incidents[0];
        assert_eq!(
            strings(&incident["path"]),
            ["workstation5", "workstation6"],
            "{name}"
        );
        assert_eq!(strings(&incident["users"]), ["pgustavo"], "{name}");
        assert_eq!(text(incident, "severity"), "critical", "{name}");
        assert_eq!(text(incident, "triage"), "annual_log", "{name}");

        // Every evidence event is in the lake, inside the run's ground-truth window.
        let evidence = strings(&incident["evidence"]);
        assert!(!evidence.is_empty(), "{name}");
        let ids: Vec<String> = evidence.iter().map(|id| format!("'{id}'")).collect();
        let sql = format!(
            "SELECT event_id, CAST(time AS BIGINT) AS micros FROM events WHERE event_id IN ({})",
            ids.join(",")
        );
        let rows = query(&replayed.lake, &sql);
        assert_eq!(
            rows.len(),
            evidence.len(),
            "{name}: evidence events are in the lake"
        );
        for row in &rows {
            let micros = row["micros"].as_i64().expect("a time in microseconds");
            let at = DateTime::from_timestamp_micros(micros).expect("a representable time");
            assert!(
                window.0 <= at && at <= window.1,
                "{name}: evidence {} at {at} is outside {window:?}",
                text(row, "event_id"),
            );
        }

        // The lake holds the same incident and the signals behind it.
        let stored = query(&replayed.lake, "SELECT incident_id, path FROM incidents");
        assert_eq!(stored.len(), 1, "{name}");
        assert_eq!(stored[0]["incident_id"], incident["incident_id"], "{name}");
        let signals = count(&replayed.lake, "SELECT count(*) AS n FROM signals");
        assert!(signals >= evidence.len() as u64, "{name}");
    }
}

#[test]
fn without_an_ephi_asset_there_are_signals_but_no_incident() {
    let run = &otrf_runs()[0];
    let inventory = LAB_INVENTORY.replace("ephi_db", "workstation");

    let replayed = replay(Some(&inventory), &rules_dir(), &[&run.join("host")]);

    assert!(replayed.incidents.is_empty(), "{:?}", replayed.incidents);
    let lateral = count(
        &replayed.lake,
        "SELECT count(*) AS n FROM signals WHERE kind = 'lateral' AND dst_host = 'workstation6'",
    );
    assert!(lateral > 0, "the steps are still signalled");
    let replayed = replay(None, &rules_dir(), &[&run.join("host")]);
    assert!(replayed.incidents.is_empty(), "no inventory, no ePHI asset");
}

#[test]
fn the_network_sets_produce_no_ephi_incident() {
    let data = data_dir();
    let zeek = data.join("ndr/zeek");
    let suricata = data.join("ndr/suricata");

    let replayed = replay(Some(LAB_INVENTORY), &rules_dir(), &[&zeek, &suricata]);

    assert!(replayed.incidents.is_empty(), "{:?}", replayed.incidents);
    let alerts = count(
        &replayed.lake,
        "SELECT count(*) AS n FROM signals WHERE event_class = 'detection_finding'",
    );
    assert!(alerts > 0, "Suricata alerts become signals");
}

#[test]
fn an_endless_rule_is_disabled_and_the_pack_still_finds_the_incident() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for entry in std::fs::read_dir(rules_dir()).expect("the rule pack") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            let name = path.file_name().expect("a file name");
            std::fs::copy(&path, dir.path().join(name)).expect("copy a rule");
        }
    }
    let endless = r#"
fn rule() {
    #{ id: "endless", title: "Loops forever", severity: "low", technique: "T0000",
       kind: "host", classes: ["authentication", "network_activity"] }
}
fn detect(e) {
    let n = 0;
    loop { n += 1; }
}
"#;
    std::fs::write(dir.path().join("endless.rhai"), endless).expect("write the rule");
    let run = &otrf_runs()[0];

    let replayed = replay(Some(LAB_INVENTORY), dir.path(), &[&run.join("host")]);

    assert!(
        replayed
            .stderr
            .contains("rule endless was disabled after 5 failures"),
        "{}",
        replayed.stderr
    );
    assert_eq!(replayed.incidents.len(), 1);
    assert_eq!(
        strings(&replayed.incidents[0]["path"]),
        ["workstation5", "workstation6"]
    );
}

#[test]
fn a_rule_that_does_not_compile_is_named_and_skipped() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let broken = "fn rule() {\n  #{ id: \"broken\" }\n}\nfn detect(e) {\n  e.user ==\n}\n";
    std::fs::write(dir.path().join("broken.rhai"), broken).expect("write the rule");

    let output = ward(&["rules", "list", dir.path().to_str().expect("utf-8 path")]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.rhai:6"),
        "file and line are named: {stderr}"
    );
}
