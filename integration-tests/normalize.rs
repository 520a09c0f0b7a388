//! `ward normalize` on the real event data in ../shared/data: every file, real content.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use common::{data_dir, json_lines, text, ward};
use serde_json::Value;

/// Runs `ward normalize` over `paths` with a dead-letter file; returns (events, dead
/// letters, stderr).
fn normalize(paths: &[&Path], extra: &[&str]) -> (Vec<Value>, Vec<Value>, String) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let dead_path = dir.path().join("dead.jsonl");
    let mut args = vec![
        "normalize",
        "--dead-letters",
        dead_path.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let paths: Vec<&str> = paths
        .iter()
        .map(|p| p.to_str().expect("utf-8 path"))
        .collect();
    args.extend(paths);

    let output = ward(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ward normalize failed: {stderr}");
    let dead = json_lines(&std::fs::read(&dead_path).expect("the dead-letter file exists"));
    (json_lines(&output.stdout), dead, stderr)
}

/// The file part of a provenance (`path:LINE`).
fn file_of(provenance: &str) -> &str {
    provenance
        .rsplit_once(':')
        .map_or(provenance, |(file, _)| file)
}

fn non_blank_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("readable data file");
    text.lines().filter(|l| !l.trim().is_empty()).count()
}

#[test]
fn every_real_file_normalizes_and_only_non_events_are_dead_letters() {
    let data = data_dir();
    let (events, dead, stderr) = normalize(&[&data], &[]);

    // Seven records are refused, each for a reason that holds of the record itself:
    // - the five ground-truth summaries describe a run and are not events;
    // - two dcm4chee query samples omit EventDateTime, which DICOM PS3.15 requires, and an
    //   audit event with no time cannot be placed in the record (ward will not invent one).
    let mut refused: Vec<(String, String)> = dead
        .iter()
        .map(|d| {
            let file = file_of(text(d, "provenance"));
            let name = Path::new(file)
                .file_name()
                .expect("a file name")
                .to_string_lossy();
            (name.into_owned(), text(d, "reason").to_owned())
        })
        .collect();
    refused.sort();
    let unrecognized = "record matches no supported format".to_owned();
    let no_time = "dicom-atna record has no EventDateTime".to_owned();
    let mut expected = vec![("ground_truth.json".to_owned(), unrecognized); 5];
    expected.push(("query_02.xml".to_owned(), no_time.clone()));
    expected.push(("query_03.xml".to_owned(), no_time));
    assert_eq!(refused, expected, "{dead:#?}");
    for letter in &dead {
        assert!(
            !text(letter, "raw").is_empty(),
            "raw bytes are kept: {letter}"
        );
    }

    // Every line of every JSON-lines file is exactly one event.
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &events {
        *per_file
            .entry(file_of(text(event, "provenance")))
            .or_default() += 1;
    }
    let jsonl_files = ["edr/evtx-attack-samples", "edr/otrf", "ndr/zeek/apt29-day1"]
        .iter()
        .chain(&["ndr/zeek/wrccdc2018", "ndr/suricata"])
        .flat_map(|dir| common::files_under(&data.join(dir)))
        .filter(|p| !p.ends_with("ground_truth.json") && !is_capture(p));
    let mut checked = 0;
    for path in jsonl_files {
        let shown = path.to_str().expect("utf-8 path");
        assert_eq!(
            per_file.get(shown).copied().unwrap_or(0),
            non_blank_lines(&path),
            "{shown}"
        );
        checked += 1;
    }
    assert_eq!(checked, 47 + 5 + 26 + 11 + 3);

    // Documents: one event per FHIR resource file and per ATNA message file.
    let count_under = |dir: &str| {
        let prefix = data.join(dir);
        let prefix = prefix.to_str().expect("utf-8 path");
        events
            .iter()
            .filter(|e| text(e, "provenance").starts_with(prefix))
            .count()
    };
    assert_eq!(count_under("ehr/fhir/r4"), 9);
    assert_eq!(count_under("ehr/fhir/r5"), 13);
    assert_eq!(count_under("ehr/dicom-atna"), 153 - 2);
    assert_eq!(count_under("edr/evtx-attack-samples"), 1288);
    assert_eq!(count_under("ndr/suricata"), 341);

    // Zeek TSV: every data row, none of the header lines.
    let tsv_dir = data.join("ndr/zeek/lsass-campaign-01-tsv");
    let tsv_rows: usize = common::files_under(&tsv_dir)
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("readable");
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .count()
        })
        .sum();
    assert_eq!(count_under("ndr/zeek/lsass-campaign-01-tsv"), tsv_rows);
    assert_eq!(tsv_rows, 261);

    // Event ids are unique: no two records collapsed into one id.
    let ids: BTreeSet<&str> = events.iter().map(|e| text(e, "event_id")).collect();
    assert_eq!(ids.len(), events.len());

    // The summary names formats and classes, and the skipped packet captures.
    assert!(stderr.contains("windows-json"), "{stderr}");
    assert!(stderr.contains("packet capture"), "{stderr}");
}

