//! An encrypted lake, replayed from the real data: ward reads it with the key and answers
//! as it does for the same data unencrypted; without the key, or with another, ward says
//! so and prints nothing; pyarrow and DuckDB (from PyPI) cannot read its files without
//! the key, and DuckDB can with it, so the files are standard encrypted Parquet.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{arg, data_dir, files_under, json_lines, replay_lab, succeed_with, text, ward_with};
use serde_json::Value;

/// A fixed AES-256 key, as a key file holds it.
const KEY: &str = "8f4e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100";

/// `ward report user-activity` for pgustavo on `lake`, as JSON.
fn activity_args(lake: &Path) -> Vec<&str> {
    let mut args = vec!["report", "user-activity", "--user", "pgustavo"];
    args.extend(["--lake", arg(lake), "--format", "json"]);
    args
}

const SUMMARY: &str = "SELECT source, class, count(*) AS n, count(DISTINCT event_id) AS ids \
                       FROM events GROUP BY source, class ORDER BY source, class";

fn query(env: &[(&str, &str)], lake: &Path, sql: &str) -> Vec<Value> {
    let args = ["query", "--lake", arg(lake), "--format", "json", sql];
    json_lines(&succeed_with(env, &args))
}

fn part_files(lake: &Path) -> Vec<PathBuf> {
    let files = files_under(&lake.join("events"));
    files
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .collect()
}

#[test]
fn an_encrypted_lake_reads_only_with_its_key() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let key_file = dir.path().join("lake.key");
    std::fs::write(&key_file, format!("{KEY}\n")).expect("a key file");
    let config = dir.path().join("ward.toml");
    let encrypted = dir.path().join("encrypted");
    let config_text = format!(
        "lake = {:?}\n[encryption]\nkey_file = {:?}\n",
        arg(&encrypted),
        arg(&key_file)
    );
    std::fs::write(&config, config_text).expect("a configuration");
    let plain = dir.path().join("plain");
    replay_lab(dir.path(), &encrypted, &["--config", arg(&config)]);
    replay_lab(dir.path(), &plain, &[]);

    // With the key (from the configuration, or the environment) ward answers as it does
    // for the same data unencrypted.
    let expected = query(&[], &plain, SUMMARY);
    assert!(expected.len() >= 2, "EDR and EHR classes: {expected:?}");
    let args = [
        "query",
        "--config",
        arg(&config),
        "--format",
        "json",
        SUMMARY,
    ];
    assert_eq!(json_lines(&succeed_with(&[], &args)), expected);
    assert_eq!(
        query(&[("WARD_LAKE_KEY", KEY)], &encrypted, SUMMARY),
        expected
    );
    let key_env = [("WARD_LAKE_KEY_FILE", arg(&key_file))];
    let report = |env: &[(&str, &str)], lake: &Path| -> Value {
        let output = succeed_with(env, &activity_args(lake));
        let mut report: Value = serde_json::from_slice(&output).expect("JSON");
        report["sections"].take()
    };
    let sections = report(&key_env, &encrypted);
    assert_eq!(sections, report(&[], &plain));
    assert!(!sections[0]["rows"].as_array().expect("rows").is_empty());

    // Without the key, or with another, a clear error and nothing on stdout.
    let wrong = KEY.replace('8', "9");
    for (env, says) in [
        (vec![], "the lake is encrypted"),
        (
            vec![("WARD_LAKE_KEY", wrong.as_str())],
            "is not the lake's key",
        ),
    ] {
        let output = ward_with(&env, &["query", "--lake", arg(&encrypted), SUMMARY]);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert!(
            !stderr.contains(KEY) && !stderr.contains(&wrong),
            "no key in errors"
        );
        assert!(output.stdout.is_empty(), "no partial output");
        let output = ward_with(&env, &activity_args(&encrypted));
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stdout.is_empty());
        let fhir = data_dir().join("ehr/fhir");
        let args = ["replay", "--lake", arg(&encrypted), "--append", arg(&fhir)];
        let output = ward_with(&env, &args);
        assert_eq!(output.status.code(), Some(2), "no writer without the key");
        assert!(String::from_utf8_lossy(&output.stderr).contains(says));
    }
    let output = ward_with(
        &[("WARD_LAKE_KEY", "00ff")],
        &["query", "--lake", arg(&plain), "1"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("16, 24 or 32"), "{stderr}");

    // Verify needs no key: it hashes the bytes on disk.
    let output = ward_with(&[], &["verify", "--lake", arg(&encrypted)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    // Another Parquet reader: the plain files read, the encrypted ones do not without
    // the key, and DuckDB reads them with it.
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration-tests/read_parquet.py");
    let python = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/venv.sh"))
        .output()
        .expect("venv.sh runs");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let python = String::from_utf8_lossy(&python.stdout).trim().to_owned();
    let read = |file: &Path, key: Option<&str>| -> Value {
        let mut command = Command::new(&python);
        command.arg(&checker).arg(file);
        if let Some(key) = key {
            command.arg(key);
        }
        let output = command.output().expect("python runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("JSON from the checker")
    };
    let plain_file = &part_files(&plain)[0];
    let plain_read = read(plain_file, None);
    assert!(
        plain_read["pyarrow"]["rows"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{plain_read}"
    );
    assert!(
        plain_read["duckdb"]["rows"].as_u64().is_some_and(|n| n > 0),
        "{plain_read}"
    );
    for file in part_files(&encrypted) {
        let without = read(&file, None);
        assert!(!text(&without["pyarrow"], "error").is_empty(), "{without}");
        assert!(!text(&without["duckdb"], "error").is_empty(), "{without}");
        let with = read(&file, Some(KEY));
        let rows = with["duckdb"]["rows"].as_u64();
        assert!(rows.is_some_and(|n| n > 0), "DuckDB with the key: {with}");
    }
}
