//! What the end-to-end tests share: where the real data is, running the binary, and a
//! real broker.

#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

pub mod broker;
pub mod lake;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The real event data, `../shared/data` from the repository root, or `WARD_TEST_DATA`.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("WARD_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.is_dir(),
        "the real event data is missing at {}",
        dir.display()
    );
    dir
}

/// The rule pack the tests detect with.
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("detections/rules")
}

/// `ward replay` of `paths` into `lake` with the rule pack and, if given, an inventory;
/// fails the test when it fails.
pub fn replay_into(lake: &Path, inventory: Option<&Path>, paths: &[&Path]) {
    let utf8 = |path: &Path| path.to_str().expect("a UTF-8 path").to_owned();
    let mut args = vec!["replay".to_owned(), "--lake".to_owned(), utf8(lake)];
    args.extend(["--rules".to_owned(), utf8(&rules_dir())]);
    if let Some(inventory) = inventory {
        args.extend(["--inventory".to_owned(), utf8(inventory)]);
    }
    args.extend(paths.iter().map(|path| utf8(path)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = ward(&args);
    assert!(
        output.status.success(),
        "ward replay: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `ward` with `args` and returns what it did.
pub fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .env("WARD_LOG", "warn")
        .output()
        .expect("the ward binary runs")
}

/// Parses JSON lines.
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("every output line is JSON"))
        .collect()
}

/// The text of a field of an event, or "" when absent.
pub fn text<'a>(event: &'a Value, field: &str) -> &'a str {
    event.get(field).and_then(Value::as_str).unwrap_or("")
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("a readable folder") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The lab of the OTRF runs, with the victim workstation playing an ePHI database.
pub const LAB_INVENTORY: &str = r#"
[[asset]]
host = "WORKSTATION5"
ips = ["172.18.39.5"]
tier = "workstation"

[[asset]]
host = "WORKSTATION6"
ips = ["172.18.39.6"]
tier = "ephi_db"

[[asset]]
host = "MORDORDC"
ips = ["172.18.38.5"]
tier = "domain_controller"
"#;