fn is_capture(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "cap" || e == "pcap")
}

#[test]
fn psexec_run_network_logon_of_pgustavo_from_workstation5() {
    let run = data_dir().join("edr/otrf/empire_psexec_dcerpc_tcp_svcctl/host");
    let (events, dead, _) = normalize(&[&run], &[]);
    assert!(dead.is_empty(), "{dead:#?}");
    assert_eq!(events.len(), 4348);

    let logons: Vec<&Value> = events
        .iter()
        .filter(|e| text(e, "event_code") == "4624" && e["logon_type"] == 3)
        .filter(|e| text(e, "user") == "pgustavo")
        .collect();
    assert_eq!(logons.len(), 1, "{logons:#?}");
    let logon = logons[0];
    assert_eq!(text(logon, "class"), "authentication");
    assert_eq!(text(logon, "activity"), "logon");
    assert_eq!(text(logon, "host"), "workstation6");
    assert_eq!(text(logon, "host_domain"), "theshire.local");
    assert_eq!(text(logon, "src_ip"), "172.18.39.5");
    assert_eq!(text(logon, "user_domain"), "theshire.local");
    assert_eq!(text(logon, "logon_id"), "0x2990d17");
    assert_eq!(text(logon, "outcome"), "success");
    assert_eq!(text(logon, "source_kind"), "edr");
    // Inside the run's ground-truth window (16:16:56.010 to 16:16:58.804 UTC).
    assert_eq!(text(logon, "time"), "2020-09-20T16:16:58.212000Z");

    // The service the attacker installed, seen by both Security 4697 and System 7045.
    let installs: Vec<&Value> = events
        .iter()
        .filter(|e| text(e, "activity") == "install")
        .collect();
    assert_eq!(installs.len(), 2);
    for install in installs {
        assert_eq!(text(install, "class"), "service_activity");
        assert_eq!(text(install, "service_name"), "Updater");
        assert_eq!(text(install, "host"), "workstation6");
        assert_eq!(text(install, "user"), "pgustavo");
        assert!(text(install, "command_line").contains("powershell -noP -sta -w 1 -enc"));
    }

    // Sysmon network connections from the attacker to the victim's RPC endpoint mapper.
    let rpc = events.iter().find(|e| {
        text(e, "event_code") == "3" && text(e, "host") == "workstation5" && e["dst_port"] == 135
    });
    let rpc = rpc.expect("the attacker's connection to port 135");
    assert_eq!(text(rpc, "src_ip"), "172.18.39.5");
    assert_eq!(text(rpc, "dst_ip"), "172.18.39.6");
    assert_eq!(text(rpc, "user"), "pgustavo");
    assert_eq!(text(rpc, "process_name"), "powershell.exe");
    assert_eq!(text(rpc, "time"), "2020-09-20T16:16:58.794000Z");
}

#[test]
fn zeek_conn_in_json_and_tsv_and_rdp_in_iso_dialect() {
    let data = data_dir();

    // Underscore keys, epoch ts, @stream.
    let (events, _, _) = normalize(&[&data.join("ndr/zeek/apt29-day1/NASHUA_conn.log")], &[]);
    let first = &events[0];
    assert_eq!(text(first, "source_format"), "zeek-json");
    assert_eq!(text(first, "class"), "network_activity");
    assert_eq!(text(first, "event_code"), "conn");
    assert_eq!(text(first, "time"), "2020-04-30T00:06:39.824370Z");
    assert_eq!(text(first, "src_ip"), "10.0.1.6");
    assert_eq!(first["src_port"], 54243);
    assert_eq!(text(first, "dst_ip"), "10.0.0.4");
    assert_eq!(first["dst_port"], 53);
    assert_eq!(text(first, "protocol"), "udp");

    // TSV under #fields headers.
    let (events, _, _) = normalize(
        &[&data.join("ndr/zeek/lsass-campaign-01-tsv/conn.log")],
        &[],
    );
    let first = &events[0];
    assert_eq!(text(first, "source_format"), "zeek-tsv");
    assert_eq!(text(first, "event_code"), "conn");
    assert_eq!(text(first, "time"), "2023-08-16T04:53:42.036086Z");
    assert_eq!(text(first, "src_ip"), "192.168.1.41");
    assert_eq!(first["src_port"], 52605);
    assert_eq!(text(first, "dst_ip"), "192.168.1.4");
    assert_eq!(first["dst_port"], 53);

    // Dotted keys, ISO ts, _path.
    let (events, _, _) = normalize(&[&data.join("ndr/zeek/wrccdc2018/rdp.json")], &[]);
    let first = &events[0];
    assert_eq!(text(first, "class"), "rdp_activity");
    assert_eq!(text(first, "time"), "2018-03-24T17:15:21.258458Z");
    assert_eq!(text(first, "src_ip"), "10.164.94.120");
    assert_eq!(text(first, "dst_ip"), "10.47.3.155");
    assert_eq!(first["dst_port"], 3389);

    // Admin share mapping, as lateral movement over SMB shows on the wire.
    let (events, _, _) = normalize(&[&data.join("ndr/zeek/wrccdc2018/smb_mapping.json")], &[]);
    let admin = events
        .iter()
        .find(|e| text(e, "share_name") == "ADMIN$")
        .expect("ADMIN$");
    assert_eq!(text(admin, "class"), "smb_activity");
    assert_eq!(text(admin, "dst_ip"), "10.47.21.25");
}

#[test]
fn fhir_r4_and_r5_audit_events_name_patient_user_action_and_workstation() {
    let data = data_dir();
    for version in ["r4", "r5"] {
        let file = data.join(format!("ehr/fhir/{version}/AuditEvent-example-rest.json"));
        let (events, dead, _) = normalize(&[&file], &[]);
        assert!(dead.is_empty(), "{dead:#?}");
        assert_eq!(events.len(), 1, "{version}");
        let event = &events[0];
        assert_eq!(text(event, "source_format"), "fhir-audit-event");
        assert_eq!(text(event, "source_kind"), "ehr");
        assert_eq!(text(event, "class"), "ehr_activity", "{version}");
        assert_eq!(text(event, "patient_id"), "example", "{version}");
        assert_eq!(text(event, "user"), "95", "{version}");
        assert_eq!(text(event, "ehr_action"), "read", "{version}");
        assert_eq!(text(event, "src_host"), "workstation1", "{version}");
        assert_eq!(text(event, "outcome"), "success", "{version}");
        assert_eq!(
            text(event, "time"),
            "2013-06-20T23:42:24.000000Z",
            "{version}"
        );
    }

    let file = data.join("ehr/fhir/r5/AuditEvent-example-breakglass-start.json");
    let (events, _, _) = normalize(&[&file], &[]);
    assert_eq!(events[0]["break_glass"], true);
    assert_eq!(text(&events[0], "purpose_of_use"), "ETREAT");
    assert_eq!(text(&events[0], "patient_id"), "example");
}

#[test]
fn dicom_audit_messages_name_the_patient_but_never_log_the_name() {
    let file = data_dir().join("ehr/dicom-atna/dicom-instances-accessed_00.xml");
    let output = ward(&["normalize", file.to_str().expect("utf-8 path")]);
    assert!(output.status.success());
    let events = json_lines(&output.stdout);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(text(event, "source_format"), "dicom-atna");
    assert_eq!(text(event, "class"), "ehr_activity");
    assert_eq!(text(event, "patient_id"), "GE1118");
    assert_eq!(text(event, "ehr_action"), "update");
    assert_eq!(text(event, "outcome"), "success");
    assert_eq!(text(event, "time"), "2024-08-28T09:07:29.705000Z");

    // The patient's name is in the raw record, and in no other column and not on stderr.
    assert!(text(event, "raw").contains("BUXTON^STEVEN"));
    let without_raw: Vec<String> = event
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(k, _)| k.as_str() != "raw")
        .map(|(_, v)| v.to_string())
        .collect();
    assert!(
        !without_raw
            .iter()
            .any(|v| v.to_uppercase().contains("BUXTON"))
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr)
            .to_uppercase()
            .contains("BUXTON")
    );
}

#[test]
fn ehr_access_log_csv_with_break_the_glass() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("ingest/tests/fixtures/ehr_access.csv");
    let (events, dead, _) = normalize(&[&fixture], &[]);
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| text(e, "source_format") == "ehr-access-csv")
    );
    assert!(events.iter().all(|e| text(e, "class") == "ehr_activity"));
    let glass: Vec<&Value> = events.iter().filter(|e| e["break_glass"] == true).collect();
    assert_eq!(glass.len(), 1, "{glass:#?}");
    assert!(!text(glass[0], "patient_id").is_empty());
    assert!(!text(glass[0], "src_host").is_empty());
    assert_eq!(dead.len(), 1, "the fixture's one bad row: {dead:#?}");
}

#[test]
fn gzip_and_plain_copies_of_a_file_give_the_same_event_ids() {
    let source = data_dir().join("edr/evtx-attack-samples/LM_5145_Remote_FileCopy.jsonl");
    let bytes = std::fs::read(&source).expect("readable");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let gz = dir.path().join("copy.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).expect("creatable"),
        flate2::Compression::fast(),
    );
    encoder.write_all(&bytes).expect("writable");
    encoder.finish().expect("writable");

    let ids = |path: &Path| -> Vec<String> {
        let (events, _, _) = normalize(&[path], &[]);
        events
            .iter()
            .map(|e| text(e, "event_id").to_owned())
            .collect()
    };
    let plain = ids(&source);
    assert!(!plain.is_empty());
    assert_eq!(plain, ids(&gz));
}

#[test]
fn a_fixed_wrong_format_makes_dead_letters_not_a_failure() {
    let source = data_dir().join("ndr/suricata/honeypot-2018.alerts-only.eve.jsonl");
    let (events, dead, _) = normalize(&[&source], &["--format", "windows-evtx-json"]);
    assert!(events.is_empty());
    assert_eq!(dead.len(), non_blank_lines(&source));
    assert!(
        dead.iter()
            .all(|d| text(d, "format") == "windows-evtx-json")
    );
}

#[test]
fn unusable_arguments_fail_with_a_clear_message() {
    let output = ward(&["normalize", "/no/such/path"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read /no/such/path"), "{stderr}");

    let output = ward(&["normalize", "--format", "evtx", "."]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("windows-evtx-json"),
        "lists the known formats: {stderr}"
    );
}
